package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/memstore"
)

// A Dispatcher on the in-memory store delivers a signed event to a local
// receiver that verifies it.
func Example() {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	received := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body [1 << 10]byte
		n, _ := r.Body.Read(body[:])
		if err := webhook.Verify(secret, r.Header, body[:n], 5*time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		received <- string(body[:n])
	}))
	defer srv.Close()

	st := memstore.New()
	defer st.Close()
	d, err := webhook.New(webhook.Config{Store: st, AllowPrivateNetworks: true})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	err = d.PutEndpoint(ctx, webhook.Endpoint{
		ID: "ep_1", URL: srv.URL, EventTypes: []string{"invoice.*"},
		Secrets: []webhook.Secret{{Key: secret}},
	})
	if err != nil {
		panic(err)
	}
	if err := d.Start(ctx); err != nil {
		panic(err)
	}
	err = d.Emit(ctx, webhook.Event{
		ID: "evt_1", Type: "invoice.paid", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Payload: json.RawMessage(`{"id":"in_1"}`),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(<-received)
	if err := d.Close(ctx); err != nil {
		panic(err)
	}
	page, _ := d.Deliveries(ctx, &webhook.ListDeliveriesParams{EventID: "evt_1"})
	fmt.Println(page.Items[0].EndpointID, page.Items[0].State, page.Items[0].Attempts)
	// Output:
	// {"type":"invoice.paid","timestamp":"2026-01-02T03:04:05Z","data":{"id":"in_1"}}
	// ep_1 succeeded 1
}
