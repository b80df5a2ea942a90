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
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/boltstore"
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
	for range orderedCrashKeys {
		select {
		case <-hung:
		case <-time.After(time.Minute):
			t.Fatal("the heads of every key never were in flight together")
		}
	}
	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	_, _ = child.Process.Wait()
	killed.Store(true)

	st, err := boltstore.Open(dbPath, nil)
	require.NoError(t, err)
	defer st.Close()
	d, err := webhook.New(webhook.Config{Store: st, AllowPrivateNetworks: true})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, d.Start(ctx))
	defer func() {
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		require.NoError(t, d.Close(cctx))
	}()
	deadline := time.After(2 * time.Minute)
	for {
		mu.Lock()
		n := len(distinct)
		mu.Unlock()
		if n == orderedCrashKeys*orderedCrashPerKey {
			break
		}
		select {
		case <-progress:
		case <-deadline:
			t.Fatalf("only %d of %d events arrived after recovery", n, orderedCrashKeys*orderedCrashPerKey)
		}
	}
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
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "ordered crash child:", err)
		os.Exit(2)
	}
	st, err := boltstore.Open(os.Getenv("HOOKLET_CRASH_DB"), nil)
	if err != nil {
		fail(err)
	}
	d, err := webhook.New(webhook.Config{Store: st, AllowPrivateNetworks: true})
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	err = d.PutEndpoint(ctx, webhook.Endpoint{ID: "ep", URL: os.Getenv("HOOKLET_CRASH_URL"), Ordered: true,
		Secrets: []webhook.Secret{{Key: testSecret}}})
	if err != nil {
		fail(err)
	}
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
