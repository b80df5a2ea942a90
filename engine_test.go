package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
)

// groupFailStore fails its first Enqueue after blocking it until release is
// closed, and fails the first Enqueue that carries more than one event.
type groupFailStore struct {
	webhook.Store
	calls   atomic.Int32
	grouped atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (s *groupFailStore) Enqueue(ctx context.Context, p *webhook.EnqueueParams) error {
	if s.calls.Add(1) == 1 {
		close(s.entered)
		<-s.release
		return errStoreDown
	}
	if len(p.Items) > 1 && s.grouped.CompareAndSwap(false, true) {
		return errStoreDown
	}
	return s.Store.Enqueue(ctx, p)
}

// A group commit that fails and whose callers' own writes then succeed
// wakes the engine: an idle engine delivers those events at once.
func TestGroupCommitRetryWakesEngine(t *testing.T) {
	t.Parallel()
	ss := newSignalStore(t)
	gs := &groupFailStore{Store: ss, entered: make(chan struct{}), release: make(chan struct{})}
	d := newDispatcher(t, webhook.Config{Store: gs, AllowPrivateNetworks: true})
	ctx := context.Background()
	rc := newReceiver(t, nil)
	require.NoError(t, d.PutEndpoint(ctx, webhook.Endpoint{Secrets: []webhook.Secret{{Key: testSecret}}, ID: "ep", URL: rc.URL, EventTypes: []string{"a"}}))
	require.NoError(t, d.Start(ctx))

	// The first write holds the committer; the next callers queue behind it
	// and are written together.
	blocked := make(chan error, 1)
	go func() { blocked <- d.Emit(ctx, webhook.Event{Type: "b", Payload: json.RawMessage(`{}`)}) }()
	<-gs.entered
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- d.Emit(ctx, webhook.Event{ID: fmt.Sprintf("evt_%d", i), Type: "a", Payload: json.RawMessage(`{}`)})
		}()
	}
	for i := 0; webhook.QueuedEmits(d) < n; i++ {
		require.Less(t, i, 1_000_000, "emits never queued")
		runtime.Gosched()
	}
	close(gs.release)
	require.ErrorIs(t, <-blocked, errStoreDown)
	for range n {
		require.NoError(t, <-errs)
	}
	require.True(t, gs.grouped.Load(), "the callers shared a write")
	seen := map[string]bool{}
	for range n {
		seen[rc.next(t).Header.Get("webhook-id")] = true
	}
	require.Len(t, seen, n)
}

// pathReceiver records the path of every request it gets.
func pathReceiver(t *testing.T) (*httptest.Server, chan string) {
	t.Helper()
	paths := make(chan string, 1000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { paths <- r.URL.Path }))
	t.Cleanup(srv.Close)
	return srv, paths
}

// yieldingStore lets other goroutines run after each endpoint write, as a
// store with real I/O would.
type yieldingStore struct{ *signalStore }

func (s yieldingStore) PutEndpoint(ctx context.Context, p *webhook.PutEndpointParams) error {
	err := s.signalStore.PutEndpoint(ctx, p)
	for range 10 {
		runtime.Gosched()
	}
	return err
}

// Concurrent PutEndpoint calls for one ID leave the registry and the store
// agreeing: a delivery goes to the URL that is stored.
func TestConcurrentPutEndpointAgreesWithStore(t *testing.T) {
	t.Parallel()
	ss := newSignalStore(t)
	d := newDispatcher(t, webhook.Config{Store: yieldingStore{ss}, AllowPrivateNetworks: true})
	ctx := context.Background()
	require.NoError(t, d.Start(ctx))
	srv, paths := pathReceiver(t)
	for round := range 20 {
		var wg sync.WaitGroup
		for i := range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				url := fmt.Sprintf("%s/%d/%d", srv.URL, round, i)
				assert.NoError(t, d.PutEndpoint(ctx, webhook.Endpoint{Secrets: []webhook.Secret{{Key: testSecret}}, ID: "ep", URL: url}))
			}()
		}
		wg.Wait()
		stored, err := d.Endpoint(ctx, "ep")
		require.NoError(t, err)
		require.NoError(t, d.Emit(ctx, webhook.Event{Type: "a", Payload: json.RawMessage(`{}`)}))
		select {
		case p := <-paths:
			require.Equal(t, stored.URL, srv.URL+p, "round %d: delivered to the stored URL", round)
		case <-time.After(waitTimeout):
			t.Fatal("no delivery")
		}
		require.Equal(t, webhook.StateSucceeded, ss.nextOutcome(t).State)
	}
}

// editingStore edits an endpoint the moment the engine writes it disabled,
// as a host (or another replica) changing it in between would.
type editingStore struct {
	*signalStore
	url     string
	written chan error
}

func (s *editingStore) PutEndpoint(ctx context.Context, p *webhook.PutEndpointParams) error {
	if !p.Endpoint.Disabled {
		return s.signalStore.PutEndpoint(ctx, p)
	}
	ep, err := s.signalStore.GetEndpoint(ctx, &webhook.GetEndpointParams{ID: p.Endpoint.ID})
	if err != nil {
		return err
	}
	ep.URL = s.url
	ep.UpdatedAt = ep.UpdatedAt.Add(time.Second)
	if err := s.signalStore.PutEndpoint(ctx, &webhook.PutEndpointParams{Endpoint: ep}); err != nil {
		return err
	}
	err = s.signalStore.PutEndpoint(ctx, p)
	s.written <- err
	return err
}

