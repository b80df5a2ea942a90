package webhook_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
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
	for range crashLaneCap {
		select {
		case <-blocked:
		case <-time.After(time.Minute):
			t.Fatal("deliveries never filled the lane")
		}
	}
	killedAt := time.Now()
	t.Logf("killed after %v", time.Since(begin))
	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	_, _ = child.Process.Wait()
	killed.Store(true)

	// Recover: the file lock is free again because the child is dead.
	st, err := boltstore.Open(dbPath, nil)
	require.NoError(t, err)
	defer st.Close()
	d, err := webhook.New(webhook.Config{Store: st, AllowPrivateNetworks: true, EndpointConcurrency: crashLaneCap})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, d.Start(ctx))
	deadline := time.After(2 * time.Minute)
	for {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n == crashEvents {
			break
		}
		select {
		case <-progress:
		case <-deadline:
			t.Fatalf("only %d of %d events arrived after recovery", n, crashEvents)
		}
	}
	t.Logf("recovered after %v", time.Since(begin))
	closeCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, d.Close(closeCtx))

	// Every delivery ended succeeded with exactly one recorded attempt;
	// the events that arrived twice are those whose first request was not
	// recorded before the kill: in flight.
	var dups, inFlightAtKill int
	cursor := ""
	total := 0
	for {
		page, err := st.ListDeliveries(ctx, &webhook.ListDeliveriesParams{Cursor: cursor, Limit: 500})
		require.NoError(t, err)
		for _, dl := range page.Items {
			total++
			require.Equal(t, webhook.StateSucceeded, dl.State, dl.ID)
			require.Equal(t, 1, dl.Attempts, dl.ID)
			atts, err := st.ListAttempts(ctx, &webhook.ListAttemptsParams{DeliveryID: dl.ID})
			require.NoError(t, err)
			recordedAfterKill := atts.Items[0].StartedAt.After(killedAt)
			mu.Lock()
			if seen[dl.EventID] > 1 {
				dups++
				require.True(t, preKill[dl.EventID] && recordedAfterKill, "a duplicate that was not in flight at the kill: %s", dl.EventID)
			}
			if preKill[dl.EventID] && recordedAfterKill {
				inFlightAtKill++
			}
			mu.Unlock()
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	require.Equal(t, crashEvents, total)
	require.Equal(t, inFlightAtKill, dups)
	require.GreaterOrEqual(t, dups, crashLaneCap, "the hanging requests were redelivered")
	t.Logf("%d events, %d requests, %d delivered twice (in flight at the kill)", crashEvents, requests.Load(), dups)
}

// crashChild runs in the child process: it emits every event, reports it,
// and delivers until it is killed.
func crashChild() {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(2)
	}
	st, err := boltstore.Open(os.Getenv("HOOKLET_CRASH_DB"), nil)
	if err != nil {
		fail(err)
	}
	d, err := webhook.New(webhook.Config{Store: st, AllowPrivateNetworks: true, EndpointConcurrency: crashLaneCap})
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	if err := d.PutEndpoint(ctx, webhook.Endpoint{ID: "ep", URL: os.Getenv("HOOKLET_CRASH_URL"), Secrets: []webhook.Secret{{Key: testSecret}}}); err != nil {
		fail(err)
	}
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

// startCrashChild runs the test named test again in a child process with
// env set, on the bbolt file dbPath and the receiver at url, and returns
// once the child reports that its events are durably emitted. The child is
// killed at cleanup if it still runs.
func startCrashChild(t *testing.T, test, env, dbPath, url string) *exec.Cmd {
	t.Helper()
	child := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.v=false")
	child.Env = append(os.Environ(), env+"=1", "HOOKLET_CRASH_DB="+dbPath, "HOOKLET_CRASH_URL="+url)
	child.Stderr = os.Stderr
	out, err := child.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, child.Start())
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	lines := bufio.NewScanner(out)
	emitted := false
	for lines.Scan() {
		if lines.Text() == "emitted" {
			emitted = true
			break
		}
	}
	require.True(t, emitted, "child did not report its emits")
	return child
}
