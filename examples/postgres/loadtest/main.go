// Loadtest measures Hooklet on PostgreSQL the way the peer benchmark in
// bench/river (at the root of this repository) measures a River job per
// delivery, so the two can be set side by side:
// a private PostgreSQL cluster (durable commits), a 1 KiB payload, one
// endpoint, signed requests to a loopback receiver, and these modes:
//
//   - emit: -n events, one Emit each from 64 concurrent emitters (the
//     Dispatcher is not started);
//   - drain: -n events emitted up front, then the Dispatchers start; timed
//     until every delivery is recorded as succeeded in the database;
//   - stream: 64 emitters and the Dispatchers at once, at most 2,000 events
//     emitted but not delivered, for -d after -warmup; delivered per second;
//   - latency: an open-loop pacer at -rate events/s; from the intended emit
//     time to the receiver, p50 and p99, over -d after -warmup.
//
// With -ordered, the endpoint is ordered and the events are spread over
// -keys ordering keys, round robin.
//
// Each mode runs with 1 and 2 Dispatchers (drain, stream, latency), each
// with its own pool and store, as replicas would. It prints one RESULT line
// per run; drain, stream and latency add the CPU per delivery of this
// process (the Dispatchers and the receiver, proc_cpu_us) and of the
// PostgreSQL server (pg_cpu_us, when it runs on this machine). With
// -stages, the latency mode also splits an event's latency into stages
// (emit, commit, lease, send).
//
//	go run ./examples/postgres/loadtest -d 5s
//
// It starts its own cluster (as the tests do) unless -dsn is given.
// compare.sh, beside this file, runs it and the River peer of bench/river
// on one cluster, back to back, and prints their ratios.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/internal/pgtest"
	"github.com/hooklet/webhook/store/pgstore"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

var (
	dsn      = flag.String("dsn", "", "PostgreSQL connection string (default: start a private cluster)")
	n        = flag.Int("n", 20000, "events for emit and drain")
	dur      = flag.Duration("d", 5*time.Second, "measured window of stream and latency")
	warmup   = flag.Duration("warmup", 2*time.Second, "warm-up of stream and latency")
	rate     = flag.Int("rate", 1000, "events per second in latency mode")
	workers  = flag.Int("workers", 200, "requests in flight per Dispatcher")
	emitters = flag.Int("c", 64, "concurrent emitters")
	poolSize = flag.Int("pool", 32, "connections per pool")
	modes    = flag.String("modes", "emit,drain,stream,latency", "modes to run")
	replicas = flag.String("dispatchers", "1,2", "Dispatcher counts for drain, stream and latency")
	ordered  = flag.Bool("ordered", false, "make the endpoint ordered")
	keys     = flag.Int("keys", 1, "with -ordered: ordering keys the events are spread over")
	cpuProf  = flag.String("cpuprofile", "", "write a CPU profile of the measured modes to this file")
	stageLog = flag.Bool("stages", false, "latency mode: split the latency into stages (emit, commit, lease, send)")
	pgPID    = flag.Int("pgpid", 0, "postmaster PID, for PostgreSQL CPU accounting (default: the parent of a backend, when the server is local)")
)

func main() {
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	url := *dsn
	if url == "" {
		c, err := pgtest.StartCluster()
		if err != nil {
			log.Fatal(err)
		}
		defer c.Destroy()
		url = c.ConnString()
	}
	if *pgPID == 0 {
		*pgPID = postmasterPID(url)
	}
	rc, err := startReceiver()
	if err != nil {
		log.Fatal(err)
	}
	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("loadtest: postgres, payload 1 KiB, workers=%d per dispatcher, emitters=%d, pool=%d\n", *workers, *emitters, *poolSize)
	for _, mode := range strings.Split(*modes, ",") {
		counts := []int{1}
		if mode != "emit" {
			counts = nil
			for _, s := range strings.Split(*replicas, ",") {
				k, err := strconv.Atoi(s)
				if err != nil {
					log.Fatalf("-dispatchers: %v", err)
				}
				counts = append(counts, k)
			}
		}
		for _, k := range counts {
			if err := runMode(mode, k, url, rc); err != nil {
				log.Fatalf("%s with %d dispatchers: %v", mode, k, err)
			}
		}
	}
}

