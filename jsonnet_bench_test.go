package webhook_test

import (
	"context"
	"encoding/json"
	"testing"

	jsonnet "github.com/google/go-jsonnet"
	"github.com/google/go-jsonnet/ast"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/internal/benchtest"
)

// The benchmarks of this file compare, side by side, raw go-jsonnet
// evaluation of the Lytics-style template with Hooklet's Render of the
// same template and event. "Raw" is what a careful host would write by
// hand: the template parsed once, one VM reused, the helper library served
// from memory, the event handed over as a string and parsed with
// std.parseJson. internal/jsonnet benchmarks the other ways of handing the
// event to a VM.
//
//	go test -run '^$' -bench 'Jsonnet' -benchmem -count 6 . | benchstat -

// rawLib is a minimal helper library for the raw evaluations; data is
// bound by each variant's prelude.
const rawLib = `{
  get(key, default=null):: local v = std.get(data, key, null); if v == null then default else v,
}`

// rawVariant describes one way of handing the event to a raw VM.
type rawVariant struct {
	name  string
	data  string // jsonnet expression for the payload inside the library
	setup func(vm *jsonnet.VM, payload string, decoded any)
}

var rawVariants = []rawVariant{
	{name: "ExtVarParseJSON", data: `std.parseJson(std.extVar("payload"))`,
		setup: func(vm *jsonnet.VM, p string, _ any) { vm.ExtVar("payload", p) }},
}

// lyticsInsiderPayload is the Lytics event padded to 1 KiB with the user
// fields a Lytics audience event carries.
const lyticsInsiderPayload = `{"email":"ada@example.com","first_name":"Ada","last_name":"Lovelace","score":3,"missing":null,
"segment_events":[{"segment":"vip","enter":"2026-01-02T03:04:05Z"},{"segment":"trial","enter":"2026-01-01T00:00:00Z"}],
"address":{"city":"London","lines":["1 Main St","Flat 2"],"postcode":"NW1 6XE","country":"GB"},
"user_id":"u_8c1f0e5a2b7d4c9e","company":"Analytical Engines Ltd","plan":"enterprise","mrr":1234.5,
"created":"2024-03-10T09:15:00Z","last_seen":"2026-01-02T03:00:00Z","sessions":1742,"locale":"en-GB",
"tags":["beta","newsletter","power-user","early-adopter"],"consent":{"email":true,"sms":false,"ads":false},
"devices":[{"os":"macOS","app":"1.42.0","last":"2026-01-01T22:10:00Z"},{"os":"iOS","app":"1.41.3","last":"2025-12-30T08:00:00Z"}],
"scores":{"engagement":0.87,"churn":0.04,"propensity":0.61},"utm":{"source":"newsletter","medium":"email","campaign":"winter-2026"},
"timezone":"Europe/London","phone":"+44 20 7946 0958","referrer":"https://example.org/blog/engines","ltv":98765.43,"vip":true}`

func TestLyticsInsiderPayloadIsOneKiB(t *testing.T) {
	t.Parallel()
	if n := len(lyticsInsiderPayload); n < 1000 || n > 1100 {
		t.Fatalf("payload of %d bytes", n)
	}
}

// newRawVM returns a VM ready to evaluate the Lytics template with the
// event handed over as v says, and the parsed program.
func newRawVM(b *testing.B, v rawVariant) (*jsonnet.VM, ast.Node) {
	b.Helper()
	vm := jsonnet.MakeVM()
	vm.Importer(&jsonnet.MemoryImporter{Data: map[string]jsonnet.Contents{
		"lytemplates.libsonnet": jsonnet.MakeContents("local data = " + v.data + "; " + rawLib),
	}})
	src := lyticsTemplate
	node, err := jsonnet.SnippetToAST("template", src)
	if err != nil {
		b.Fatal(err)
	}
	var decoded any
	if err := json.Unmarshal([]byte(lyticsPayload), &decoded); err != nil {
		b.Fatal(err)
	}
	v.setup(vm, lyticsPayload, decoded)
	if _, err := vm.Evaluate(node); err != nil {
		b.Fatal(err)
	}
	return vm, node
}

