package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/boltstore"
	"github.com/hooklet/webhook/webhooktest"
)

// keyedEvent is event id in the sequence key.
func keyedEvent(id, key string) webhook.Event {
	return webhook.Event{ID: id, Type: "order.updated", OrderingKey: key, Payload: json.RawMessage(`{"id":"` + id + `"}`)}
}

// ids returns the webhook-id of each request, in arrival order.
func ids(reqs []request) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.Header.Get("webhook-id")
	}
	return out
}

// collectRequests waits for n requests at rc.
func collectRequests(t *testing.T, rc *receiver, n int) []request {
	t.Helper()
	out := make([]request, n)
	for i := range out {
		out[i] = rc.next(t)
	}
	return out
}

func TestOrderedDelivery(t *testing.T) {
	t.Parallel()

	t.Run("FailingHeadHoldsItsKey", func(t *testing.T) {
		t.Parallel()
		// The receiver fails the first event three times: the rest of its
		// key waits for it, then follows in emit order. Another key is not
		// held back.
		b := setup(t, webhook.Config{Retry: webhook.RetryPolicy{
			Schedule: []time.Duration{time.Second, time.Second, time.Second}, Jitter: -1}})
		var mu sync.Mutex
		fails := 0
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			if r.Header.Get("webhook-id") == "evt_1" && fails < 3 {
				fails++
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		})
		b.addEndpoint(t, "ep", rc.URL, func(ep *webhook.Endpoint) { ep.Ordered = true })
		for i := 1; i <= 5; i++ {
			require.NoError(t, b.d.Emit(b.ctx, keyedEvent(fmt.Sprint("evt_", i), "customer_42")))
		}
		require.NoError(t, b.d.Emit(b.ctx, keyedEvent("evt_other", "customer_7")))

		// The other key's event and the head's first try, in either order.
		first := collectRequests(t, rc, 2)
		require.ElementsMatch(t, []string{"evt_1", "evt_other"}, ids(first))
		for range 2 {
			b.nextOutcome(t)
		}
		for range 3 {
			b.clock.Advance(time.Second)
			b.nextOutcome(t)
		}
		rest := collectRequests(t, rc, 7)
		require.Equal(t, []string{"evt_1", "evt_1", "evt_1", "evt_2", "evt_3", "evt_4", "evt_5"}, ids(rest))
		for range 4 {
			require.Equal(t, webhook.StateSucceeded, b.nextOutcome(t).State)
		}
		for i := 1; i <= 5; i++ {
			require.Equal(t, webhook.StateSucceeded, b.delivery(t, fmt.Sprint("evt_", i)).State)
		}
		dl := b.delivery(t, "evt_1")
		require.Equal(t, 4, dl.Attempts)
		require.True(t, dl.Ordered)
		require.Equal(t, "customer_42", dl.OrderingKey)
	})

	t.Run("FailedHeadLetsTheNextGo", func(t *testing.T) {
		t.Parallel()
		// A head that fails for good ends its turn; a replay of it goes
		// after what is pending of its key.
		b := setup(t, webhook.Config{Retry: webhook.RetryPolicy{Schedule: []time.Duration{}, Jitter: -1}})
		var mu sync.Mutex
		failing := true
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			if r.Header.Get("webhook-id") == "evt_1" && failing {
				w.WriteHeader(http.StatusInternalServerError)
			}
		})
		b.addEndpoint(t, "ep", rc.URL, func(ep *webhook.Endpoint) { ep.Ordered = true })
		require.NoError(t, b.d.EmitBatch(b.ctx, []webhook.Event{keyedEvent("evt_1", ""), keyedEvent("evt_2", "")}))
		require.Equal(t, webhook.StateFailed, b.nextOutcome(t).State)
		require.Equal(t, webhook.StateSucceeded, b.nextOutcome(t).State)
		require.Equal(t, []string{"evt_1", "evt_2"}, ids(collectRequests(t, rc, 2)))

		mu.Lock()
		failing = false
		mu.Unlock()
		require.NoError(t, b.d.Redeliver(b.ctx, b.delivery(t, "evt_1").ID))
		require.Equal(t, webhook.StateSucceeded, b.nextOutcome(t).State)
		require.Equal(t, []string{"evt_1"}, ids(collectRequests(t, rc, 1)))
	})

	t.Run("KeysProgressInParallel", func(t *testing.T) {
		t.Parallel()
		// 20 keys, two events each: the receiver holds every request until
		// the 20 heads are all in flight at once, which only parallel keys
		// can reach; no key ever has two requests in flight.
		const keys = 20
		b := setup(t, webhook.Config{EndpointConcurrency: keys})
		var (
			mu       sync.Mutex
			inFlight = map[string]bool{}
			overlap  []string
			arrived  int
			gate     = make(chan struct{})
		)
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
			key := r.Header.Get("webhook-id")[:len("evt_k00")]
			mu.Lock()
			if inFlight[key] {
				overlap = append(overlap, key)
			}
			inFlight[key] = true
			arrived++
			if arrived == keys {
				close(gate)
			}
			mu.Unlock()
			select {
			case <-gate:
			case <-time.After(waitTimeout):
				w.WriteHeader(http.StatusInternalServerError)
			}
			mu.Lock()
			inFlight[key] = false
			mu.Unlock()
		})
		b.addEndpoint(t, "ep", rc.URL, func(ep *webhook.Endpoint) { ep.Ordered = true })
		var evs []webhook.Event
		for n := range 2 {
			for k := range keys {
				evs = append(evs, keyedEvent(fmt.Sprintf("evt_k%02d_%d", k, n), fmt.Sprint("key_", k)))
			}
		}
		require.NoError(t, b.d.EmitBatch(b.ctx, evs))
		got := ids(collectRequests(t, rc, 2*keys))
		for range 2 * keys {
			require.Equal(t, webhook.StateSucceeded, b.nextOutcome(t).State)
		}
		require.ElementsMatch(t, ids(evsAsRequests(evs[:keys])), got[:keys], "the heads of every key come first")
		mu.Lock()
		require.Empty(t, overlap, "two requests of one key in flight at once")
		mu.Unlock()
	})

	t.Run("AcrossRestart", func(t *testing.T) {
		t.Parallel()
		// A head pending a retry when the process stops is still the head
		// after a restart on the same bbolt file.
		path := filepath.Join(t.TempDir(), "hooklet.db")
		var mu sync.Mutex
		failing := true
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			if r.Header.Get("webhook-id") == "evt_1" && failing {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		})
		open := func(clk *webhooktest.Clock) (*webhook.Dispatcher, *signalStore, func()) {
			bs, err := boltstore.Open(path, nil)
			require.NoError(t, err)
			st := &signalStore{Store: bs, outcomes: make(chan webhook.Outcome, 100), enqueues: make(chan int, 100)}
			d, err := webhook.New(webhook.Config{Store: st, AllowPrivateNetworks: true, Test: webhook.TestConfig{Clock: clk},
				Retry: webhook.RetryPolicy{Schedule: []time.Duration{time.Minute}, Jitter: -1}})
			require.NoError(t, err)
			require.NoError(t, d.Start(t.Context()))
			return d, st, func() {
				ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
				defer cancel()
				require.NoError(t, d.Close(ctx))
				require.NoError(t, bs.Close())
			}
		}
		d, st, stop := open(webhooktest.NewClock(epoch))
		require.NoError(t, d.PutEndpoint(t.Context(), webhook.Endpoint{ID: "ep", URL: rc.URL, Ordered: true,
			Secrets: []webhook.Secret{{Key: testSecret}}}))
		for i := 1; i <= 3; i++ {
			require.NoError(t, d.Emit(t.Context(), keyedEvent(fmt.Sprint("evt_", i), "k")))
		}
		require.Equal(t, webhook.StatePending, st.nextOutcome(t).State)
		stop()
		require.Equal(t, []string{"evt_1"}, ids(collectRequests(t, rc, 1)))

		mu.Lock()
		failing = false
		mu.Unlock()
		clk := webhooktest.NewClock(epoch.Add(time.Second))
		_, st, stop = open(clk)
		defer stop()
		// Nothing is due before the head's retry.
		require.Empty(t, rc.reqs)
		clk.Advance(time.Minute)
		for range 3 {
			require.Equal(t, webhook.StateSucceeded, st.nextOutcome(t).State)
		}
		require.Equal(t, []string{"evt_1", "evt_2", "evt_3"}, ids(collectRequests(t, rc, 3)))
	})
}