// Disabling an endpoint never overwrites an edit made since the failing
// attempt: the edit stands and the endpoint stays enabled.
func TestAutoDisableKeepsHostEdit(t *testing.T) {
	t.Parallel()
	es := &editingStore{signalStore: newSignalStore(t), url: "https://fixed.example.com/", written: make(chan error, 1)}
	d := newDispatcher(t, webhook.Config{Store: es, AllowPrivateNetworks: true,
		OnEndpointDisabled: func(context.Context, webhook.Endpoint) { t.Error("endpoint disabled despite the edit") }})
	ctx := context.Background()
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusGone) })
	require.NoError(t, d.PutEndpoint(ctx, webhook.Endpoint{Secrets: []webhook.Secret{{Key: testSecret}}, ID: "ep", URL: rc.URL}))
	require.NoError(t, d.Start(ctx))
	require.NoError(t, d.Emit(ctx, webhook.Event{Type: "a", Payload: json.RawMessage(`{}`)}))
	require.Equal(t, webhook.StateFailed, es.nextOutcome(t).State)
	select {
	case err := <-es.written:
		require.ErrorIs(t, err, webhook.ErrConflict)
	case <-time.After(waitTimeout):
		t.Fatal("endpoint never written")
	}
	ep, err := d.Endpoint(ctx, "ep")
	require.NoError(t, err)
	require.False(t, ep.Disabled)
	require.Equal(t, es.url, ep.URL)
}

// txStore is a Store that enqueues in host transactions but sends no
// notifications, as a store without LISTEN/NOTIFY would. It reports what
// each NextDue found.
type txStore struct {
	webhook.Store
	nextDue chan bool
}

// fakeTx holds what EnqueueTx wrote until Commit.
type fakeTx struct{ params []*webhook.EnqueueParams }

func (s txStore) EnqueueTx(_ context.Context, tx any, p *webhook.EnqueueParams) error {
	ftx, ok := tx.(*fakeTx)
	if !ok {
		return webhook.ErrInvalidTx
	}
	ftx.params = append(ftx.params, p)
	return nil
}

func (s txStore) NextDue(ctx context.Context, p *webhook.NextDueParams) (time.Time, bool, error) {
	next, ok, err := s.Store.NextDue(ctx, p)
	select {
	case s.nextDue <- ok:
	default:
	}
	return next, ok, err
}

func (s txStore) commit(ctx context.Context, tx *fakeTx) error {
	for _, p := range tx.params {
		if err := s.Store.Enqueue(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// Events emitted in a host transaction on a store without notifications
// are delivered soon after the commit, with no other wake-up.
func TestEmitTxWithoutNotifierDelivers(t *testing.T) {
	t.Parallel()
	ts := txStore{Store: newSignalStore(t), nextDue: make(chan bool, 100)}
	d := newDispatcher(t, webhook.Config{Store: ts, AllowPrivateNetworks: true})
	ctx := context.Background()
	rc := newReceiver(t, nil)
	require.NoError(t, d.PutEndpoint(ctx, webhook.Endpoint{Secrets: []webhook.Secret{{Key: testSecret}}, ID: "ep", URL: rc.URL}))
	require.NoError(t, d.Start(ctx))
	// The engine found nothing to do and is idle.
	select {
	case ok := <-ts.nextDue:
		require.False(t, ok)
	case <-time.After(waitTimeout):
		t.Fatal("engine never looked for work")
	}

	tx := &fakeTx{}
	require.NoError(t, d.EmitTx(ctx, tx, []webhook.Event{{ID: "evt_tx", Type: "a", Payload: json.RawMessage(`{}`)}}))
	require.ErrorIs(t, d.EmitTx(ctx, "not a tx", []webhook.Event{{Type: "a", Payload: json.RawMessage(`{}`)}}), webhook.ErrInvalidTx)
	require.NoError(t, ts.commit(ctx, tx))
	require.Equal(t, "evt_tx", rc.next(t).Header.Get("webhook-id"))
}

// Start called twice returns ErrAlreadyStarted.
func TestStartTwice(t *testing.T) {
	t.Parallel()
	b := setup(t, webhook.Config{})
	err := b.d.Start(b.ctx)
	require.ErrorIs(t, err, webhook.ErrAlreadyStarted)
	require.False(t, errors.Is(err, webhook.ErrClosed))
}

// The default schedule is a copy: changing it changes no policy.
func TestRetryScheduleDefaultIsACopy(t *testing.T) {
	t.Parallel()
	s := webhook.RetryScheduleDefault()
	require.Len(t, s, 7)
	require.Equal(t, 5*time.Second, s[0])
	s[0] = time.Hour
	require.Equal(t, 5*time.Second, webhook.RetryScheduleDefault()[0])
	d, ok := webhook.RetryPolicy{Jitter: -1}.Delay(1, 0, 0)
	require.True(t, ok)
	require.Equal(t, 5*time.Second, d)
}
