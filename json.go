package webhook

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/textproto"
	"strings"
	"time"
	"unicode/utf8"
)

// The JSON forms of the public types, as the admin API serves them and as
// hosts may log them:
//
//   - Names are snake_case: "event_types", "next_attempt_at", ...
//   - Times are RFC 3339 strings in UTC with fractional seconds when
//     present; a zero time is left out.
//   - A duration that measures something (how long an attempt took) is a
//     number of milliseconds in a field ending "_ms", fractional below one
//     millisecond: "duration_ms": 12.5. A duration that configures
//     something (a retry schedule) is a Go duration string that
//     [time.ParseDuration] reads: "5m0s".
//   - Secret keys and credential-like header values are written as
//     [Redacted]; reading [Redacted] back fails with [ErrRedacted], so an
//     endpoint that was served as JSON cannot be saved again by mistake
//     without its keys. A secret is written by [Secret.MarshalJSON]
//     ({"key", "expires_at"}), and read in that form or in the field
//     names of the Go type.

// Redacted replaces a secret key, or the value of a credential-like
// header, in the JSON form of an [Endpoint] and in recorded requests.
const Redacted = "[redacted]"

// ErrRedacted is wrapped by the error of decoding the JSON form of an
// [Endpoint] or a [Secret] that carries [Redacted] where a key or a
// credential header value belongs: the value was hidden when the JSON was
// written and cannot be restored from it.
var ErrRedacted = errors.New("webhook: value was redacted")

// eventJSON is the JSON form of an [Event].
type eventJSON struct {
	ID          string            `json:"id"`
	Type        string            `json:"type"`
	Tenant      string            `json:"tenant,omitempty"`
	OrderingKey string            `json:"ordering_key,omitempty"`
	Time        time.Time         `json:"time,omitzero"`
	Payload     json.RawMessage   `json:"payload,omitempty"`
	Attributes  map[string]string `json:"attributes,omitempty"`

	TraceParent string `json:"traceparent,omitempty"`
	TraceState  string `json:"tracestate,omitempty"`
}

// MarshalJSON writes the event as {"id", "type", "tenant", "time",
// "payload", "attributes", "traceparent", "tracestate"}; the payload is
// embedded as JSON.
func (e Event) MarshalJSON() ([]byte, error) {
	return json.Marshal(eventJSON{
		ID: e.ID, Type: e.Type, Tenant: e.Tenant, OrderingKey: e.OrderingKey, Time: utcTime(e.Time),
		Payload: e.Payload, Attributes: e.Attributes,
		TraceParent: e.TraceParent, TraceState: e.TraceState,
	})
}

// UnmarshalJSON reads the form [Event.MarshalJSON] writes.
func (e *Event) UnmarshalJSON(b []byte) error {
	var j eventJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	//lint:ignore S1016 each field is named, so a field added to one type and not the other is seen here
	*e = Event{ID: j.ID, Type: j.Type, Tenant: j.Tenant, OrderingKey: j.OrderingKey, Time: j.Time,
		Payload: j.Payload, Attributes: j.Attributes,
		TraceParent: j.TraceParent, TraceState: j.TraceState}
	return nil
}

// secretReadJSON is the JSON form of a [Secret] as UnmarshalJSON reads it:
// the snake_case names, and the names Secret.MarshalJSON writes.
type secretReadJSON struct {
	Key          string    `json:"key"`
	ExpiresAt    time.Time `json:"expires_at"`
	ExpiresAtOld time.Time `json:"ExpiresAt"`
}

// UnmarshalJSON reads {"key": "whsec_...", "expires_at": RFC 3339}, and
// the form [Secret.MarshalJSON] writes ({"Key", "ExpiresAt"}). A key equal
// to [Redacted] yields an error wrapping [ErrRedacted]. The key is not
// checked here; [Dispatcher.PutEndpoint] validates it.
func (s *Secret) UnmarshalJSON(b []byte) error {
	var j secretReadJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	if j.Key == Redacted {
		return fmt.Errorf("%w: the secret key was redacted when it was written as JSON; send the key itself, or leave the secret out", ErrRedacted)
	}
	*s = Secret{Key: j.Key, ExpiresAt: j.ExpiresAt}
	if s.ExpiresAt.IsZero() {
		s.ExpiresAt = j.ExpiresAtOld
	}
	return nil
}

