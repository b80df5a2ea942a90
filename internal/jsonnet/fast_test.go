package jsonnet

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fastCorpus holds templates written to cover each construct of the fast
// path's subset, and the edges where it must agree with go-jsonnet. The
// differential test adds the templates of the repository's tests and
// docs.
var fastCorpus = []string{
	// Literals and numbers.
	`null`, `true`, `false`, `"s"`, `""`, `0`, `-0`, `1e21`, `1e20`, `0.1`, `1/3`, `-1.5e-7`, `123456789012345678901`,
	`[1e300 * 10, 2e-308 / 10]`, `[0.1 + 0.2, 1 - 0.9, 3 * 1.1, 7 / 2, -(0), +4]`, `1e400 * 0`,
	// Strings and escaping.
	`"quote \" backslash \\ tab \t nl \n cr \r bs \b ff \f nul \u0000 del \u007f c1 \u0085 \u009f nbsp \u00a0 é ∑ 😀"`,
	`["\u0001", "\u001f", "\u2028", "\ud83d\ude00", "\ud800"]`,
	`{"k\n\"": "v", "é": 1, "": 0}`,
	`"a" + 1 + null + true + [1, "x"] + {b: [ ]} + {}`, `1 + "a"`, `[1] + [2, [3]]`, `"s" + 1.5 + 1e21 + -0`,
	// Locals, laziness, conditionals.
	`local a = 1, b = a + 1; local c = b * 2; [a, b, c]`,
	`local unused = error "never"; 1`,
	`local e = import "hooklet.libsonnet"; local bad = e.data.nope.deeper; {ok: e.get("email")}`,
	`local x = [error "a", 2]; std.length(x)`,
	`if (import "hooklet.libsonnet").get("score", 0) > 2 then "big" else "small"`,
	`local e = import "hooklet.libsonnet"; if e.get("missing") == null then {m: null} else {m: e.get("missing")}`,
	`if 1 == 1 then error "boom" else 1`, `assert 1 == 1 : "no"; {a: 1}`, `assert 1 == 2 : "no"; {a: 1}`,
	`local e = import "hooklet.libsonnet"; e.get("score") > 1 && e.get("email") != "" || false`,
	`[1 < 2, 2 <= 2, "a" < "b", "é" > "z", 3 >= 4, "abc" < "abd", !true, 1 == 1.0, "1" == 1, [1, [2]] == [1, [2]], {a: 1} == {a: 1, b:: 2}, null == null, {a: 1} != {a: 2}]`,
	`[1, 2] < [1, 3]`, `{} < {}`, `function(x) x`, `local f = function(x) x; f == f`,
	// Objects.
	`{b: 1, a: 2, c: {z: [], y: {}}}`,
	`{a: 1, b:: 2, c::: 3}`, `{a: 1, b:: 2}.b`, `{a: 1} + {b: 2}`, `{a: 1, h:: 1} + {a:: 2, h: 3}`,
	`{a: {b: 1}} + {a+: {c: 2}}`, `{a: [1]} + {a+: [2]}`, `{a: "x"} + {a+: 1}`, `{a+: 1}`, `{a+: 1} + {a+: 2}`,
	`{local x = 2, a: x, b: x * 2}`, `local k = "dyn"; {[k]: 1, [k + "2"]: 2, [null]: 3}`, `local k = "a"; {[k]: 1, a: 2}`,
	`{[1]: 1}`, `{a: 1}.b`, `{a: 1}["a"]`, `local o = {a: {b: [10, 20]}}; o.a.b[1]`,
	`{a: 1, b: self.a}`, `{x: $.y, y: 1}`, `{a: 1} {b: 2}`,
	`{[k]: std.length(k) for k in ["a", "bb", "ccc"]}`, `{[k]: 1 for k in ["a", "a"]}`,
	`local e = import "hooklet.libsonnet"; {[s.segment]: s.enter for s in e.get("segment_events", [])}`,
	// Arrays, indexing, comprehensions.
	`[1, 2, 3][1]`, `[1, 2, 3][1.7]`, `[1, 2, 3][-0.5]`, `[1, 2, 3][3]`, `[1][-1]`, `"héllo"[1]`, `"abc"[5]`, `null[0]`, `[][0]`,
	`[x * 2 for x in [1, 2, 3] if x != 2]`, `[[x, y] for x in [1, 2] for y in ["a", "b"] if x > 1]`,
	`[x for x in "abc"]`, `[x for x in {}]`, `[[] for x in [1]]`,
	`local e = import "hooklet.libsonnet"; [s.segment for s in e.get("segment_events", [])]`,
	`local e = import "hooklet.libsonnet"; [x for x in e.get("segment_events", []) if x.enter > "2026-01-01T12:00:00Z"]`,
	// Functions.
	`local f(x, y=2) = x + y; [f(1), f(1, 3), f(y=4, x=5)]`, `local f(x) = x; f()`, `local f(x) = x; f(1, 2)`,
	`local f(x) = x; f(y=1)`, `local fib(n) = if n < 2 then n else fib(n - 1) + fib(n - 2); fib(10)`,
	`local f(n) = if n == 0 then 0 else 1 + f(n - 1); f(30)`, `local f(n) = f(n + 1); f(0)`,
	`local g(x) = h(x) * 2, h(x) = x + 1; g(3)`, `local a = f(1), f(x) = x + b, b = 10; a`,
	`local add = function(a) function(b) a + b; add(1)(2)`, `std.map(function(x) x * x, [1, 2, 3])`,
	`std.filter(function(x) x % 2 == 0, [1, 2, 3, 4])`, `std.filter(function(x) 1, [1])`,
	// The helper library.
	`local e = import "hooklet.libsonnet"; [e.id, e.type, e.time, e.tenant, e.attributes, e.endpoint, e.settings]`,
	`local e = import "hooklet.libsonnet"; e.data`, `(import "hooklet.libsonnet").data.email`,
	`local e = import "hooklet.libsonnet"; [e.get("email"), e.get("nope", "d"), e.get("missing", "m"), e.get("nope"), e.get(key="score"), e.get("x", default=[1])]`,
	`local e = import "hooklet.libsonnet"; [e.path("address.city"), e.path("address.lines.1"), e.path("address.lines.9", "none"), e.path(["segment_events", 0, "segment"]), e.path("a.b.c", 0), e.path(""), e.path("segment_events.0"), e.path(["address", 0]), e.path("score.x", "d"), e.path("address.lines.01")]`,
	`local e = import "hooklet.libsonnet"; e.path([0])`, `local e = import "hooklet.libsonnet"; e.path(["address", "lines", 0.5])`,
	`local e = import "hooklet.libsonnet"; e.path(1)`, `local e = import "hooklet.libsonnet"; e.get(1)`,
	`local e = import "hooklet.libsonnet"; e`, `local e = import "hooklet.libsonnet"; e.get`, `local e = import "hooklet.libsonnet"; e.nope`,
	`local e = import "hooklet.libsonnet"; e.get("segment_events", "")[0]["enter"]`,
	`local e = import "hooklet.libsonnet"; {body: e.data, n: std.length(e.data)}`,
	`local e = import "hooklet.libsonnet"; std.objectFields(e.data)`,
	`local e = import "hooklet.libsonnet"; e.get("email") + "|" + e.get("first_name", "?")`,
	`local e = import "hooklet.libsonnet"; e.get("email")`,
	`local e = import "hooklet.libsonnet"; e.get("score") * 1.1`,
	`{local e = import "hooklet.libsonnet", email: e.get("email")}`,
	// std.
	`[std.length("héllo"), std.length([1, 2]), std.length({a: 1, b:: 2}), std.length(null)]`,
	`[std.type(null), std.type(1), std.type("s"), std.type([]), std.type({}), std.type(true), std.type(function() 1)]`,
	`[std.isString("s"), std.isNumber(1), std.isBoolean(false), std.isObject({}), std.isArray([]), std.isFunction(null)]`,
	`[std.toString(1.5), std.toString("s"), std.toString([1, {a: "b"}, [ ], {}]), std.toString(null)]`,
	`[std.get({a: 1}, "a"), std.get({a: null}, "a", 2), std.get({}, "a", 3), std.get({a:: 4}, "a")]`,
	`[std.objectHas({a: 1, b:: 2}, "b"), std.objectHasAll({b:: 2}, "b"), "a" in {a: 1}, "b" in {a: 1}]`,
	`[std.objectFields({b: 1, a: 2, c:: 3}), std.objectFieldsAll({c:: 3, a: 1}), std.objectValues({b: 1, a: 2})]`,
	`[std.join(", ", ["a", null, "b"]), std.join("", []), std.join([0], [[1], null, [2, 3]]), std.join("-", [1])]`,
	`["%s-%d" % ["a", 42], "%d" % -3.7, "%d" % -0.5, "%s" % [[1, 2]], "%%" % [], "%(a)s=%(b)d" % {a: "x", b: 2}, "%s" % null, "x" % []]`,
	`std.format("%s and %s", ["a", "b"])`, `"%s %s" % ["a"]`, `"%s" % ["a", "b"]`, `"%5d" % 3`, `"%x" % 255`, `"%d" % 1e16`, `"%d" % "a"`,
	`["%%" % {}, "a%%b%(x)s" % {x: 1}, "%(x)d" % {x: -2.5}, "%s%%" % [1], "%s %s" % [[], {}], "%i" % 3, "%()s" % {"": 2}]`,
	`"%d" % true`, `"%(x)s" % {x:: 1}`, `"%s" % {}`, `"%(x)s" % [1]`, `"%" % []`, `"%(x)" % {x: 1}`,
	`[{"a": 1} + {"a"+: "b"}, {} + {a:: 1}, std.length({} + {a:: 1}), std.objectFields({a: 1} + {a:: 2})]`,
	`[7 % 3, -7 % 3, 7.5 % 2]`, `1 % 0`,
	`[std.asciiLower("AbC é"), std.asciiUpper("aBc é"), std.startsWith("abc", "ab"), std.endsWith("abc", "bc"), std.startsWith("a", "abc"), std.isEmpty("")]`,
	`[std.split("a.b..c", "."), std.split("", ","), std.strReplace("aXbX", "X", "--"), std.substr("héllo", 1, 3), std.substr("abc", 5, 1), std.stringChars("hé")]`,
	`std.split("a", "")`, `std.substr("abc", 0.5, 1)`,
	`[std.member([1, 2], 2), std.member(["a"], "b"), std.contains([{a: 1}], {a: 1})]`,
	`[std.abs(-3), std.abs(0), std.abs(2), std.floor(1.5), std.ceil(-1.5), std.max(1, 2), std.min("a", "b"), std.max(-0, 0)]`,
	`std.thisFile`, `std.extVar("x")`, `std.native("hooklet_tick")()`, `std.range(1, 3)`, `std.manifestJsonMinified({a: 1})`,
	`local std = {x: 1}; std.x`, `local s = std; s.length([])`,
	`std["$flatMapArray"](function(x) [x, x], [1, 2])`, `std["$flatMapArray"]()`, `std["$objectFlatMerge"]([{a: 1, b:: 2}, {c: 3}])`,
	`std.manifestJsonMinified({b: [1e21, 0.1, 1e-7, -0, 1.5e300, 123456789012345678], a: {h:: 1, "<&>": "<a href='x'>&amp;</a>", s: "\u2028\u2029\b\f\n\u0000\u007f\u0085é😀\"\\"}, e: [[], {}], n: null, t: true})`,
	`local e = import "hooklet.libsonnet"; std.manifestJsonMinified(e.data) + "\n"`,
	`std.manifestJsonMinified(function(x) x)`,
	`[std.trim(" \t a b \n\u00a0\u2003"), std.parseInt("42"), std.parseInt("-0"), std.parseInt("+7"), std.parseInt("007")]`,
	`std.parseInt("1.5")`, `std.parseInt("99999999999999999999")`, `std.parseInt("")`,
	`std.parseJson("{\"a\": [1, 2.5, \"x\", null, true], \"a\": {\"b\": -0}}")`, `std.parseJson("[1")`, `std.parseJson("1e400")`,
	`local e = import "hooklet.libsonnet"; std.parseJson(e.get("email", "null"))`,
	// Long strings through std functions that go-jsonnet implements in
	// jsonnet.
	`"` + strings.Repeat("x", 3000) + `%s` + strings.Repeat("y", 3000) + `" % ["a"]`,
	`std.length(std.stringChars("` + strings.Repeat("é", 3000) + `"))`,
	`std.asciiUpper("` + strings.Repeat("ab", 3000) + `")`,
	`std.join(",", std.split("` + strings.Repeat("a,", 3000) + `", ","))`,
	`std.startsWith("` + strings.Repeat("ab", 3000) + `", "` + strings.Repeat("ab", 1000) + `")`,
}

