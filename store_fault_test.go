package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
)

var errStoreDown = errors.New("store down")

// faultyStore fails chosen calls while its counters are positive.
type faultyStore struct {
	*signalStore
	failEnqueue  atomic.Int32
	failComplete atomic.Int32
	failLease    atomic.Int32
	failed       chan string // the name of each failed call
}

func (s *faultyStore) fail(n *atomic.Int32, name string) bool {
	if n.Add(-1) < 0 {
		n.Store(0)
		return false
	}
	s.failed <- name
	return true
}

func (s *faultyStore) Enqueue(ctx context.Context, p *webhook.EnqueueParams) error {
	if s.fail(&s.failEnqueue, "enqueue") {
		return errStoreDown
	}
	return s.signalStore.Enqueue(ctx, p)
}

func (s *faultyStore) Complete(ctx context.Context, p *webhook.CompleteParams) (webhook.BatchResult, error) {
	if s.fail(&s.failComplete, "complete") {
		return webhook.BatchResult{}, errStoreDown
	}
	return s.signalStore.Complete(ctx, p)
}

func (s *faultyStore) Lease(ctx context.Context, p *webhook.LeaseParams) ([]webhook.Lease, error) {
	if s.fail(&s.failLease, "lease") {
		return nil, errStoreDown
	}
	return s.signalStore.Lease(ctx, p)
}

func (s *faultyStore) waitFailure(t *testing.T, name string) {
	t.Helper()
	select {
	case got := <-s.failed:
		require.Equal(t, name, got)
	case <-time.After(waitTimeout):
		t.Fatalf("no %s failure", name)
	}
}

// The store failing under the Dispatcher: Emit reports it and stores
// nothing; a failing lease or outcome write is retried with backoff (tens
// of milliseconds, on the system clock here) until the store is back, and
// nothing is lost or sent twice.
func TestStoreFaults(t *testing.T) {
	t.Parallel()
	ss := newSignalStore(t)
	fs := &faultyStore{signalStore: ss, failed: make(chan string, 16)}
	d := newDispatcher(t, webhook.Config{Store: fs, AllowPrivateNetworks: true})
	ctx := context.Background()
	rc := newReceiver(t, nil)
	require.NoError(t, d.PutEndpoint(ctx, webhook.Endpoint{Secrets: []webhook.Secret{{Key: testSecret}}, ID: "ep", URL: rc.URL}))

	// Emit: the error comes back and nothing is stored.
	fs.failEnqueue.Store(1)
	err := d.Emit(ctx, webhook.Event{ID: "evt_lost", Type: "a", Payload: json.RawMessage(`{}`)})
	require.ErrorIs(t, err, errStoreDown)
	fs.waitFailure(t, "enqueue")
	_, err = d.Event(ctx, "evt_lost")
	require.ErrorIs(t, err, webhook.ErrNotFound)

	// A failing lease is retried after a backoff on the clock.
	require.NoError(t, d.Emit(ctx, webhook.Event{ID: "evt_1", Type: "a", Payload: json.RawMessage(`{}`)}))
	fs.failLease.Store(1)
	fs.failComplete.Store(2)
	require.NoError(t, d.Start(ctx))
	fs.waitFailure(t, "lease")
	require.Equal(t, "evt_1", rc.next(t).Header.Get("webhook-id"))

	// The outcome write fails twice and is retried until it lands.
	fs.waitFailure(t, "complete")
	fs.waitFailure(t, "complete")
	require.Equal(t, webhook.StateSucceeded, ss.nextOutcome(t).State)
	require.Empty(t, rc.reqs, "sent once: the retried write did not resend")
	page, err := d.Deliveries(ctx, &webhook.ListDeliveriesParams{EventID: "evt_1"})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, page.Items[0].LastStatusCode)
	require.Equal(t, 1, page.Items[0].Attempts)
}

// poisonStore refuses any Enqueue that carries an event of type "poison".
type poisonStore struct{ webhook.Store }

func (s poisonStore) Enqueue(ctx context.Context, p *webhook.EnqueueParams) error {
	for _, it := range p.Items {
		if it.Event.Type == "poison" {
			return errStoreDown
		}
	}
	return s.Store.Enqueue(ctx, p)
}

