// Quickstart sends a handful of signed webhooks to a local receiver on the
// embedded bbolt store, shows one retry, and prints every delivery with its
// attempts. With -serve it then keeps running and serves the admin console
// over the same store, until interrupted.
//
//	go run ./examples/quickstart
//	go run ./examples/quickstart -serve -addr 127.0.0.1:8080
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/admin"
	"github.com/hooklet/webhook/store/boltstore"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func main() {
	dbPath := flag.String("db", "", "bbolt file (default: a new file in a temp dir, removed at exit)")
	serve := flag.Bool("serve", false, "after the demo, serve the admin console until interrupted")
	addr := flag.String("addr", "127.0.0.1:8080", "address of the admin console with -serve")
	flag.Parse()
	if err := run(*dbPath, *serve, *addr); err != nil {
		log.Fatal(err)
	}
}

func run(dbPath string, serve bool, addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if dbPath == "" {
		dir, err := os.MkdirTemp("", "hooklet-quickstart-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dbPath = filepath.Join(dir, "hooklet.db")
	}

	// A receiver that checks signatures and fails the first request of
	// invoice.failed once, so a retry shows.
	recv := newReceiver()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: recv}
	go srv.Serve(ln)
	defer srv.Close()

	st, err := boltstore.Open(dbPath, nil)
	if err != nil {
		return err
	}
	defer st.Close()

	// The first retry of the default policy comes after 5 s; a quick
	// schedule keeps the demo short.
	d, err := webhook.New(webhook.Config{
		Store:                st,
		AllowPrivateNetworks: true, // the receiver is on loopback
		Retry:                webhook.RetryPolicy{Schedule: []time.Duration{200 * time.Millisecond, time.Second}},
	})
	if err != nil {
		return err
	}
	err = d.PutEndpoint(ctx, webhook.Endpoint{
		ID:         "ep_billing",
		URL:        "http://" + ln.Addr().String() + "/hooks",
		EventTypes: []string{"invoice.*"},
		Secrets:    []webhook.Secret{{Key: secret}},
	})
	if err != nil {
		return err
	}
	if err := d.Start(ctx); err != nil {
		return err
	}

	events := []webhook.Event{
		{Type: "invoice.created", Payload: json.RawMessage(`{"id":"in_1","amount":1200}`)},
		{Type: "invoice.paid", Payload: json.RawMessage(`{"id":"in_1"}`)},
		{Type: "invoice.failed", Payload: json.RawMessage(`{"id":"in_2","reason":"card_declined"}`)},
		{Type: "customer.created", Payload: json.RawMessage(`{"id":"cus_1"}`)}, // no endpoint wants it
	}
	if err := d.EmitBatch(ctx, events); err != nil {
		return err
	}
	// Wait until the receiver has accepted the three invoice events.
	select {
	case <-recv.allAccepted(3):
	case <-ctx.Done():
		return fmt.Errorf("deliveries did not finish: %w", ctx.Err())
	}
	if err := d.Close(ctx); err != nil {
		return err
	}

	page, err := d.Deliveries(ctx, nil)
	if err != nil {
		return err
	}
	for _, dl := range page.Items {
		ev, err := d.Event(ctx, dl.EventID)
		if err != nil {
			return err
		}
		fmt.Printf("delivery %s  event %-16s -> %s: %s after %d attempt(s)\n", dl.ID, ev.Type, dl.EndpointID, dl.State, dl.Attempts)
		atts, err := d.Attempts(ctx, &webhook.ListAttemptsParams{DeliveryID: dl.ID})
		if err != nil {
			return err
		}
		for _, a := range atts.Items {
			fmt.Printf("    attempt %d: HTTP %d %s\n", a.Number, a.StatusCode, strings.TrimSpace(string(a.ResponseBody)))
		}
	}
	if serve {
		return serveConsole(st, addr)
	}
	return nil
}

// serveConsole serves the admin console over the store until the process
// is interrupted. The demo's Dispatcher is closed by now; the console gets
// a new one over the same store, so that replays from it are delivered.
func serveConsole(st webhook.Store, addr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d, err := webhook.New(webhook.Config{Store: st, AllowPrivateNetworks: true})
	if err != nil {
		return err
	}
	if err := d.Start(ctx); err != nil {
		return err
	}
	defer d.Close(context.Background())
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", admin.NewHandler(d, nil)))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	fmt.Printf("\nadmin console: http://%s/admin/ (Ctrl-C to stop)\n", ln.Addr())
	<-ctx.Done()
	return srv.Shutdown(context.Background())
}

// receiver verifies the Standard Webhooks signature of each request.
type receiver struct {
	mu       sync.Mutex
	failed   bool
	accepted map[string]bool
	changed  chan struct{}
}

func newReceiver() *receiver {
	return &receiver{accepted: map[string]bool{}, changed: make(chan struct{}, 100)}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	if err := webhook.Verify(secret, r.Header, body, 5*time.Minute); err != nil {
		http.Error(w, "bad signature", http.StatusBadRequest)
		return
	}
	id := r.Header.Get("webhook-id")
	var env struct{ Type string }
	_ = json.Unmarshal(body, &env)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if env.Type == "invoice.failed" && !rc.failed {
		rc.failed = true
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	rc.accepted[id] = true
	rc.changed <- struct{}{}
	fmt.Fprintln(w, "ok")
}

// allAccepted returns a channel closed once n distinct events are accepted.
func (rc *receiver) allAccepted(n int) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		for range rc.changed {
			rc.mu.Lock()
			k := len(rc.accepted)
			rc.mu.Unlock()
			if k >= n {
				close(done)
				return
			}
		}
	}()
	return done
}
