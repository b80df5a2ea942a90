// Loadtest measures Hooklet against raw baselines on the same machine in
// one run, and prints each pair with its ratio:
//
//   - emit: Emit from -c concurrent emitters on bbolt, against raw bbolt
//     group commit (DB.Batch) of comparable records (the event plus its
//     deliveries);
//
//   - lone emit: one Emit at a time, against one raw bbolt Update at a time;
//
//   - deliver: a backlog of -events events, signed, 1 KiB, every attempt
//     recorded, against a raw keep-alive POST loop that signs each request
//     the same way, both aimed at the same loopback receiver;
//
//     With -ordered, the same backlog also goes to ordered endpoints, its
//     events spread over -keys ordering keys, against the unordered drain;
//
//   - backlog (on request): the live heap while -backlog events are emitted
//     and then while the engine runs against them, every request hanging;
//
//   - batch (on request): events/s delivered to a batched endpoint
//     (MaxEvents 500) against the same backlog unbatched, and against the
//     raw sender's req/s;
//
//   - fair (on request): one healthy endpoint's backlog drain throughput
//     and streaming latency alone, then beside -hanging endpoints whose
//     receivers hold every request until the request timeout.
//
//     go run ./examples/loadtest -d 5s
package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/internal/benchtest"
	"github.com/hooklet/webhook/store/boltstore"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

var (
	dur       = flag.Duration("d", 5*time.Second, "duration of each timed phase")
	conc      = flag.Int("c", 64, "concurrent emitters, and concurrent raw senders")
	events    = flag.Int("events", 20000, "events in the delivery backlog")
	endpoints = flag.Int("endpoints", 1, "endpoints every event fans out to")
	size      = flag.Int("size", 1024, "payload bytes")
	dir       = flag.String("dir", "", "directory for the database files (default: a temp dir)")
	phases    = flag.String("phases", "emit,lone,deliver", "phases to run (emit, lone, deliver, backlog, fair, batch)")
	backlog   = flag.Int("backlog", 1000000, "events in the backlog phase (a multiple of 4000)")
	templated = flag.Bool("templated", true, "also drain the backlog through a jsonnet template, and compare")
	stats     = flag.Bool("stats", false, "print store call counts and latencies")
	cpuprof   = flag.String("cpuprofile", "", "write a CPU profile of the untemplated drain to this file")
	rawprof   = flag.String("rawcpuprofile", "", "write a CPU profile of the raw signed sender to this file")
	blockprof = flag.String("blockprofile", "", "write block and mutex profiles of the untemplated drain to this file and this file.mutex")
	ordered   = flag.Bool("ordered", false, "deliver: also drain the backlog through ordered endpoints, and compare")
	keys      = flag.Int("keys", 1, "deliver with -ordered: ordering keys the backlog's events are spread over")
)