// A write the store refuses because of one caller's event fails that
// caller only, even when other callers' events shared the group commit;
// the others are stored and delivered by the running engine.
func TestGroupCommitIsolatesRefusedEvents(t *testing.T) {
	t.Parallel()
	ss := newSignalStore(t)
	d := newDispatcher(t, webhook.Config{Store: poisonStore{ss}, AllowPrivateNetworks: true})
	ctx := context.Background()
	rc := newReceiver(t, nil)
	require.NoError(t, d.PutEndpoint(ctx, webhook.Endpoint{Secrets: []webhook.Secret{{Key: testSecret}}, ID: "ep", URL: rc.URL}))
	require.NoError(t, d.Start(ctx))
	const n = 64
	errs := make(chan error, n)
	for i := range n {
		typ := "good"
		if i%16 == 0 {
			typ = "poison"
		}
		go func() {
			errs <- d.Emit(ctx, webhook.Event{ID: fmt.Sprintf("evt_%02d", i), Type: typ, Payload: json.RawMessage(`{}`)})
		}()
	}
	failed := 0
	for range n {
		if err := <-errs; err != nil {
			require.ErrorIs(t, err, errStoreDown)
			failed++
		}
	}
	require.Equal(t, n/16, failed, "only the poisoned emits fail")
	for i := range n {
		_, err := d.Event(ctx, fmt.Sprintf("evt_%02d", i))
		if i%16 == 0 {
			require.ErrorIs(t, err, webhook.ErrNotFound)
		} else {
			require.NoError(t, err)
		}
	}
	delivered := map[string]bool{}
	for range n - n/16 {
		delivered[rc.next(t).Header.Get("webhook-id")] = true
	}
	require.Len(t, delivered, n-n/16, "every stored event delivered")
	for i := 0; i < n; i += 16 {
		require.False(t, delivered[fmt.Sprintf("evt_%02d", i)], "a refused event was delivered")
	}
}

// bodyRefusingStore refuses any Complete whose attempts carry a response
// body containing "poison", as a store whose column cannot hold it would.
type bodyRefusingStore struct {
	*signalStore
}

func (s bodyRefusingStore) Complete(ctx context.Context, p *webhook.CompleteParams) (webhook.BatchResult, error) {
	for _, o := range p.Outcomes {
		for _, a := range o.Attempts {
			if strings.Contains(string(a.ResponseBody), "poison") {
				return webhook.BatchResult{}, errStoreDown
			}
		}
	}
	return s.signalStore.Complete(ctx, p)
}

// An outcome the store refuses does not hold the others back, and is
// itself recorded without the part the store refused.
func TestRefusedOutcomeIsIsolated(t *testing.T) {
	t.Parallel()
	ss := newSignalStore(t)
	d := newDispatcher(t, webhook.Config{Store: bodyRefusingStore{ss}, AllowPrivateNetworks: true})
	ctx := context.Background()
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("webhook-id") == "evt_poison" {
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("poison"))
		}
	})
	require.NoError(t, d.PutEndpoint(ctx, webhook.Endpoint{Secrets: []webhook.Secret{{Key: testSecret}}, ID: "ep", URL: rc.URL}))
	evs := []webhook.Event{{ID: "evt_poison", Type: "a", Payload: json.RawMessage(`{}`)}}
	for i := range 20 {
		evs = append(evs, webhook.Event{ID: fmt.Sprintf("evt_%02d", i), Type: "a", Payload: json.RawMessage(`{}`)})
	}
	require.NoError(t, d.EmitBatch(ctx, evs))
	require.NoError(t, d.Start(ctx))
	for range len(evs) { // none held back by the refused one
		o := ss.nextOutcome(t)
		if o.State == webhook.StatePending {
			require.Equal(t, 502, o.Attempts[0].StatusCode)
			require.Empty(t, o.Attempts[0].ResponseBody, "recorded without the refused body")
		} else {
			require.Equal(t, webhook.StateSucceeded, o.State)
		}
	}
}
