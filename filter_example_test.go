package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/memstore"
)

// An endpoint's filter picks, among the events its types and tenant let
// through, those it receives. The Dispatcher is not started, so the
// deliveries stay pending and nothing is sent.
func ExampleEndpoint_filter() {
	st := memstore.New()
	defer st.Close()
	d, err := webhook.New(webhook.Config{Store: st})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	defer d.Close(ctx)
	for _, ep := range []webhook.Endpoint{
		{ID: "ep_big_orders", URL: "https://example.com/big", EventTypes: []string{"order.*"},
			Filter: json.RawMessage(`{"data.amount": {"$gte": 1000}, "data.customer.tier": {"$in": ["gold", "platinum"]}}`)},
		{ID: "ep_all_orders", URL: "https://example.com/all", EventTypes: []string{"order.*"}},
	} {
		ep.Secrets = []webhook.Secret{webhook.NewSecret()}
		if err := d.PutEndpoint(ctx, ep); err != nil {
			panic(err)
		}
	}
	for _, ev := range []webhook.Event{
		{ID: "evt_small", Type: "order.paid", Payload: json.RawMessage(`{"amount": 20, "customer": {"tier": "gold"}}`)},
		{ID: "evt_big", Type: "order.paid", Payload: json.RawMessage(`{"amount": 5000, "customer": {"tier": "gold"}}`)},
	} {
		if err := d.Emit(ctx, ev); err != nil {
			panic(err)
		}
		page, err := d.Deliveries(ctx, &webhook.ListDeliveriesParams{EventID: ev.ID})
		if err != nil {
			panic(err)
		}
		for _, dl := range page.Items {
			fmt.Println(ev.ID, "->", dl.EndpointID)
		}
	}

	// A filter that does not compile is refused, naming the fault.
	err = d.PutEndpoint(ctx, webhook.Endpoint{ID: "ep_bad", URL: "https://example.com/bad",
		Secrets: []webhook.Secret{webhook.NewSecret()}, Filter: json.RawMessage(`{"data.amount": {"$gte": true}}`)})
	var fe *webhook.FilterError
	fmt.Println(errors.Is(err, webhook.ErrInvalidEndpoint), errors.As(err, &fe))
	fmt.Println(fe.Path, "-", fe.Reason)
	// Unordered output:
	// evt_small -> ep_all_orders
	// evt_big -> ep_big_orders
	// evt_big -> ep_all_orders
	// true true
	// $["data.amount"].$gte - $gte wants a number or a string
}
