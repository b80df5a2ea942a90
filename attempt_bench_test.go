package webhook_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/memstore"
)

// BenchmarkAttempt measures one attempt at a leased delivery, signed, with
// the default envelope and a 1 KiB payload, against a loopback receiver
// that answers 200 with a short body: what the engine spends per delivery
// between the lease and the outcome. Raw is the same request made by hand
// (the body built, signed with the same Standard Webhooks code, sent with a
// keep-alive client and its answer read), so that the difference is the
// engine's own cost; both include the receiver's, which runs in the same
// process.
//
//	go test -run '^$' -bench 'Attempt' -benchmem .
func BenchmarkAttempt(b *testing.B) {
	b.Run("Hooklet", benchAttemptHooklet)
	b.Run("Raw", benchAttemptRaw)
}

func benchReceiver(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok")
	}))
	b.Cleanup(srv.Close)
	return srv
}

func benchAttemptRaw(b *testing.B) {
	srv := benchReceiver(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	b.Cleanup(client.CloseIdleConnections)
	secrets := []webhook.Secret{{Key: testSecret}}
	b.ReportAllocs()
	for b.Loop() {
		now := time.Now()
		body := make([]byte, 0, len(benchPayload)+80)
		body = append(body, `{"type":"invoice.paid","timestamp":"`...)
		body = now.UTC().AppendFormat(body, time.RFC3339Nano)
		body = append(body, `","data":`...)
		body = append(body, benchPayload...)
		body = append(body, '}')
		req, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if err := (webhook.StandardSigner{}).Sign(req.Header, &webhook.Message{ID: "evt_01", Timestamp: now, Body: body, Secrets: secrets}); err != nil {
			b.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatal(resp.Status)
		}
	}
}

func benchAttemptHooklet(b *testing.B) {
	srv := benchReceiver(b)
	st := memstore.New()
	d, err := webhook.New(webhook.Config{Store: st, AllowPrivateNetworks: true})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Cleanup(func() { _ = d.Close(ctx) })
	if err := d.PutEndpoint(ctx, webhook.Endpoint{ID: "ep", URL: srv.URL, Secrets: []webhook.Secret{{Key: testSecret}}}); err != nil {
		b.Fatal(err)
	}
	attempt := webhook.AttemptFunc(d)
	l := &webhook.Lease{
		Delivery: webhook.Delivery{ID: "dlv_01", EventID: "evt_01", EndpointID: "ep", State: webhook.StatePending},
		Event:    webhook.Event{ID: "evt_01", Type: "invoice.paid", Time: time.Now(), Payload: benchPayload},
		Token:    "tok",
	}
	b.ReportAllocs()
	for b.Loop() {
		if out := attempt(ctx, l); out.State != webhook.StateSucceeded {
			b.Fatalf("state %s: %+v", out.State, out.Attempts)
		}
	}
}