// signatureJSON is the JSON form of a [SignatureScheme].
type signatureJSON struct {
	Kind   SignatureKind `json:"kind,omitempty"`
	Header string        `json:"header,omitempty"`
	Prefix string        `json:"prefix,omitempty"`
}

// retryPolicyJSON is the JSON form of a [RetryPolicy].
type retryPolicyJSON struct {
	Schedule          []string        `json:"schedule,omitempty"`
	Jitter            float64         `json:"jitter,omitempty"`
	MaxRetryAfter     string          `json:"max_retry_after,omitempty"`
	StopOnClientError bool            `json:"stop_on_client_error,omitempty"`
	Quick             *quickRetryJSON `json:"quick,omitempty"`
}

// quickRetryJSON is the JSON form of a [QuickRetry].
type quickRetryJSON struct {
	Tries       int     `json:"tries,omitempty"`
	Initial     string  `json:"initial,omitempty"`
	Max         string  `json:"max,omitempty"`
	Jitter      float64 `json:"jitter,omitempty"`
	GiveUpAfter string  `json:"give_up_after,omitempty"`
}

// durationText is d as a Go duration string, empty for zero.
func durationText(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// parseDurationText reads what durationText writes; field names the value
// in the error.
func parseDurationText(s, field string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("webhook: retry %s: %w", field, err)
	}
	return d, nil
}