// fastPayloads are the events of the differential test: the Lytics event,
// missing fields, nulls, wrong types, unicode, deep nesting, big and odd
// numbers.
func fastPayloads() []string {
	deep := strings.Repeat(`{"a":[`, 60) + `1` + strings.Repeat(`]}`, 60)
	deeper := strings.Repeat(`[`, 400) + strings.Repeat(`]`, 400)
	ps := []string{
		lyticsPayload, ``, `null`, `{}`, `[]`, `[1]`, `"str"`, `42`, `true`,
		`{"email":null,"segment_events":null,"score":null,"address":null}`,
		`{"email":1,"segment_events":"x","score":"3","address":[1,2],"first_name":{"a":1}}`,
		`{"email":"ü\u0000\u001f\u007f\u0085\u2028\ud83d\ude00\"\\","segment_events":[{"segment":"é","enter":"2026-06-01T00:00:00Z"}]}`,
		`{"email":"\ud800x\udc00","first_name":"` + "\xff\xfe" + `"}`,
		`{"score":1e21,"a":1e20,"b":0.1,"c":-0,"d":1e-7,"e":123456789012345678,"f":1.5e300,"g":5e-324,"h":-1e22,"i":9007199254740993}`,
		`{"score":1e400}`, `{"email":"a","email":"b"}`, `{"a":1`, `{"` + strings.Repeat("k", 300) + `":1}`,
		deep, deeper, `{"address":{"city":"Z","lines":[]}}`, `{"segment_events":[{},{"enter":null}]}`,
		`{"segment_events":[{"segment":"a","enter":"b"}],"address":{"lines":["x"]},"customer":{"email":"c@d"},"amount_due":12.5}`,
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 24 {
		ps = append(ps, string(randomJSON(rng, 0, true)))
	}
	return ps
}

// randomJSON returns a random JSON value, an object with the corpus's
// field names at the top.
func randomJSON(rng *rand.Rand, depth int, top bool) []byte {
	keys := []string{"email", "segment_events", "score", "missing", "address", "first_name", "a", "b", "0", "lines", "city", "segment", "enter"}
	kind := rng.IntN(8)
	if top {
		kind = 6
	}
	if depth > 4 && kind >= 6 {
		kind = rng.IntN(6)
	}
	switch kind {
	case 0:
		return []byte("null")
	case 1:
		return []byte(strconv.FormatBool(rng.IntN(2) == 0))
	case 2:
		nums := []string{"0", "-0", "1", "-1", "0.5", "1e21", "1e-7", "3.14159", "1e308", "-2.5e-300", "12345678901234567890", "7"}
		return []byte(nums[rng.IntN(len(nums))])
	case 3, 4:
		strs := []string{`""`, `"x"`, `"é€😀"`, `"\n\t\u0000"`, `"2026-01-02T03:04:05Z"`, `"a.b"`, `"12"`, `"\u0080\u009f"`}
		return []byte(strs[rng.IntN(len(strs))])
	case 5:
		n := rng.IntN(4)
		b := []byte("[")
		for i := range n {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, randomJSON(rng, depth+1, false)...)
		}
		return append(b, ']')
	default:
		n := rng.IntN(6)
		if top {
			n += 3
		}
		b := []byte("{")
		for i := range n {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, strconv.Quote(keys[rng.IntN(len(keys))])...)
			b = append(b, ':')
			b = append(b, randomJSON(rng, depth+1, false)...)
		}
		return append(b, '}')
	}
}

