package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuf keeps oversized buffers out of the pool.
const maxPooledBuf = 1 << 20

func putBuf(b *bytes.Buffer) {
	if b.Cap() <= maxPooledBuf {
		b.Reset()
		bufPool.Put(b)
	}
}

// attempt makes one attempt at a leased delivery and returns its outcome.
// It reports release when the attempt was cut short by Close: the lease
// is then given back without recording anything.
func (e *engine) attempt(ctx context.Context, l *Lease) (out Outcome, release bool) {
	d := e.d
	out.Lease = LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token}
	st, ok := d.registry.get(l.Delivery.EndpointID)
	if !ok {
		// Created by another process after our last load, or deleted.
		if err := d.registry.reload(ctx); err != nil {
			// Not known to be deleted: give it back for a later try.
			d.log.Warn("webhook: reloading endpoints", "error", err)
			return out, true
		}
		st, ok = d.registry.get(l.Delivery.EndpointID)
	}
	start := d.clock.Now()
	a := Attempt{DeliveryID: l.Delivery.ID, Number: l.Delivery.Attempts + 1, StartedAt: start}
	fail := func(class ErrorClass, msg string) (Outcome, bool) {
		a.ErrorClass, a.Error = class, cleanText(msg)
		out.Attempts = []Attempt{a}
		out.State = StateFailed
		return out, false
	}
	switch {
	case !ok:
		return fail(ClassEndpointDisabled, "endpoint deleted")
	case st.ep.Disabled:
		return fail(ClassEndpointDisabled, "endpoint disabled")
	}

	body := bufPool.Get().(*bytes.Buffer)
	defer putBuf(body)
	contentType := "application/json"
	if st.tmpl != nil {
		r, err := st.tmpl.Render(ctx, &RenderInput{Event: &l.Event, Endpoint: &st.ep})
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return out, true
			}
			return fail(ClassTemplate, err.Error())
		case r.Skip:
			out.State = StateSkipped
			return out, false
		}
		body.Write(r.Body)
		contentType = r.ContentType
	} else {
		appendEnvelope(body, &l.Event)
	}

	status, retryAfter, err := e.send(ctx, st, l, body.Bytes(), contentType, start, &a)
	a.Duration = d.clock.Now().Sub(start)
	if err != nil {
		if e.runCtx.Err() != nil {
			return out, true
		}
		var msg string
		a.ErrorClass, msg = classify(err)
		a.Error = cleanText(msg)
	}
	a.StatusCode = status
	out.Attempts = []Attempt{a}
	var v verdict
	out.State, out.NextAttemptAt, v = st.retry.next(a.Number, status, retryAfter, d.clock.Now())
	if a.ErrorClass == ClassInternal {
		out.State, out.NextAttemptAt = StateFailed, time.Time{}
	}
	switch {
	case v == verdictFailAndDisable:
		e.disableEndpoint(&st.ep, fmt.Sprintf("%d %s", status, http.StatusText(status)))
	case e.failingTooLong(st.ep.ID, v == verdictSuccess, start):
		e.disableEndpoint(&st.ep, fmt.Sprintf("no successful delivery for %v", d.cfg.DisableAfter))
	}
	return out, false
}

// failingTooLong tracks, per endpoint, when the current run of failed
// attempts began, and reports whether it has lasted Config.DisableAfter.
// The run is kept in memory: a restart, or another replica, starts
// counting anew, which can only postpone the disabling.
func (e *engine) failingTooLong(endpointID string, success bool, now time.Time) bool {
	if e.d.cfg.DisableAfter < 0 {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if success {
		delete(e.failingSince, endpointID)
		return false
	}
	since, ok := e.failingSince[endpointID]
	if !ok {
		e.failingSince[endpointID] = now
		return false
	}
	if now.Sub(since) < e.d.cfg.DisableAfter {
		return false
	}
	delete(e.failingSince, endpointID)
	return true
}

// send signs and sends one request and reads the response, up to the cap,
// into a. It returns the status (0 without an answer) and any Retry-After.
func (e *engine) send(ctx context.Context, st *endpointState, l *Lease, body []byte, contentType string, now time.Time, a *Attempt) (int, time.Duration, error) {
	d := e.d
	ctx, cancel := context.WithTimeout(ctx, d.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, st.ep.URL, bytes.NewReader(body))
	if err != nil {
		return 0, 0, internalError{unwrapURLError(err)}
	}
	h := req.Header
	for k, v := range st.ep.Headers {
		h.Set(k, v)
	}
	h["Content-Type"] = []string{contentType}
	h["User-Agent"] = []string{d.cfg.UserAgent}
	msg := Message{ID: l.Event.ID, Timestamp: now, Body: body, Secrets: activeSecrets(st.ep.Secrets, now)}
	if err := signerFor(&st.ep, d.cfg.Signer).Sign(h, &msg); err != nil {
		return 0, 0, internalError{fmt.Errorf("signing: %w", err)}
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	limit := d.cfg.MaxResponseBodyBytes
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
		a.ResponseBody = bytes.Clone(buf.Bytes())
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

// appendEnvelope writes the Standard Webhooks envelope
// {"type","timestamp","data"} of ev to b.
func appendEnvelope(b *bytes.Buffer, ev *Event) {
	b.WriteString(`{"type":`)
	writeJSONString(b, ev.Type)
	b.WriteString(`,"timestamp":"`)
	b.Write(ev.Time.UTC().AppendFormat(b.AvailableBuffer(), time.RFC3339Nano))
	b.WriteString(`","data":`)
	b.Write(ev.Payload)
	b.WriteByte('}')
}

// writeJSONString writes s as a JSON string literal.
func writeJSONString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < 0x80 {
			continue
		}
		if c >= 0x80 {
			continue // UTF-8 passes through; json.Valid payloads and validated types only
		}
		b.WriteString(s[start:i])
		switch c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		}
		start = i + 1
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}

// disableEndpoint disables an endpoint after an answer that says it is gone,
// and tells the host.
//
// It disables only the version that failed: if the host has changed the
// endpoint since (a fixed URL, say), the change stands.
func (e *engine) disableEndpoint(failed *Endpoint, reason string) {
	d := e.d
	id, version := failed.ID, failed.UpdatedAt
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		ep, err := d.store.GetEndpoint(ctx, &GetEndpointParams{ID: id})
		if err != nil || ep.Disabled || !ep.UpdatedAt.Equal(version) {
			return
		}
		ep.Disabled, ep.DisabledReason = true, reason
		ep.UpdatedAt = d.clock.Now().UTC()
		st, err := d.registry.compile(ep)
		if err == nil {
			st.ep = ep
			err = d.store.PutEndpoint(ctx, &PutEndpointParams{Endpoint: ep})
		}
		if err != nil {
			d.log.Warn("webhook: disabling endpoint", "endpoint", id, "error", err)
			return
		}
		d.registry.put(st)
		d.log.Warn("webhook: endpoint disabled", "endpoint", id, "reason", reason)
		if d.cfg.OnEndpointDisabled != nil {
			d.cfg.OnEndpointDisabled(ctx, ep)
		}
	}()
}
