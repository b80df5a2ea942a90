package webhook

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"mime"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Endpoint is a subscriber: a URL that receives the events whose type
// matches one of its EventTypes.
type Endpoint struct {
	// ID identifies the endpoint. Required, at most 256 bytes.
	ID string
	// Tenant scopes the endpoint: it receives events of its tenant and events
	// that carry no tenant.
	Tenant string
	// URL is where deliveries are POSTed: absolute, http or https, with a
	// host. Required.
	URL string
	// Description is free text for operators.
	Description string
	// EventTypes lists the event types the endpoint receives: exact names,
	// "prefix.*" (every type below prefix) or "*". Empty means every type.
	EventTypes []string
	// Filter selects, among the events EventTypes and Tenant let through,
	// those the endpoint receives: a JSON document in the filter syntax of
	// Convoy and Outpost, evaluated against the event seen as
	// {"id", "type", "tenant", "time", "attributes", "data"}, e.g.
	// {"data.amount": {"$gte": 100}, "attributes.source": "api"}. Empty,
	// null or {} lets every event through. It is compiled when the
	// endpoint is saved; a bad one is refused with a [*FilterError]. See
	// docs/filtering.md for the operators and their semantics, and
	// [MaxFilterBytes], [MaxFilterDepth] and [MaxFilterNodes] for the
	// limits.
	Filter json.RawMessage
	// Ordered makes the endpoint receive the events of each
	// [Event.OrderingKey] one at a time, in emit order: the next event of
	// a key is sent only once the one before it has succeeded, failed for
	// good or been skipped, so a failing event holds back the rest of its
	// key while it is retried. Events of different keys go in parallel,
	// up to MaxConcurrency. The setting applies to events emitted while it
	// holds: deliveries already enqueued keep the mode they were enqueued
	// with (see [Delivery.Ordered]).
	Ordered bool
	// Template reshapes the payload sent to this endpoint; empty sends the
	// Standard Webhooks envelope {"type","timestamp","data"}. It is compiled
	// by [Config.Transformer] when the endpoint is saved.
	Template string
	// ContentType is the Content-Type of a body that the template renders
	// as a string. Defaults to "text/plain; charset=utf-8". Bodies rendered
	// as JSON, and the default envelope, are sent as application/json.
	ContentType string
	// Settings is JSON handed to the template (per-destination settings).
	Settings json.RawMessage
	// Headers are added to every request to the endpoint. The headers
	// Hooklet sets itself (webhook-*, Content-Type, Content-Length, Host,
	// User-Agent) cannot be overridden.
	Headers map[string]string
	// Secrets sign each request; every secret that has not expired signs,
	// so a rotation keeps the old secret until its ExpiresAt (see
	// [Dispatcher.RotateSecret]). At least one must sign when the endpoint
	// is saved, unless Unsigned is set. At most 8.
	Secrets []Secret
	// Signature selects how requests are signed; the zero value is
	// Standard Webhooks. See [SignatureScheme].
	Signature SignatureScheme
	// Unsigned sends requests without a signature: the endpoint holds no
	// secret, and receivers cannot tell its requests from forged ones.
	// Without it, [Dispatcher.PutEndpoint] refuses an endpoint none of
	// whose secrets signs, so that a forgotten or expired secret is an
	// error rather than silently unsigned requests. An endpoint signed by a
	// custom [Config.Signer] needs neither.
	Unsigned bool
	// Disabled stops deliveries: a disabled endpoint receives no new
	// deliveries and its pending ones end failed (replayable).
	Disabled bool
	// DisabledReason says why Hooklet disabled the endpoint (for example
	// "410 Gone"); empty when the host disabled it.
	DisabledReason string
	// FailingSince is when the endpoint's current run of failed attempts
	// began, zero while its latest attempt succeeded. Hooklet writes it
	// when a run begins and when it ends, so that [Config.DisableAfter]
	// counts across restarts and replicas. PutEndpoint stores the value
	// given: an endpoint read, edited and put back keeps its count; a zero
	// value starts it anew, and so does enabling a disabled endpoint.
	FailingSince time.Time
	// MaxConcurrency caps the requests in flight to this endpoint.
	// Defaults to [Config.EndpointConcurrency].
	MaxConcurrency int
	// RateLimit caps the requests per second sent to this endpoint, quick
	// retries included; 0 means no limit. Deliveries beyond the rate wait
	// in the store without holding a worker. Each Dispatcher enforces the
	// full limit on its own: N replicas sharing a store may together send
	// up to N times the rate (divide the rate by the number of replicas
	// when that matters).
	RateLimit float64
	// RateBurst is how many requests may go at once, above the rate, after
	// a quiet spell. Defaults to 1 when RateLimit is set.
	RateBurst int
	// Retry overrides [Config.Retry] for this endpoint when non-nil.
	Retry *RetryPolicy
	// Batch gathers the endpoint's deliveries into NDJSON batch requests;
	// the zero value sends one request per delivery. See [BatchPolicy].
	// The store must be a [Batcher].
	Batch BatchPolicy
	// AckTimeout lets the endpoint's receiver acknowledge a request now
	// and report its result later; zero (the default) turns it off. When
	// set, every request carries a callback URL under
	// [Config.CallbackURL] (the webhook-callback-url header, and
	// event.callback_url in templates) holding a token good for that
	// attempt only. A receiver that answers 202 Accepted leaves the
	// delivery awaiting its report: it POSTs {"status": "running" |
	// "succeeded" | "failed", "message", "progress"} to the URL (see
	// [Dispatcher.CallbackHandler]); running resets the wait, succeeded
	// ends the delivery, failed counts as a failed attempt
	// ([ClassAckFailed]) under the retry policy, and no report within
	// AckTimeout is a failed attempt of class [ClassAckTimeout]. Any other
	// 2xx answer ends the delivery as usual. [Dispatcher.PutEndpoint]
	// refuses an AckTimeout when Config.CallbackURL is empty or the store
	// is not a [Reporter]; a Dispatcher without CallbackURL that delivers
	// such an endpoint (another replica's) sends no callback URL and takes
	// 202 as success.
	AckTimeout time.Duration
	// CreatedAt and UpdatedAt are set when the endpoint is saved, to the
	// microsecond. UpdatedAt names the version: every save moves it
	// forward, so a conditional write ([PutEndpointParams.IfUpdatedAt])
	// tells versions apart.
	CreatedAt, UpdatedAt time.Time
}

