package memstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/memstore"
	"github.com/hooklet/webhook/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) webhook.Store {
		s := memstore.New()
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestTokensDifferAcrossStores(t *testing.T) {
	t.Parallel()
	// Tokens are random, not a per-store counter: a token from one store
	// never matches a lease of another.
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var tokens []string
	for range 2 {
		s := memstore.New()
		require.NoError(t, s.Enqueue(t.Context(), &webhook.EnqueueParams{Now: now, Items: []webhook.EnqueueItem{
			storetest.NewItem(storetest.NewEvent("evt_1", now), storetest.NewDelivery("dlv_1", "evt_1", "ep_1", now, now)),
		}}))
		ls, err := s.Lease(t.Context(), &webhook.LeaseParams{Owner: "a", Now: now, Until: now.Add(time.Minute), Limit: 1})
		require.NoError(t, err)
		require.Len(t, ls, 1)
		tokens = append(tokens, ls[0].Token)
		require.NoError(t, s.Close())
	}
	require.NotEqual(t, tokens[0], tokens[1])
}
