package pgstore_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/internal/pgtest"
	"github.com/hooklet/webhook/store/pgstore"
)

// Environment of a replica process (the test binary run again).
const (
	envReplica = "HOOKLET_PG_REPLICA" // the replica's index; set only in replicas
	envURL     = "HOOKLET_PG_URL"
	envSchema  = "HOOKLET_PG_SCHEMA"
	envEmit    = "HOOKLET_PG_EMIT" // "from,to": event numbers this replica emits
	envLease   = "HOOKLET_PG_LEASE"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// replicaMain runs in a replica process: it starts a Dispatcher on the
// shared schema, emits its share of events with 16 concurrent emitters,
// prints "emitted", delivers until its stdin closes, then closes cleanly.
// Its User-Agent names it, so the receiver can tell replicas apart.
func replicaMain() int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "replica:", err)
		return 2
	}
	ctx := context.Background()
	name := "replica-" + os.Getenv(envReplica)
	cfg, err := pgxpool.ParseConfig(os.Getenv(envURL))
	if err != nil {
		return fail(err)
	}
	cfg.MaxConns = 16
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fail(err)
	}
	defer pool.Close()
	st, err := pgstore.New(ctx, pool, &pgstore.Options{Schema: os.Getenv(envSchema)})
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	lease, _ := time.ParseDuration(os.Getenv(envLease))
	d, err := webhook.New(webhook.Config{Store: st, AllowPrivateNetworks: true, Owner: name, UserAgent: name, LeaseDuration: lease})
	if err != nil {
		return fail(err)
	}
	if err := d.Start(ctx); err != nil {
		return fail(err)
	}
	from, to, _ := strings.Cut(os.Getenv(envEmit), ",")
	lo, _ := strconv.Atoi(from)
	hi, _ := strconv.Atoi(to)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Go(func() {
			for i := lo + w; i < hi; i += 16 {
				ev := webhook.Event{ID: fmt.Sprintf("evt_%06d", i), Type: "replica.test", Payload: json.RawMessage(`{"i":` + strconv.Itoa(i) + `}`)}
				if err := d.Emit(ctx, ev); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return fail(err)
	}
	fmt.Println("emitted")
	_, _ = io.Copy(io.Discard, os.Stdin) // deliver until told to stop
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := d.Close(cctx); err != nil {
		return fail(err)
	}
	return 0
}

// countingReceiver counts requests by webhook-id. hang, when set, decides
// that a request stays unanswered until the client goes away.
type countingReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	seen     map[string]int
	byAgent  map[string]map[string]bool // user agent -> webhook-ids
	progress chan struct{}
	hang     func(agent string) bool
	hung     chan string
}

func newCountingReceiver(t *testing.T) *countingReceiver {
	r := &countingReceiver{
		seen: map[string]int{}, byAgent: map[string]map[string]bool{},
		progress: make(chan struct{}, 1), hung: make(chan string, 1000),
	}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		id, agent := req.Header.Get("webhook-id"), req.UserAgent()
		r.mu.Lock()
		hang := r.hang != nil && r.hang(agent)
		if !hang {
			r.seen[id]++
			if r.byAgent[agent] == nil {
				r.byAgent[agent] = map[string]bool{}
			}
			r.byAgent[agent][id] = true
		}
		r.mu.Unlock()
		if hang {
			r.hung <- id
			<-req.Context().Done()
			return
		}
		select {
		case r.progress <- struct{}{}:
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *countingReceiver) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

// waitDistinct waits until n distinct events have been answered.
func (r *countingReceiver) waitDistinct(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for r.distinct() < n {
		select {
		case <-r.progress:
		case <-time.After(time.Second): // progress may have been coalesced
		case <-deadline:
			t.Fatalf("only %d of %d events delivered within %v", r.distinct(), n, timeout)
		}
	}
}

// replica is one replica process.
type replica struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines *bufio.Scanner
}

