// Admin serves the Hooklet admin console over a bbolt store in a temp dir,
// with a few sample endpoints of two tenants and deliveries that succeed,
// fail and retry against a local receiver. The operator console is mounted
// at /admin/, and a tenant portal for the tenant "acme" at /portal/.
//
//	go run ./examples/admin
//	go run ./examples/admin -addr 127.0.0.1:8080
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
	"sync/atomic"
	"syscall"
	"time"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/admin"
	"github.com/hooklet/webhook/store/boltstore"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to serve the console on")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, *addr, func(url string) {
		fmt.Printf("operator console: %s/admin/\ntenant portal (acme): %s/portal/\nCtrl-C to stop\n", url, url)
	})
	if err != nil {
		log.Fatal(err)
	}
}

// run sets up the store, the Dispatcher and the sample data, serves the
// console on addr, calls ready with its base URL, and serves until ctx ends.
func run(ctx context.Context, addr string, ready func(url string)) error {
	dir, err := os.MkdirTemp("", "hooklet-admin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := boltstore.Open(filepath.Join(dir, "hooklet.db"), nil)
	if err != nil {
		return err
	}
	defer st.Close()

	recv := httptestServer(receiver())
	defer recv.Close()

	d, err := webhook.New(webhook.Config{
		Store:                st,
		AllowPrivateNetworks: true, // the receiver is on loopback
		Retry:                webhook.RetryPolicy{Schedule: []time.Duration{200 * time.Millisecond, time.Second}},
	})
	if err != nil {
		return err
	}
	if err := d.Start(ctx); err != nil {
		return err
	}
	defer d.Close(context.Background())
	if err := seed(ctx, d, recv.URL); err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", admin.NewHandler(d, nil)))
	mux.Handle("/portal/", http.StripPrefix("/portal", admin.NewHandler(d, &admin.Options{
		// A host takes the tenant from its own session; the example
		// serves one fixed tenant.
		Tenant: func(*http.Request) (string, error) { return "acme", nil },
		Title:  "Acme webhooks",
	})))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	ready("http://" + ln.Addr().String())
	<-ctx.Done()
	return srv.Shutdown(context.Background())
}

// seed saves the sample endpoints and emits the sample events.
func seed(ctx context.Context, d *webhook.Dispatcher, base string) error {
	endpoints := []webhook.Endpoint{
		{ID: "ep_acme_billing", Tenant: "acme", URL: base + "/ok", Description: "Acme's billing system",
			EventTypes: []string{"invoice.*", "hooklet.test"}},
		{ID: "ep_acme_crm", Tenant: "acme", URL: base + "/flaky", Description: "Acme's CRM: fails every other request",
			EventTypes: []string{"customer.*"},
			Template:   "local event = import \"hooklet.libsonnet\";\n{\n  email: event.get(\"email\", \"\"),\n  list: event.settings.list,\n}",
			Settings:   json.RawMessage(`{"list":"newsletter"}`)},
		{ID: "ep_globex_audit", Tenant: "globex", URL: base + "/down", Description: "Globex audit log: down"},
		{ID: "ep_analytics", URL: base + "/ok", Description: "Internal analytics, every tenant", EventTypes: []string{"*"}},
	}
	for _, ep := range endpoints {
		ep.Secrets = []webhook.Secret{webhook.NewSecret()}
		if err := d.PutEndpoint(ctx, ep); err != nil {
			return err
		}
	}
	events := []webhook.Event{
		{Type: "invoice.created", Tenant: "acme", Payload: json.RawMessage(`{"id":"in_1","amount":1200,"currency":"eur"}`)},
		{Type: "invoice.paid", Tenant: "acme", Payload: json.RawMessage(`{"id":"in_1"}`)},
		{Type: "customer.created", Tenant: "acme", Payload: json.RawMessage(`{"id":"cus_1","email":"ada@example.com"}`)},
		{Type: "customer.updated", Tenant: "acme", Payload: json.RawMessage(`{"id":"cus_1","email":"ada@example.org"}`)},
		{Type: "customer.deleted", Tenant: "acme", Payload: json.RawMessage(`{"id":"cus_2"}`)},
		{Type: "audit.login", Tenant: "globex", Payload: json.RawMessage(`{"user":"hank"}`)},
	}
	return d.EmitBatch(ctx, events)
}

// receiver answers /ok with 200, /flaky with 500 every other request and
// /down with 503.
func receiver() http.Handler {
	var flaky atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		fmt.Fprintln(w, `{"received":true}`)
	})
	mux.HandleFunc("/flaky", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if flaky.Add(1)%2 == 1 {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Retry-After", "1")
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	})
	return mux
}

// localServer is a receiver on a loopback port.
type localServer struct {
	URL string
	srv *http.Server
}

func (s *localServer) Close() { _ = s.srv.Close() }

// httptestServer serves h on a free loopback port.
func httptestServer(h http.Handler) *localServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	s := &localServer{URL: "http://" + ln.Addr().String(), srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	go s.srv.Serve(ln)
	return s
}
