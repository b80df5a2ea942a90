package webhook

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// HeaderCallbackURL (webhook-callback-url, in canonical form) carries the
// callback URL of an attempt to an endpoint with an [Endpoint.AckTimeout].
const HeaderCallbackURL = "Webhook-Callback-Url"

// callbackTokenBytes is the size of the random part of a callback token.
const callbackTokenBytes = 32

// callbacks mints the callback URLs of attempts and takes the reports that
// receivers post to them. A callback URL is Config.CallbackURL, a slash,
// and the token: the delivery ID (path-escaped), a dot, and 32 random bytes
// in unpadded base64url. Only the SHA-256 of the random bytes is stored,
// with the delivery that awaits it; every attempt mints a new one, so a
// token is good for one attempt of one delivery, until its wait ends.
type callbacks struct {
	base  string // Config.CallbackURL without a trailing slash
	store Store
	rep   Reporter
	clock Clock
	log   *slog.Logger
	// lookup returns a delivery's endpoint; see registry.lookup.
	lookup func(ctx context.Context, id string) (*endpointState, bool, error)
	hooks  *hookRunner
	// metrics counts the deliveries a report ends.
	metrics *metrics
	// wake tells the local engine that a delivery's due time moved.
	wake func()

	// Reports that came before the outcome of the request they answer
	// was recorded wait for it; see early.
	mu      sync.Mutex
	waiting map[string][]chan struct{} // by delivery ID
	nwait   atomic.Int32
}

// earlyReportWait bounds how long a report waits for the outcome of the
// request it answers to be recorded (a receiver may report before its 202
// is written); earlyReportPoll is the first interval of its re-reads,
// doubling to earlyReportPollMax, for outcomes recorded by another
// replica.
const (
	earlyReportWait    = 5 * time.Second
	earlyReportPoll    = 20 * time.Millisecond
	earlyReportPollMax = 500 * time.Millisecond
)

// errReportEarly reports that the outcome a report answers was not
// recorded in time: the receiver is told to post again.
var errReportEarly = errors.New("webhook: the request this report answers is not recorded yet")

// recorded is told by the engine of the leases whose outcomes are written:
// the reports waiting on those deliveries read them again.
func (c *callbacks) recorded(refs []LeaseRef) {
	if c.nwait.Load() == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range refs {
		for _, ch := range c.waiting[r.DeliveryID] {
			close(ch)
		}
		delete(c.waiting, r.DeliveryID)
	}
}

// watch returns a channel closed once an outcome of deliveryID is recorded
// here; unwatch ends the watch.
func (c *callbacks) watch(deliveryID string) chan struct{} {
	ch := make(chan struct{})
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.waiting == nil {
		c.waiting = map[string][]chan struct{}{}
	}
	c.waiting[deliveryID] = append(c.waiting[deliveryID], ch)
	c.nwait.Add(1)
	return ch
}

func (c *callbacks) unwatch(deliveryID string, ch chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nwait.Add(-1)
	chans := c.waiting[deliveryID]
	for i, x := range chans {
		if x == ch {
			chans = append(chans[:i], chans[i+1:]...)
			break
		}
	}
	if len(chans) == 0 {
		delete(c.waiting, deliveryID)
	} else {
		c.waiting[deliveryID] = chans
	}
}

// inFlight reports whether d may have an attempt in flight, whose 202 a
// report could have overtaken: pending, not awaiting, and due.
func inFlight(d *Delivery, now time.Time) bool {
	return d.State == StatePending && !d.AwaitingReport && !d.NextAttemptAt.After(now)
}

// early waits, for at most earlyReportWait, until the outcome of the
// attempt in flight at delivery id is recorded, and returns the delivery
// then. It is woken when this Dispatcher records it, and reads the store
// again at growing intervals for another replica's. It returns
// errReportEarly when the attempt is still in flight at the end.
func (c *callbacks) early(ctx context.Context, id string) (Delivery, error) {
	deadline := c.clock.Now().Add(earlyReportWait)
	poll := earlyReportPoll
	for {
		ch := c.watch(id)
		d, err := c.store.GetDelivery(ctx, &GetDeliveryParams{ID: id})
		now := c.clock.Now()
		if err != nil || !inFlight(&d, now) {
			c.unwatch(id, ch)
			return d, err
		}
		if !now.Before(deadline) {
			c.unwatch(id, ch)
			return d, errReportEarly
		}
		t := c.clock.NewTimer(min(poll, deadline.Sub(now)))
		select {
		case <-ch:
		case <-t.C():
			poll = min(2*poll, earlyReportPollMax)
		case <-ctx.Done():
			t.Stop()
			c.unwatch(id, ch)
			return d, ctx.Err()
		}
		t.Stop()
		c.unwatch(id, ch)
	}
}