// Clone returns a deep copy of ep: its slices, maps, Settings, Filter and
// Retry policy are not shared with ep.
func (ep Endpoint) Clone() Endpoint {
	ep.EventTypes = slices.Clone(ep.EventTypes)
	ep.Secrets = slices.Clone(ep.Secrets)
	ep.Headers = maps.Clone(ep.Headers)
	ep.Settings = slices.Clone(ep.Settings)
	ep.Filter = slices.Clone(ep.Filter)
	if ep.Retry != nil {
		rp := *ep.Retry
		rp.Schedule = slices.Clone(rp.Schedule)
		ep.Retry = &rp
	}
	return ep
}

// Secret is a key that signs requests to an endpoint. Its String and
// GoString methods never reveal the key.
type Secret struct {
	// Key is the secret in its text form, used exactly as written: a
	// "whsec_" secret (the base64 of 24 to 64 random bytes, see
	// [NewSecret]), a "whsk_" ed25519 signing key (see [NewSigningKey]),
	// or, with the [SignatureHMACHex] scheme only, a raw shared secret
	// without prefix, such as one a GitHub-style receiver already holds.
	// A "whpk_" public key is not a secret and is refused; so is a key
	// with a control character or a leading or trailing space.
	Key string
	// ExpiresAt, when set, is the instant the secret stops signing. Use it to
	// rotate: add the new secret and give the old one an expiry.
	ExpiresAt time.Time
}

