package pgstore_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
)

// TestTextPostgresCannotHold writes, past the Dispatcher's validation,
// records holding text PostgreSQL refuses: the store reports them as
// invalid input, typed, rather than as a database failure.
func TestTextPostgresCannotHold(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	for name, ep := range map[string]webhook.Endpoint{
		"NULInID":           {ID: "ep\x00", URL: "https://example.com/"},
		"InvalidUTF8Tenant": {ID: "ep_1", Tenant: "t\xff", URL: "https://example.com/"},
		"NULInHeader":       {ID: "ep_2", URL: "https://example.com/", Headers: map[string]string{"X-A": "a\x00"}},
		"InvalidUTF8Header": {ID: "ep_3", URL: "https://example.com/", Headers: map[string]string{"X-A": "a\xff"}},
	} {
		ep.CreatedAt, ep.UpdatedAt = t0, t0
		err := b.store.PutEndpoint(ctx, &webhook.PutEndpointParams{Endpoint: ep})
		require.ErrorIs(t, err, webhook.ErrInvalidEndpoint, name)
	}
	for name, ev := range map[string]webhook.Event{
		"NULInID":              {ID: "evt\x00", Type: "a"},
		"InvalidUTF8Attribute": {ID: "evt_1", Type: "a", Attributes: map[string]string{"k": "\xff"}},
	} {
		ev.Time, ev.Payload = t0, json.RawMessage(`{}`)
		err := b.store.Enqueue(ctx, &webhook.EnqueueParams{Items: []webhook.EnqueueItem{{Event: ev}}, Now: t0})
		require.ErrorIs(t, err, webhook.ErrInvalidEvent, name)
	}
}