// mint returns a new callback URL for an attempt at deliveryID and the
// hash its report must match.
func (c *callbacks) mint(deliveryID string) (string, []byte) {
	var secret [callbackTokenBytes]byte
	_, _ = rand.Read(secret[:]) // crypto/rand.Read never fails on supported platforms
	sum := sha256.Sum256(secret[:])
	return c.base + "/" + url.PathEscape(deliveryID) + "." + base64.RawURLEncoding.EncodeToString(secret[:]), sum[:]
}

// parseCallbackToken reads the token from the last segment of an escaped
// request path, wherever the host mounted the handler. It reports false
// for a path that holds no well-formed token.
func parseCallbackToken(escapedPath string) (deliveryID string, hash []byte, ok bool) {
	seg := escapedPath[strings.LastIndexByte(escapedPath, '/')+1:]
	esc, tok, found := cutLast(seg, '.')
	if !found || esc == "" || len(tok) != base64.RawURLEncoding.EncodedLen(callbackTokenBytes) {
		return "", nil, false
	}
	secret, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(secret) != callbackTokenBytes {
		return "", nil, false
	}
	id, err := url.PathUnescape(esc)
	if err != nil || id == "" {
		return "", nil, false
	}
	sum := sha256.Sum256(secret)
	return id, sum[:], true
}

func cutLast(s string, sep byte) (before, after string, found bool) {
	if i := strings.LastIndexByte(s, sep); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

// checkCallbackURL returns why raw cannot be Config.CallbackURL, or "".
func checkCallbackURL(raw string) string {
	if reason := checkText(raw, textName); reason != "" {
		return reason
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "does not parse"
	case u.Scheme != "http" && u.Scheme != "https":
		return "must be an absolute http or https URL"
	case u.Host == "":
		return "has no host"
	case u.User != nil:
		return "must not carry credentials"
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "must have no query or fragment: the token is appended to its path"
	}
	return ""
}

// reportBody is a report as a receiver posts it.
type reportBody struct {
	Status   *string  `json:"status"`
	Message  *string  `json:"message"`
	Progress *float64 `json:"progress"`
}

// errBadReport is wrapped by the error of a malformed report body.
var errBadReport = errors.New("bad report")

// parseReport reads one JSON object {"status", "message", "progress"}.
// Fields it does not know are ignored.
func parseReport(body []byte) (Report, error) {
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return Report{}, fmt.Errorf("%w: the body must be one JSON object", errBadReport)
	}
	var b reportBody
	if err := json.Unmarshal(body, &b); err != nil {
		return Report{}, fmt.Errorf("%w: the body must be one JSON object: %v", errBadReport, err)
	}
	if b.Status == nil || !ReportStatus(*b.Status).Valid() {
		return Report{}, fmt.Errorf(`%w: "status" must be "running", "succeeded" or "failed"`, errBadReport)
	}
	r := Report{Status: ReportStatus(*b.Status)}
	if b.Progress != nil {
		if p := *b.Progress; math.IsNaN(p) || p < 0 || p > 1 {
			return Report{}, fmt.Errorf(`%w: "progress" must be a number from 0 to 1`, errBadReport)
		}
		r.Progress = *b.Progress
	}
	if b.Message != nil {
		r.Message = cleanText(*b.Message) // at most ReportMaxMessageBytes
	}
	return r, nil
}

// ServeHTTP takes a receiver's report; see [Dispatcher.CallbackHandler].
func (c *callbacks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed: POST a report", http.StatusMethodNotAllowed)
		return
	}
	id, hash, ok := parseCallbackToken(r.URL.EscapedPath())
	if !ok {
		http.Error(w, "no callback token in the URL", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, ReportMaxBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, fmt.Sprintf("report larger than %d bytes", ReportMaxBytes), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading the report failed", http.StatusBadRequest)
		return
	}
	rep, err := parseReport(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	err = c.report(r.Context(), id, hash, rep)
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, ErrReportRefused), errors.Is(err, ErrNotFound):
		// One answer for every refused token, so that it tells nothing
		// of which deliveries exist.
		http.Error(w, "the callback token is not valid (forged, used, expired or of another attempt)", http.StatusUnauthorized)
	case errors.Is(err, errReportEarly):
		w.Header().Set("Retry-After", "1")
		http.Error(w, "the request this report answers is not recorded yet; post the report again", http.StatusServiceUnavailable)
	case r.Context().Err() != nil:
		http.Error(w, "request cancelled", http.StatusServiceUnavailable)
	default:
		c.log.Warn("webhook: recording a report", "delivery_id", id, "error", err)
		http.Error(w, "the report could not be recorded; post it again", http.StatusServiceUnavailable)
	}
}

