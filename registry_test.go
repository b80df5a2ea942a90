package webhook_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/memstore"
	"github.com/hooklet/webhook/webhooktest"
)

// notifyingStore is a memstore whose notifications the test sends, as a
// store shared with another process would; it reports each listing.
type notifyingStore struct {
	*memstore.Store
	notes  chan webhook.Notification
	listed chan struct{}
}

func (s *notifyingStore) Notifications() <-chan webhook.Notification { return s.notes }

func (s *notifyingStore) ListEndpoints(ctx context.Context, p *webhook.ListEndpointsParams) (webhook.Page[webhook.Endpoint], error) {
	select {
	case s.listed <- struct{}{}:
	default:
	}
	return s.Store.ListEndpoints(ctx, p)
}

// countingTransformer counts the templates it compiles; they skip every
// event, so nothing is sent.
type countingTransformer struct{ n atomic.Int64 }

func (c *countingTransformer) Compile(string) (webhook.Template, error) {
	c.n.Add(1)
	return skipTemplate{}, nil
}

type skipTemplate struct{}

func (skipTemplate) Render(context.Context, *webhook.RenderInput) (webhook.Rendered, error) {
	return webhook.Rendered{Skip: true}, nil
}

// TestEndpointChangedElsewhere changes an endpoint behind the Dispatcher's
// back, as another replica would, and notifies: the reload publishes the
// change and compiles only the endpoint that changed.
func TestEndpointChangedElsewhere(t *testing.T) {
	t.Parallel()
	ms := memstore.New()
	t.Cleanup(func() { require.NoError(t, ms.Close()) })
	st := &notifyingStore{Store: ms, notes: make(chan webhook.Notification), listed: make(chan struct{}, 1)}
	tr := &countingTransformer{}
	d := newDispatcher(t, webhook.Config{Store: st, Transformer: tr, Test: webhook.TestConfig{Clock: webhooktest.NewClock(epoch)}})
	ctx := context.Background()
	for _, id := range []string{"ep_a", "ep_b", "ep_c"} {
		require.NoError(t, d.PutEndpoint(ctx, webhook.Endpoint{ID: id, Tenant: "acme", URL: "https://example.com/" + id,
			Template: "{}", EventTypes: []string{"invoice.*"}, Secrets: []webhook.Secret{{Key: testSecret}}}))
	}
	require.NoError(t, d.Start(ctx))
	require.EqualValues(t, 3, tr.n.Load())
	<-st.listed // the load of Start

	// Another replica moves ep_b to order events and filters ep_c.
	ep, err := ms.GetEndpoint(ctx, &webhook.GetEndpointParams{ID: "ep_b"})
	require.NoError(t, err)
	ep.EventTypes, ep.UpdatedAt = []string{"order.*"}, ep.UpdatedAt.Add(time.Second)
	require.NoError(t, ms.PutEndpoint(ctx, &webhook.PutEndpointParams{Endpoint: ep}))
	ep, err = ms.GetEndpoint(ctx, &webhook.GetEndpointParams{ID: "ep_c"})
	require.NoError(t, err)
	ep.Filter, ep.UpdatedAt = json.RawMessage(`{"data.amount": {"$gt": 10}}`), ep.UpdatedAt.Add(time.Second)
	require.NoError(t, ms.PutEndpoint(ctx, &webhook.PutEndpointParams{Endpoint: ep}))

	select {
	case st.notes <- webhook.Notification{EndpointsChanged: true}:
	case <-time.After(waitTimeout):
		t.Fatal("the engine did not take the notification")
	}
	select {
	case <-st.listed:
	case <-time.After(waitTimeout):
		t.Fatal("no reload")
	}
	// A save waits for the reload in progress to be published.
	require.NoError(t, d.PutEndpoint(ctx, webhook.Endpoint{ID: "ep_z", URL: "https://example.com/z", Template: "{}",
		EventTypes: []string{"none"}, Secrets: []webhook.Secret{{Key: testSecret}}}))
	require.EqualValues(t, 6, tr.n.Load(), "only the two changed endpoints (and ep_z) are compiled again")

	b := &routingBundle{d: d, ctx: ctx}
	ev := func(id, typ, amount string) webhook.Event {
		return webhook.Event{ID: id, Type: typ, Tenant: "acme", Payload: json.RawMessage(`{"amount": ` + amount + `}`)}
	}
	require.Equal(t, []string{"ep_a"}, b.receivers(t, ev("e1", "invoice.paid", "1")))
	require.Equal(t, []string{"ep_a", "ep_c"}, b.receivers(t, ev("e2", "invoice.paid", "50")))
	require.Equal(t, []string{"ep_b"}, b.receivers(t, ev("e3", "order.paid", "50")))
}