// setup is one run's fresh schema, its Dispatchers and the host pool.
type setup struct {
	host   *pgxpool.Pool
	schema string
	ds     []*webhook.Dispatcher
	close  []func()
	stages *stages // with -stages
}

func newSetup(ctx context.Context, url string, k int, rc *receiver) (*setup, error) {
	s := &setup{schema: fmt.Sprintf("loadtest_%d", time.Now().UnixNano())}
	if *stageLog {
		s.stages = newStages()
	}
	var err error
	if s.host, err = newPool(ctx, url); err != nil {
		return nil, err
	}
	for i := range k {
		pool, err := newPool(ctx, url)
		if err != nil {
			return nil, err
		}
		st, err := pgstore.New(ctx, pool, &pgstore.Options{Schema: s.schema})
		if err != nil {
			return nil, err
		}
		var store webhook.Store = st
		if s.stages != nil {
			store = stageStore{st, s.stages}
		}
		d, err := webhook.New(webhook.Config{
			Store: store, AllowPrivateNetworks: true, Workers: *workers, Owner: fmt.Sprint("d", i),
		})
		if err != nil {
			return nil, err
		}
		s.ds = append(s.ds, d)
		s.close = append(s.close, func() {
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = d.Close(cctx)
			_ = st.Close()
			pool.Close()
		})
	}
	err = s.ds[0].PutEndpoint(ctx, webhook.Endpoint{
		ID: "ep", URL: rc.url, Secrets: []webhook.Secret{{Key: secret}}, MaxConcurrency: *workers * k,
		Ordered: *ordered,
	})
	if err != nil {
		return nil, err
	}
	// Start from a checkpoint, as the River runs do.
	_, err = s.host.Exec(ctx, "CHECKPOINT")
	return s, err
}

