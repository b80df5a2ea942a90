package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
)

const (
	crashChildEnv = "HOOKLET_CRASH_CHILD"
	crashEvents   = 2000
	crashLaneCap  = 16
)

// TestCrashRecovery emits events in a child process, kills it with SIGKILL
// while deliveries are in flight, and has a fresh Dispatcher on the same
// bbolt file finish the work: every event arrives, nothing stays pending,
// and only the deliveries in flight at the kill arrive twice.
func TestCrashRecovery(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		crashChild()
		return
	}
	t.Parallel()
	dbPath := filepath.Join(t.TempDir(), "hooklet.db")

	var (
		mu       sync.Mutex
		seen     = map[string]int{} // webhook-id -> requests
		preKill  = map[string]bool{}
		killed   atomic.Bool
		requests atomic.Int64
		blocked  = make(chan struct{}, crashLaneCap)
		progress = make(chan struct{}, 1)
	)
	const gateAfter = 500 // requests answered before the receiver starts to hang
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("webhook-id")
		mu.Lock()
		seen[id]++
		if !killed.Load() {
			preKill[id] = true
		}
		mu.Unlock()
		select {
		case progress <- struct{}{}:
		default:
		}
		if requests.Add(1) > gateAfter && !killed.Load() {
			// Hang until the child dies, keeping these deliveries in flight.
			blocked <- struct{}{}
			<-r.Context().Done()
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})

	begin := time.Now()
	// Wait until every event is durably emitted and the lane is full of
	// hanging requests.
	child := startCrashChild(t, "TestCrashRecovery", crashChildEnv, dbPath, rc.URL)
	t.Logf("emitted after %v", time.Since(begin))
	killedAt := killCrashChild(t, child, blocked, crashLaneCap, &killed, "deliveries never filled the lane")
	t.Logf("killed after %v", killedAt.Sub(begin))

	// Recover: the file lock is free again because the child is dead.
	st, d := recoverCrash(t, dbPath, webhook.Config{AllowPrivateNetworks: true, EndpointConcurrency: crashLaneCap})
	ctx := context.Background()
	waitCrashArrivals(t, &mu, func() int { return len(seen) }, crashEvents, progress)
	t.Logf("recovered after %v", time.Since(begin))
	closeCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, d.Close(closeCtx))

	// Every delivery ended succeeded with exactly one recorded attempt;
	// the events that arrived twice are those whose first request was not
	// recorded before the kill: in flight.
	var dups, inFlightAtKill, total int
	eachCrashDelivery(t, st, func(dl webhook.Delivery) {
		total++
		require.Equal(t, webhook.StateSucceeded, dl.State, dl.ID)
		require.Equal(t, 1, dl.Attempts, dl.ID)
		atts, err := st.ListAttempts(ctx, &webhook.ListAttemptsParams{DeliveryID: dl.ID})
		require.NoError(t, err)
		recordedAfterKill := atts.Items[0].StartedAt.After(killedAt)
		mu.Lock()
		defer mu.Unlock()
		if seen[dl.EventID] > 1 {
			dups++
			require.True(t, preKill[dl.EventID] && recordedAfterKill, "a duplicate that was not in flight at the kill: %s", dl.EventID)
		}
		if preKill[dl.EventID] && recordedAfterKill {
			inFlightAtKill++
		}
	})
	require.Equal(t, crashEvents, total)
	require.Equal(t, inFlightAtKill, dups)
	require.GreaterOrEqual(t, dups, crashLaneCap, "the hanging requests were redelivered")
	t.Logf("%d events, %d requests, %d delivered twice (in flight at the kill)", crashEvents, requests.Load(), dups)
}

// crashChild runs in the child process: it emits every event, reports it,
// and delivers until it is killed.
func crashChild() {
	d, fail := crashChildDispatcher("crash child", webhook.Config{AllowPrivateNetworks: true, EndpointConcurrency: crashLaneCap}, func(url string) webhook.Endpoint {
		return webhook.Endpoint{ID: "ep", URL: url, Secrets: []webhook.Secret{{Key: testSecret}}}
	})
	ctx := context.Background()
	if err := d.Start(ctx); err != nil {
		fail(err)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < crashEvents; i += 8 {
				ev := webhook.Event{ID: fmt.Sprintf("evt_%05d", i), Type: "crash.test", Payload: json.RawMessage(`{"i":` + fmt.Sprint(i) + `}`)}
				if err := d.Emit(ctx, ev); err != nil {
					fail(err)
				}
			}
		})
	}
	wg.Wait()
	fmt.Println("emitted")
	select {} // deliver until killed
}