// MarshalJSON writes the policy as {"schedule": ["5s", "5m0s"], "jitter",
// "max_retry_after", "stop_on_client_error"}, durations as Go duration
// strings. Zero fields, which select defaults, are left out.
func (p RetryPolicy) MarshalJSON() ([]byte, error) {
	j := retryPolicyJSON{Jitter: p.Jitter, StopOnClientError: p.StopOnClientError}
	if p.Schedule != nil {
		j.Schedule = make([]string, len(p.Schedule))
		for i, d := range p.Schedule {
			j.Schedule[i] = d.String()
		}
	}
	j.MaxRetryAfter = durationText(p.MaxRetryAfter)
	if p.Quick != (QuickRetry{}) {
		q := p.Quick
		j.Quick = &quickRetryJSON{Tries: q.Tries, Initial: durationText(q.Initial), Max: durationText(q.Max),
			Jitter: q.Jitter, GiveUpAfter: durationText(q.GiveUpAfter)}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the form [RetryPolicy.MarshalJSON] writes.
func (p *RetryPolicy) UnmarshalJSON(b []byte) error {
	var j retryPolicyJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	out := RetryPolicy{Jitter: j.Jitter, StopOnClientError: j.StopOnClientError}
	if j.Schedule != nil {
		out.Schedule = make([]time.Duration, len(j.Schedule))
		for i, s := range j.Schedule {
			d, err := time.ParseDuration(s)
			if err != nil {
				return fmt.Errorf("webhook: retry schedule[%d]: %w", i, err)
			}
			out.Schedule[i] = d
		}
	}
	var err error
	if out.MaxRetryAfter, err = parseDurationText(j.MaxRetryAfter, "max_retry_after"); err != nil {
		return err
	}
	if q := j.Quick; q != nil {
		out.Quick = QuickRetry{Tries: q.Tries, Jitter: q.Jitter}
		if out.Quick.Initial, err = parseDurationText(q.Initial, "quick.initial"); err != nil {
			return err
		}
		if out.Quick.Max, err = parseDurationText(q.Max, "quick.max"); err != nil {
			return err
		}
		if out.Quick.GiveUpAfter, err = parseDurationText(q.GiveUpAfter, "quick.give_up_after"); err != nil {
			return err
		}
	}
	*p = out
	return nil
}

// endpointJSON is the JSON form of an [Endpoint].
type endpointJSON struct {
	ID             string            `json:"id"`
	Tenant         string            `json:"tenant,omitempty"`
	URL            string            `json:"url"`
	Description    string            `json:"description,omitempty"`
	EventTypes     []string          `json:"event_types,omitempty"`
	Filter         json.RawMessage   `json:"filter,omitempty"`
	Ordered        bool              `json:"ordered,omitempty"`
	Template       string            `json:"template,omitempty"`
	ContentType    string            `json:"content_type,omitempty"`
	Settings       json.RawMessage   `json:"settings,omitempty"`
	Headers        map[string]string `json:"headers,omitempty"`
	Secrets        []Secret          `json:"secrets,omitempty"`
	Signature      *signatureJSON    `json:"signature,omitempty"`
	Unsigned       bool              `json:"unsigned,omitempty"`
	Disabled       bool              `json:"disabled"`
	DisabledReason string            `json:"disabled_reason,omitempty"`
	MaxConcurrency int               `json:"max_concurrency,omitempty"`
	RateLimit      float64           `json:"rate_limit,omitempty"`
	RateBurst      int               `json:"rate_burst,omitempty"`
	Retry          *RetryPolicy      `json:"retry,omitempty"`
	AckTimeout     string            `json:"ack_timeout,omitempty"`
	Batch          *BatchPolicy      `json:"batch,omitempty"`
	FailingSince   time.Time         `json:"failing_since,omitzero"`
	CreatedAt      time.Time         `json:"created_at,omitzero"`
	UpdatedAt      time.Time         `json:"updated_at,omitzero"`
}

// MarshalJSON writes the endpoint in snake_case. Secrets are written by
// [Secret.MarshalJSON], their keys redacted; the value of every
// credential-like header (Authorization, names with "token", "key",
// "secret", ...) is written as [Redacted]. Serving or logging an endpoint
// never reveals them.
func (ep Endpoint) MarshalJSON() ([]byte, error) {
	j := endpointJSON{
		ID: ep.ID, Tenant: ep.Tenant, URL: ep.URL, Description: ep.Description,
		EventTypes: ep.EventTypes, Filter: ep.Filter, Template: ep.Template, ContentType: ep.ContentType,
		Settings: ep.Settings, Unsigned: ep.Unsigned, Disabled: ep.Disabled, DisabledReason: ep.DisabledReason,
		MaxConcurrency: ep.MaxConcurrency, Retry: ep.Retry,
		CreatedAt: utcTime(ep.CreatedAt), UpdatedAt: utcTime(ep.UpdatedAt),
	}
	j.Ordered = ep.Ordered
	j.AckTimeout = durationText(ep.AckTimeout)
	j.RateLimit, j.RateBurst, j.FailingSince = ep.RateLimit, ep.RateBurst, utcTime(ep.FailingSince)
	if ep.Batch.Enabled() {
		j.Batch = &ep.Batch
	}
	if ep.Headers != nil {
		j.Headers = make(map[string]string, len(ep.Headers))
		for k, v := range ep.Headers {
			if isSensitiveHeader(k) {
				v = Redacted
			}
			j.Headers[k] = v
		}
	}
	j.Secrets = ep.Secrets
	if ep.Signature != (SignatureScheme{}) {
		j.Signature = &signatureJSON{Kind: ep.Signature.Kind, Header: ep.Signature.Header, Prefix: ep.Signature.Prefix}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the form [Endpoint.MarshalJSON] writes, with real
// secret keys and header values. A secret key or a header value equal to
// [Redacted] yields an error wrapping [ErrRedacted]: the JSON came from
// MarshalJSON and saving it would lose the keys. The endpoint is not
// validated here; [Dispatcher.PutEndpoint] does that.
func (ep *Endpoint) UnmarshalJSON(b []byte) error {
	var j endpointJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	for k, v := range j.Headers {
		if v == Redacted {
			return fmt.Errorf("%w: the value of header %q was redacted when it was written as JSON; send the value itself", ErrRedacted, k)
		}
	}
	*ep = Endpoint{
		ID: j.ID, Tenant: j.Tenant, URL: j.URL, Description: j.Description,
		EventTypes: j.EventTypes, Filter: j.Filter, Template: j.Template, ContentType: j.ContentType,
		Settings: j.Settings, Headers: j.Headers, Secrets: j.Secrets,
		Unsigned: j.Unsigned, Disabled: j.Disabled, DisabledReason: j.DisabledReason,
		MaxConcurrency: j.MaxConcurrency, Retry: j.Retry,
		CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt,
	}
	ep.Ordered = j.Ordered
	ack, err := time.ParseDuration(cmp.Or(j.AckTimeout, "0"))
	if err != nil {
		return fmt.Errorf("webhook: endpoint ack_timeout: %w", err)
	}
	ep.AckTimeout = ack
	ep.RateLimit, ep.RateBurst, ep.FailingSince = j.RateLimit, j.RateBurst, j.FailingSince
	if j.Batch != nil {
		ep.Batch = *j.Batch
	}
	if j.Signature != nil {
		ep.Signature = SignatureScheme{Kind: j.Signature.Kind, Header: j.Signature.Header, Prefix: j.Signature.Prefix}
	}
	return nil
}

// deliveryJSON is the JSON form of a [Delivery].
type deliveryJSON struct {
	ID             string        `json:"id"`
	EventID        string        `json:"event_id"`
	EndpointID     string        `json:"endpoint_id"`
	OrderingKey    string        `json:"ordering_key,omitempty"`
	Ordered        bool          `json:"ordered,omitempty"`
	State          DeliveryState `json:"state"`
	Attempts       int           `json:"attempts"`
	ScheduleStart  int           `json:"schedule_start,omitempty"`
	NextAttemptAt  time.Time     `json:"next_attempt_at,omitzero"`
	LastStatusCode int           `json:"last_status_code,omitempty"`
	LastError      string        `json:"last_error,omitempty"`
	CreatedAt      time.Time     `json:"created_at,omitzero"`
	UpdatedAt      time.Time     `json:"updated_at,omitzero"`
	AwaitingReport bool          `json:"awaiting_report,omitempty"`
	BatchID        string        `json:"batch_id,omitempty"`
}

// MarshalJSON writes the delivery in snake_case.
func (d Delivery) MarshalJSON() ([]byte, error) {
	return json.Marshal(deliveryJSON{
		ID: d.ID, EventID: d.EventID, EndpointID: d.EndpointID,
		OrderingKey: d.OrderingKey, Ordered: d.Ordered, State: d.State,
		Attempts: d.Attempts, ScheduleStart: d.ScheduleStart, NextAttemptAt: utcTime(d.NextAttemptAt),
		LastStatusCode: d.LastStatusCode, LastError: d.LastError,
		CreatedAt: utcTime(d.CreatedAt), UpdatedAt: utcTime(d.UpdatedAt),
		AwaitingReport: d.AwaitingReport,
		BatchID:        d.BatchID,
	})
}

// UnmarshalJSON reads the form [Delivery.MarshalJSON] writes.
func (d *Delivery) UnmarshalJSON(b []byte) error {
	var j deliveryJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*d = Delivery{
		ID: j.ID, EventID: j.EventID, EndpointID: j.EndpointID,
		OrderingKey: j.OrderingKey, Ordered: j.Ordered, State: j.State,
		Attempts: j.Attempts, ScheduleStart: j.ScheduleStart, NextAttemptAt: j.NextAttemptAt,
		LastStatusCode: j.LastStatusCode, LastError: j.LastError,
		CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt,
		AwaitingReport: j.AwaitingReport,
		BatchID:        j.BatchID,
	}
	return nil
}

// attemptJSON is the JSON form of an [Attempt].
type attemptJSON struct {
	DeliveryID         string     `json:"delivery_id"`
	Number             int        `json:"number"`
	StartedAt          time.Time  `json:"started_at,omitzero"`
	DurationMS         float64    `json:"duration_ms"`
	StatusCode         int        `json:"status_code,omitempty"`
	ErrorClass         ErrorClass `json:"error_class,omitempty"`
	Error              string     `json:"error,omitempty"`
	ResponseBody       *string    `json:"response_body,omitempty"`
	ResponseBodyBase64 []byte     `json:"response_body_base64,omitempty"`
	ResponseTruncated  bool       `json:"response_truncated,omitempty"`
}

// MarshalJSON writes the attempt in snake_case. Its duration is
// "duration_ms", a number of milliseconds. The response body is
// "response_body", text, when it is valid UTF-8, and
// "response_body_base64" (standard base64) otherwise.
func (a Attempt) MarshalJSON() ([]byte, error) {
	j := attemptJSON{
		DeliveryID: a.DeliveryID, Number: a.Number, StartedAt: utcTime(a.StartedAt),
		DurationMS: float64(a.Duration) / float64(time.Millisecond),
		StatusCode: a.StatusCode, ErrorClass: a.ErrorClass, Error: a.Error,
		ResponseTruncated: a.ResponseTruncated,
	}
	if len(a.ResponseBody) > 0 {
		if utf8.Valid(a.ResponseBody) {
			s := string(a.ResponseBody)
			j.ResponseBody = &s
		} else {
			j.ResponseBodyBase64 = a.ResponseBody
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the form [Attempt.MarshalJSON] writes.
func (a *Attempt) UnmarshalJSON(b []byte) error {
	var j attemptJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	if math.IsNaN(j.DurationMS) || math.IsInf(j.DurationMS, 0) || math.Abs(j.DurationMS) > float64(math.MaxInt64/int64(time.Millisecond)) {
		return fmt.Errorf("webhook: attempt duration_ms %v out of range", j.DurationMS)
	}
	*a = Attempt{
		DeliveryID: j.DeliveryID, Number: j.Number, StartedAt: j.StartedAt,
		Duration:   time.Duration(math.Round(j.DurationMS * float64(time.Millisecond))),
		StatusCode: j.StatusCode, ErrorClass: j.ErrorClass, Error: j.Error,
		ResponseTruncated: j.ResponseTruncated,
	}
	switch {
	case j.ResponseBody != nil:
		a.ResponseBody = []byte(*j.ResponseBody)
	case j.ResponseBodyBase64 != nil:
		a.ResponseBody = j.ResponseBodyBase64
	}
	return nil
}

// reportJSON is the JSON form of a [Report].
type reportJSON struct {
	DeliveryID string       `json:"delivery_id"`
	Number     int          `json:"number"`
	Attempt    int          `json:"attempt"`
	Status     ReportStatus `json:"status"`
	Message    string       `json:"message,omitempty"`
	Progress   float64      `json:"progress"`
	ReceivedAt time.Time    `json:"received_at,omitzero"`
}

// MarshalJSON writes the report in snake_case: {"delivery_id", "number",
// "attempt", "status", "message", "progress", "received_at"}.
func (r Report) MarshalJSON() ([]byte, error) {
	return json.Marshal(reportJSON{DeliveryID: r.DeliveryID, Number: r.Number, Attempt: r.Attempt,
		Status: r.Status, Message: r.Message, Progress: r.Progress, ReceivedAt: utcTime(r.ReceivedAt)})
}

// UnmarshalJSON reads the form [Report.MarshalJSON] writes.
func (r *Report) UnmarshalJSON(b []byte) error {
	var j reportJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	//lint:ignore S1016 each field is named, so a field added to one type and not the other is seen here
	*r = Report{DeliveryID: j.DeliveryID, Number: j.Number, Attempt: j.Attempt,
		Status: j.Status, Message: j.Message, Progress: j.Progress, ReceivedAt: j.ReceivedAt}
	return nil
}

// utcTime returns t in UTC, keeping the zero time zero.
func utcTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// Compile-time checks that the JSON forms are in place.
var (
	_ json.Marshaler   = Event{}
	_ json.Unmarshaler = (*Event)(nil)
	_ json.Marshaler   = Endpoint{}
	_ json.Unmarshaler = (*Endpoint)(nil)
	_ json.Marshaler   = Delivery{}
	_ json.Unmarshaler = (*Delivery)(nil)
	_ json.Marshaler   = Attempt{}
	_ json.Unmarshaler = (*Attempt)(nil)
	_ json.Marshaler   = RetryPolicy{}
	_ json.Unmarshaler = (*RetryPolicy)(nil)
	_ json.Unmarshaler = (*Secret)(nil)
	_ json.Marshaler   = Report{}
	_ json.Unmarshaler = (*Report)(nil)
)

// sensitiveHeaders carry credentials or signatures; attempt records keep
// their names only.
var sensitiveHeaders = map[string]bool{
	HeaderSignature: true, "Svix-Signature": true,
	"Authorization": true, "Proxy-Authorization": true,
	"Cookie": true, "X-Api-Key": true,
	"X-Hub-Signature": true, HMACHexHeaderDefault: true,
}

// sensitiveWords mark a header name as carrying a credential.
var sensitiveWords = []string{"auth", "token", "secret", "signature", "password", "key", "cookie", "session"}

// isSensitiveHeader reports whether a request header's value must not be
// recorded: a signature, credentials, or a name that suggests either.
func isSensitiveHeader(name string) bool {
	name = textproto.CanonicalMIMEHeaderKey(name)
	if sensitiveHeaders[name] {
		return true
	}
	lower := strings.ToLower(name)
	for _, w := range sensitiveWords {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}