// repoTemplates returns the templates of the repository's tests and docs:
// the sandbox's own, and those of the README's jsonnet blocks.
func repoTemplates(t *testing.T) []string {
	t.Helper()
	out := []string{lyticsTemplate, lyticsSettingsTemplate}
	for _, f := range []string{"../../README.md", "../../docs/templates-fast.md"} {
		b, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		for _, m := range regexp.MustCompile("(?s)```jsonnet\n(.*?)```").FindAllStringSubmatch(string(b), -1) {
			out = append(out, m[1])
		}
	}
	return append(out, repoTestTemplates...)
}

// repoTestTemplates are the templates of the root package's tests and of
// the load test.
var repoTestTemplates = []string{
	`local e = import "hooklet.libsonnet"; std.join("", [std.manifestJsonMinified(s) + "\n" for s in e.get("segment_events")])`,
	`local e = import "hooklet.libsonnet"; if e.type == "user.entered" then null else {t: e.type}`,
	"local e = import \"hooklet.libsonnet\";\n{ email: e.data.email }",
	`{ok: true}`,
	`local e = import "hooklet.libsonnet"; [e.id, e.type, e.time, e.tenant, e.attributes, e.endpoint]`,
	`local e = import "hooklet.libsonnet"; [e.get("first_name"), e.get("nope", "d"), e.get("missing", "m"), e.get("nope")]`,
	`(import "hooklet.libsonnet").get("a", 7)`,
	`local e = import "hooklet.libsonnet";
[e.path("address.city"), e.path("address.lines.1"), e.path(["address", "lines", 0]), e.path("address.zip", "none"), e.path("segment_events.0.segment")]`,
	`(import "hooklet.libsonnet").data.score * 2`,
	`[1, "two", null]`,
	`"email=" + (import "hooklet.libsonnet").get("email")`,
	`local e = import "hooklet.libsonnet"; if e.get("score") > 5 then {} else null`,
	`{f: "%05d|%-3s|%.2f" % [42, "a", 1.5], r: std.repeat("ab", 2), g: std.range(1, 3), m: std.makeArray(2, function(i) i), s: std.strReplace("aXb", "X", "--"), fl: std.flattenArrays([[1], [2]]), l: std.lines(["a"]), p: {a: 1} + {b: 2}}`,
	`{a: {b: 1}} + {a+: {c: 2}}`,
	`local e = import "hooklet.libsonnet"; {file: std.thisFile, endpoint: e.endpoint.id}`,
	`local f(n) = if n == 0 then 0 else 1 + f(n - 1); f(400)`,
	`local fib(n) = if n < 2 then n else fib(n - 1) + fib(n - 2); fib(15)`,
	"local e = import \"hooklet.libsonnet\";\n{ a: e.data.nope }",
	"local e = import \"hooklet.libsonnet\";\n{\n  a: e.get(\"segment_events\")[5] }",
	"local e = import \"hooklet.libsonnet\";\n  e.get(\"nope\")[0]",
	"local x = 1;\n  x - \"a\"",
	"local x = [1];\n x + {}",
	`
local event = import "lytemplates.libsonnet";
{
  users: [{
    identifiers: { email: event.path("customer.email", "") },
    events: [{ event_name: event.type, timestamp: event.time, amount: event.get("amount_due", 0) }],
  }],
  list: event.settings.list,
}`,
}

