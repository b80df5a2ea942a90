package webhook_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/boltstore"
)

// The crash tests run their own test again in a child process that emits
// and delivers on a bbolt file until the parent kills it with SIGKILL while
// requests hang; a fresh Dispatcher on the same file then finishes the work.

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

// killCrashChild waits, a minute at the most each, for n requests to hang
// (a signal each on hung), failing with msg otherwise; then it kills child
// with SIGKILL, waits for it to die and sets killed. It returns the time of
// the kill.
func killCrashChild(t *testing.T, child *exec.Cmd, hung <-chan struct{}, n int, killed *atomic.Bool, msg string) time.Time {
	t.Helper()
	for range n {
		select {
		case <-hung:
		case <-time.After(time.Minute):
			t.Fatal(msg)
		}
	}
	at := time.Now()
	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	_, _ = child.Process.Wait()
	killed.Store(true)
	return at
}

// recoverCrash opens the bbolt file dbPath that a killed child left (its
// lock is free again) and starts a Dispatcher on it with cfg, whose Store
// it sets. The store is closed at cleanup.
func recoverCrash(t *testing.T, dbPath string, cfg webhook.Config) (*boltstore.Store, *webhook.Dispatcher) {
	t.Helper()
	st, err := boltstore.Open(dbPath, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	cfg.Store = st
	d, err := webhook.New(cfg)
	require.NoError(t, err)
	require.NoError(t, d.Start(context.Background()))
	return st, d
}

// waitCrashArrivals waits, two minutes at the most, until count, called
// with mu held, reaches want; the receiver signals progress at each
// request.
func waitCrashArrivals(t *testing.T, mu *sync.Mutex, count func() int, want int, progress <-chan struct{}) {
	t.Helper()
	deadline := time.After(2 * time.Minute)
	for {
		mu.Lock()
		n := count()
		mu.Unlock()
		if n == want {
			return
		}
		select {
		case <-progress:
		case <-deadline:
			t.Fatalf("only %d of %d events arrived after recovery", n, want)
		}
	}
}

// eachCrashDelivery calls check with every delivery of st, page by page.
func eachCrashDelivery(t *testing.T, st webhook.Store, check func(dl webhook.Delivery)) {
	t.Helper()
	cursor := ""
	for {
		page, err := st.ListDeliveries(context.Background(), &webhook.ListDeliveriesParams{Cursor: cursor, Limit: 500})
		require.NoError(t, err)
		for _, dl := range page.Items {
			check(dl)
		}
		if page.Next == "" {
			return
		}
		cursor = page.Next
	}
}

// crashChildDispatcher runs in the child process named name: it opens the
// parent's bbolt file, makes a Dispatcher on it with cfg, whose Store it
// sets, and puts the endpoint ep makes of the parent's receiver URL. It
// does not start the Dispatcher. fail ends the child on an error.
func crashChildDispatcher(name string, cfg webhook.Config, ep func(url string) webhook.Endpoint) (d *webhook.Dispatcher, fail func(error)) {
	fail = func(err error) {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(2)
	}
	st, err := boltstore.Open(os.Getenv("HOOKLET_CRASH_DB"), nil)
	if err != nil {
		fail(err)
	}
	cfg.Store = st
	d, err = webhook.New(cfg)
	if err != nil {
		fail(err)
	}
	if err := d.PutEndpoint(context.Background(), ep(os.Getenv("HOOKLET_CRASH_URL"))); err != nil {
		fail(err)
	}
	return d, fail
}
