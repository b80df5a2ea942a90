package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/internal/benchtest"
	"github.com/hooklet/webhook/store/boltstore"
)

var (
	hangingFlag = flag.String("hanging", "4,16,64", "fair phase: numbers of hanging endpoints to run beside the healthy one")
	fairRate    = flag.Int("rate", 200, "fair phase: events per second streamed to the healthy endpoint")
	fairDrain   = flag.Int("drain", 20000, "fair phase: events in the healthy endpoint's backlog")
	fairTimeout = flag.Duration("fairtimeout", 2*time.Second, "fair phase: Config.RequestTimeout, which ends each hanging request")
	fairFailing = flag.Int("failing", 0, "fair phase: endpoints answering 500 to every request, run beside the hanging ones")
	fairRepeat  = flag.Int("repeat", 3, "fair phase: rounds per number of hanging endpoints, each a run alone then one beside them; ratios are medians of the rounds'")
	fairProf    = flag.String("fairprofile", "", "fair phase: write CPU profiles of the healthy endpoint's drains to this file name, suffixed -h<hanging>[-alone]-r<round>")
)

// fairPhase measures one healthy endpoint alone, then beside endpoints
// whose receivers hold every request until the request timeout, each run
// on a fresh Dispatcher with the default workers and endpoint
// concurrency. It reports, for each number of hanging endpoints, the
// healthy endpoint's backlog drain throughput, the process's CPU time per
// delivery of that drain (which other processes on a loaded machine
// disturb far less than wall time) and its streaming latency (emit to
// receipt, p50 and p99) as ratios to the healthy endpoint alone,
// measured in the run just before: the median of -repeat such pairs, so
// that a machine whose load shifts skews both sides of each ratio alike.
//
// The healthy endpoint has answered before the others start hanging, as
// in production, where endpoints go bad among healthy ones; the hanging
// endpoints' backlog is emitted first, so it is due before every healthy
// delivery.
func fairPhase() error {
	var counts []int
	for _, f := range strings.Split(*hangingFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			return fmt.Errorf("bad -hanging %q", f)
		}
		counts = append(counts, n)
	}
	fmt.Printf("fair: healthy endpoint: drain %d events, then stream %d/s for %v; RequestTimeout %v; %d rounds, each a run alone then a run beside the hanging endpoints\n",
		*fairDrain, *fairRate, *dur, *fairTimeout, *fairRepeat)
	for _, h := range counts {
		var drain, cpu, p50, p99 []float64
		var with, alone []fairResult
		prof, profAlone := newFairProfile(fmt.Sprint("h", h)), newFairProfile(fmt.Sprint("h", h, "-alone"))
		for round := range *fairRepeat {
			a, err := fairRun(0, profAlone)
			if err != nil {
				return err
			}
			r, err := fairRun(h, prof)
			if err != nil {
				return err
			}
			fmt.Printf("fair: h=%-3d round %d: alone drain %.0f req/s (cpu %v/req) p50 %v p99 %v | beside drain %.0f req/s (cpu %v/req) p50 %v p99 %v (%d hanging requests)\n",
				h, round+1, a.drain, a.drainCPU, a.p50, a.p99, r.drain, r.drainCPU, r.p50, r.p99, r.hung)
			drain = append(drain, r.drain/a.drain)
			cpu = append(cpu, float64(r.drainCPU)/float64(a.drainCPU))
			p50 = append(p50, float64(r.p50)/float64(a.p50))
			p99 = append(p99, float64(r.p99)/float64(a.p99))
			alone, with = append(alone, a), append(with, r)
		}
		if err := errors.Join(prof.write(), profAlone.write()); err != nil {
			return err
		}
		ma, mw := median(alone), median(with)
		fmt.Printf("RESULT fair h=%-3d drain ratio=%.2f (%.0f vs %.0f req/s alone)  drain cpu/req ratio=%.2f  p50 ratio=%.2f (%v vs %v)  p99 ratio=%.2f (%v vs %v)  [median of per-round ratios]\n",
			h, mid(drain), mw.drain, ma.drain, mid(cpu), mid(p50), mw.p50, ma.p50, mid(p99), mw.p99, ma.p99)
	}
	return nil
}