func TestOrderingKeyValidated(t *testing.T) {
	t.Parallel()
	b := setup(t, webhook.Config{})
	for name, key := range map[string]string{
		"TooLong":     strings.Repeat("k", 257),
		"ControlChar": "customer\n42",
		"InvalidUTF8": "customer\xff",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := b.d.Emit(b.ctx, keyedEvent("evt_"+name, key))
			require.ErrorIs(t, err, webhook.ErrInvalidEvent)
			var ve *webhook.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, "OrderingKey", ve.Field)
		})
	}
	require.NoError(t, b.d.Emit(b.ctx, keyedEvent("evt_ok", strings.Repeat("k", 256))))
}

func TestOrderingJSON(t *testing.T) {
	t.Parallel()
	ev := keyedEvent("evt_1", "customer_42")
	b, err := json.Marshal(ev)
	require.NoError(t, err)
	require.Contains(t, string(b), `"ordering_key":"customer_42"`)
	var gotEv webhook.Event
	require.NoError(t, json.Unmarshal(b, &gotEv))
	require.Equal(t, "customer_42", gotEv.OrderingKey)

	ep := webhook.Endpoint{ID: "ep", URL: "https://example.com", Ordered: true}
	b, err = json.Marshal(ep)
	require.NoError(t, err)
	require.Contains(t, string(b), `"ordered":true`)
	var gotEp webhook.Endpoint
	require.NoError(t, json.Unmarshal(b, &gotEp))
	require.True(t, gotEp.Ordered)

	dl := webhook.Delivery{ID: "dlv", OrderingKey: "customer_42", Ordered: true, State: webhook.StatePending}
	b, err = json.Marshal(dl)
	require.NoError(t, err)
	require.Contains(t, string(b), `"ordering_key":"customer_42","ordered":true`)
	var gotDl webhook.Delivery
	require.NoError(t, json.Unmarshal(b, &gotDl))
	require.Equal(t, dl, gotDl)
}

// evsAsRequests returns requests carrying the webhook-id of each event.
func evsAsRequests(evs []webhook.Event) []request {
	out := make([]request, len(evs))
	for i, ev := range evs {
		out[i] = request{Header: http.Header{"Webhook-Id": []string{ev.ID}}}
	}
	return out
}