// diffInputs returns the inputs of the differential test for payload,
// with a second variant whose strings are unusual.
func diffInputs(payload string) []Input {
	odd := input(payload)
	odd.ID, odd.Type, odd.Tenant = "\xff\x00id", "type\u2028é", ""
	odd.Attributes, odd.Settings, odd.EndpointURL = "", `{"list":null,"api_key":1}`, "http://x/\u0085"
	attrs := input(payload)
	attrs.Attributes, attrs.AttrMap = "", map[string]string{"correlation_id": "c-1", "b": "v\xfe\u0085", "a\u2028": ""}
	bad := input(payload)
	bad.Attributes, bad.AttrMap = "", map[string]string{"k\xff": "1", "k\xfe": "2"}
	return []Input{input(payload), odd, attrs, bad}
}

// readsPayload reports whether src may read the payload; the others run
// against one payload only.
func readsPayload(src string) bool {
	return strings.Contains(src, ".data") || strings.Contains(src, "get(") || strings.Contains(src, "path(")
}

// inputsFor returns the inputs of the differential test for src and
// payload: the unusual variants only where they matter.
func inputsFor(src, payload string) []Input {
	ins := diffInputs(payload)
	if !strings.Contains(src, "attributes") {
		ins = ins[:2]
	}
	if !strings.Contains(src, "import") {
		ins = ins[:1]
	}
	return ins
}