func (s *setup) start(ctx context.Context) error {
	for _, d := range s.ds {
		if err := d.Start(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (s *setup) teardown() {
	for _, f := range s.close {
		f()
	}
	_, _ = s.host.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{s.schema}.Sanitize()+" CASCADE")
	s.host.Close()
}

func newPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = int32(*poolSize)
	return pgxpool.NewWithConfig(ctx, cfg)
}

var payload = func() json.RawMessage {
	head := `{"object":"invoice","id":"in_1PZQ8e2eZvKYlo2C","amount_due":129900,"currency":"eur","customer":{"email":"billing@acme.example"},"padding":"`
	return json.RawMessage(head + strings.Repeat("x", 1024-len(head)-2) + `"}`)
}()

var seq atomic.Int64

func event() webhook.Event {
	i := seq.Add(1)
	ev := webhook.Event{ID: fmt.Sprintf("evt_%012d", i), Type: "invoice.paid", Payload: payload}
	if *ordered {
		ev.OrderingKey = fmt.Sprint("key_", i%int64(max(*keys, 1)))
	}
	return ev
}

func runMode(mode string, k int, url string, rc *receiver) error {
	ctx := context.Background()
	s, err := newSetup(ctx, url, k, rc)
	if err != nil {
		return err
	}
	defer s.teardown()
	rc.reset()
	switch mode {
	case "emit":
		return emitMode(ctx, s)
	case "drain":
		return drainMode(ctx, s, k, rc)
	case "stream":
		return streamMode(ctx, s, k, rc)
	case "latency":
		return latencyMode(ctx, s, k, rc)
	}
	return fmt.Errorf("unknown mode %q", mode)
}

func emitMode(ctx context.Context, s *setup) error {
	var (
		next = atomic.Int64{}
		lats = make([][]time.Duration, *emitters)
		wg   sync.WaitGroup
		errc = make(chan error, *emitters)
	)
	begin := time.Now()
	for w := range *emitters {
		wg.Go(func() {
			for next.Add(1) <= int64(*n) {
				t := time.Now()
				if err := s.ds[0].Emit(ctx, event()); err != nil {
					errc <- err
					return
				}
				lats[w] = append(lats[w], time.Since(t))
			}
		})
	}
	wg.Wait()
	el := time.Since(begin)
	close(errc)
	if err := <-errc; err != nil {
		return err
	}
	all := slices.Concat(lats...)
	fmt.Printf("RESULT\temit\tdispatchers=1 emitters=%d n=%d\tevents/s=%.0f\temit_p50=%v\temit_p99=%v\n",
		*emitters, *n, float64(*n)/el.Seconds(), pct(all, 50), pct(all, 99))
	return nil
}

func drainMode(ctx context.Context, s *setup, k int, rc *receiver) error {
	batch := make([]webhook.Event, 0, 1000)
	for i := 0; i < *n; i++ {
		batch = append(batch, event())
		if len(batch) == cap(batch) || i == *n-1 {
			if err := s.ds[0].EmitBatch(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if _, err := s.host.Exec(ctx, "CHECKPOINT"); err != nil {
		return err
	}
	c0 := takeCPU()
	begin := time.Now()
	if err := s.start(ctx); err != nil {
		return err
	}
	rc.waitCount(int64(*n), 5*time.Minute)
	last2xx := time.Since(begin)
	// Done means recorded: no delivery left pending.
	q := "SELECT count(*) FROM " + pgx.Identifier{s.schema}.Sanitize() + ".deliveries WHERE state = 'pending'"
	for {
		var pending int
		if err := s.host.QueryRow(ctx, q).Scan(&pending); err != nil {
			return err
		}
		if pending == 0 {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	el := time.Since(begin)
	c1 := takeCPU()
	fmt.Printf("RESULT\tdrain\tdispatchers=%d workers=%d n=%d\tdeliveries/s=%.0f\tlast_2xx_ms=%d\trequests=%d%s\n",
		k, *workers, *n, float64(*n)/el.Seconds(), last2xx.Milliseconds(), rc.count.Load(), cpuCols(c0, c1, int64(*n)))
	return nil
}

func streamMode(ctx context.Context, s *setup, k int, rc *receiver) error {
	if err := s.start(ctx); err != nil {
		return err
	}
	const inflight = 2000
	var (
		emitted atomic.Int64
		stop    atomic.Bool
		wg      sync.WaitGroup
		errc    = make(chan error, *emitters)
	)
	for w := range *emitters {
		wg.Go(func() {
			for !stop.Load() {
				if emitted.Load()-rc.count.Load() >= inflight {
					rc.waitBelow(&emitted, inflight)
					continue
				}
				emitted.Add(1)
				if err := s.ds[w%k].Emit(ctx, event()); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	time.Sleep(*warmup)
	cpu0 := takeCPU()
	c0, t0 := rc.count.Load(), time.Now()
	time.Sleep(*dur)
	c1, t1 := rc.count.Load(), time.Now()
	cpu1 := takeCPU()
	stop.Store(true)
	rc.kick()
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return err
	}
	fmt.Printf("RESULT\tstream\tdispatchers=%d workers=%d emitters=%d inflight=%d\tdeliveries/s=%.0f%s\n",
		k, *workers, *emitters, inflight, float64(c1-c0)/t1.Sub(t0).Seconds(), cpuCols(cpu0, cpu1, c1-c0))
	return nil
}

func latencyMode(ctx context.Context, s *setup, k int, rc *receiver) error {
	if err := s.start(ctx); err != nil {
		return err
	}
	type job struct {
		ev       webhook.Event
		intended time.Time
	}
	jobs := make(chan job, 10000)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		emitLats []time.Duration
		errc     = make(chan error, 32)
	)
	for w := range 32 {
		wg.Go(func() {
			for j := range jobs {
				if s.stages != nil {
					s.stages.emitCalled(j.ev.ID, time.Now())
				}
				err := s.ds[w%k].Emit(ctx, j.ev)
				if err != nil {
					errc <- err
					continue
				}
				d := time.Since(j.intended)
				mu.Lock()
				emitLats = append(emitLats, d)
				mu.Unlock()
			}
		})
	}
	total := *warmup + *dur
	interval := time.Second / time.Duration(*rate)
	begin := time.Now()
	measureFrom := begin.Add(*warmup)
	var (
		measured []string
		cpu0     cpuSnap
	)
	for i := 0; ; i++ {
		intended := begin.Add(time.Duration(i) * interval)
		if intended.Sub(begin) >= total {
			break
		}
		if d := time.Until(intended); d > 0 {
			time.Sleep(d)
		}
		ev := event()
		rc.expect(ev.ID, intended)
		if !intended.Before(measureFrom) {
			if measured == nil {
				cpu0 = takeCPU()
			}
			measured = append(measured, ev.ID)
		}
		jobs <- job{ev, intended}
	}
	cpu1 := takeCPU()
	close(jobs)
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return err
	}
	lats, err := rc.latencies(measured, time.Minute)
	if err != nil {
		return err
	}
	if s.stages != nil {
		s.stages.report(measured, rc.instants)
	}
	fmt.Printf("RESULT\tlatency\tdispatchers=%d workers=%d rate=%d\tp50=%v\tp99=%v\tmax=%v\temit_p50=%v\temit_p99=%v\tsamples=%d"+
		"\tp50_ms=%.2f\tp99_ms=%.2f%s\n",
		k, *workers, *rate, pct(lats, 50), pct(lats, 99), pct(lats, 100), pct(emitLats, 50), pct(emitLats, 99), len(lats),
		ms(pct(lats, 50)), ms(pct(lats, 99)), cpuCols(cpu0, cpu1, int64(len(measured))))
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := min(len(s)-1, (len(s)*p)/100)
	return s[i].Round(10 * time.Microsecond)
}

// receiver is a raw loopback endpoint that answers 204, counts requests,
// and records when expected events arrive.
type receiver struct {
	url   string
	srv   *http.Server
	count atomic.Int64

	mu       sync.Mutex
	cond     *sync.Cond
	intended map[string]time.Time
	latency  map[string]time.Duration
}

func startReceiver() (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{url: "http://" + ln.Addr().String() + "/hook", srv: &http.Server{}}
	r.srv.Handler = r
	r.cond = sync.NewCond(&r.mu)
	r.reset()
	go r.srv.Serve(ln)
	return r, nil
}

func (r *receiver) close() { _ = r.srv.Close() }

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	_, _ = io.Copy(io.Discard, req.Body)
	now := time.Now()
	r.count.Add(1)
	r.mu.Lock()
	if t, ok := r.intended[req.Header.Get("webhook-id")]; ok {
		r.latency[req.Header.Get("webhook-id")] = now.Sub(t)
	}
	r.cond.Broadcast()
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) reset() {
	r.mu.Lock()
	r.count.Store(0)
	r.intended = map[string]time.Time{}
	r.latency = map[string]time.Duration{}
	r.mu.Unlock()
}

func (r *receiver) kick() {
	r.mu.Lock()
	r.cond.Broadcast()
	r.mu.Unlock()
}

func (r *receiver) expect(id string, intended time.Time) {
	r.mu.Lock()
	r.intended[id] = intended
	r.mu.Unlock()
}

// waitCount waits until n requests were answered.
func (r *receiver) waitCount(n int64, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.count.Load() < n && time.Now().Before(deadline) {
		r.cond.Wait()
	}
}

// waitBelow waits until fewer than limit emitted events are undelivered.
func (r *receiver) waitBelow(emitted *atomic.Int64, limit int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if emitted.Load()-r.count.Load() >= limit {
		r.cond.Wait()
	}
}

// instants returns when the event id was meant to be emitted and when it
// arrived.
func (r *receiver) instants(id string) (intended, arrived time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.intended[id]
	if d, ok := r.latency[id]; ok {
		return t, t.Add(d)
	}
	return t, time.Time{}
}

func (r *receiver) latencies(ids []string, timeout time.Duration) ([]time.Duration, error) {
	deadline := time.Now().Add(timeout)
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		var out []time.Duration
		missing := 0
		for _, id := range ids {
			if d, ok := r.latency[id]; ok {
				out = append(out, d)
			} else {
				missing++
			}
		}
		if missing == 0 {
			return out, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d events not delivered", missing, len(ids))
		}
		r.cond.Wait()
	}
}
