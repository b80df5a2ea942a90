package jsonnet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitTimeout bounds every wait of these tests.
const waitTimeout = 30 * time.Second

// lyticsTemplate is the example of Lytics' webhook templates documentation.
const lyticsTemplate = `local event = (import "lytemplates.libsonnet");
local eventDetails = event.get("segment_events", "")[0];
{ "users": [ { "identifiers": { "email": event.get("email", "") },
               "events": [ { "event_name": "lytics_trigger",
                             "timestamp": eventDetails["enter"] } ] } ] }`

// lyticsSettingsTemplate is a Lytics-style template that reads the
// endpoint's settings.
const lyticsSettingsTemplate = `local event = import "lytemplates.libsonnet";
local s = event.settings;
{
  api_key: s.api_key,
  list: std.get(s, "list", "default"),
  subscribers: [
    { email: event.get("email", ""), segments: [e.segment for e in event.get("segment_events", [])] },
  ],
}`

const lyticsPayload = `{"email":"ada@example.com","first_name":"Ada","score":3,"missing":null,
"segment_events":[{"segment":"vip","enter":"2026-01-02T03:04:05Z"},{"segment":"trial","enter":"2026-01-01T00:00:00Z"}],
"address":{"city":"London","lines":["1 Main St","Flat 2"]}}`

// input returns the test event with payload, for the test endpoint.
func input(payload string) Input {
	return Input{
		ID: "evt_1", Type: "user.entered", Tenant: "acme", Time: "2026-01-02T03:04:05.0000006Z",
		Attributes: `{"correlation_id":"c-1"}`, Payload: payload,
		Settings: `{"api_key":"k-123","list":"news"}`, EndpointID: "ep_1", EndpointURL: "https://example.com/hooks",
	}
}

// newSandbox returns a sandbox with opts, zero fields defaulted as the
// root package does.
func newSandbox(opts Options) *Sandbox {
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	if opts.MaxOutputBytes <= 0 {
		opts.MaxOutputBytes = 1 << 20
	}
	if opts.MaxStack <= 0 {
		opts.MaxStack = 500
	}
	if opts.MaxTemplateBytes <= 0 {
		opts.MaxTemplateBytes = 64 << 10
	}
	return New(opts)
}

// render compiles and evaluates src with a fresh sandbox and waits for
// every evaluation to end.
func render(t *testing.T, opts Options, src string, in Input) (Output, error) {
	t.Helper()
	p, err := newSandbox(opts).Compile(src)
	require.NoError(t, err)
	out, err := p.Evaluate(context.Background(), in)
	waitTemplate(t, p)
	return out, err
}

// waitTemplate waits, with a bound, for every evaluation of p.
func waitTemplate(t *testing.T, p *Program) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		p.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatal("template evaluation still running")
	}
}

