package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
)

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

func renderInput(payload string) *webhook.RenderInput {
	return &webhook.RenderInput{
		Event: &webhook.Event{
			ID: "evt_1", Type: "user.entered", Tenant: "acme",
			Time:       time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC),
			Payload:    json.RawMessage(payload),
			Attributes: map[string]string{"correlation_id": "c-1"},
		},
		Endpoint: &webhook.Endpoint{
			ID: "ep_1", URL: "https://example.com/hooks",
			Settings: json.RawMessage(`{"api_key":"k-123","list":"news"}`),
		},
	}
}

// render compiles and renders src with a fresh transformer and waits for
// every evaluation to end.
func render(t *testing.T, opts webhook.JsonnetOptions, src string, in *webhook.RenderInput) (webhook.Rendered, error) {
	t.Helper()
	tmpl, err := webhook.NewJsonnetTransformer(opts).Compile(src)
	require.NoError(t, err)
	r, err := tmpl.Render(context.Background(), in)
	waitTemplate(t, tmpl)
	return r, err
}

// waitTemplate waits, with a bound, for every evaluation of tmpl.
func waitTemplate(t *testing.T, tmpl webhook.Template) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		webhook.WaitTemplate(tmpl)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatal("template evaluation still running")
	}
}

func TestJsonnetRender(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		template    string
		contentType string // endpoint's
		payload     string
		wantBody    string
		wantType    string
		wantSkip    bool
	}{
		{name: "LyticsExample", template: lyticsTemplate,
			wantBody: `{"users":[{"events":[{"event_name":"lytics_trigger","timestamp":"2026-01-02T03:04:05Z"}],"identifiers":{"email":"ada@example.com"}}]}`,
			wantType: "application/json"},
		{name: "LyticsSettings", template: lyticsSettingsTemplate,
			wantBody: `{"api_key":"k-123","list":"news","subscribers":[{"email":"ada@example.com","segments":["vip","trial"]}]}`,
			wantType: "application/json"},
		{name: "Hooklet", template: `local e = import "hooklet.libsonnet"; [e.id, e.type, e.time, e.tenant, e.attributes, e.endpoint]`,
			wantBody: `["evt_1","user.entered","2026-01-02T03:04:05.0000006Z","acme",{"correlation_id":"c-1"},{"id":"ep_1","url":"https://example.com/hooks"}]`,
			wantType: "application/json"},
		{name: "GetDefaults", template: `local e = import "hooklet.libsonnet"; [e.get("first_name"), e.get("nope", "d"), e.get("missing", "m"), e.get("nope")]`,
			wantBody: `["Ada","d","m",null]`, wantType: "application/json"},
		{name: "GetOnNonObject", template: `(import "hooklet.libsonnet").get("a", 7)`, payload: `[1]`,
			wantBody: `7`, wantType: "application/json"},
		{name: "Path", template: `local e = import "hooklet.libsonnet";
[e.path("address.city"), e.path("address.lines.1"), e.path("address.lines.9", "none"), e.path("address.zip.code", 0), e.path(["segment_events", 0, "segment"]), e.path("email.x", "d")]`,
			wantBody: `["London","Flat 2","none",0,"vip","d"]`, wantType: "application/json"},
		{name: "Data", template: `(import "hooklet.libsonnet").data.score * 2`, wantBody: `6`, wantType: "application/json"},
		{name: "Array", template: `[1, "two", null]`, wantBody: `[1,"two",null]`, wantType: "application/json"},
		{name: "StringDefaultType", template: `"email=" + (import "hooklet.libsonnet").get("email")`,
			wantBody: `email=ada@example.com`, wantType: "text/plain; charset=utf-8"},
		{name: "StringEndpointType", template: `std.join("\n", [std.manifestJsonMinified({n: n}) for n in [1, 2]]) + "\n"`,
			contentType: "application/x-ndjson", wantBody: "{\"n\":1}\n{\"n\":2}\n", wantType: "application/x-ndjson"},
		{name: "XML", template: `local e = import "hooklet.libsonnet"; std.manifestXmlJsonml(["user", {email: e.get("email")}])`,
			contentType: "application/xml", wantBody: `<user email="ada@example.com"></user>`, wantType: "application/xml"},
		{name: "NullSkips", template: `local e = import "hooklet.libsonnet"; if e.get("score") > 5 then {} else null`, wantSkip: true},
		{name: "StdStillWorks", template: `{f: "%05d|%-3s|%.2f" % [42, "a", 1.5], r: std.repeat("ab", 2), g: std.range(1, 3), m: std.makeArray(2, function(i) i), s: std.strReplace("aXb", "X", "--"), fl: std.flattenArrays([[1], [2]]), l: std.lines(["a"]), p: {a: 1} + {b: 2}}`,
			wantBody: `{"f":"00042|a  |1.50","fl":[1,2],"g":[1,2,3],"l":"a\n","m":[0,1],"p":{"a":1,"b":2},"r":"abab","s":"a--b"}`, wantType: "application/json"},
		{name: "ShadowStd", template: `local std = {x: 1}; std.x`, wantBody: `1`, wantType: "application/json"},
		{name: "PlusSuper", template: `{a: {b: 1}} + {a+: {c: 2}}`, wantBody: `{"a":{"b":1,"c":2}}`, wantType: "application/json"},
		{name: "Recursion", template: `local fib(n) = if n < 2 then n else fib(n - 1) + fib(n - 2); fib(15)`, wantBody: `610`, wantType: "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := renderInput(cmpOr(tt.payload, lyticsPayload))
			in.Endpoint.ContentType = tt.contentType
			r, err := render(t, webhook.JsonnetOptions{Timeout: time.Minute}, tt.template, in)
			require.NoError(t, err)
			require.Equal(t, tt.wantSkip, r.Skip)
			require.Equal(t, tt.wantBody, string(r.Body))
			require.Equal(t, tt.wantType, r.ContentType)
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestJsonnetRenderUnsetFields(t *testing.T) {
	t.Parallel()
	in := &webhook.RenderInput{Event: &webhook.Event{Type: "t", Payload: json.RawMessage(`{}`)}, Endpoint: &webhook.Endpoint{ID: "ep"}}
	r, err := render(t, webhook.JsonnetOptions{}, `local e = import "hooklet.libsonnet"; [e.settings, e.attributes, e.time, e.tenant]`, in)
	require.NoError(t, err)
	require.JSONEq(t, `[{}, {}, "", ""]`, string(r.Body))
}

func TestJsonnetCompileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		template  string
		line, col int
		msg       string
	}{
		{name: "Syntax", template: "{\n  a: 1,\n  b: }", line: 3, col: 6, msg: "Unexpected"},
		{name: "UnknownVariable", template: "{\n  a: nope }", line: 2, col: 6, msg: "Unknown variable: nope"},
		{name: "FileImport", template: "local x = 1;\n  import \"secrets.libsonnet\"", line: 2, col: 3, msg: `import "secrets.libsonnet" is not allowed`},
		{name: "AbsoluteImport", template: `import "/etc/passwd"`, line: 1, col: 1, msg: "is not allowed"},
		{name: "ImportStr", template: "[\n importstr \"/etc/passwd\"]", line: 2, col: 2, msg: "importstr"},
		{name: "ImportBin", template: "[1,\n  importbin \"x\"]", line: 2, col: 3, msg: "importbin"},
		{name: "ReservedLocal", template: "local a = 1;\nlocal __hooklet_tick = 2; a", line: 2, col: 7, msg: "reserved prefix"},
		{name: "ReservedParam", template: "local f(__hooklet_x) = 1; f(2)", line: 1, col: 9, msg: "reserved prefix"},
		{name: "ReservedObjectLocal", template: "{\n  local __hooklet_lib = 1, a: 2 }", line: 2, col: 9, msg: "reserved prefix"},
		{name: "TooLarge", template: strings.Repeat(" ", webhook.JsonnetMaxTemplateBytes+1) + "1", msg: "exceeds the limit"},
	}
	tr := webhook.NewJsonnetTransformer(webhook.JsonnetOptions{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tr.Compile(tt.template)
			require.Error(t, err)
			require.ErrorIs(t, err, webhook.ErrInvalidTemplate)
			var te *webhook.TemplateError
			require.ErrorAs(t, err, &te)
			require.Equal(t, tt.line, te.Line, "line: %v", err)
			require.Equal(t, tt.col, te.Column, "column: %v", err)
			require.Contains(t, te.Message, tt.msg)
		})
	}
}

