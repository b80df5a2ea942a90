package webhook

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// processCPU returns the CPU time the process has used, so that a
// benchmark on a busy machine can report its own work next to wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fanoutBenchPatterns cycles through the shapes of subscription seen in
// practice: one exact type, a prefix, two exact types, everything.
var fanoutBenchPatterns = [][]string{
	{"invoice.paid"}, {"invoice.*"}, {"customer.created", "customer.updated"}, nil,
}

// fanoutBenchTenants is how many tenants the endpoints are spread over.
const fanoutBenchTenants = 100_000

// fanoutBenchTenant returns the tenant of the i-th benchmark endpoint: the
// first ten belong to tenant t0, the event's tenant, so that every size
// fans out to the same endpoints; the others are spread over the other
// tenants.
func fanoutBenchTenant(i int) string {
	if i < 10 {
		return "t0"
	}
	return fmt.Sprintf("t%d", 1+i%(fanoutBenchTenants-1))
}

func buildFanoutIndex(n int) *fanoutIndex[*string] {
	x := newFanoutIndex[*string]()
	for i := range n {
		id := fmt.Sprintf("ep_%07d", i)
		x.put(id, fanoutBenchTenant(i), fanoutBenchPatterns[i%len(fanoutBenchPatterns)], &id)
	}
	return x
}

// BenchmarkFanoutIndex measures the lookup of a tenant-scoped event among
// 10, 10,000 and 1,000,000 endpoints spread over up to 100,000 tenants
// (the event's tenant always has the same ten), and reports the heap the index takes per endpoint (IDs included).
func BenchmarkFanoutIndex(b *testing.B) {
	for _, n := range []int{10, 10_000, 1_000_000} {
		b.Run(fmt.Sprintf("endpoints=%d", n), func(b *testing.B) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			x := buildFanoutIndex(n)
			runtime.GC()
			runtime.ReadMemStats(&after)
			perEndpoint := float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
			tenant := "t0"
			b.ReportAllocs()
			b.ResetTimer()
			var dst []*string
			cpu := processCPU()
			for b.Loop() {
				dst = x.match(dst[:0], tenant, "invoice.paid")
			}
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
			if len(dst) != 8 {
				b.Fatalf("%d matches, want 8", len(dst))
			}
			b.ReportMetric(perEndpoint, "B/endpoint")
			runtime.KeepAlive(x)
		})
	}
}

// BenchmarkRegistryFanOut measures the fan-out of one tenant-scoped event
// with a 1 KiB payload, deliveries included, among 10, 10,000 and
// 1,000,000 endpoints: the event's tenant has the same ten endpoints at
// every size; eight take its type, five of those have a five-condition
// filter, and three of the five match.
func BenchmarkRegistryFanOut(b *testing.B) {
	payload := []byte(`{"status":"paid","amount":4200,"currency":"usd","customer":{"id":"cus_9","tier":"gold",` +
		`"email":"ann@example.com"},"items":[{"sku":"a","qty":1},{"sku":"b","qty":2}],"note":"` +
		strings.Repeat("x", 1024-174) + `"}`)
	if len(payload) != 1024 {
		b.Fatalf("payload of %d bytes", len(payload))
	}
	filters := []string{
		`{"data.status": "paid", "data.amount": {"$gte": 1000}, "data.customer.tier": {"$in": ["gold", "platinum"]},
		  "data.customer.email": {"$endsWith": "@example.com"}, "attributes.source": {"$neq": "test"}}`,
		`{"data.status": "refunded", "data.amount": {"$gte": 1000}, "data.customer.tier": {"$in": ["gold"]},
		  "data.customer.email": {"$endsWith": "@example.com"}, "attributes.source": {"$neq": "test"}}`,
	}
	for _, n := range []int{10, 10_000, 1_000_000} {
		b.Run(fmt.Sprintf("endpoints=%d", n), func(b *testing.B) {
			r := newRegistry(nil, systemClock{}, slog.Default(), endpointCompiler{})
			for i := range n {
				ep := Endpoint{ID: fmt.Sprintf("ep_%07d", i), Tenant: fanoutBenchTenant(i),
					EventTypes: fanoutBenchPatterns[i%len(fanoutBenchPatterns)]}
				if i < 10 && i%2 == 1 {
					ep.Filter = json.RawMessage(filters[(i/2)%2])
				}
				st, err := r.compiler.compile(ep)
				if err != nil {
					b.Fatal(err)
				}
				r.putLocked(st)
			}
			ev := &Event{ID: "evt_1", Type: "invoice.paid", Tenant: "t0", Payload: payload,
				Attributes: map[string]string{"source": "api"}}
			now := time.Unix(1_700_000_000, 0)
			if got := len(r.fanOut(ev, now)); got != 6 {
				b.Fatalf("%d deliveries, want 6", got)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU()
			for b.Loop() {
				r.fanOut(ev, now)
			}
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