// startReplicas starts n replica processes on schema; together they emit
// events evt_000000 .. evt_<events-1>.
func startReplicas(t *testing.T, n, events int, url, schema string, lease time.Duration) []*replica {
	t.Helper()
	reps := make([]*replica, n)
	for i := range reps {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(),
			envReplica+"="+strconv.Itoa(i), envURL+"="+url, envSchema+"="+schema,
			fmt.Sprintf("%s=%d,%d", envEmit, i*events/n, (i+1)*events/n), envLease+"="+lease.String())
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		require.NoError(t, err)
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		reps[i] = &replica{cmd: cmd, stdin: stdin, lines: bufio.NewScanner(out)}
	}
	for i, r := range reps {
		ok := false
		for r.lines.Scan() {
			if r.lines.Text() == "emitted" {
				ok = true
				break
			}
		}
		require.True(t, ok, "replica %d did not report its emits", i)
	}
	return reps
}

// stop asks the replica to close and waits for a clean exit.
func (r *replica) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, r.stdin.Close())
	require.NoError(t, r.cmd.Wait())
}

// replicaSetup makes a schema with one endpoint pointing at rc.
func replicaSetup(t *testing.T, rc *countingReceiver) (url, schema string, pool *pgxpool.Pool) {
	t.Helper()
	url = pgtest.ConnString(t)
	schema = pgtest.NewSchema(t)
	pool = pgtest.Pool(t, url, 4)
	ctx := context.Background()
	st, err := pgstore.New(ctx, pool, &pgstore.Options{Schema: schema})
	require.NoError(t, err)
	defer st.Close()
	d, err := webhook.New(webhook.Config{Store: st, AllowPrivateNetworks: true})
	require.NoError(t, err)
	defer d.Close(ctx)
	require.NoError(t, d.PutEndpoint(ctx, webhook.Endpoint{ID: "ep", URL: rc.URL, Secrets: []webhook.Secret{{Key: testSecret}}}))
	return url, schema, pool
}

// requireAllSucceeded checks the database: every delivery succeeded.
func requireAllSucceeded(t *testing.T, pool *pgxpool.Pool, schema string, events int) {
	t.Helper()
	var total, succeeded int
	require.NoError(t, pool.QueryRow(context.Background(),
		"SELECT count(*), count(*) FILTER (WHERE state = 'succeeded') FROM "+pgx.Identifier{schema}.Sanitize()+".deliveries").
		Scan(&total, &succeeded))
	require.Equal(t, events, total)
	require.Equal(t, events, succeeded)
}

// TestReplicas runs four Dispatchers in four processes on one database:
// every event is delivered, and none twice, while all stay alive.
func TestReplicas(t *testing.T) {
	t.Parallel()
	const events = 20000
	rc := newCountingReceiver(t)
	url, schema, pool := replicaSetup(t, rc)
	begin := time.Now()
	reps := startReplicas(t, 4, events, url, schema, time.Minute)
	t.Logf("emitted %d events from 4 processes in %v", events, time.Since(begin))
	rc.waitDistinct(t, events, 3*time.Minute)
	t.Logf("delivered in %v", time.Since(begin))
	for _, r := range reps {
		r.stop(t)
	}
	rc.mu.Lock()
	for id, n := range rc.seen {
		require.Equal(t, 1, n, "event %s delivered %d times", id, n)
	}
	require.Len(t, rc.byAgent, 4, "every replica delivered a share")
	for agent, ids := range rc.byAgent {
		t.Logf("%s delivered %d", agent, len(ids))
	}
	rc.mu.Unlock()
	requireAllSucceeded(t, pool, schema, events)
}