func TestJsonnetRuntimeErrors(t *testing.T) {
	t.Parallel()
	// doubled binds s to a string of 2^19 characters, built by doubling.
	const doubled = "local d(s, n) = if n == 0 then s else d(s + s, n - 1); local s = d(\"x\", 13);\n"
	// small makes the size guards cheap to reach.
	small := Options{MaxOutputBytes: 1 << 14}
	tests := []struct {
		name      string
		template  string
		opts      Options
		line, col int
		msg       string
	}{
		{name: "MissingField", template: "local e = import \"hooklet.libsonnet\";\n{ a: e.data.nope }", line: 2, col: 6, msg: "Field does not exist: nope"},
		{name: "BadIndex", template: "local e = import \"hooklet.libsonnet\";\n{\n  a: e.get(\"segment_events\")[5] }", line: 3, col: 6, msg: "out of bounds"},
		{name: "IndexNull", template: "local e = import \"hooklet.libsonnet\";\n  e.get(\"nope\")[0]", line: 2, col: 3, msg: "non indexable"},
		{name: "Error", template: "if true then\n  error \"boom\" else 1", line: 2, col: 3, msg: "boom"},
		{name: "TypeError", template: "local x = 1;\n  x - \"a\"", line: 2, col: 3, msg: "Unexpected type string"},
		{name: "PlusTypeError", template: "local x = [1];\n x + {}", line: 2, col: 2, msg: "Unexpected"},
		{name: "ExtVar", template: "\n  std.extVar(\"secret\")", line: 2, col: 3, msg: "std.extVar is not available"},
		{name: "Native", template: "std.native(\"hooklet_tick\")()", line: 1, col: 1, msg: "std.native is not available"},
		{name: "Function", template: "function(x) x", msg: "manifest"},
		{name: "MaxStack", template: "local f(n) = f(n + 1);\nf(0)", opts: Options{MaxStack: 50}, line: 2, col: 1, msg: "max stack frames exceeded"},
		{name: "Range", template: "[1,\n  std.range(0, 1e9)]", line: 2, col: 3, msg: "std.range exceeds the limit of 1048576"},
		{name: "MakeArray", template: "std.makeArray(2e6, function(i) i)", line: 1, col: 1, msg: "std.makeArray exceeds"},
		{name: "Repeat", template: "std.repeat(\"ab\", 1e9)", line: 1, col: 1, msg: "std.repeat exceeds"},
		{name: "FormatWidth", template: "\"%1000000000d\" % 1", line: 1, col: 1, msg: "std.format: a field width"},
		{name: "FormatPrecision", template: "std.format(\"%.99999999f\", [1])", line: 1, col: 1, msg: "std.format: a field width"},
		{name: "FormatStar", template: "\"%*d\" % [1e9, 1]", line: 1, col: 1, msg: "std.format: a field width"},
		{name: "JoinFew", template: doubled + "std.join(\",\", [s, s, s])", opts: small, line: 2, col: 1, msg: "std.join exceeds"},
		{name: "JoinMany", template: doubled + "std.join(\",\", std.makeArray(20, function(i) s))", opts: small, line: 2, col: 1, msg: "std.join exceeds"},
		{name: "StrReplace", template: doubled + "std.strReplace(s, \"x\", \"yyy\")", opts: small, line: 2, col: 1, msg: "std.strReplace exceeds"},
		{name: "PlusString", template: "local f(s, n) = if n == 0 then s else f(s + s, n - 1);\nf(\"x\", 64)", opts: small, line: 2, col: 1, msg: "+: a string of 32768 elements exceeds the limit of 16384"},
		{name: "PlusArray", template: "local f(s, n) = if n == 0 then s else f(s + s, n - 1);\nf([1], 64)", opts: small, line: 2, col: 1, msg: "+: a array of 32768 elements exceeds the limit of 16384"},
		{name: "OutputString", template: "local f(s, n) = if n == 0 then s else f(s + s, n - 1);\nf(\"xx\", 10)", opts: Options{MaxOutputBytes: 1000}, line: 2, col: 1, msg: "exceeds the limit of 1000"},
		{name: "OutputJSON", template: "[std.repeat(\"x\", 600), std.repeat(\"y\", 600)]", opts: Options{MaxOutputBytes: 1000}, msg: "output of 1207 bytes exceeds the limit of 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// These errors are deterministic; a long timeout keeps a
			// loaded machine from turning them into timeouts.
			tt.opts.Timeout = time.Minute
			_, err := render(t, tt.opts, tt.template, input(lyticsPayload))
			require.Error(t, err)
			var te *Error
			require.ErrorAs(t, err, &te)
			require.Contains(t, te.Message, tt.msg)
			require.Equal(t, tt.line, te.Line, "line: %v", err)
			require.Equal(t, tt.col, te.Column, "column: %v", err)
		})
	}
}

