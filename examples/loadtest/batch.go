package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	webhook "github.com/hooklet/webhook"
)

// batchEvents is the batch size of the batch phase.
var batchEvents = 500

// batchPhase: events/s delivered to a batched endpoint (MaxEvents 500)
// against the same backlog unbatched, and against the raw signed
// sender's req/s, all at the same loopback receiver, in one run.
func batchPhase(payload json.RawMessage) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	rc := &lineReceiver{}
	rc.reset(-1)
	srv := &http.Server{Handler: rc}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/hooks"

	raw, _ := rawSend(url, payload)
	one, _, err := drainLines(rc, "unbatched", url, payload, webhook.BatchPolicy{})
	if err != nil {
		return err
	}
	batched, reqs, err := drainLines(rc, "batched", url, payload, webhook.BatchPolicy{MaxEvents: batchEvents, MaxBytes: 64 << 20})
	if err != nil {
		return err
	}
	fmt.Printf("RESULT %-10s raw=%.0f req/s  unbatched=%.0f events/s  batched=%.0f events/s (%d requests)  batched/unbatched=%.2f  batched/raw=%.2f\n",
		"batch", raw, one, batched, reqs, batched/one, batched/raw)
	return nil
}

// drainLines emits a backlog of -events events to -endpoints endpoints
// with batch policy p, starts a Dispatcher and returns the events per
// second until the receiver has every line, and the requests they took.
func drainLines(rc *lineReceiver, name, url string, payload json.RawMessage, p webhook.BatchPolicy) (float64, int64, error) {
	d, st, err := newDispatcher(name, url, "")
	if err != nil {
		return 0, 0, err
	}
	defer st.Close()
	ctx := context.Background()
	for i := range *endpoints {
		ep, err := d.Endpoint(ctx, fmt.Sprintf("ep_%03d", i))
		if err != nil {
			return 0, 0, err
		}
		ep.Batch = p
		if err := d.PutEndpoint(ctx, ep); err != nil {
			return 0, 0, err
		}
	}
	const chunk = 1000
	evs := make([]webhook.Event, 0, chunk)
	for i := range *events {
		evs = append(evs, webhook.Event{Type: "invoice.paid", Payload: payload})
		if len(evs) == chunk || i == *events-1 {
			if err := d.EmitBatch(ctx, evs); err != nil {
				return 0, 0, err
			}
			evs = evs[:0]
		}
	}
	total := int64(*events * *endpoints)
	rc.reset(total)
	start := time.Now()
	if err := d.Start(ctx); err != nil {
		return 0, 0, err
	}
	select {
	case <-rc.done:
	case <-time.After(10 * time.Minute):
		return 0, 0, fmt.Errorf("backlog not delivered: %d of %d", rc.lines.Load(), total)
	}
	elapsed := time.Since(start)
	if err := d.Close(ctx); err != nil {
		return 0, 0, err
	}
	st.print()
	return float64(total) / elapsed.Seconds(), rc.reqs.Load(), nil
}

// lineReceiver answers 204 and counts requests and the events they carry:
// one per request, or one per line of an NDJSON batch.
type lineReceiver struct {
	mu    sync.Mutex
	reqs  atomic.Int64
	lines atomic.Int64
	want  int64
	done  chan struct{}
}

// reset starts a new count; done is closed once want events arrived.
func (rc *lineReceiver) reset(want int64) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.reqs.Store(0)
	rc.lines.Store(0)
	rc.want = want
	rc.done = make(chan struct{})
}

func (rc *lineReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.WriteHeader(http.StatusNoContent)
	n := int64(1)
	if r.Header.Get("Content-Type") == webhook.BatchContentType {
		n = int64(bytes.Count(body, []byte("\n")))
	}
	rc.reqs.Add(1)
	total := rc.lines.Add(n)

	rc.mu.Lock()
	if total >= rc.want && rc.want >= 0 {
		select {
		case <-rc.done:
		default:
			close(rc.done)
		}
	}
	rc.mu.Unlock()
}

// FormBatch passes batches through to the store, which records them.
func (s *statsStore) FormBatch(ctx context.Context, p *webhook.FormBatchParams) (webhook.BatchResult, error) {
	return s.Store.(webhook.Batcher).FormBatch(ctx, p)
}