// TestReplicaKilled kills one replica with SIGKILL while it holds leased
// deliveries in flight: the others deliver them once its leases expire, and
// nothing is lost.
func TestReplicaKilled(t *testing.T) {
	t.Parallel()
	const events, victim, inFlight = 4000, "replica-0", 8
	rc := newCountingReceiver(t)
	var victimRequests int
	rc.hang = func(agent string) bool { // called under rc.mu
		if agent != victim {
			return false
		}
		victimRequests++
		return victimRequests > 100 // then the victim's requests hang
	}
	url, schema, pool := replicaSetup(t, rc)
	reps := startReplicas(t, 3, events, url, schema, 2*time.Second)

	hung := map[string]bool{}
	for len(hung) < inFlight {
		select {
		case id := <-rc.hung:
			hung[id] = true
		case <-time.After(time.Minute):
			t.Fatalf("the victim never had %d requests in flight", inFlight)
		}
	}
	require.NoError(t, reps[0].cmd.Process.Signal(syscall.SIGKILL))
	_ = reps[0].cmd.Wait()
	t.Logf("killed %s with %d+ deliveries in flight after %d distinct deliveries", victim, len(hung), rc.distinct())

	rc.waitDistinct(t, events, 3*time.Minute)
	for _, r := range reps[1:] {
		r.stop(t)
	}
	rc.mu.Lock()
	for id := range hung {
		require.Equal(t, 1, rc.seen[id], "delivery in flight at the kill, %s, delivered once by another replica", id)
		require.False(t, rc.byAgent[victim][id])
	}
	dups := 0
	for id, n := range rc.seen {
		if n > 1 {
			// Answered for the victim, whose outcome may not have been
			// recorded before the kill.
			require.True(t, rc.byAgent[victim][id], "event %s answered %d times", id, n)
			dups++
		}
	}
	rc.mu.Unlock()
	t.Logf("%d answered to the victim and again after the kill", dups)
	requireAllSucceeded(t, pool, schema, events)
}

// TestDispatchersSurviveRestart restarts the server under two running
// Dispatchers: Emit during the outage returns an error, and once the server
// is back both reconnect and every event emitted with success is delivered.
func TestDispatchersSurviveRestart(t *testing.T) {
	t.Parallel()
	const half = 1000
	ctx := context.Background()
	c := pgtest.NewCluster(t)
	rc := newCountingReceiver(t)
	var ds []*webhook.Dispatcher
	for i := range 2 {
		pool := pgtest.Pool(t, c.ConnString(), 8)
		st, err := pgstore.New(ctx, pool, nil)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, st.Close()) })
		d, err := webhook.New(webhook.Config{Store: st, AllowPrivateNetworks: true, Owner: fmt.Sprint("d", i),
			LeaseDuration: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		t.Cleanup(func() {
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			require.NoError(t, d.Close(cctx))
		})
		if i == 0 {
			require.NoError(t, d.PutEndpoint(ctx, webhook.Endpoint{ID: "ep", URL: rc.URL, Secrets: []webhook.Secret{{Key: testSecret}}}))
		}
		require.NoError(t, d.Start(ctx))
		ds = append(ds, d)
	}
	emit := func(lo, hi int) {
		batch := make([]webhook.Event, 0, 100)
		for i := lo; i < hi; i++ {
			batch = append(batch, webhook.Event{ID: fmt.Sprintf("evt_%06d", i), Type: "restart.test", Payload: json.RawMessage(`{}`)})
			if len(batch) == cap(batch) {
				require.NoError(t, ds[i%2].EmitBatch(ctx, batch))
				batch = batch[:0]
			}
		}
	}
	emit(0, half)
	rc.waitDistinct(t, half/10, time.Minute)

	require.NoError(t, c.Stop())
	octx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err := ds[0].Emit(octx, webhook.Event{ID: "evt_outage", Type: "restart.test", Payload: json.RawMessage(`{}`)})
	cancel()
	require.Error(t, err, "Emit during the outage")
	require.NoError(t, c.Start())

	emit(half, 2*half)
	rc.waitDistinct(t, 2*half, 2*time.Minute)
	rc.mu.Lock()
	require.Zero(t, rc.seen["evt_outage"])
	rc.mu.Unlock()
}