// checkFastAgrees compares the fast path with the sandbox for one input. It
// reports whether the fast path succeeded.
func checkFastAgrees(t *testing.T, p *Program, src string, in Input) bool {
	t.Helper()
	fastOut, ok := p.evaluateFast(&in)
	if !ok {
		return false
	}
	want, err := p.evaluateSandbox(context.Background(), in)
	require.NoError(t, err, "fast path succeeded where go-jsonnet fails\ntemplate: %s\npayload: %s\nfast: %q", src, in.Payload, fastOut.Body)
	require.Equal(t, want.Kind, fastOut.Kind, "template: %s\npayload: %s", src, in.Payload)
	require.Equal(t, string(want.Body), string(fastOut.Body), "template: %s\npayload: %s", src, in.Payload)
	return true
}

func TestFastPathMatchesSandbox(t *testing.T) {
	t.Parallel()
	// A render must not time out in the sandbox on a loaded machine.
	sb := newSandbox(Options{Timeout: waitTimeout})
	templates := append(repoTemplates(t), fastCorpus...)
	payloads := fastPayloads()
	fastTemplates, fastRenders, renders := 0, 0, 0
	for _, src := range templates {
		p, err := sb.Compile(src)
		if err != nil {
			continue // compile errors are the sandbox's, tested there
		}
		if fast, _ := p.FastPath(); fast {
			fastTemplates++
		}
		for i, pl := range payloads {
			if i > 0 && !readsPayload(src) {
				break
			}
			for _, in := range inputsFor(src, pl) {
				renders++
				if p.fast != nil && checkFastAgrees(t, p, src, in) {
					fastRenders++
				}
			}
		}
		waitTemplate(t, p)
	}
	t.Logf("%d templates, %d on the fast path; %d of %d renders fast", len(templates), fastTemplates, fastRenders, renders)
	repo, repoFast := 0, 0
	for _, src := range repoTemplates(t) {
		if p, err := sb.Compile(src); err == nil {
			repo++
			if fast, _ := p.FastPath(); fast {
				repoFast++
			}
		}
	}
	t.Logf("templates of the repository's tests and docs: %d of %d on the fast path", repoFast, repo)
	require.Greater(t, fastRenders, renders/3)
}

