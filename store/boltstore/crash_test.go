package boltstore_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/boltstore"
)

// crashChildEnv names the file the child process of TestKillDuringEnqueue
// writes to.
const crashChildEnv = "HOOKLET_BOLTSTORE_CRASH_CHILD"

// TestKillDuringEnqueue runs a child process that enqueues events and
// leases them, printing each event ID once Enqueue returned nil, and kills
// it with SIGKILL mid-stream. While it runs its file is locked against this
// process; afterwards every acknowledged event is there and every lease the
// child held is released.
func TestKillDuringEnqueue(t *testing.T) {
	t.Parallel()
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillDuringEnqueue$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})

	lines := make(chan string)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-stop:
				return
			}
		}
	}()
	var acked []string
	timeout := time.After(time.Minute)
	for len(acked) < 50 {
		select {
		case l, ok := <-lines:
			require.True(t, ok, "child exited early")
			acked = append(acked, l)
		case <-timeout:
			t.Fatal("child too slow")
		}
	}

	// The child holds the file.
	_, err = boltstore.Open(path, &boltstore.Options{Timeout: 50 * time.Millisecond})
	require.ErrorIs(t, err, boltstore.ErrLocked)

	require.NoError(t, cmd.Process.Kill())
	killed = true
	for l := range lines { // acknowledged before the kill landed
		acked = append(acked, l)
	}
	_ = cmd.Wait()

	st, err := boltstore.Open(path, nil)
	require.NoError(t, err)
	defer st.Close()
	ctx := context.Background()
	for _, id := range acked {
		_, err := st.GetEvent(ctx, &webhook.GetEventParams{ID: id})
		require.NoError(t, err, "acknowledged event %s lost", id)
	}
	// Everything the child leased (until far in the future) is due again.
	ls, err := st.Lease(ctx, &webhook.LeaseParams{Owner: "parent", Now: t0, Until: t0.Add(time.Minute), Limit: 1000000})
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(ls), len(acked))
}

func crashChild(path string) {
	st, err := boltstore.Open(path, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx := context.Background()
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		id := fmt.Sprintf("evt_%08d", i)
		it := item(id, fmt.Sprintf("dlv_%08d", i))
		if err := st.Enqueue(ctx, &webhook.EnqueueParams{Items: []webhook.EnqueueItem{it}, Now: t0}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if _, err := st.Lease(ctx, &webhook.LeaseParams{Owner: "child", Now: t0, Until: t0.Add(24 * time.Hour), Limit: 1}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Fprintln(w, id)
		_ = w.Flush()
	}
}
