package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/memstore"
	"github.com/hooklet/webhook/webhooktest"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// waitTimeout bounds every wait of these tests.
const waitTimeout = 10 * time.Second

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// signalStore wraps a Store and reports each recorded batch of outcomes.
type signalStore struct {
	webhook.Store
	outcomes chan webhook.Outcome
	enqueues chan int
}

func (s *signalStore) Complete(ctx context.Context, p *webhook.CompleteParams) (webhook.BatchResult, error) {
	res, err := s.Store.Complete(ctx, p)
	if err == nil {
		for _, o := range p.Outcomes {
			s.outcomes <- o
		}
	}
	return res, err
}

func (s *signalStore) Enqueue(ctx context.Context, p *webhook.EnqueueParams) error {
	err := s.Store.Enqueue(ctx, p)
	if err == nil {
		select {
		case s.enqueues <- len(p.Items):
		default:
		}
	}
	return err
}

// request is what a test receiver saw.
type request struct {
	Header http.Header
	Body   []byte
}

// testBundle is what setup gives a test.
type testBundle struct {
	d     *webhook.Dispatcher
	store *signalStore
	clock *webhooktest.Clock
	ctx   context.Context
}

// newSignalStore returns a signalStore over a fresh memstore, closed when
// the test ends.
func newSignalStore(t *testing.T) *signalStore {
	t.Helper()
	ms := memstore.New()
	t.Cleanup(func() { require.NoError(t, ms.Close()) })
	return &signalStore{Store: ms, outcomes: make(chan webhook.Outcome, 10000), enqueues: make(chan int, 10000)}
}

// nextOutcome waits for the next recorded outcome.
func (s *signalStore) nextOutcome(t *testing.T) webhook.Outcome {
	t.Helper()
	select {
	case o := <-s.outcomes:
		return o
	case <-time.After(waitTimeout):
		t.Fatal("no outcome recorded in time")
		return webhook.Outcome{}
	}
}

// newDispatcher returns a Dispatcher for cfg, closed when the test ends
// (after the test's own Close, if any, which makes that one a no-op).
func newDispatcher(t *testing.T, cfg webhook.Config) *webhook.Dispatcher {
	t.Helper()
	d, err := webhook.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		require.NoError(t, d.Close(ctx))
	})
	return d
}

// setup returns a started Dispatcher on a memstore with a manual clock.
// cfg.Store and cfg.Test.Clock are filled in.
func setup(t *testing.T, cfg webhook.Config) *testBundle {
	t.Helper()
	st := newSignalStore(t)
	clk := webhooktest.NewClock(epoch)
	cfg.Store = st
	cfg.Test.Clock = clk
	cfg.AllowPrivateNetworks = true
	d := newDispatcher(t, cfg)
	ctx := context.Background()
	require.NoError(t, d.Start(ctx))
	return &testBundle{d: d, store: st, clock: clk, ctx: ctx}
}

// nextOutcome waits for the next recorded outcome.
func (b *testBundle) nextOutcome(t *testing.T) webhook.Outcome {
	t.Helper()
	return b.store.nextOutcome(t)
}

// deliverOnce sends one event to a receiver running h and returns the
// outcome of the first attempt.
func (b *testBundle) deliverOnce(t *testing.T, h http.HandlerFunc) webhook.Outcome {
	t.Helper()
	rc := newReceiver(t, h)
	b.addEndpoint(t, "ep", rc.URL)
	b.emit(t, "a")
	return b.nextOutcome(t)
}

// addEndpoint registers an endpoint for url that receives every event.
func (b *testBundle) addEndpoint(t *testing.T, id, url string, mods ...func(*webhook.Endpoint)) webhook.Endpoint {
	t.Helper()
	ep := webhook.Endpoint{ID: id, URL: url, Secrets: []webhook.Secret{{Key: testSecret}}}
	for _, m := range mods {
		m(&ep)
	}
	require.NoError(t, b.d.PutEndpoint(b.ctx, ep))
	return ep
}

// emit emits one event of type typ with a small payload and returns it.
func (b *testBundle) emit(t *testing.T, typ string) webhook.Event {
	t.Helper()
	evs := []webhook.Event{{Type: typ, Payload: json.RawMessage(`{"n":1}`)}}
	require.NoError(t, b.d.EmitBatch(b.ctx, evs))
	return evs[0]
}

// delivery returns the only delivery of event id.
func (b *testBundle) delivery(t *testing.T, eventID string) webhook.Delivery {
	t.Helper()
	page, err := b.d.Deliveries(b.ctx, &webhook.ListDeliveriesParams{EventID: eventID})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	return page.Items[0]
}

// receiver is an httptest server whose handler the test chooses; it
// records every request.
type receiver struct {
	*httptest.Server
	reqs chan request
}

func newReceiver(t *testing.T, h http.HandlerFunc) *receiver {
	t.Helper()
	r := &receiver{reqs: make(chan request, 10000)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.reqs <- request{Header: req.Header.Clone(), Body: body}
		if h != nil {
			h(w, req)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) next(t *testing.T) request {
	t.Helper()
	select {
	case q := <-r.reqs:
		return q
	case <-time.After(waitTimeout):
		t.Fatal("receiver got no request in time")
		return request{}
	}
}

// statusSequence answers with the given statuses in turn, then 200.
func statusSequence(codes ...int) http.HandlerFunc {
	var mu sync.Mutex
	return func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		code := http.StatusOK
		if len(codes) > 0 {
			code, codes = codes[0], codes[1:]
		}
		mu.Unlock()
		w.WriteHeader(code)
	}
}
