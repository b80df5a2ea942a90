// Receiver is a webhook receiver that verifies Standard Webhooks
// signatures with Hooklet's signature.Verifier, drops duplicate deliveries by
// webhook-id, and answers as the specification asks: 2xx once an event is
// handled (or was already handled), 4xx for a request that fails
// verification, 5xx when handling fails so the sender retries.
//
//	go run ./examples/receiver -addr 127.0.0.1:8080 -secret whsec_...
//
// The key can also come from $WEBHOOK_SECRET, which keeps it out of the
// process list. Several keys, separated by spaces, are accepted during a
// rotation; "whpk_" public keys verify ed25519 (v1a) signatures.
//
// It imports only github.com/hooklet/webhook/signature and the standard
// library: a receiver never links the sender.
package main

import (
	"container/list"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hooklet/webhook/signature"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "receiver:", err)
		os.Exit(1)
	}
}

// run parses args (and the environment through getenv), serves until ctx
// ends, then shuts down gracefully. It sends the listening address on
// ready, when ready is not nil.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, ready chan<- net.Addr) error {
	fs := flag.NewFlagSet("receiver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	secret := fs.String("secret", "", "whsec_ secret or whpk_ public key; several separated by spaces (default $WEBHOOK_SECRET)")
	tolerance := fs.Duration("tolerance", signature.ToleranceDefault, "accepted distance between webhook-timestamp and the local clock")
	dedupSize := fs.Int("dedup-size", 100_000, "webhook-ids remembered to drop duplicates")
	dedupTTL := fs.Duration("dedup-ttl", 72*time.Hour, "how long a webhook-id is remembered; cover the sender's retry schedule")
	if err := fs.Parse(args); err != nil {
		return err
	}
	keys := strings.Fields(*secret)
	if len(keys) == 0 {
		keys = strings.Fields(getenv("WEBHOOK_SECRET"))
	}
	if len(keys) == 0 {
		return errors.New("no key: pass -secret or set WEBHOOK_SECRET")
	}
	v, err := signature.NewVerifier(keys...)
	if err != nil {
		return err
	}
	v = v.WithTolerance(*tolerance)

	log := slog.New(slog.NewTextHandler(stderr, nil))
	h := &Handler{
		Verifier: v,
		Seen:     NewSeen(*dedupSize, *dedupTTL, time.Now),
		Handle: func(_ context.Context, id string, body []byte) error {
			log.Info("webhook received", "id", id, "bytes", len(body))
			return nil
		},
		Log: log,
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
	log.Info("listening", "addr", ln.Addr().String())
	if ready != nil {
		ready <- ln.Addr()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// MaxBodyBytes bounds the request bodies the Handler reads.
const MaxBodyBytes = 1 << 20

// Handler receives webhooks: it verifies each request, skips ids it has
// already handled and calls Handle for the rest. It is safe for concurrent
// use.
type Handler struct {
	// Verifier checks signatures and timestamps.
	Verifier *signature.Verifier
	// Seen remembers handled webhook-ids.
	Seen *Seen
	// Handle processes one verified, new event. An error makes the
	// sender retry.
	Handle func(ctx context.Context, id string, body []byte) error
	// Log records failures; it never sees a key or a signature.
	Log *slog.Logger
}

// ServeHTTP answers:
//   - 204 No Content: the event was handled now;
//   - 200 OK: the event had been handled already (a retry or a replay);
//   - 400 Bad Request: verification failed (missing header, bad
//     signature, timestamp out of range); retrying will not help;
//   - 405, 413: not a POST, body over [MaxBodyBytes];
//   - 503 with Retry-After: the same id is being handled right now, so
//     the sender retries later and learns the outcome;
//   - 500: Handle failed; the sender retries later.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading body failed", http.StatusBadRequest)
		return
	}
	// Verify before anything else: until it passes, the headers and the
	// body are untrusted.
	if err := h.Verifier.Verify(r.Header, body); err != nil {
		h.Log.Warn("webhook rejected", "remote", r.RemoteAddr, "error", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := r.Header.Get("Webhook-Id")
	if id == "" {
		id = r.Header.Get("Svix-Id")
	}
	switch h.Seen.Begin(id) {
	case Done:
		w.WriteHeader(http.StatusOK)
		return
	case InFlight:
		w.Header().Set("Retry-After", "5")
		http.Error(w, "already being handled", http.StatusServiceUnavailable)
		return
	}
	if err := h.Handle(r.Context(), id, body); err != nil {
		h.Seen.Finish(id, false)
		h.Log.Error("webhook handling failed", "id", id, "error", err)
		http.Error(w, "handling failed", http.StatusInternalServerError)
		return
	}
	h.Seen.Finish(id, true)
	w.WriteHeader(http.StatusNoContent)
}

// State is what [Seen.Begin] knows of an id.
type State int

// States of an id.
const (
	// New: first sight; the caller now owns the id until Finish.
	New State = iota
	// InFlight: another request is handling the id.
	InFlight
	// Done: the id was handled.
	Done
)

// Seen remembers webhook-ids in bounded memory: at most size ids, each for
// at most ttl. Ids leave in the order they arrived, so memory stays flat
// however many events come. It is safe for concurrent use.
//
// An in-process memory is lost on restart; a production receiver keeps
// the ids where it keeps its data (a unique index on webhook-id), in the
// same transaction as the event's effect.
type Seen struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	now   func() time.Time
	ids   map[string]*list.Element
	order list.List // of *seenEntry, oldest first
}

type seenEntry struct {
	id   string
	at   time.Time
	done bool
}

// NewSeen returns a Seen holding at most size ids for ttl each, reading
// the time from now.
func NewSeen(size int, ttl time.Duration, now func() time.Time) *Seen {
	return &Seen{max: size, ttl: ttl, now: now, ids: make(map[string]*list.Element)}
}

// Begin claims id: it returns New (and the caller must call Finish),
// InFlight or Done.
func (s *Seen) Begin(id string) State {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.evictLocked(now)
	if el, ok := s.ids[id]; ok {
		if el.Value.(*seenEntry).done {
			return Done
		}
		return InFlight
	}
	if s.order.Len() >= s.max {
		s.removeLocked(s.order.Front())
	}
	s.ids[id] = s.order.PushBack(&seenEntry{id: id, at: now})
	return New
}

// Finish ends the claim on id from Begin: handled marks it Done; not
// handled forgets it, so a retry is handled again.
func (s *Seen) Finish(id string, handled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.ids[id]
	if !ok {
		return
	}
	if handled {
		el.Value.(*seenEntry).done = true
		return
	}
	s.removeLocked(el)
}

// Len returns the number of ids remembered.
func (s *Seen) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.order.Len()
}

func (s *Seen) evictLocked(now time.Time) {
	for el := s.order.Front(); el != nil; el = s.order.Front() {
		if now.Sub(el.Value.(*seenEntry).at) < s.ttl {
			return
		}
		s.removeLocked(el)
	}
}

func (s *Seen) removeLocked(el *list.Element) {
	delete(s.ids, el.Value.(*seenEntry).id)
	s.order.Remove(el)
}
