package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
)

const (
	batchCrashEnv    = "HOOKLET_BATCH_CRASH_CHILD"
	batchCrashEvents = 1000
	batchCrashLane   = 4
)

// batchCrashEndpoint is the batched endpoint of the batch crash test.
func batchCrashEndpoint(url string) webhook.Endpoint {
	return webhook.Endpoint{ID: "ep", URL: url, Secrets: []webhook.Secret{{Key: testSecret}}, MaxConcurrency: batchCrashLane,
		Batch: webhook.BatchPolicy{MaxEvents: 50, MaxWait: 50 * time.Millisecond}}
}

// TestBatchCrashRecovery kills (SIGKILL) a child process while batch
// requests are in flight; a fresh Dispatcher on the same bbolt file
// finishes the work. Every event arrives; a batch sent again after the
// crash carries the same webhook-id and exactly the same events (nothing
// split); every delivery ends succeeded with one recorded attempt (nothing
// double-counted), in the batch the receiver saw it in.
func TestBatchCrashRecovery(t *testing.T) {
	if os.Getenv(batchCrashEnv) != "" {
		batchCrashChild()
		return
	}
	t.Parallel()
	dbPath := filepath.Join(t.TempDir(), "hooklet.db")
	const answerFirst = 6 // batch requests answered before the receiver hangs
	var (
		mu       sync.Mutex
		batches  = map[string][]string{} // webhook-id -> event IDs of its lines
		sends    = map[string]int{}      // webhook-id -> requests
		events   = map[string]bool{}
		killed   atomic.Bool
		requests atomic.Int64
		hung     = make(chan struct{}, batchCrashLane)
		progress = make(chan struct{}, 1)
	)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(testSecret, r.Header, body, time.Hour); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		id := r.Header.Get("webhook-id")
		var ids []string
		for _, l := range bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n")) {
			var line struct{ ID string }
			if json.Unmarshal(l, &line) == nil {
				ids = append(ids, line.ID)
			}
		}
		mu.Lock()
		if prev, ok := batches[id]; ok && !slices.Equal(prev, ids) {
			mu.Unlock()
			t.Errorf("batch %s sent again with other events: %v, then %v", id, prev, ids)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		batches[id] = ids
		sends[id]++
		for _, e := range ids {
			events[e] = true
		}
		mu.Unlock()
		select {
		case progress <- struct{}{}:
		default:
		}
		if !killed.Load() && requests.Add(1) > answerFirst {
			select {
			case hung <- struct{}{}:
			default:
			}
			<-r.Context().Done()
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rc.Close)

	child := startCrashChild(t, "TestBatchCrashRecovery", batchCrashEnv, dbPath, rc.URL)
	killCrashChild(t, child, hung, batchCrashLane, &killed, "batch requests never filled the lane")

	st, d := recoverCrash(t, dbPath, webhook.Config{AllowPrivateNetworks: true})
	waitCrashArrivals(t, &mu, func() int { return len(events) }, batchCrashEvents, progress)
	closeCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, d.Close(closeCtx))

	// The store's batches are the receiver's.
	members := map[string][]string{}
	eachCrashDelivery(t, st, func(dl webhook.Delivery) {
		require.Equal(t, webhook.StateSucceeded, dl.State, dl.ID)
		require.Equal(t, 1, dl.Attempts, "delivery %s", dl.ID)
		require.True(t, strings.HasPrefix(dl.BatchID, "batch_"), dl.ID)
		members[dl.BatchID] = append(members[dl.BatchID], dl.EventID)
	})
	mu.Lock()
	defer mu.Unlock()
	resent := 0
	for id, ids := range members {
		got := slices.Clone(batches[id])
		slices.Sort(got)
		slices.Sort(ids)
		require.Equal(t, got, ids, "batch %s", id)
		if sends[id] > 1 {
			resent++
		}
	}
	require.GreaterOrEqual(t, resent, batchCrashLane, "the batches in flight at the kill were sent again")
	t.Logf("%d events in %d batches, %d requests, %d batches sent again after the kill", batchCrashEvents, len(members), requests.Load(), resent)
}

// batchCrashChild runs in the child process: it emits every event, reports
// it, and delivers until it is killed.
func batchCrashChild() {
	d, fail := crashChildDispatcher("batch crash child", webhook.Config{AllowPrivateNetworks: true}, batchCrashEndpoint)
	ctx := context.Background()
	evs := make([]webhook.Event, batchCrashEvents)
	for i := range evs {
		evs[i] = webhook.Event{ID: fmt.Sprintf("evt_%05d", i), Type: "crash.batch", Payload: json.RawMessage(`{"i":` + fmt.Sprint(i) + `}`)}
	}
	if err := d.EmitBatch(ctx, evs); err != nil {
		fail(err)
	}
	fmt.Println("emitted")
	if err := d.Start(ctx); err != nil {
		fail(err)
	}
	select {} // deliver until killed
}