func TestJsonnetRuntimeErrors(t *testing.T) {
	t.Parallel()
	// doubled binds s to a string of 2^19 characters, built by doubling.
	const doubled = "local d(s, n) = if n == 0 then s else d(s + s, n - 1); local s = d(\"x\", 13);\n"
	// small makes the size guards cheap to reach.
	small := webhook.JsonnetOptions{MaxOutputBytes: 1 << 14}
	tests := []struct {
		name      string
		template  string
		opts      webhook.JsonnetOptions
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
		{name: "MaxStack", template: "local f(n) = f(n + 1);\nf(0)", opts: webhook.JsonnetOptions{MaxStack: 50}, line: 2, col: 1, msg: "max stack frames exceeded"},
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
		{name: "OutputString", template: "local f(s, n) = if n == 0 then s else f(s + s, n - 1);\nf(\"xx\", 10)", opts: webhook.JsonnetOptions{MaxOutputBytes: 1000}, line: 2, col: 1, msg: "exceeds the limit of 1000"},
		{name: "OutputJSON", template: "[std.repeat(\"x\", 600), std.repeat(\"y\", 600)]", opts: webhook.JsonnetOptions{MaxOutputBytes: 1000}, msg: "output of 1207 bytes exceeds the limit of 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// These errors are deterministic; a long timeout keeps a
			// loaded machine from turning them into timeouts.
			tt.opts.Timeout = time.Minute
			_, err := render(t, tt.opts, tt.template, renderInput(lyticsPayload))
			require.Error(t, err)
			require.ErrorIs(t, err, webhook.ErrInvalidTemplate)
			var te *webhook.TemplateError
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
			tr := webhook.NewJsonnetTransformer(webhook.JsonnetOptions{Timeout: timeout})
			tmpl, err := tr.Compile(tt.template)
			require.NoError(t, err)
			start := time.Now()
			_, err = tmpl.Render(context.Background(), renderInput(lyticsPayload))
			elapsed := time.Since(start)
			var te *webhook.TemplateError
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
			_, err2 := again.Render(context.Background(), renderInput(lyticsPayload))
			require.Less(t, time.Since(start), timeout)
			require.ErrorAs(t, err2, &te)
			require.Contains(t, te.Message, "disabled until it is changed")
			// A changed template runs.
			fixed, err := tr.Compile(`"fixed"`)
			require.NoError(t, err)
			r, err := fixed.Render(context.Background(), renderInput(lyticsPayload))
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
	tr := webhook.NewJsonnetTransformer(webhook.JsonnetOptions{Timeout: time.Minute})
	tmpl, err := tr.Compile("local f(n) = f(n + 1) tailstrict; f(0)")
	require.NoError(t, err)

	t.Run("AlreadyDone", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := tmpl.Render(ctx, renderInput(`{}`))
		require.ErrorIs(t, err, context.Canceled)
	})
	t.Run("EndsDuringRender", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := tmpl.Render(ctx, renderInput(`{}`))
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.NotErrorIs(t, err, webhook.ErrInvalidTemplate)
		waitTemplate(t, tmpl)
	})
}

