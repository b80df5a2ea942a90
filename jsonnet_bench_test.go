package webhook_test

import (
	"context"
	"encoding/json"
	"syscall"
	"testing"
	"time"

	jsonnet "github.com/google/go-jsonnet"
	"github.com/google/go-jsonnet/ast"

	webhook "github.com/hooklet/webhook"
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

// cpuTime returns the CPU time this process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the process CPU time per operation since start, a
// figure that other processes on a loaded machine disturb far less than
// wall time. It includes the garbage collector's work.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

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
		start := cpuTime()
		for b.Loop() {
			rawVariants[0].setup(vm, lyticsPayload, nil)
			if _, err := vm.Evaluate(node); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, start)
	})
	b.Run("Render", func(b *testing.B) {
		tmpl, err := webhook.NewJsonnetTransformer(webhook.JsonnetOptions{}).Compile(lyticsTemplate)
		if err != nil {
			b.Fatal(err)
		}
		in := renderInput(lyticsPayload)
		ctx := context.Background()
		b.ReportAllocs()
		start := cpuTime()
		for b.Loop() {
			if _, err := tmpl.Render(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, start)
	})
}

// BenchmarkJsonnetLyticsParallel gives renders/s on every core: one VM per
// goroutine for raw, the shared Template for Render.
func BenchmarkJsonnetLyticsParallel(b *testing.B) {
	b.Run("Raw", func(b *testing.B) {
		b.ReportAllocs()
		start := cpuTime()
		defer reportCPU(b, start)
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
		start := cpuTime()
		defer reportCPU(b, start)
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
