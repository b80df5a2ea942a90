package webhook_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/internal/benchtest"
	"github.com/hooklet/webhook/store/boltstore"
)

// BenchmarkDeliveryTelemetry measures what telemetry costs the hot path:
// each iteration drains three backlogs of drainSize signed 1 KiB
// deliveries from bbolt to a loopback receiver, as the deliver phase of
// examples/loadtest does: with the global OpenTelemetry providers (none
// set: Hooklet's default, which records nothing), with the SDK's
// MeterProvider (a reader that keeps every series), and with that and the
// SDK's TracerProvider (every attempt's span sampled into a batch
// processor). The three run one after the other, in an order that turns
// with each iteration, so that each ratio compares runs made under the
// same machine load. It reports the median, over iterations, of the
// instrumented run's deliveries/s over the plain one's (the rule: above
// 0.98) and of its CPU time per delivery over the plain one's, the
// process's CPU time, receiver included, which other processes on a
// loaded machine disturb less than wall time:
//
//	go test -run '^$' -bench DeliveryTelemetry -benchtime 5x .
func BenchmarkDeliveryTelemetry(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	b.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	variants := []webhook.Config{{}, {MeterProvider: mp}, {MeterProvider: mp, TracerProvider: tp}}
	var thru, cpu [3][]float64 // by variant: deliveries/s, CPU per delivery
	for i := 0; b.Loop(); i++ {
		for k := range variants {
			v := (i + k) % len(variants)
			wall, c := drainBacklog(b, variants[v], drainSize)
			thru[v] = append(thru[v], drainSize/wall.Seconds())
			cpu[v] = append(cpu[v], float64(c)/drainSize)
		}
	}
	ratios := func(x []float64, base []float64) float64 {
		r := make([]float64, len(x))
		for i := range x {
			r[i] = x[i] / base[i]
		}
		slices.Sort(r)
		return r[len(r)/2]
	}
	b.ReportMetric(ratios(thru[1], thru[0]), "metrics/plain-thru")
	b.ReportMetric(ratios(cpu[1], cpu[0]), "metrics/plain-cpu")
	b.ReportMetric(ratios(thru[2], thru[0]), "sdk/plain-thru")
	b.ReportMetric(ratios(cpu[2], cpu[0]), "sdk/plain-cpu")
	b.ReportMetric(slices.Max(thru[0]), "plain-max-deliveries/s")
}

// drainSize is how many deliveries one drain of BenchmarkDeliveryTelemetry
// delivers.
const drainSize = 10000

// drainBacklog emits n events to one endpoint on a fresh bbolt file, then
// starts a Dispatcher made from cfg and returns the wall and CPU time it
// takes until the receiver has every delivery.
func drainBacklog(b *testing.B, cfg webhook.Config, n int) (wall, cpu time.Duration) {
	var got atomic.Int64
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
		if got.Add(1) == int64(n) {
			close(done)
		}
	}))
	defer srv.Close()
	st, err := boltstore.Open(filepath.Join(b.TempDir(), "drain.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	const workers = 64
	cfg.Store, cfg.AllowPrivateNetworks, cfg.Workers, cfg.Retention = st, true, workers, -1
	d, err := webhook.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := d.PutEndpoint(ctx, webhook.Endpoint{ID: "ep", URL: srv.URL, MaxConcurrency: workers,
		Secrets: []webhook.Secret{{Key: testSecret}}}); err != nil {
		b.Fatal(err)
	}
	const chunk = 1000
	batch := make([]webhook.Event, 0, chunk)
	for i := range n {
		batch = append(batch, webhook.Event{Type: "invoice.paid", Payload: benchPayload})
		if len(batch) == chunk || i == n-1 {
			if err := d.EmitBatch(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	cpu0 := benchtest.CPUTime()
	start := time.Now()
	if err := d.Start(ctx); err != nil {
		b.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Minute):
		b.Fatalf("backlog not delivered: %d of %d", got.Load(), n)
	}
	wall, cpu = time.Since(start), benchtest.CPUTime()-cpu0
	if err := d.Close(ctx); err != nil {
		b.Fatal(err)
	}
	return wall, cpu
}