// report applies rep to the delivery id if it awaits a report carrying
// the token whose hash is given.
func (c *callbacks) report(ctx context.Context, id string, hash []byte, rep Report) error {
	d, err := c.store.GetDelivery(ctx, &GetDeliveryParams{ID: id})
	if err != nil {
		return err
	}
	if inFlight(&d, c.clock.Now()) {
		// The receiver may have reported before its 202 was recorded.
		if d, err = c.early(ctx, id); err != nil {
			return err
		}
	}
	if !d.AwaitingReport || d.State != StatePending {
		return ErrReportRefused // the store would refuse it too
	}
	now := c.clock.Now()
	// A report on a batch request's callback reaches every member.
	p := &ReportParams{DeliveryID: id, TokenHash: hash, Report: rep, Now: now, Batch: d.BatchID != ""}
	st, found, err := c.lookup(ctx, d.EndpointID)
	if err != nil {
		return err
	}
	live := found && !st.ep.Disabled
	switch rep.Status {
	case ReportRunning:
		p.State, p.NextAttemptAt = StatePending, d.NextAttemptAt
		if live && st.ep.AckTimeout > 0 {
			p.NextAttemptAt = now.Add(st.ep.AckTimeout)
		}
	case ReportSucceeded:
		p.State = StateSucceeded
	case ReportFailed:
		p.Failure = &AttemptFailure{Class: ClassAckFailed, Error: cleanText(cmp.Or(rep.Message, "the receiver reported failure"))}
		p.State = StateFailed
		if live {
			p.State, p.NextAttemptAt, _ = st.retry.next(d.Attempts-d.ScheduleStart, 0, 0, now)
		}
	}
	out, err := c.rep.Report(ctx, p)
	if err != nil {
		return err
	}
	if rep.Status != ReportRunning {
		a := Attempt{DeliveryID: id, Number: out.Attempts, StatusCode: out.LastStatusCode}
		if p.Failure != nil {
			a.ErrorClass, a.Error = p.Failure.Class, p.Failure.Error
		}
		c.hooks.attempt(AttemptInfo{EndpointID: out.EndpointID, EventID: out.EventID, State: out.State, Attempt: a})
	}
	if out.State.Finished() {
		c.metrics.finish(ctx, out.EndpointID, out.State)
	}
	if out.State == StateFailed {
		c.hooks.deliveryFailed(out)
	}
	if out.State == StatePending {
		c.wake()
	}
	return nil
}

// CallbackHandler returns the handler that takes receivers' reports for
// endpoints with an [Endpoint.AckTimeout]. The host mounts it so that
// [Config.CallbackURL] and every path below it reach it, for example
// http.Handle("/hooklet/callback/", d.CallbackHandler()) for a
// CallbackURL of "https://api.example.com/hooklet/callback"; it reads
// the token from the last segment of the path, so it works with or
// without http.StripPrefix. Any replica sharing the store may take a
// report.
//
// A report is a POST of one JSON object, at most [ReportMaxBytes] (413
// beyond): {"status": "running" | "succeeded" | "failed", "message":
// "...", "progress": 0.0 to 1.0}; unknown fields are ignored. It is
// answered 204 once recorded; 400 when the body is not such an object or
// the status is unknown; 404 when the URL holds no token; 401 when the
// token is not the one the delivery awaits (forged, of another delivery
// or attempt, already used to end the wait, or after the wait ended), and
// nothing changes. A report may overtake the 202 it follows (the receiver
// reports before the answer is recorded): while the delivery has an
// attempt in flight, the handler waits up to 5 s for its outcome, then
// answers 503 with Retry-After: 1. Without Config.CallbackURL, it answers
// 404 to everything.
func (d *Dispatcher) CallbackHandler() http.Handler {
	if d.callbacks == nil {
		return http.NotFoundHandler()
	}
	return d.callbacks
}

// Reports lists the reports of the delivery p.DeliveryID in the order they
// were recorded, a page at a time; a missing delivery yields
// [ErrNotFound]. A store that is not a [Reporter] has none to list.
func (d *Dispatcher) Reports(ctx context.Context, p *ListReportsParams) (Page[Report], error) {
	p = cmp.Or(p, &ListReportsParams{})
	rep, ok := d.store.(Reporter)
	if !ok {
		if _, err := d.store.GetDelivery(ctx, &GetDeliveryParams{ID: p.DeliveryID}); err != nil {
			return Page[Report]{}, err
		}
		return Page[Report]{Items: []Report{}}, nil
	}
	return rep.ListReports(ctx, p)
}
