package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
)

const (
	orderedCrashEnv    = "HOOKLET_ORDERED_CRASH_CHILD"
	orderedCrashKeys   = 5
	orderedCrashPerKey = 40
)

// orderedCrashEvent is the n-th event of key k.
func orderedCrashEvent(k, n int) webhook.Event {
	return keyedEvent(fmt.Sprintf("evt_k%d_%03d", k, n), fmt.Sprint("key_", k))
}

// TestOrderedCrashRecovery kills (SIGKILL) a child process delivering to an
// ordered endpoint while the head of every key is in flight; a fresh
// Dispatcher on the same bbolt file finishes the work, and every key's
// events arrive in emit order.
func TestOrderedCrashRecovery(t *testing.T) {
	if os.Getenv(orderedCrashEnv) != "" {
		orderedCrashChild()
		return
	}
	t.Parallel()
	dbPath := filepath.Join(t.TempDir(), "hooklet.db")
	const answerFirst = 30 // then the receiver hangs until the child dies
	var (
		mu       sync.Mutex
		answered = map[string][]string{} // key -> webhook-ids answered 2xx, in order
		distinct = map[string]bool{}
		killed   atomic.Bool
		requests atomic.Int64
		hung     = make(chan struct{}, orderedCrashKeys)
		progress = make(chan struct{}, 1)
	)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("webhook-id")
		if !killed.Load() && requests.Add(1) > answerFirst {
			select {
			case hung <- struct{}{}:
			default: // more than one per key: the order check below fails
			}
			<-r.Context().Done()
			return
		}
		key := id[:len("evt_k0")]
		mu.Lock()
		answered[key] = append(answered[key], id)
		distinct[id] = true
		mu.Unlock()
		select {
		case progress <- struct{}{}:
		default:
		}
	})

	child := startCrashChild(t, "TestOrderedCrashRecovery", orderedCrashEnv, dbPath, rc.URL)
	killCrashChild(t, child, hung, orderedCrashKeys, &killed, "the heads of every key never were in flight together")

	_, d := recoverCrash(t, dbPath, webhook.Config{AllowPrivateNetworks: true})
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		require.NoError(t, d.Close(cctx))
	}()
	waitCrashArrivals(t, &mu, func() int { return len(distinct) }, orderedCrashKeys*orderedCrashPerKey, progress)
	mu.Lock()
	defer mu.Unlock()
	for k := range orderedCrashKeys {
		want := make([]string, orderedCrashPerKey)
		for n := range want {
			want[n] = orderedCrashEvent(k, n).ID
		}
		// A request answered just before the kill whose outcome was not
		// recorded is sent again, at once: at least once, still in order.
		got := slices.Compact(answered[fmt.Sprint("evt_k", k)])
		require.Equal(t, want, got, "key %d", k)
	}
}

// orderedCrashChild runs in the child process: it emits every key's events
// in order, one goroutine per key, reports it, and delivers until killed.
func orderedCrashChild() {
	d, fail := crashChildDispatcher("ordered crash child", webhook.Config{AllowPrivateNetworks: true}, func(url string) webhook.Endpoint {
		return webhook.Endpoint{ID: "ep", URL: url, Ordered: true, Secrets: []webhook.Secret{{Key: testSecret}}}
	})
	ctx := context.Background()
	if err := d.Start(ctx); err != nil {
		fail(err)
	}
	var wg sync.WaitGroup
	for k := range orderedCrashKeys {
		wg.Go(func() {
			for n := range orderedCrashPerKey {
				if err := d.Emit(ctx, orderedCrashEvent(k, n)); err != nil {
					fail(err)
				}
			}
		})
	}
	wg.Wait()
	fmt.Println("emitted")
	select {} // deliver until killed
}