func BenchmarkJsonnetLytics(b *testing.B) {
	b.Run("Raw", func(b *testing.B) {
		vm, node := newRawVM(b, rawVariants[0])
		b.ReportAllocs()
		start := benchtest.CPUTime()
		for b.Loop() {
			rawVariants[0].setup(vm, lyticsPayload, nil)
			if _, err := vm.Evaluate(node); err != nil {
				b.Fatal(err)
			}
		}
		benchtest.ReportCPU(b, start)
	})
	b.Run("Render", func(b *testing.B) {
		tmpl, err := webhook.NewJsonnetTransformer(webhook.JsonnetOptions{}).Compile(lyticsTemplate)
		if err != nil {
			b.Fatal(err)
		}
		in := renderInput(lyticsPayload)
		ctx := context.Background()
		b.ReportAllocs()
		start := benchtest.CPUTime()
		for b.Loop() {
			if _, err := tmpl.Render(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
		benchtest.ReportCPU(b, start)
	})
}

// BenchmarkJsonnetLyticsParallel gives renders/s on every core: one VM per
// goroutine for raw, the shared Template for Render.
func BenchmarkJsonnetLyticsParallel(b *testing.B) {
	b.Run("Raw", func(b *testing.B) {
		b.ReportAllocs()
		start := benchtest.CPUTime()
		defer benchtest.ReportCPU(b, start)
		b.RunParallel(func(pb *testing.PB) {
			vm, node := newRawVM(b, rawVariants[0])
			for pb.Next() {
				rawVariants[0].setup(vm, lyticsPayload, nil)
				if _, err := vm.Evaluate(node); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("Render", func(b *testing.B) {
		tmpl, err := webhook.NewJsonnetTransformer(webhook.JsonnetOptions{}).Compile(lyticsTemplate)
		if err != nil {
			b.Fatal(err)
		}
		in := renderInput(lyticsPayload)
		ctx := context.Background()
		b.ReportAllocs()
		start := benchtest.CPUTime()
		defer benchtest.ReportCPU(b, start)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := tmpl.Render(ctx, in); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkJsonnetLyticsInsider compares, over the 1 KiB event, raw
// go-jsonnet with Render, which takes the fast path for this template,
// and with the sandbox alone (a template outside the fast path's subset
// that does the same work).
func BenchmarkJsonnetLyticsInsider(b *testing.B) {
	b.Run("Raw", func(b *testing.B) {
		vm, node := newRawVM(b, rawVariants[0])
		b.ReportAllocs()
		start := benchtest.CPUTime()
		for b.Loop() {
			rawVariants[0].setup(vm, lyticsInsiderPayload, nil)
			if _, err := vm.Evaluate(node); err != nil {
				b.Fatal(err)
			}
		}
		benchtest.ReportCPU(b, start)
	})
	render := func(name, src string, fast bool) {
		b.Run(name, func(b *testing.B) {
			tr := webhook.NewJsonnetTransformer(webhook.JsonnetOptions{})
			if got, reason, err := tr.FastPath(src); err != nil || got != fast {
				b.Fatalf("fast path %v (%s), %v", got, reason, err)
			}
			tmpl, err := tr.Compile(src)
			if err != nil {
				b.Fatal(err)
			}
			in := renderInput(lyticsInsiderPayload)
			ctx := context.Background()
			b.ReportAllocs()
			start := benchtest.CPUTime()
			for b.Loop() {
				if _, err := tmpl.Render(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
			benchtest.ReportCPU(b, start)
		})
	}
	render("Render", lyticsTemplate, true)
	// {} + self-free object keeps the output, but self puts it outside
	// the subset.
	render("RenderSandbox", lyticsTemplate+" + {assert self != null}", false)
}
