package webhook

import (
	"fmt"
	"runtime"
	"testing"
)

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
			for b.Loop() {
				dst = x.match(dst[:0], tenant, "invoice.paid")
			}
			if len(dst) != 8 {
				b.Fatalf("%d matches, want 8", len(dst))
			}
			b.ReportMetric(perEndpoint, "B/endpoint")
			runtime.KeepAlive(x)
		})
	}
}
