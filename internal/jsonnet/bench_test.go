package jsonnet

import (
	"context"
	"encoding/json"
	"testing"

	gojsonnet "github.com/google/go-jsonnet"
	"github.com/google/go-jsonnet/ast"

	"github.com/hooklet/webhook/internal/benchtest"
)

// The benchmarks of this file compare raw go-jsonnet evaluation of the
// Lytics-style template with the sandbox's Evaluate of the same template
// and event. "Raw" is what a careful host would write by hand: the
// template parsed once, one VM reused, the helper library served from
// memory, the event handed over as a string and parsed with
// std.parseJson. BenchmarkJsonnetEvent measures the other ways of handing
// the event to a VM, the choice behind the sandbox's top-level arguments.
//
//	go test -run '^$' -bench . -benchmem -count 6 ./internal/jsonnet | benchstat -

// rawLib is a minimal helper library for the raw evaluations; data is
// bound by each variant's prelude.
const rawLib = `{
  get(key, default=null):: local v = std.get(data, key, null); if v == null then default else v,
}`

// rawVariant describes one way of handing the event to a raw VM.
type rawVariant struct {
	name  string
	data  string // jsonnet expression for the payload inside the library
	setup func(vm *gojsonnet.VM, payload string, decoded any)
}

var rawVariants = []rawVariant{
	{name: "ExtVarParseJSON", data: `std.parseJson(std.extVar("payload"))`,
		setup: func(vm *gojsonnet.VM, p string, _ any) { vm.ExtVar("payload", p) }},
	{name: "ExtCode", data: `std.extVar("payload")`,
		setup: func(vm *gojsonnet.VM, p string, _ any) { vm.ExtCode("payload", p) }},
	{name: "Native", data: `std.native("payload")()`,
		setup: func(vm *gojsonnet.VM, p string, _ any) {
			// The event is decoded per render, as it would be per event.
			var d any
			_ = json.Unmarshal([]byte(p), &d)
			vm.NativeFunction(&gojsonnet.NativeFunction{Name: "payload", Func: func([]any) (any, error) { return d, nil }})
		}},
}

// rawTLAVariants hand the event as a top-level argument; the template is
// wrapped in a function of it.
var rawTLAVariants = []rawVariant{
	{name: "TLAVarParseJSON", data: `std.parseJson(payload)`,
		setup: func(vm *gojsonnet.VM, p string, _ any) { vm.TLAVar("payload", p) }},
	{name: "TLACode", data: `payload`,
		setup: func(vm *gojsonnet.VM, p string, _ any) { vm.TLACode("payload", p) }},
}

// newRawVM returns a VM ready to evaluate the Lytics template with the
// event handed over as v says, and the parsed program.
func newRawVM(b *testing.B, v rawVariant, tla bool) (*gojsonnet.VM, ast.Node) {
	b.Helper()
	vm := gojsonnet.MakeVM()
	vm.Importer(&gojsonnet.MemoryImporter{Data: map[string]gojsonnet.Contents{
		"lytemplates.libsonnet": gojsonnet.MakeContents("local data = " + v.data + "; " + rawLib),
	}})
	src := lyticsTemplate
	if tla {
		vm.Importer(&gojsonnet.MemoryImporter{Data: map[string]gojsonnet.Contents{
			"lytemplates.libsonnet": gojsonnet.MakeContents("function(data) " + rawLib),
		}})
		src = "function(payload) local data = " + v.data + ";\n" +
			`local event = (import "lytemplates.libsonnet")(data);` + "\n" +
			lyticsTemplate[len(`local event = (import "lytemplates.libsonnet");`):]
	}
	node, err := gojsonnet.SnippetToAST("template", src)
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

// BenchmarkEvaluate measures the sandbox against raw go-jsonnet on the
// Lytics template.
func BenchmarkEvaluate(b *testing.B) {
	b.Run("Raw", func(b *testing.B) {
		vm, node := newRawVM(b, rawVariants[0], false)
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
	run := func(name string, eval func(p *Program, ctx context.Context, in Input) (Output, error)) {
		b.Run(name, func(b *testing.B) {
			p, err := newSandbox(Options{}).Compile(lyticsTemplate)
			if err != nil {
				b.Fatal(err)
			}
			in := input(lyticsPayload)
			ctx := context.Background()
			b.ReportAllocs()
			start := benchtest.CPUTime()
			for b.Loop() {
				if _, err := eval(p, ctx, in); err != nil {
					b.Fatal(err)
				}
			}
			benchtest.ReportCPU(b, start)
		})
	}
	// Evaluate takes the fast path for this template; SandboxOnly is
	// what a template outside its subset costs.
	run("Sandbox", (*Program).Evaluate)
	run("SandboxOnly", (*Program).evaluateSandbox)
}

// BenchmarkJsonnetEvent measures the ways of handing the event to a VM.
func BenchmarkJsonnetEvent(b *testing.B) {
	run := func(v rawVariant, tla bool) {
		b.Run(v.name, func(b *testing.B) {
			vm, node := newRawVM(b, v, tla)
			var decoded any
			if err := json.Unmarshal([]byte(lyticsPayload), &decoded); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			start := benchtest.CPUTime()
			for b.Loop() {
				v.setup(vm, lyticsPayload, decoded)
				if _, err := vm.Evaluate(node); err != nil {
					b.Fatal(err)
				}
			}
			benchtest.ReportCPU(b, start)
		})
	}
	for _, v := range rawVariants {
		run(v, false)
	}
	for _, v := range rawTLAVariants {
		run(v, true)
	}
}

// BenchmarkEvaluatePlus measures the guard of + on a template that adds
// in a recursion, against raw go-jsonnet.
func BenchmarkEvaluatePlus(b *testing.B) {
	const fib = `local fib(n) = if n < 2 then n else fib(n - 1) + fib(n - 2); fib(15)`
	b.Run("Raw", func(b *testing.B) {
		vm := gojsonnet.MakeVM()
		node, err := gojsonnet.SnippetToAST("template", fib)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		start := benchtest.CPUTime()
		for b.Loop() {
			if _, err := vm.Evaluate(node); err != nil {
				b.Fatal(err)
			}
		}
		benchtest.ReportCPU(b, start)
	})
	b.Run("Sandbox", func(b *testing.B) {
		p, err := newSandbox(Options{}).Compile(fib)
		if err != nil {
			b.Fatal(err)
		}
		in := input(lyticsPayload)
		ctx := context.Background()
		b.ReportAllocs()
		start := benchtest.CPUTime()
		for b.Loop() {
			if _, err := p.Evaluate(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
		benchtest.ReportCPU(b, start)
	})
}