// TestJsonnetRunaway checks that each kind of runaway template is cut off:
// Render returns in about the timeout, the evaluation goroutine ends soon
// after, and the template version stays disabled until it is changed.
func TestJsonnetRunaway(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	tests := []struct {
		name     string
		template string
		msg      string // error of the first render; "|" separates accepted ones
	}{
		{name: "TailRecursion", template: "local f(n) = f(n + 1) tailstrict; f(0)", msg: "time limit of 200ms"},
		{name: "Comprehension", template: "std.length([i * j for i in std.range(1, 1e6) for j in std.range(1, 1e6)])", msg: "time limit of 200ms"},
		{name: "Foldl", template: "std.foldl(function(a, i) std.foldl(function(b, j) b + j, std.range(1, 1e6), a), std.range(1, 1e6), 0)", msg: "time limit of 200ms"},
		{name: "SortCallback", template: "local r = std.range(1, 1e6); std.length(std.sort([std.foldl(function(a, b) a + b, r, 0) for _ in r]))", msg: "time limit of 200ms"},
		{name: "InfiniteRecursion", template: "local f(n) = 1 + f(n + 1); f(0)", msg: "max stack frames exceeded|time limit"},
		{name: "Range", template: "std.range(0, 1e9)", msg: "std.range exceeds|time limit"},
		{name: "Format", template: "\"%1000000000d\" % 1", msg: "std.format|time limit"},
		{name: "StringDoubling", template: "local f(s, n) = if n == 0 then s else f(s + s, n - 1); f(\"x\", 64)", msg: "+: a string|time limit"},
		{name: "StringDoublingStd", template: "local f(s, n) = if n == 0 then s else f(std.join(\"\", [s, s]), n - 1); f(\"x\", 64)", msg: "std.join exceeds|time limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := newSandbox(Options{Timeout: timeout})
			tmpl, err := tr.Compile(tt.template)
			require.NoError(t, err)
			start := time.Now()
			_, err = tmpl.Evaluate(context.Background(), input(lyticsPayload))
			elapsed := time.Since(start)
			var te *Error
			require.ErrorAs(t, err, &te)
			require.True(t, containsAny(te.Message, tt.msg), "message %q, want one of %q", te.Message, tt.msg)
			// Generous slack for a loaded machine; the point is that the
			// caller is not held for the runaway's whole run.
			require.Less(t, elapsed, timeout+3*time.Second)
			waitTemplate(t, tmpl)

			if !strings.Contains(te.Message, "time limit") {
				return // a deterministic error: nothing to disable
			}
			// Disabled: the next render fails at once, also through a
			// fresh Compile of the same text.
			again, err := tr.Compile(tt.template)
			require.NoError(t, err)
			start = time.Now()
			_, err2 := again.Evaluate(context.Background(), input(lyticsPayload))
			require.Less(t, time.Since(start), timeout)
			require.ErrorAs(t, err2, &te)
			require.Contains(t, te.Message, "disabled until it is changed")
			// A changed template runs.
			fixed, err := tr.Compile(`"fixed"`)
			require.NoError(t, err)
			r, err := fixed.Evaluate(context.Background(), input(lyticsPayload))
			require.NoError(t, err)
			require.Equal(t, "fixed", string(r.Body))
			waitTemplate(t, again)
		})
	}
}

func containsAny(s, alternatives string) bool {
	for _, a := range strings.Split(alternatives, "|") {
		if strings.Contains(s, a) {
			return true
		}
	}
	return false
}

func TestJsonnetContext(t *testing.T) {
	t.Parallel()
	tr := newSandbox(Options{Timeout: time.Minute})
	tmpl, err := tr.Compile("local f(n) = f(n + 1) tailstrict; f(0)")
	require.NoError(t, err)

	t.Run("AlreadyDone", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := tmpl.Evaluate(ctx, input(`{}`))
		require.ErrorIs(t, err, context.Canceled)
	})
	t.Run("EndsDuringRender", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := tmpl.Evaluate(ctx, input(`{}`))
		require.ErrorIs(t, err, context.DeadlineExceeded)
		var te *Error
		require.False(t, errors.As(err, &te))
		waitTemplate(t, tmpl)
	})
}

// TestJsonnetConcurrent renders one template from many goroutines with
// different events; run with -race it shows that the compiled program is
// shared safely and pooled VMs are not.
func TestJsonnetConcurrent(t *testing.T) {
	t.Parallel()
	tr := newSandbox(Options{Timeout: time.Minute})
	tmpl, err := tr.Compile(lyticsSettingsTemplate)
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 8*20)
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				email := fmt.Sprintf("u%d-%d@example.com", g, i)
				in := input(`{"email":"` + email + `"}`)
				r, err := tmpl.Evaluate(context.Background(), in)
				if err == nil && !strings.Contains(string(r.Body), email) {
					err = fmt.Errorf("body %s lacks %s", r.Body, email)
				}
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	waitTemplate(t, tmpl)
}

func TestCompileCaches(t *testing.T) {
	t.Parallel()
	sb := newSandbox(Options{})
	a, err := sb.Compile(lyticsTemplate)
	require.NoError(t, err)
	b, err := sb.Compile(lyticsTemplate)
	require.NoError(t, err)
	require.Same(t, a, b)
	c, err := sb.Compile(lyticsSettingsTemplate)
	require.NoError(t, err)
	require.NotSame(t, a, c)
}

// TestThisFile checks that std.thisFile names the template, as its error
// positions do, and not the sandbox's prelude.
func TestThisFile(t *testing.T) {
	t.Parallel()
	for _, src := range []string{
		`std.thisFile`,
		`local f() = std.thisFile; f()`,
		`{f: std.thisFile}.f`,
		`local e = import "hooklet.libsonnet"; [std.thisFile, e.id][0]`,
	} {
		out, err := render(t, Options{Timeout: time.Minute}, src, input(`{}`))
		require.NoError(t, err, src)
		require.Equal(t, KindString, out.Kind, src)
		require.Equal(t, "template", string(out.Body), src)
	}
	_, err := render(t, Options{Timeout: time.Minute}, "local x = std.thisFile;\n  error x", input(`{}`))
	require.EqualError(t, err, "template:2:3: template")
}