// TestFastPathChoice checks which templates take the fast path, and that
// the others say why.
func TestFastPathChoice(t *testing.T) {
	t.Parallel()
	sb := newSandbox(Options{})
	for _, src := range []string{
		lyticsTemplate, lyticsSettingsTemplate, repoTestTemplates[len(repoTestTemplates)-1],
		`local e = import "hooklet.libsonnet"; {[s.segment]: s.enter for s in e.get("segment_events", [])}`,
		`local f(x, y=2) = x + y; [f(1), f(y=4, x=5)]`, `"%s-%d" % ["a", 42]`, `{a: 1} + {a+: 2, b:: 3}`,
	} {
		p, err := sb.Compile(src)
		require.NoError(t, err)
		fast, reason := p.FastPath()
		require.True(t, fast, "%s: %s", src, reason)
		require.Empty(t, reason)
	}
	for src, why := range map[string]string{
		`{a: 1, b: self.a}`:                       "self",
		`std.range(1, 3)`:                         "std.range",
		`local e = import "hooklet.libsonnet"; e`: "helper library used as a value",
		`1 << 2`:              "operator",
		`{assert true, a: 1}`: "assertions",
	} {
		p, err := sb.Compile(src)
		require.NoError(t, err)
		fast, reason := p.FastPath()
		require.False(t, fast, src)
		require.Contains(t, reason, why, src)
	}
}