// mid returns the median of v.
func mid(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

// median returns the median of each figure of runs.
func median(runs []fairResult) fairResult {
	pick := func(f func(fairResult) float64) float64 {
		v := make([]float64, len(runs))
		for i, r := range runs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return fairResult{
		drain: pick(func(r fairResult) float64 { return r.drain }),
		p50:   time.Duration(pick(func(r fairResult) float64 { return float64(r.p50) })),
		p99:   time.Duration(pick(func(r fairResult) float64 { return float64(r.p99) })),
	}
}

// fairResult is what one run measured of the healthy endpoint.
type fairResult struct {
	drain    float64       // backlog drain, deliveries per second
	drainCPU time.Duration // the process's CPU time per delivery of the drain
	p50, p99 time.Duration
	streamed int
	hung     int64 // requests the hanging receivers got
}

// healthyReceiver answers at once and records when each event arrived.
type healthyReceiver struct {
	mu      sync.Mutex
	arrived map[string]time.Time
	want    int
	done    chan struct{}
}

func (rc *healthyReceiver) reset(want int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.arrived = make(map[string]time.Time, want)
	rc.want = want
	rc.done = make(chan struct{})
}

func (rc *healthyReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	w.WriteHeader(http.StatusNoContent)
	id := r.Header.Get("webhook-id")
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if _, ok := rc.arrived[id]; ok {
		return
	}
	rc.arrived[id] = now
	if len(rc.arrived) == rc.want {
		close(rc.done)
	}
}

func (rc *healthyReceiver) wait(d time.Duration) error {
	rc.mu.Lock()
	done := rc.done
	rc.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-time.After(d):
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return fmt.Errorf("healthy endpoint got %d of %d events in %v", len(rc.arrived), rc.want, d)
	}
}

func listen(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String() + "/hooks", func() { srv.Close() }, nil
}

// fairSeq numbers the runs' database files.
var fairSeq int

// fairRun runs the healthy endpoint beside h hanging ones, profiling the
// drain with prof.
func fairRun(h int, prof *fairProfile) (fairResult, error) {
	var res fairResult
	healthy := &healthyReceiver{}
	healthyURL, stopHealthy, err := listen(healthy)
	if err != nil {
		return res, err
	}
	defer stopHealthy()
	var hungMu sync.Mutex
	hangURL, stopHang, err := listen(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hungMu.Lock()
		res.hung++
		hungMu.Unlock()
		<-r.Context().Done() // until the sender gives up, or the server closes
	}))
	if err != nil {
		return res, err
	}
	defer stopHang()
	failURL, stopFail, err := listen(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	if err != nil {
		return res, err
	}
	defer stopFail()

	fairSeq++
	bst, err := boltstore.Open(filepath.Join(*dir, fmt.Sprintf("fair-%d-%d.db", h, fairSeq)), nil)
	if err != nil {
		return res, err
	}
	defer bst.Close()
	var st webhook.Store = bst
	if *stats {
		// Counting hides the store's optional interfaces (queue
		// statistics): only with -stats.
		ss := &statsStore{Store: bst}
		defer ss.print()
		st = ss
	}
	d, err := webhook.New(webhook.Config{Store: st, AllowPrivateNetworks: true, RequestTimeout: *fairTimeout})
	if err != nil {
		return res, err
	}
	ctx := context.Background()
	defer func() {
		closeCtx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_ = d.Close(closeCtx)
	}()
	err = d.PutEndpoint(ctx, webhook.Endpoint{ID: "healthy", URL: healthyURL, EventTypes: []string{"healthy"}, Secrets: []webhook.Secret{{Key: secret}}})
	if err != nil {
		return res, err
	}
	for i := range h {
		err := d.PutEndpoint(ctx, webhook.Endpoint{ID: fmt.Sprintf("hang_%03d", i), URL: hangURL, EventTypes: []string{"hang"}, Secrets: []webhook.Secret{{Key: secret}}})
		if err != nil {
			return res, err
		}
	}
	for i := range *fairFailing * min(h, 1) { // beside the hanging ones only
		err := d.PutEndpoint(ctx, webhook.Endpoint{ID: fmt.Sprintf("fail_%03d", i), URL: failURL, EventTypes: []string{"hang"}, Secrets: []webhook.Secret{{Key: secret}}})
		if err != nil {
			return res, err
		}
	}
	if err := d.Start(ctx); err != nil {
		return res, err
	}
	payload := json.RawMessage(`{"id":"in_1","amount":1200,"currency":"eur"}`)
	// The healthy endpoint answers first.
	healthy.reset(100)
	if err := d.EmitBatch(ctx, makeEvents("healthy", 100, payload)); err != nil {
		return res, err
	}
	if err := healthy.wait(time.Minute); err != nil {
		return res, err
	}
	// The hanging endpoints' backlog, due first.
	if h > 0 {
		for range 4 {
			if err := d.EmitBatch(ctx, makeEvents("hang", 100, payload)); err != nil {
				return res, err
			}
		}
	}

	// Drain: a backlog of healthy events behind the hanging ones.
	if err := prof.start(); err != nil {
		return res, err
	}
	healthy.reset(*fairDrain)
	start, startCPU := time.Now(), benchtest.CPUTime()
	for n := 0; n < *fairDrain; n += 1000 {
		if err := d.EmitBatch(ctx, makeEvents("healthy", min(1000, *fairDrain-n), payload)); err != nil {
			return res, err
		}
	}
	err = healthy.wait(5 * time.Minute)
	prof.stop()
	if err != nil {
		return res, err
	}
	res.drain = float64(*fairDrain) / time.Since(start).Seconds()
	res.drainCPU = (benchtest.CPUTime() - startCPU) / time.Duration(*fairDrain)

	// Stream: one event every 1/rate, latency from emit to receipt.
	n := int(dur.Seconds() * float64(*fairRate))
	healthy.reset(n)
	emitted := make(map[string]time.Time, n)
	tick := time.NewTicker(time.Second / time.Duration(*fairRate))
	for i := range n {
		<-tick.C
		ev := webhook.Event{ID: fmt.Sprintf("evt_fair_%d_%d", h, i), Type: "healthy", Payload: payload}
		emitted[ev.ID] = time.Now()
		if err := d.Emit(ctx, ev); err != nil {
			tick.Stop()
			return res, err
		}
	}
	tick.Stop()
	if err := healthy.wait(time.Minute); err != nil {
		return res, err
	}
	healthy.mu.Lock()
	lat := make([]time.Duration, 0, n)
	for id, at := range healthy.arrived {
		lat = append(lat, at.Sub(emitted[id]))
	}
	healthy.mu.Unlock()
	slices.Sort(lat)
	res.streamed = len(lat)
	res.p50 = lat[len(lat)/2].Round(10 * time.Microsecond)
	res.p99 = lat[len(lat)*99/100].Round(10 * time.Microsecond)
	hungMu.Lock()
	defer hungMu.Unlock()
	return res, nil
}

func makeEvents(typ string, n int, payload json.RawMessage) []webhook.Event {
	evs := make([]webhook.Event, n)
	for i := range evs {
		evs[i] = webhook.Event{Type: typ, Payload: payload}
	}
	return evs
}
