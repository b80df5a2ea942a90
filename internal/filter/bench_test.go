package filter

import (
	"fmt"
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

// benchPayload is a 1 KiB order event.
var benchPayload = func() []byte {
	var b strings.Builder
	b.WriteString(`{"id":"ord_1","status":"paid","currency":"usd","amount":4200,`)
	b.WriteString(`"customer":{"id":"cus_9","tier":"gold","email":"ann@example.com","country":"DE"},`)
	b.WriteString(`"items":[`)
	for i := range 8 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"sku":"sku_%03d","qty":%d,"price":%d,"name":"Item number %d"}`, i, i+1, 100*i, i)
	}
	b.WriteString(`],"note":"`)
	for b.Len() < 1024-2 {
		b.WriteString("x")
	}
	b.WriteString(`"}`)
	return []byte(b.String())
}()

const benchFilter = `{
	"data.status": "paid",
	"data.amount": {"$gte": 1000},
	"data.customer.tier": {"$in": ["gold", "platinum"]},
	"data.customer.email": {"$endsWith": "@example.com"},
	"attributes.source": {"$neq": "test"}
}`

func benchDocument() *Document {
	return &Document{
		ID: "evt_1", Type: "order.paid", Time: time.Unix(1735689600, 0),
		Attributes: map[string]string{"source": "api"}, Data: benchPayload,
	}
}

// BenchmarkMatch evaluates a five-condition filter over a 1 KiB payload,
// parsing the payload each time as fan-out does once per event.
func BenchmarkMatch(b *testing.B) {
	p, err := Compile([]byte(benchFilter))
	if err != nil {
		b.Fatal(err)
	}
	if len(benchPayload) != 1024 || !p.Match(benchDocument()) {
		b.Fatal("the benchmark event must be 1 KiB and match")
	}
	b.SetBytes(int64(len(benchPayload)))
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		if !p.Match(benchDocument()) {
			b.Fatal("no match")
		}
	}
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
}

// BenchmarkMatchParsed is BenchmarkMatch on a payload already parsed: the
// cost of each further endpoint's filter on the same event.
func BenchmarkMatchParsed(b *testing.B) {
	p, err := Compile([]byte(benchFilter))
	if err != nil {
		b.Fatal(err)
	}
	d := benchDocument()
	d.Prepare()
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		if !p.Match(d) {
			b.Fatal("no match")
		}
	}
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
}

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile([]byte(benchFilter)); err != nil {
			b.Fatal(err)
		}
	}
}