func TestFastPathReadsEndpoint(t *testing.T) {
	t.Parallel()
	sb := newSandbox(Options{})
	for src, want := range map[string]bool{
		lyticsTemplate:         false,
		lyticsSettingsTemplate: true,
		`local e = import "hooklet.libsonnet"; e.endpoint.url`:                            true,
		`local e = import "hooklet.libsonnet"; e`:                                         true,
		`local e = import "hooklet.libsonnet"; e["settings"]`:                             true,
		`local e = import "hooklet.libsonnet"; local f = e; f.get("a")`:                   true,
		`local e = import "hooklet.libsonnet"; local g(e) = e.settings; g({settings: 1})`: false,
		`(import "hooklet.libsonnet").settings`:                                           true,
		`{local e = import "hooklet.libsonnet", a: e.type}`:                               false,
		`{a: 1, b: self.a}`: false,
	} {
		p, err := sb.Compile(src)
		require.NoError(t, err)
		require.Equal(t, want, p.ReadsEndpoint(), src)
	}
}

// TestFastPathFallsBack checks that an evaluation the fast path gives up
// on gives the sandbox's result, error position included.
func TestFastPathFallsBack(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		src       string
		payload   string
		line, col int
		msg       string
		body      string
	}{
		{src: "local e = import \"hooklet.libsonnet\";\n{ a: e.data.nope }", payload: lyticsPayload, line: 2, col: 6, msg: "Field does not exist: nope"},
		{src: "local e = import \"hooklet.libsonnet\";\n{ a: e.get(\"score\") / 0 }", payload: lyticsPayload, line: 2, col: 6, msg: "Division by zero"},
		{src: `local e = import "hooklet.libsonnet"; e.get("score") + 1`, payload: `{"score":1e400}`, line: 1, col: 39, msg: "failed to parse JSON"},
		{src: `local f(n) = if n == 0 then 0 else 1 + f(n - 1); f(300)`, body: "300"},
		{src: `local x = "%d" % 1e16; x`, body: `"10000000000000000"`},
	} {
		p, err := newSandbox(Options{}).Compile(tc.src)
		require.NoError(t, err)
		fast, _ := p.FastPath()
		require.True(t, fast, tc.src)
		_, ok := p.evaluateFast(&Input{Payload: tc.payload})
		require.False(t, ok, tc.src)
		out, err := p.Evaluate(context.Background(), input(tc.payload))
		waitTemplate(t, p)
		if tc.msg == "" {
			require.NoError(t, err)
			got := string(out.Body)
			if out.Kind == KindString {
				got = strconv.Quote(got)
			}
			require.Equal(t, tc.body, got)
			continue
		}
		var te *Error
		require.ErrorAs(t, err, &te)
		require.Equal(t, tc.line, te.Line, tc.src)
		require.Equal(t, tc.col, te.Column, tc.src)
		require.Contains(t, te.Message, tc.msg)
	}
}