// String returns a redacted form of the secret.
func (s Secret) String() string {
	if s.ExpiresAt.IsZero() {
		return "Secret{Key:[redacted]}"
	}
	return "Secret{Key:[redacted] ExpiresAt:" + s.ExpiresAt.Format(time.RFC3339) + "}"
}

// GoString returns a redacted form of the secret, for %#v.
func (s Secret) GoString() string { return s.String() }

// activeAt reports whether the secret signs at time t.
func (s Secret) activeAt(t time.Time) bool {
	return s.ExpiresAt.IsZero() || t.Before(s.ExpiresAt)
}

// Limits on endpoint fields.
const (
	maxEndpointIDLen = 256
	maxURLLen        = 2048
	maxEventTypes    = 256
	maxHeaders       = 64
	maxSecrets       = 8
)

// reservedHeaders are set by Hooklet and cannot be configured per endpoint.
var reservedHeaders = map[string]bool{
	"Content-Type": true, "Content-Length": true, "Host": true, "User-Agent": true,
	"Transfer-Encoding": true, "Connection": true,
}

// endpointCheck is what validating an endpoint depends on beyond the
// endpoint itself.
type endpointCheck struct {
	// now decides which secrets have expired.
	now time.Time
	// refusePrivate is set when the dial guard is on: a URL whose host is
	// a literal address the guard refuses is refused at once.
	refusePrivate bool
	// customSigner is set when Config.Signer is the host's own: an endpoint
	// it signs for needs no secret of ours.
	customSigner bool
	// maxPayload is Config.MaxPayloadBytes, which a batch must hold.
	maxPayload int
	// batcher is set when the store records batches ([Batcher]).
	batcher bool
	// callbacks is set when receivers can report back: Config.CallbackURL
	// is set and the store is a Reporter.
	callbacks bool
}

