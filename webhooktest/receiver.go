package webhooktest

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hooklet/webhook/signature"
)

// MaxRequestBytes bounds the request bodies a [Receiver] records; a longer
// body is cut there and recorded with [Request.Truncated] set.
const MaxRequestBytes = 16 << 20

// ErrNoKeys is the [Request.VerifyErr] of a request to a [Receiver] built
// without keys: nothing could be verified.
var ErrNoKeys = errors.New("webhooktest: receiver has no keys")

// Request is one request a [Receiver] received.
type Request struct {
	// Method and Path are those of the request line.
	Method string
	Path   string
	// Header holds the request headers; the Receiver keeps its own copy.
	Header http.Header
	// Body is the exact body, up to [MaxRequestBytes].
	Body []byte
	// Truncated reports a body longer than [MaxRequestBytes].
	Truncated bool
	// VerifyErr is nil when the request's Standard Webhooks signature
	// verified against one of the Receiver's keys, else why not: an error
	// from package signature (matchable with [errors.Is], e.g.
	// [signature.ErrInvalidSignature]) or [ErrNoKeys].
	VerifyErr error
	// Status is the status code the Receiver answered.
	Status int
	// ReceivedAt is when the request arrived, by the Receiver's clock.
	ReceivedAt time.Time
}

// Verified reports whether the request's signature verified.
func (r Request) Verified() bool { return r.VerifyErr == nil }

// ID returns the request's webhook-id header: the event ID, the same for
// every attempt of one delivery.
func (r Request) ID() string { return r.Header.Get(signature.HeaderID) }

// Receiver is a webhook receiver for tests: an [httptest.Server] on the
// loopback interface that records every request, verifies its Standard
// Webhooks signature and answers with a status chosen by a function. It
// is safe for concurrent use; every method may be called at any time.
type Receiver struct {
	// URL is the receiver's base URL, "http://127.0.0.1:port"; any path
	// under it is accepted.
	URL string

	srv      *httptest.Server
	verifier *signature.Verifier // nil without keys

	mu       sync.Mutex
	reqs     []Request
	arrived  chan struct{} // closed and replaced on every request
	status   func(Request) int
	now      func() time.Time
	closed   bool
	closedCh chan struct{}
}

// NewReceiver starts a Receiver that verifies signatures with keys
// ("whsec_" secrets, "whpk_" public keys or "whsk_" signing keys; none to
// record without verifying). It answers 200 to a request that verifies
// (or to every request, without keys) and 400 to one that does not, until
// [Receiver.SetStatusFunc] says otherwise. It verifies timestamps against
// the real time with [signature.ToleranceDefault], until
// [Receiver.SetNowFunc] says otherwise. It is closed when the test ends;
// a malformed key fails the test.
func NewReceiver(t testing.TB, keys ...string) *Receiver {
	t.Helper()
	r := &Receiver{
		arrived:  make(chan struct{}),
		closedCh: make(chan struct{}),
		now:      time.Now,
		status:   DefaultStatus,
	}
	if len(keys) > 0 {
		v, err := signature.NewVerifier(keys...)
		if err != nil {
			t.Fatalf("webhooktest: NewReceiver: %v", err)
		}
		r.verifier = v
	}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL
	t.Cleanup(r.Close)
	return r
}

// DefaultStatus is the status function a [Receiver] starts with: 200 for
// a request whose signature verified or that could not be verified for
// lack of keys, 400 otherwise.
func DefaultStatus(req Request) int {
	if req.VerifyErr == nil || errors.Is(req.VerifyErr, ErrNoKeys) {
		return http.StatusOK
	}
	return http.StatusBadRequest
}

// SetStatusFunc makes the Receiver answer each later request with the
// status f returns for it; f sees the request as it will be recorded,
// Status aside. A nil f restores [DefaultStatus]. f is called from the
// server's goroutines, one call per request.
func (r *Receiver) SetStatusFunc(f func(Request) int) {
	if f == nil {
		f = DefaultStatus
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = f
}

// SetNowFunc makes the Receiver read the current time from now, to verify
// timestamps and stamp [Request.ReceivedAt]: pass a [Clock]'s Now when
// the Dispatcher under test runs on it. A nil now restores time.Now.
func (r *Receiver) SetNowFunc(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.now = now
}

// Requests returns a copy of the requests received so far, in arrival
// order. The caller owns the slice; the headers and bodies are shared and
// must not be modified.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// Len returns the number of requests received so far.
func (r *Receiver) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

// WaitForRequests waits until at least n requests have arrived and
// returns the first n of them. It fails the test if they have not within
// timeout, or if the Receiver is closed first. Call it from the test's
// goroutine.
func (r *Receiver) WaitForRequests(t testing.TB, n int, timeout time.Duration) []Request {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		got, arrived := len(r.reqs), r.arrived
		if got >= n {
			out := slices.Clone(r.reqs[:n])
			r.mu.Unlock()
			return out
		}
		r.mu.Unlock()
		select {
		case <-arrived:
		case <-r.closedCh:
			t.Fatalf("webhooktest: receiver closed after %d of %d requests", got, n)
			return nil
		case <-deadline.C:
			t.Fatalf("webhooktest: %d of %d requests arrived within %v", got, n, timeout)
			return nil
		}
	}
}

// Close shuts the server down, waiting for requests in flight. It is
// called when the test ends; calling it again does nothing.
func (r *Receiver) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	close(r.closedCh)
	r.mu.Unlock()
	r.srv.Close()
}

// String describes the receiver without its keys.
func (r *Receiver) String() string {
	return fmt.Sprintf("Receiver{URL:%s Requests:%d}", r.URL, r.Len())
}

func (r *Receiver) serve(w http.ResponseWriter, hr *http.Request) {
	body, err := io.ReadAll(io.LimitReader(hr.Body, MaxRequestBytes+1))
	req := Request{
		Method: hr.Method,
		Path:   hr.URL.Path,
		Header: hr.Header.Clone(),
	}
	if err != nil {
		// The sender went away mid-body; record what arrived.
		req.Truncated = true
	}
	if len(body) > MaxRequestBytes {
		body, req.Truncated = body[:MaxRequestBytes], true
	}
	req.Body = body

	r.mu.Lock()
	now, status := r.now, r.status
	r.mu.Unlock()

	req.ReceivedAt = now()
	switch {
	case r.verifier == nil:
		req.VerifyErr = ErrNoKeys
	default:
		req.VerifyErr = r.verifier.VerifyAt(req.Header, req.Body, req.ReceivedAt)
	}
	req.Status = status(req)

	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	close(r.arrived)
	r.arrived = make(chan struct{})
	r.mu.Unlock()

	w.WriteHeader(req.Status)
}
