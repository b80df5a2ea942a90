package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"time"
)

// sender signs and sends one request to an endpoint and reads its answer.
// It holds what every request shares: the client, the default signer and
// the limits of Config.
type sender struct {
	client          *http.Client
	signer          Signer // used unless the endpoint names its own scheme
	userAgent       string
	timeout         time.Duration // bounds one request, body read included
	maxResponseBody int

	uaOnce sync.Once
	ua     []string // the User-Agent header value; see userAgentValues
}

// send signs and sends body to st's endpoint as l's event, with the
// callback URL of the attempt when it has one, and reads the response, up
// to the cap, into a. It returns the status (0 without an
// answer) and any Retry-After. An error is a request that got no answer;
// classify sorts it.
func (s *sender) send(ctx context.Context, st *endpointState, l *Lease, body []byte, contentType, callbackURL string, now time.Time, a *Attempt) (int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, st.ep.URL, bytes.NewReader(body))
	if err != nil {
		return 0, 0, internalError{unwrapURLError(err)}
	}
	h := req.Header
	for _, hv := range st.headers {
		h[hv.key] = hv.values
	}
	if contentType == jsonContentType {
		h["Content-Type"] = jsonContentTypeValues
	} else {
		h["Content-Type"] = []string{contentType}
	}
	h["User-Agent"] = s.userAgentValues()
	if callbackURL != "" {
		h[HeaderCallbackURL] = []string{callbackURL}
	}
	injectTrace(ctx, h)
	msg := messagePool.Get().(*Message)
	*msg = Message{ID: l.Event.ID, Timestamp: now, Body: body, Secrets: activeSecrets(st.ep.Secrets, now)}
	err = signerFor(&st.ep, s.signer).Sign(h, msg)
	*msg = Message{}
	messagePool.Put(msg)
	if err != nil {
		return 0, 0, internalError{fmt.Errorf("signing: %w", err)}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	limit := s.maxResponseBody
	buf := bufPool.Get().(*bytes.Buffer)
	defer putBuf(buf)
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, int64(limit)+1))
	if buf.Len() > limit {
		a.ResponseTruncated = true
		buf.Truncate(limit)
	} else if err == nil {
		// Drain a little so the connection can be reused; a larger rest
		// closes it.
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
	}
	if buf.Len() > 0 {
		// Receivers that echo the request must not put its credentials
		// in the attempt record.
		a.ResponseBody = redact(bytes.Clone(buf.Bytes()), st.secrets)
		if callbackURL != "" {
			// Nor the token that lets the receiver report.
			a.ResponseBody = redact(a.ResponseBody, [][]byte{[]byte(callbackURL[strings.LastIndexByte(callbackURL, '.')+1:])})
		}
	}
	var retryAfter time.Duration
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		// The answer came, its body did not: the status still counts.
		a.Error = cleanText("reading response body: " + unwrapURLError(err).Error())
	}
	return resp.StatusCode, retryAfter, nil
}

// jsonContentType is the Content-Type of the default body.
const jsonContentType = "application/json"

// jsonContentTypeValues and the other header values below are shared by
// every request: read-only, and capped so that an append copies them.
var jsonContentTypeValues = []string{jsonContentType}[:1:1]

// userAgentValues returns the User-Agent header value, built once.
func (s *sender) userAgentValues() []string {
	s.uaOnce.Do(func() { s.ua = []string{s.userAgent}[:1:1] })
	return s.ua
}

// messagePool holds the Messages handed to the signer, which escape through
// the Signer interface.
var messagePool = sync.Pool{New: func() any { return new(Message) }}

// headerValue is one header of an endpoint, canonical, as a request
// carries it.
type headerValue struct {
	key    string
	values []string // shared by every request: read-only, capped
}

// headersOf returns an endpoint's custom headers as requests carry them,
// built once per endpoint version instead of once per request.
func headersOf(m map[string]string) []headerValue {
	if len(m) == 0 {
		return nil
	}
	out := make([]headerValue, 0, len(m))
	for k, v := range m {
		out = append(out, headerValue{key: textproto.CanonicalMIMEHeaderKey(k), values: []string{v}[:1:1]})
	}
	return out
}

// maxErrorText caps the error text kept in an attempt record.
const maxErrorText = 1024

// cleanText makes error text safe for any store: valid UTF-8, no NUL
// (which PostgreSQL text refuses), at most maxErrorText bytes.
func cleanText(s string) string {
	if len(s) > maxErrorText {
		s = s[:maxErrorText]
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// activeSecrets returns the secrets that sign at time t.
func activeSecrets(all []Secret, t time.Time) []Secret {
	for i, s := range all {
		if !s.activeAt(t) {
			out := make([]Secret, 0, len(all)-1)
			out = append(out, all[:i]...)
			for _, s := range all[i+1:] {
				if s.activeAt(t) {
					out = append(out, s)
				}
			}
			return out
		}
	}
	return all
}

// internalError marks a failure on our side of the request.
type internalError struct{ err error }

func (e internalError) Error() string { return e.err.Error() }
func (e internalError) Unwrap() error { return e.err }

// classify sorts a request error and describes it without the URL, which
// may carry credentials in its query.
func classify(err error) (ErrorClass, string) {
	var ie internalError
	if errors.As(err, &ie) {
		return ClassInternal, ie.Error()
	}
	msg := unwrapURLError(err).Error()
	var ne net.Error
	switch {
	case errors.Is(err, ErrAddressNotAllowed):
		return ClassBlocked, msg
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return ClassTimeout, msg
	default:
		return ClassConnection, msg
	}
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
