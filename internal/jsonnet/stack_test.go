package jsonnet

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	gojsonnet "github.com/google/go-jsonnet"
	"github.com/stretchr/testify/require"
)

// recursions are templates that recurse N levels deep through each kind of
// guarded operation, and the deepest N at which go-jsonnet evaluates them
// with its default MaxStack of 500 in these tests (about 497 for one frame
// a level, 248 for two).
var recursions = []struct {
	name     string
	template string
	depths   []int
}{
	{name: "Call", template: `local f(n) = if n == 0 then 0 else f(n - 1); f(N)`, depths: []int{100, 400}},
	{name: "Plus", template: `local f(n) = if n == 0 then 0 else 1 + f(n - 1); f(N)`, depths: []int{100, 400}},
	{name: "PlusString", template: `local f(n) = if n == 0 then "" else "x" + f(n - 1); std.length(f(N))`, depths: []int{100, 400}},
	{name: "ObjectExtension", template: `local f(n) = if n == 0 then {} else {["a" + n]: n} + f(n - 1); std.length(f(N))`, depths: []int{100, 400}},
	{name: "ObjectPlusSuper", template: `local f(n) = if n == 0 then {a: []} else f(n - 1) + {a+: [n]}; std.length(f(N).a)`, depths: []int{100, 400}},
	{name: "StdJoin", template: `local f(n) = if n == 0 then "" else std.join("", ["x", f(n - 1)]); std.length(f(N))`, depths: []int{100, 200}},
	{name: "Local", template: `local f(n) = if n == 0 then 0 else local r = f(n - 1); r + 1; f(N)`, depths: []int{100, 200}},
	{name: "StdFormat", template: `local f(n) = if n == 0 then "" else "%s." % f(n - 1); std.length(f(N))`, depths: []int{50}},
}

// TestStackDepthMatchesGoJsonnet checks that the guards cost no stack
// depth a template author can see: whatever recursion go-jsonnet
// evaluates with a MaxStack of 500, the sandbox evaluates with the same
// MaxStack, to the same value.
func TestStackDepthMatchesGoJsonnet(t *testing.T) {
	t.Parallel()
	sb := newSandbox(Options{Timeout: time.Minute, MaxStack: 500})
	for _, r := range recursions {
		for _, depth := range r.depths {
			t.Run(r.name+strconv.Itoa(depth), func(t *testing.T) {
				t.Parallel()
				src := strings.ReplaceAll(r.template, "N", strconv.Itoa(depth))
				vm := gojsonnet.MakeVM()
				vm.MaxStack = 500
				want, err := vm.EvaluateAnonymousSnippet("raw", src)
				require.NoError(t, err, "go-jsonnet")

				p, err := sb.Compile(src)
				require.NoError(t, err)
				out, err := p.Evaluate(context.Background(), input(`{}`))
				require.NoError(t, err, "sandbox")
				require.JSONEq(t, want, string(out.Body))
			})
		}
	}
}

// TestStackLimit checks that the limit still holds: an endless recursion
// through each kind of guarded operation ends with "max stack frames
// exceeded", at the default and at the largest MaxStack the root package
// allows, without exhausting the goroutine's stack.
func TestStackLimit(t *testing.T) {
	t.Parallel()
	endless := map[string]string{
		"Call":       `local f(n) = f(n + 1); f(0)`,
		"Plus":       `local f(n) = 1 + f(n + 1); f(0)`,
		"PlusString": `local f(n) = "x" + f(n + 1); f(0)`,
		"StdJoin":    `local f(n) = std.join("", ["x", f(n + 1)]); f(0)`,
		"StdFormat":  `local f(n) = "%s." % f(n + 1); f(0)`,
	}
	for _, maxStack := range []int{500, 10000} {
		sb := newSandbox(Options{Timeout: time.Minute, MaxStack: maxStack})
		for name, src := range endless {
			t.Run(name+strconv.Itoa(maxStack), func(t *testing.T) {
				t.Parallel()
				p, err := sb.Compile(src)
				require.NoError(t, err)
				_, err = p.Evaluate(context.Background(), input(`{}`))
				var e *Error
				require.ErrorAs(t, err, &e)
				require.Equal(t, "max stack frames exceeded", e.Message)
				require.Equal(t, 1, e.Line)
				waitTemplate(t, p)
			})
		}
	}
}