func main() {
	flag.Parse()
	if *dir == "" {
		d, err := os.MkdirTemp("", "hooklet-loadtest-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	fmt.Printf("loadtest: GOMAXPROCS=%d c=%d endpoints=%d size=%d d=%v\n", runtime.GOMAXPROCS(0), *conc, *endpoints, *size, *dur)
	payload := makePayload(*size)
	for _, p := range strings.Split(*phases, ",") {
		var err error
		switch p {
		case "emit":
			err = emitPhase(payload)
		case "lone":
			err = lonePhase(payload)
		case "deliver":
			err = deliverPhase(payload)
		case "backlog":
			err = backlogPhase()
		case "fair":
			err = fairPhase()
		case "batch":
			err = batchPhase(payload)
		default:
			err = fmt.Errorf("unknown phase %q", p)
		}
		if err != nil {
			log.Fatalf("%s: %v", p, err)
		}
	}
}

func makePayload(n int) json.RawMessage {
	head := `{"object":"invoice","id":"in_1PZQ8e2eZvKYlo2C","amount_due":129900,"currency":"eur","customer":{"email":"billing@acme.example"},"padding":"`
	pad := max(n-len(head)-2, 0)
	return json.RawMessage(head + strings.Repeat("x", pad) + `"}`)
}

func report(name string, raw, lib float64, unit string) {
	ratio := lib / raw
	fmt.Printf("RESULT %-10s raw=%.0f %s  hooklet=%.0f %s  ratio=%.2f\n", name, raw, unit, lib, unit, ratio)
}

// newDispatcher opens a fresh bbolt store in dir and a Dispatcher on it
// with -endpoints endpoints at url.
func newDispatcher(name, url, template string) (*webhook.Dispatcher, *statsStore, error) {
	bst, err := boltstore.Open(filepath.Join(*dir, name+".db"), nil)
	if err != nil {
		return nil, nil, err
	}
	st := &statsStore{Store: bst}
	d, err := webhook.New(webhook.Config{Store: st, AllowPrivateNetworks: true, Workers: *conc})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	for i := range *endpoints {
		err := d.PutEndpoint(context.Background(), webhook.Endpoint{
			ID: fmt.Sprintf("ep_%03d", i), URL: url, MaxConcurrency: *conc,
			Secrets:  []webhook.Secret{{Key: secret}},
			Template: template, Settings: json.RawMessage(`{"list":"billing","region":"eu"}`),
		})
		if err != nil {
			st.Close()
			return nil, nil, err
		}
	}
	return d, st, nil
}

// emitPhase: concurrent Emit vs raw bbolt DB.Batch of the same bytes.
func emitPhase(payload json.RawMessage) error {
	raw, err := rawBatch(payload, *conc)
	if err != nil {
		return err
	}
	d, st, err := newDispatcher("emit", "https://hooks.example.com/", "")
	if err != nil {
		return err
	}
	defer st.Close()
	defer d.Close(context.Background())
	var n atomic.Int64
	ctx := context.Background()
	deadline := time.Now().Add(*dur)
	var wg sync.WaitGroup
	start := time.Now()
	for range *conc {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := d.Emit(ctx, webhook.Event{Type: "invoice.paid", Payload: payload}); err != nil {
					log.Fatal(err)
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	lib := float64(n.Load()) / time.Since(start).Seconds()
	report("emit", raw, lib, "events/s")
	st.print()
	return nil
}

// rawBatch writes records shaped like an event and its deliveries with
// DB.Batch from c goroutines (bbolt's own group commit, MaxBatchSize c).
func rawBatch(payload []byte, c int) (float64, error) {
	db, err := openRawBolt("raw-batch.db")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.MaxBatchSize = c
	var n atomic.Int64
	deadline := time.Now().Add(*dur)
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				err := db.Batch(func(tx *bolt.Tx) error { return putRaw(tx, payload) })
				if err != nil {
					log.Fatal(err)
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds(), nil
}

// openRawBolt opens a fresh bbolt file with the raw phases' buckets.
func openRawBolt(name string) (*bolt.DB, error) {
	db, err := bolt.Open(filepath.Join(*dir, name), 0o600, nil)
	if err != nil {
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists([]byte("events"))
		if err == nil {
			_, err = tx.CreateBucketIfNotExists([]byte("deliveries"))
		}
		return err
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func putRaw(tx *bolt.Tx, payload []byte) error {
	ev := tx.Bucket([]byte("events"))
	seq, _ := ev.NextSequence()
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	if err := ev.Put(k[:], payload); err != nil {
		return err
	}
	dl := tx.Bucket([]byte("deliveries"))
	for i := range *endpoints {
		dk := append(k[:], byte(i))
		if err := dl.Put(dk, []byte(`{"state":"pending","attempts":0,"next":1700000000}`)); err != nil {
			return err
		}
	}
	return nil
}

// lonePhase: one Emit at a time vs one raw Update at a time.
func lonePhase(payload json.RawMessage) error {
	db, err := openRawBolt("raw-single.db")
	if err != nil {
		return err
	}
	n, start := 0, time.Now()
	for time.Since(start) < *dur {
		if err := db.Update(func(tx *bolt.Tx) error { return putRaw(tx, payload) }); err != nil {
			return err
		}
		n++
	}
	rawLat := time.Since(start) / time.Duration(n)
	db.Close()

	d, st, err := newDispatcher("lone", "https://hooks.example.com/", "")
	if err != nil {
		return err
	}
	defer st.Close()
	defer d.Close(context.Background())
	ctx := context.Background()
	n, start = 0, time.Now()
	for time.Since(start) < *dur {
		if err := d.Emit(ctx, webhook.Event{Type: "invoice.paid", Payload: payload}); err != nil {
			return err
		}
		n++
	}
	libLat := time.Since(start) / time.Duration(n)
	fmt.Printf("RESULT %-10s raw=%v/update  hooklet=%v/emit  ratio=%.2f (lower is better)\n", "lone", rawLat, libLat, float64(libLat)/float64(rawLat))
	return nil
}

// receiver reads each body and answers 204, counting requests.
type receiver struct {
	mu   sync.Mutex
	reqs atomic.Int64
	want int64
	done chan struct{}
}

// reset starts a new count; done is closed once want requests arrived.
func (rc *receiver) reset(want int64) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.reqs.Store(0)
	rc.want = want
	rc.done = make(chan struct{})
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.WriteHeader(http.StatusNoContent)
	n := rc.reqs.Add(1)
	rc.mu.Lock()
	if n == rc.want {
		close(rc.done)
	}
	rc.mu.Unlock()
}

// deliverPhase: raw signed POST loop vs draining a backlog through Hooklet.
func deliverPhase(payload json.RawMessage) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	rc := &receiver{}
	rc.reset(-1)
	srv := &http.Server{Handler: rc}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/hooks"

	if *rawprof != "" {
		f, err := os.Create(*rawprof)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	cpu0, mallocs0 := benchtest.CPUTime(), mallocs()
	raw, rawReqs := rawSend(url, payload)
	if *rawprof != "" {
		pprof.StopCPUProfile()
	}
	rawCPU, rawMallocs := benchtest.CPUTime()-cpu0, mallocs()-mallocs0
	lib, err := drain(rc, "deliver", url, payload, "", 0)
	if err != nil {
		return err
	}
	report("deliver", raw, lib, "req/s")
	// CPU of the whole process, the receiver's included on both sides.
	n := float64(*events * *endpoints)
	fmt.Printf("RESULT %-10s raw=%.1f µs/req  hooklet=%.1f µs/delivery  ratio=%.2f (CPU, receiver included)\n", "deliver-cpu",
		us(rawCPU)/rawReqs, us(lastDrain.cpu)/n, (us(lastDrain.cpu)/n)/(us(rawCPU)/rawReqs))
	fmt.Printf("RESULT %-10s raw=%.0f allocs/req  hooklet=%.0f allocs/delivery  ratio=%.2f (receiver included)\n", "deliver-mem",
		float64(rawMallocs)/rawReqs, float64(lastDrain.mallocs)/n, (float64(lastDrain.mallocs)/n)/(float64(rawMallocs)/rawReqs))
	if *ordered {
		ord, err := drain(rc, "ordered", url, payload, "", max(*keys, 1))
		if err != nil {
			return err
		}
		fmt.Printf("RESULT %-10s keys=%d unordered=%.0f req/s  ordered=%.0f req/s  ratio=%.2f\n", "ordered", max(*keys, 1), lib, ord, ord/lib)
	}
	if *templated {
		tpl, err := drain(rc, "templated", url, payload, lyticsTemplate, 0)
		if err != nil {
			return err
		}
		fmt.Printf("RESULT %-10s untemplated=%.0f req/s  templated=%.0f req/s  ratio=%.2f\n", "templated", lib, tpl, tpl/lib)
	}
	return nil
}

// lyticsTemplate is a Lytics-style template over the load test's payload.
const lyticsTemplate = `
local event = import "lytemplates.libsonnet";
{
  users: [{
    identifiers: { email: event.path("customer.email", "") },
    events: [{ event_name: event.type, timestamp: event.time, amount: event.get("amount_due", 0) }],
  }],
  list: event.settings.list,
}`

// drain emits a backlog of -events events, starts a Dispatcher and returns
// the deliveries per second until the receiver has them all. With keys > 0
// the endpoints are ordered and event i has ordering key i mod keys.
func drain(rc *receiver, name, url string, payload json.RawMessage, template string, keys int) (float64, error) {
	d, st, err := newDispatcher(name, url, template)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	ctx := context.Background()
	if keys > 0 {
		if err := makeOrdered(ctx, d); err != nil {
			return 0, err
		}
	}
	const chunk = 1000
	batch := make([]webhook.Event, 0, chunk)
	for i := range *events {
		ev := webhook.Event{Type: "invoice.paid", Payload: payload}
		if keys > 0 {
			ev.OrderingKey = fmt.Sprint("key_", i%keys)
		}
		batch = append(batch, ev)
		if len(batch) == chunk || i == *events-1 {
			if err := d.EmitBatch(ctx, batch); err != nil {
				return 0, err
			}
			batch = batch[:0]
		}
	}
	total := int64(*events * *endpoints)
	rc.reset(total)
	if *cpuprof != "" && template == "" {
		f, err := os.Create(*cpuprof)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return 0, err
		}
		defer pprof.StopCPUProfile()
	}
	if *blockprof != "" && template == "" {
		runtime.SetBlockProfileRate(int(10 * time.Microsecond))
		runtime.SetMutexProfileFraction(10)
		defer func() {
			runtime.SetBlockProfileRate(0)
			runtime.SetMutexProfileFraction(0)
			for name, file := range map[string]string{"block": *blockprof, "mutex": *blockprof + ".mutex"} {
				if f, err := os.Create(file); err == nil {
					_ = pprof.Lookup(name).WriteTo(f, 0)
					_ = f.Close()
				}
			}
		}()
	}
	start, cpu0, mallocs0 := time.Now(), benchtest.CPUTime(), mallocs()
	if err := d.Start(ctx); err != nil {
		return 0, err
	}
	select {
	case <-rc.done:
	case <-time.After(10 * time.Minute):
		return 0, fmt.Errorf("backlog not delivered: %d of %d", rc.reqs.Load(), total)
	}
	elapsed := time.Since(start)
	lastDrain.cpu, lastDrain.mallocs = benchtest.CPUTime()-cpu0, mallocs()-mallocs0
	if err := d.Close(ctx); err != nil {
		return 0, err
	}
	st.print()
	return float64(total) / elapsed.Seconds(), nil
}

// lastDrain is what the last drain cost the process, from Start until the
// receiver had every delivery: CPU time and heap allocations.
var lastDrain struct {
	cpu     time.Duration
	mallocs uint64
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// mallocs returns how many heap objects the process has allocated so far.
func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

// makeOrdered makes every endpoint of d ordered.
func makeOrdered(ctx context.Context, d *webhook.Dispatcher) error {
	for i := range *endpoints {
		ep, err := d.Endpoint(ctx, fmt.Sprintf("ep_%03d", i))
		if err != nil {
			return err
		}
		ep.Ordered = true
		if err := d.PutEndpoint(ctx, ep); err != nil {
			return err
		}
	}
	return nil
}

// rawSend posts signed 1 KiB bodies from -c goroutines for -d, and returns
// the requests per second and how many it made.
func rawSend(url string, payload []byte) (float64, float64) {
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	tr := &http.Transport{MaxIdleConnsPerHost: *conc, MaxIdleConns: *conc}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var n atomic.Int64
	deadline := time.Now().Add(*dur)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range *conc {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				id := "msg_" + strconv.Itoa(w) + "_" + strconv.Itoa(i)
				ts := strconv.FormatInt(time.Now().Unix(), 10)
				m := hmac.New(sha256.New, key)
				m.Write([]byte(id + "." + ts + "."))
				m.Write(payload)
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(payload))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("webhook-id", id)
				req.Header.Set("webhook-timestamp", ts)
				req.Header.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)))
				resp, err := client.Do(req)
				if err != nil {
					log.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds(), float64(n.Load())
}
