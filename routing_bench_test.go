package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/internal/benchtest"
	"github.com/hooklet/webhook/store/boltstore"
	"github.com/hooklet/webhook/store/memstore"
)

// routingTenants is how many tenants the benchmark endpoints are spread
// over.
const routingTenants = 100_000

// routingEndpoint returns the i-th benchmark endpoint. The first ten belong
// to tenant t0, the tenant of the emitted events, so that every size fans
// out to the same eight endpoints; the others are spread over the other
// tenants, with the usual shapes of subscription.
func routingEndpoint(i int) webhook.Endpoint {
	tenant := "t0"
	if i >= 10 {
		tenant = "t" + strconv.Itoa(1+i%(routingTenants-1))
	}
	types := [][]string{{"invoice.paid"}, {"invoice.*"}, {"customer.created", "customer.updated"}, nil}[i%4]
	ts := time.Unix(1_700_000_000, 0).UTC()
	return webhook.Endpoint{
		ID: fmt.Sprintf("ep_%07d", i), Tenant: tenant, URL: "https://hooks.example.com/" + strconv.Itoa(i),
		EventTypes: types, Secrets: []webhook.Secret{{Key: testSecret}}, CreatedAt: ts, UpdatedAt: ts,
	}
}

func fillEndpoints(b *testing.B, st webhook.Store, n int) {
	ctx := context.Background()
	for i := range n {
		ep := routingEndpoint(i)
		if err := st.PutEndpoint(ctx, &webhook.PutEndpointParams{Endpoint: ep}); err != nil {
			b.Fatal(err)
		}
	}
}

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkEmitFanout measures Emit of a tenant-scoped event on memstore
// with 10, 10,000 and 1,000,000 endpoints over up to 100,000 tenants; the
// event reaches the same eight endpoints at every size. It also reports
// the registry's heap per endpoint and the time the first Emit takes to
// load the endpoints.
//
//	go test -run '^$' -bench EmitFanout -benchtime 20000x .
func BenchmarkEmitFanout(b *testing.B) {
	for _, n := range []int{10, 10_000, 1_000_000} {
		b.Run(fmt.Sprintf("endpoints=%d", n), func(b *testing.B) {
			st := memstore.New()
			defer st.Close()
			fillEndpoints(b, st, n)
			d, err := webhook.New(webhook.Config{Store: st})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			defer d.Close(ctx)
			before := heapAlloc()
			start, startCPU := time.Now(), benchtest.CPUTime()
			ev := webhook.Event{Type: "invoice.paid", Tenant: "t0", Payload: json.RawMessage(`{"id":"in_1"}`)}
			if err := d.Emit(ctx, ev); err != nil { // loads the registry
				b.Fatal(err)
			}
			load, loadCPU := time.Since(start), benchtest.CPUTime()-startCPU
			perEndpoint := float64(heapAlloc()-before) / float64(n)
			page, err := d.Deliveries(ctx, &webhook.ListDeliveriesParams{Limit: 100})
			if err != nil || len(page.Items) != 8 {
				b.Fatalf("%d deliveries (%v), want 8", len(page.Items), err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			emitCPU := benchtest.CPUTime()
			for b.Loop() {
				if err := d.Emit(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
			benchtest.ReportCPU(b, emitCPU)
			b.ReportMetric(perEndpoint, "B/endpoint")
			b.ReportMetric(load.Seconds(), "load-s")
			b.ReportMetric(loadCPU.Seconds(), "load-cpu-s")
		})
	}
}

// BenchmarkStartBolt measures the start of a Dispatcher over a bbolt file
// of 1,000,000 endpoints (100,000 tenants): Open, New and Start, which
// loads every endpoint. Writing the file takes a while; set
// HOOKLET_BENCH_ENDPOINTS to use fewer.
//
//	go test -run '^$' -bench StartBolt -benchtime 3x .
func BenchmarkStartBolt(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("HOOKLET_BENCH_ENDPOINTS")); err == nil && v > 0 {
		n = v
	}
	path := filepath.Join(b.TempDir(), "endpoints.db")
	st, err := boltstore.Open(path, &boltstore.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	fillEndpoints(b, st, n)
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var d *webhook.Dispatcher
	benchtest.Loop(b, func() {
		var err error
		if st, err = boltstore.Open(path, nil); err != nil {
			b.Fatal(err)
		}
		if d, err = webhook.New(webhook.Config{Store: st}); err != nil {
			b.Fatal(err)
		}
		if err := d.Start(ctx); err != nil {
			b.Fatal(err)
		}
	}, func() {
		if err := d.Close(ctx); err != nil {
			b.Fatal(err)
		}
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
	})
	b.ReportMetric(float64(n), "endpoints")
}
