package webhook_test

import (
	"context"
	"encoding/json"
	"strings"
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

// render compiles and renders src with a fresh transformer.
func render(t *testing.T, opts webhook.JsonnetOptions, src string, in *webhook.RenderInput) (webhook.Rendered, error) {
	t.Helper()
	tmpl, err := webhook.NewJsonnetTransformer(opts).Compile(src)
	require.NoError(t, err)
	return tmpl.Render(context.Background(), in)
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
		{name: "ThisFile", template: `local e = import "hooklet.libsonnet"; {file: std.thisFile, endpoint: e.endpoint.id}`,
			wantBody: `{"endpoint":"ep_1","file":"template"}`, wantType: "application/json"},
		{name: "DeepRecursion", template: `local f(n) = if n == 0 then 0 else 1 + f(n - 1); f(400)`, wantBody: `400`, wantType: "application/json"},
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

func TestJsonnetCompileCaches(t *testing.T) {
	t.Parallel()
	tr := webhook.NewJsonnetTransformer(webhook.JsonnetOptions{})
	a, err := tr.Compile(lyticsTemplate)
	require.NoError(t, err)
	b, err := tr.Compile(lyticsTemplate)
	require.NoError(t, err)
	require.Same(t, a, b)
}

// TestJsonnetRenderErrors checks that every failure of a render reaches
// the caller as the sandbox reports it: a *TemplateError with the
// template's line and column, or ctx's own error.
func TestJsonnetRenderErrors(t *testing.T) {
	t.Parallel()

	t.Run("Runtime", func(t *testing.T) {
		t.Parallel()
		_, err := render(t, webhook.JsonnetOptions{Timeout: time.Minute}, "local e = import \"hooklet.libsonnet\";\n{ a: e.data.nope }", renderInput(lyticsPayload))
		require.ErrorIs(t, err, webhook.ErrInvalidTemplate)
		var te *webhook.TemplateError
		require.ErrorAs(t, err, &te)
		require.Equal(t, 2, te.Line)
		require.Equal(t, 6, te.Column)
		require.Equal(t, "Field does not exist: nope", te.Message)
		require.Equal(t, "webhook: template:2:6: Field does not exist: nope", err.Error())
	})
	t.Run("Output", func(t *testing.T) {
		t.Parallel()
		_, err := render(t, webhook.JsonnetOptions{MaxOutputBytes: 1000}, `[std.repeat("x", 600), std.repeat("y", 600)]`, renderInput(lyticsPayload))
		require.ErrorIs(t, err, webhook.ErrInvalidTemplate)
		require.EqualError(t, err, "webhook: template: output of 1207 bytes exceeds the limit of 1000")
	})
	t.Run("ContextDone", func(t *testing.T) {
		t.Parallel()
		tmpl, err := webhook.NewJsonnetTransformer(webhook.JsonnetOptions{}).Compile(`{}`)
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err = tmpl.Render(ctx, renderInput(`{}`))
		require.ErrorIs(t, err, context.Canceled)
		require.NotErrorIs(t, err, webhook.ErrInvalidTemplate)
	})
}

func TestJsonnetFastPath(t *testing.T) {
	t.Parallel()
	tr := webhook.NewJsonnetTransformer(webhook.JsonnetOptions{})
	for _, src := range []string{lyticsTemplate, lyticsSettingsTemplate} {
		fast, reason, err := tr.FastPath(src)
		require.NoError(t, err)
		require.True(t, fast, reason)
		require.Empty(t, reason)
	}
	fast, reason, err := tr.FastPath("{\n  a: 1, b: self.a }")
	require.NoError(t, err)
	require.False(t, fast)
	require.Equal(t, "2:12: self and super", reason)

	_, _, err = tr.FastPath("{ a: }")
	var te *webhook.TemplateError
	require.ErrorAs(t, err, &te)
	require.Equal(t, 1, te.Line)
}

func TestJsonnetReadsEndpoint(t *testing.T) {
	t.Parallel()
	tr := webhook.NewJsonnetTransformer(webhook.JsonnetOptions{})
	for src, want := range map[string]bool{
		lyticsTemplate:         false,
		lyticsSettingsTemplate: true,
		`local e = import "hooklet.libsonnet"; {to: e.endpoint.url}`: true,
		`{a: 1, b: self.a}`: false,
	} {
		tmpl, err := tr.Compile(src)
		require.NoError(t, err)
		er, ok := tmpl.(webhook.EndpointReader)
		require.True(t, ok)
		require.Equal(t, want, er.ReadsEndpoint(), src)
	}
}

// TestJsonnetFastPathRenders checks that a template on the fast path
// renders as the sandbox does, through the public surface: the same
// bodies, content types and errors with their positions.
func TestJsonnetFastPathRenders(t *testing.T) {
	t.Parallel()
	tr := webhook.NewJsonnetTransformer(webhook.JsonnetOptions{})
	src := "local e = import \"hooklet.libsonnet\";\nif e.get(\"score\") > 2 then { email: e.get(\"email\"), n: e.get(\"score\") / e.get(\"zero\", 0) } else \"low\""
	fast, _, err := tr.FastPath(src)
	require.NoError(t, err)
	require.True(t, fast)
	tmpl, err := tr.Compile(src)
	require.NoError(t, err)

	r, err := tmpl.Render(context.Background(), renderInput(`{"score":1}`))
	require.NoError(t, err)
	require.Equal(t, "low", string(r.Body))
	require.Equal(t, "text/plain; charset=utf-8", r.ContentType)

	_, err = tmpl.Render(context.Background(), renderInput(lyticsPayload))
	var te *webhook.TemplateError
	require.ErrorAs(t, err, &te)
	require.Equal(t, 2, te.Line)
	require.Equal(t, 56, te.Column)
	require.Contains(t, te.Message, "Division by zero")
}
