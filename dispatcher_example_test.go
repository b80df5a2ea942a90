package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/memstore"
)

// Emit stores the event and one pending delivery per matching endpoint;
// the engine started with Start sends them.
func ExampleDispatcher_Emit() {
	st := memstore.New()
	defer st.Close()
	d, err := webhook.New(webhook.Config{Store: st})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	defer d.Close(ctx)
	for _, ep := range []webhook.Endpoint{
		{ID: "ep_billing", URL: "https://billing.example.com/hooks", EventTypes: []string{"invoice.*"},
			Secrets: []webhook.Secret{{Key: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}},
		{ID: "ep_crm", URL: "https://crm.example.com/hooks", EventTypes: []string{"user.created"},
			Secrets: []webhook.Secret{{Key: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}},
	} {
		if err := d.PutEndpoint(ctx, ep); err != nil {
			panic(err)
		}
	}
	err = d.Emit(ctx, webhook.Event{ID: "evt_1", Type: "invoice.paid", Payload: json.RawMessage(`{"id":"in_1"}`)})
	if err != nil {
		panic(err)
	}
	page, err := d.Deliveries(ctx, &webhook.ListDeliveriesParams{EventID: "evt_1"})
	if err != nil {
		panic(err)
	}
	for _, dl := range page.Items {
		fmt.Println(dl.EndpointID, dl.State)
	}

	err = d.Emit(ctx, webhook.Event{Type: "invoice.paid", Payload: json.RawMessage(`{"id":`)})
	fmt.Println(errors.Is(err, webhook.ErrInvalidEvent))
	// Output:
	// ep_billing pending
	// true
}

// An endpoint's template is compiled when it is saved: one that does not
// compile is refused with its line and column, and the stored endpoint is
// left as it was.
func ExampleDispatcher_PutEndpoint() {
	st := memstore.New()
	defer st.Close()
	d, err := webhook.New(webhook.Config{Store: st})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	defer d.Close(ctx)
	ep := webhook.Endpoint{
		ID: "ep_crm", URL: "https://crm.example.com/hooks", EventTypes: []string{"user.*"},
		Secrets:  []webhook.Secret{{Key: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}},
		Settings: json.RawMessage(`{"list":"newsletter"}`),
		Template: `
local event = import "hooklet.libsonnet";
{ email: event.get("email", ""), list: event.settings.list }`,
	}
	if err := d.PutEndpoint(ctx, ep); err != nil {
		panic(err)
	}

	ep.Template = "{\n  email: event.get(\"email\") }"
	err = d.PutEndpoint(ctx, ep)
	var te *webhook.TemplateError
	if errors.As(err, &te) {
		fmt.Printf("refused: line %d, column %d: %s\n", te.Line, te.Column, te.Message)
	}
	stored, err := d.Endpoint(ctx, "ep_crm")
	if err != nil {
		panic(err)
	}
	fmt.Println(stored.Template != ep.Template)
	// Output:
	// refused: line 2, column 10: Unknown variable: event
	// true
}

// A receiver's own tests can sign a request the way Hooklet does, and
// check that the handler accepts it.
func ExampleStandardSigner_Sign() {
	secret := webhook.Secret{Key: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
	body := []byte(`{"type":"invoice.paid","timestamp":"2026-01-02T03:04:05Z","data":{"id":"in_1"}}`)
	h := http.Header{}
	err := webhook.StandardSigner{}.Sign(h, &webhook.Message{
		ID: "evt_1", Timestamp: time.Now(), Body: body, Secrets: []webhook.Secret{secret},
	})
	if err != nil {
		panic(err)
	}
	// h now holds webhook-id, webhook-timestamp and webhook-signature: put
	// them on an httptest request to the handler under test.
	fmt.Println(h.Get("webhook-id"))
	fmt.Println(webhook.Verify(secret.Key, h, body, 5*time.Minute))
	// Output:
	// evt_1
	// <nil>
}