// TestFastPathLimits checks the sandbox's limits hold on the fast path:
// the output cap, and the caps on what a + or a guarded std function
// builds.
func TestFastPathLimits(t *testing.T) {
	t.Parallel()
	small := Options{MaxOutputBytes: 64}
	for _, src := range []string{
		`local s = "0123456789"; local d = s + s + s + s; d + d`,
		`[x for x in std.split("` + strings.Repeat("a,", 40) + `", ",")]`,
		`std.join("", ["` + strings.Repeat("x", 40) + `", "` + strings.Repeat("y", 40) + `"])`,
		`std.asciiLower("` + strings.Repeat("X", 65) + `")`,
	} {
		out, err := render(t, small, src, input(lyticsPayload))
		var te *Error
		require.ErrorAs(t, err, &te, "%s: %q", src, out.Body)
		require.Contains(t, te.Message, "exceeds the limit", src)
	}
}

func ExampleProgram_FastPath() {
	sb := New(Options{Timeout: 1e9, MaxOutputBytes: 1 << 20, MaxStack: 500, MaxTemplateBytes: 64 << 10})
	for _, src := range []string{lyticsTemplate, `{a: 1, b: self.a}`} {
		p, _ := sb.Compile(src)
		if fast, reason := p.FastPath(); fast {
			fmt.Println("fast")
		} else {
			fmt.Println("not fast:", reason)
		}
	}
	// Output:
	// fast
	// not fast: 1:11: self and super
}

// TestFastPathBudget checks that the fast path gives up on a template that
// would work too long, leaving it to the sandbox and its timeout.
func TestFastPathBudget(t *testing.T) {
	t.Parallel()
	payload := "[" + strings.Repeat(`{"a":[1,2,3,"x"]},`, 2000) + "null]"
	for _, src := range []string{
		`local d = (import "hooklet.libsonnet").data; [[x == y for y in d] for x in d]`,
		`local d = (import "hooklet.libsonnet").data; [std.toString(d) for x in d]`,
		`local d = (import "hooklet.libsonnet").data; [[std.member(d, x) for y in d] for x in d]`,
	} {
		p, err := newSandbox(Options{}).Compile(src)
		require.NoError(t, err)
		fast, reason := p.FastPath()
		require.True(t, fast, reason)
		_, ok := p.evaluateFast(&Input{Payload: payload})
		require.False(t, ok, src)
	}
}

// TestFastPathMatchesSandboxLimits runs the differential test with small
// limits: the fast path must give up wherever the sandbox's stack or size
// limits refuse a template.
func TestFastPathMatchesSandboxLimits(t *testing.T) {
	t.Parallel()
	templates := append(repoTemplates(t), fastCorpus...)
	templates = append(templates,
		`local a = [1], b = [a], c = [b], d = [c], e = [d], f = [e], g = [f], h = [g]; [h, h]`,
		`local e = import "hooklet.libsonnet"; local f(n) = if n == 0 then e.data else [f(n - 1)]; f(6)`,
		`local x1 = 1, x2 = x1 + 1, x3 = x2 + 1, x4 = x3 + 1, x5 = x4 + 1, x6 = x5 + 1, x7 = x6 + 1, x8 = x7 + 1; x8`,
	)
	payloads := fastPayloads()[:8]
	for _, opts := range []Options{{MaxStack: 10}, {MaxStack: 40}, {MaxOutputBytes: 64}} {
		opts.Timeout = waitTimeout
		sb := newSandbox(opts)
		for _, src := range templates {
			p, err := sb.Compile(src)
			if err != nil || p.fast == nil {
				continue
			}
			for i, pl := range payloads {
				if i > 0 && !readsPayload(src) {
					break
				}
				checkFastAgrees(t, p, src, input(pl))
			}
			waitTemplate(t, p)
		}
	}
}