// validate checks every field of ep; it does not compile the template.
// Text fields must be valid UTF-8 without NUL, so that every store keeps
// them byte for byte, and without the control characters that would make
// every attempt fail. Errors name the field, never print a secret, and
// carry no control character.
func (ep *Endpoint) validate(c endpointCheck) error {
	if ep.ID == "" {
		return invalidEndpoint("ID", "is required", nil)
	}
	if len(ep.ID) > maxEndpointIDLen {
		return invalidEndpoint("ID", fmt.Sprintf("longer than %d bytes", maxEndpointIDLen), nil)
	}
	if reason := checkText(ep.ID, textName); reason != "" {
		return invalidEndpoint("ID", reason, nil)
	}
	if len(ep.Tenant) > maxTenantLen {
		return invalidEndpoint("Tenant", fmt.Sprintf("longer than %d bytes", maxTenantLen), nil)
	}
	if reason := checkText(ep.Tenant, textName); reason != "" {
		return invalidEndpoint("Tenant", reason, nil)
	}
	if err := validateURL(ep.URL, c.refusePrivate); err != nil {
		return err
	}
	if reason := checkText(ep.Description, textMultiline); reason != "" {
		return invalidEndpoint("Description", reason, nil)
	}
	if len(ep.EventTypes) > maxEventTypes {
		return invalidEndpoint("EventTypes", fmt.Sprintf("more than %d patterns", maxEventTypes), nil)
	}
	for i, p := range ep.EventTypes {
		if err := validatePattern(p); err != nil {
			return invalidEndpoint(fmt.Sprintf("EventTypes[%d]", i), err.Error(), nil)
		}
	}
	if reason := checkText(ep.Template, textMultiline); reason != "" {
		return invalidEndpoint("Template", reason, nil)
	}
	if ep.ContentType != "" {
		if reason := checkText(ep.ContentType, textLine); reason != "" {
			return invalidEndpoint("ContentType", reason, nil)
		}
		if mt, _, err := mime.ParseMediaType(ep.ContentType); err != nil || !strings.Contains(mt, "/") {
			return invalidEndpoint("ContentType", "is not a media type such as \"text/plain; charset=utf-8\"", nil)
		}
	}
	if len(ep.Settings) > 0 {
		if reason := checkJSON(ep.Settings); reason != "" {
			return invalidEndpoint("Settings", reason, nil)
		}
	}
	if len(ep.Headers) > maxHeaders {
		return invalidEndpoint("Headers", fmt.Sprintf("more than %d headers", maxHeaders), nil)
	}
	for k, v := range ep.Headers {
		if err := validateHeader(k, v); err != nil {
			return invalidEndpoint("Headers["+fieldKey(k)+"]", err.Error(), nil)
		}
	}
	if err := ep.Signature.validate(); err != nil {
		return invalidEndpoint("Signature", err.Error(), nil)
	}
	if err := ep.validateSecrets(c); err != nil {
		return err
	}
	if reason := checkText(ep.DisabledReason, textLine); reason != "" {
		return invalidEndpoint("DisabledReason", reason, nil)
	}
	if ep.MaxConcurrency < 0 {
		return invalidEndpoint("MaxConcurrency", "must not be negative", nil)
	}
	switch {
	case math.IsNaN(ep.RateLimit) || math.IsInf(ep.RateLimit, 0):
		return invalidEndpoint("RateLimit", "must be a finite number", nil)
	case ep.RateLimit < 0:
		return invalidEndpoint("RateLimit", "must not be negative", nil)
	case ep.RateBurst < 0:
		return invalidEndpoint("RateBurst", "must not be negative", nil)
	case ep.RateBurst > 0 && ep.RateLimit == 0:
		return invalidEndpoint("RateBurst", "needs a RateLimit", nil)
	}
	if ep.Retry != nil {
		if err := ep.Retry.validate(); err != nil {
			return invalidEndpoint("Retry", err.Error(), nil)
		}
	}
	switch {
	case ep.AckTimeout < 0:
		return invalidEndpoint("AckTimeout", "must not be negative", nil)
	case ep.AckTimeout > 0 && !c.callbacks:
		return invalidEndpoint("AckTimeout", "needs Config.CallbackURL, where the host mounts Dispatcher.CallbackHandler, and a store that keeps reports", nil)
	}
	if field, reason := ep.Batch.validate(c.maxPayload); field != "" {
		return invalidEndpoint(field, reason, nil)
	}
	if ep.Batch.Enabled() && !c.batcher {
		return invalidEndpoint("Batch", "the store cannot record batches (it does not implement webhook.Batcher)", ErrBatchingUnsupported)
	}
	return nil
}

// validateSecrets checks each key for the endpoint's scheme, and that the
// endpoint signs: at least one secret that has not expired signs under
// its scheme, unless it is Unsigned (and then it holds none).
func (ep *Endpoint) validateSecrets(c endpointCheck) error {
	if len(ep.Secrets) > maxSecrets {
		return invalidEndpoint("Secrets", fmt.Sprintf("more than %d secrets", maxSecrets), nil)
	}
	kind := ep.Signature.Kind
	signing := 0
	for i, s := range ep.Secrets {
		if reason, err := checkKey(s.Key, kind); reason != "" {
			return invalidEndpoint(fmt.Sprintf("Secrets[%d]", i), reason, err)
		}
		if s.activeAt(c.now) && signsWith(kindOfKey(s.Key), kind) {
			signing++
		}
	}
	switch {
	case ep.Unsigned && len(ep.Secrets) > 0:
		return invalidEndpoint("Unsigned", "is set while Secrets are given: remove the secrets, or clear Unsigned to sign", nil)
	case ep.Unsigned, signing > 0, c.customSigner && kind != SignatureHMACHex:
		return nil
	case len(ep.Secrets) == 0:
		return invalidEndpoint("Secrets", "no secret: add one (see NewSecret), or set Unsigned to send unsigned requests", nil)
	case kind == SignatureHMACHex:
		return invalidEndpoint("Secrets", fmt.Sprintf("no secret signs with the %q scheme (whsk_ keys do not, and expired ones do not): add one, or set Unsigned to send unsigned requests", kind), nil)
	}
	return invalidEndpoint("Secrets", "every secret has expired: add one (see Dispatcher.RotateSecret), or set Unsigned to send unsigned requests", nil)
}

