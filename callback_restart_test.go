package webhook_test

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/boltstore"
	"github.com/hooklet/webhook/webhooktest"
)

// TestCallbackAcrossRestart: a report posted after the Dispatcher that
// sent the request closed, and its bolt file was reopened by a new one,
// still lands.
func TestCallbackAcrossRestart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hooklet.db")
	clk := webhooktest.NewClock(epoch)
	open := func() (*boltstore.Store, *signalStore) {
		bs, err := boltstore.Open(path, nil)
		require.NoError(t, err)
		return bs, &signalStore{Store: bs, outcomes: make(chan webhook.Outcome, 100), enqueues: make(chan int, 100)}
	}
	cfg := func(bs *boltstore.Store, st *signalStore) webhook.Config {
		return webhook.Config{Store: &reportingStore{signalStore: st, Reporter: bs}, CallbackURL: callbackBase,
			AllowPrivateNetworks: true, Test: webhook.TestConfig{Clock: clk}}
	}

	bs1, st1 := open()
	d1, err := webhook.New(cfg(bs1, st1))
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, d1.Start(ctx))
	rc := newReceiver(t, accepted)
	require.NoError(t, d1.PutEndpoint(ctx, webhook.Endpoint{ID: "ep", URL: rc.URL,
		Secrets: []webhook.Secret{{Key: testSecret}}, AckTimeout: time.Hour}))
	ev := webhook.Event{Type: "a", Payload: []byte(`{"n":1}`)}
	evs := []webhook.Event{ev}
	require.NoError(t, d1.EmitBatch(ctx, evs))
	require.NotEmpty(t, st1.nextOutcome(t).AwaitTokenHash)
	u := callbackURL(t, rc.next(t))
	cctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	require.NoError(t, d1.Close(cctx))
	require.NoError(t, bs1.Close())

	bs2, st2 := open()
	t.Cleanup(func() { require.NoError(t, bs2.Close()) })
	d2 := newDispatcher(t, cfg(bs2, st2))
	b := &ackBundle{testBundle: &testBundle{d: d2, store: st2, clock: clk, ctx: ctx}, handler: d2.CallbackHandler()}
	clk.Advance(30 * time.Minute)
	require.Equal(t, http.StatusNoContent, b.post(t, u, `{"status": "succeeded", "message": "after the restart"}`))
	dl := b.delivery(t, evs[0].ID)
	require.Equal(t, webhook.StateSucceeded, dl.State)
	reps := b.reports(t, dl.ID)
	require.Len(t, reps, 1)
	require.Equal(t, "after the restart", reps[0].Message)
	require.Equal(t, http.StatusUnauthorized, b.post(t, u, `{"status": "succeeded"}`))
}