// TestJsonnetConcurrent renders one template from many goroutines with
// different events; run with -race it shows that the compiled program is
// shared safely and pooled VMs are not.
func TestJsonnetConcurrent(t *testing.T) {
	t.Parallel()
	tr := webhook.NewJsonnetTransformer(webhook.JsonnetOptions{Timeout: time.Minute})
	tmpl, err := tr.Compile(lyticsSettingsTemplate)
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 8*20)
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				email := fmt.Sprintf("u%d-%d@example.com", g, i)
				in := renderInput(`{"email":"` + email + `"}`)
				r, err := tmpl.Render(context.Background(), in)
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

func TestJsonnetCompileCaches(t *testing.T) {
	t.Parallel()
	tr := webhook.NewJsonnetTransformer(webhook.JsonnetOptions{})
	a, err := tr.Compile(lyticsTemplate)
	require.NoError(t, err)
	b, err := tr.Compile(lyticsTemplate)
	require.NoError(t, err)
	require.Same(t, a, b)
}

func TestFormatMaxWidth(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{
		"": 0, "abc": 0, "%d": 0, "%%": 0, "%5d": 5, "%-12s %3d": 12, "%.7f": 7, "%08.3f": 8,
		"%(name)20s": 20, "%*d": -1, "%.*f": -1, "%99999999999999d": 1<<30 + 0, "50%": 0,
	} {
		got := webhook.FormatMaxWidth(in)
		if in == "%99999999999999d" {
			require.GreaterOrEqual(t, got, 1<<30, in)
			continue
		}
		require.Equal(t, want, got, in)
	}
}

func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		lyticsTemplate, lyticsSettingsTemplate, `null`, `"s"`, `[1, 2]`, `{a: 1}`,
		`local e = import "hooklet.libsonnet"; e.path("a.b.0", 1)`, `std.range(0, 1e9)`,
		`local f(n) = f(n + 1); f(0)`, `"%5d" % 3`, `import "x"`, `{`, `[x for x in std.range(1, 3)]`,
		`{[k]: 1 for k in ["a"]}`, `assert 1 == 2 : "no"; 1`, `std.parseJson("[1")`, `{a: 1}.a`,
		`local o = {a: 1, b: self.a}; o + {a: 2}`, `std.objectFields(std)`, `std.thisFile`, `$`, `{x: $.y, y: 1}`,
	} {
		f.Add(s, []byte(lyticsPayload))
	}
	f.Add(`(import "hooklet.libsonnet").data`, []byte(`{"a":[1,{"b":null}]}`))
	tr := webhook.NewJsonnetTransformer(webhook.JsonnetOptions{Timeout: 100 * time.Millisecond, MaxOutputBytes: 1 << 16})
	f.Fuzz(func(t *testing.T, src string, payload []byte) {
		tmpl, err := tr.Compile(src)
		if err != nil {
			var te *webhook.TemplateError
			if !errors.As(err, &te) {
				t.Fatalf("compile error is not a *TemplateError: %v", err)
			}
			return
		}
		if !json.Valid(payload) {
			payload = []byte(`{}`)
		}
		r, err := tmpl.Render(context.Background(), renderInput(string(payload)))
		waitTemplate(t, tmpl)
		if err != nil {
			var te *webhook.TemplateError
			if !errors.As(err, &te) {
				t.Fatalf("render error is not a *TemplateError: %v", err)
			}
			if strings.Contains(te.Message, "internal error") {
				t.Fatalf("render crashed: %v", err)
			}
			return
		}
		if !r.Skip && r.ContentType == "application/json" && !json.Valid(r.Body) {
			t.Fatalf("invalid JSON body %q", r.Body)
		}
	})
}