func validateURL(raw string, refusePrivate bool) error {
	if raw == "" {
		return invalidEndpoint("URL", "is required", nil)
	}
	if len(raw) > maxURLLen {
		return invalidEndpoint("URL", fmt.Sprintf("longer than %d bytes", maxURLLen), nil)
	}
	if reason := checkText(raw, textName); reason != "" {
		return invalidEndpoint("URL", reason, nil)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// Without the URL itself, which may carry a token.
		return invalidEndpoint("URL", "does not parse", unwrapURLError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return invalidEndpoint("URL", "scheme must be http or https", nil)
	}
	if u.Hostname() == "" {
		return invalidEndpoint("URL", "has no host", nil)
	}
	if u.User != nil {
		return invalidEndpoint("URL", "must not carry credentials; use Headers", nil)
	}
	if reason := checkPort(u.Port()); reason != "" {
		return invalidEndpoint("URL", reason, nil)
	}
	if refusePrivate && privateLiteral(u.Hostname()) {
		return invalidEndpoint("URL", "host is a loopback, private or otherwise non-public address, which the dial guard refuses; set Config.AllowPrivateNetworks to allow it", nil)
	}
	return nil
}

func validatePattern(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("empty pattern")
	case len(p) > maxTypeLen:
		return fmt.Errorf("longer than %d bytes", maxTypeLen)
	case p == "*":
		return nil
	case strings.HasSuffix(p, ".*"):
		p = strings.TrimSuffix(p, ".*")
	}
	if p == "" || strings.Contains(p, "*") {
		return fmt.Errorf("%q: '*' is allowed only as the whole pattern or as a final \".*\"", p)
	}
	if reason := checkText(p, textName); reason != "" {
		return fmt.Errorf("%s", reason)
	}
	return nil
}

func validateHeader(name, value string) error {
	if name == "" {
		return fmt.Errorf("empty name")
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return fmt.Errorf("name has the invalid character %q", name[i])
		}
	}
	canon := textproto.CanonicalMIMEHeaderKey(name)
	if reservedHeaders[canon] || strings.HasPrefix(canon, "Webhook-") {
		return fmt.Errorf("is set by Hooklet and cannot be overridden")
	}
	if reason := checkText(value, textLine); reason != "" {
		return fmt.Errorf("value %s", reason)
	}
	return nil
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// matches reports whether ep should receive ev, its filter aside: enabled,
// tenant compatible and one of its patterns matching the type. It is the
// definition the registry's fan-out index is tested against.
func (ep *Endpoint) matches(ev *Event) bool {
	if ep.Disabled {
		return false
	}
	if ev.Tenant != "" && ep.Tenant != ev.Tenant {
		return false
	}
	if len(ep.EventTypes) == 0 {
		return true
	}
	for _, p := range ep.EventTypes {
		if typeMatches(p, ev.Type) {
			return true
		}
	}
	return false
}

// typeMatches matches an event type against one pattern of
// [Endpoint.EventTypes].
func typeMatches(pattern, typ string) bool {
	if pattern == "*" {
		return true
	}
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		// prefix ends with "."; "invoice.*" matches "invoice.paid" and
		// "invoice.line.added" but not "invoice" itself.
		return len(typ) > len(prefix) && strings.HasPrefix(typ, prefix)
	}
	return pattern == typ
}
