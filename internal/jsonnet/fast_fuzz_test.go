package jsonnet

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// templateGen writes a template inside the fast path's subset (and a
// little outside it) from fuzz bytes: every choice takes the next byte.
type templateGen struct {
	b    []byte
	vars []string // variables in scope
	fns  []string // functions of one parameter in scope
	n    int      // names made so far
}

func (g *templateGen) next(n int) int {
	if len(g.b) == 0 {
		return 0
	}
	c := int(g.b[0])
	g.b = g.b[1:]
	return c % n
}

func (g *templateGen) pick(xs []string) string { return xs[g.next(len(xs))] }

var (
	genNumbers = []string{"0", "1", "-1", "2", "0.1", "1e21", "1e20", "-0", "3.7", "-0.5", "1e300", "1e-7", "255", "123456789012345678", "1.5"}
	genStrings = []string{`""`, `"a"`, `"email"`, `"score"`, `"segment_events"`, `"address.lines.0"`, `"a.b"`, `"é€😀"`,
		`"\n\t\u0000\u007f\u0085"`, `"%s"`, `"%d-%s"`, `"%(a)s"`, `"2026"`, `"0"`, `"01"`, `"address"`, `"lines"`, `","`, `"."`}
	genKeys   = []string{"email", "score", "missing", "segment_events", "address", "first_name", "a", "b", "0", "nope"}
	genPaths  = []string{`"address.city"`, `"address.lines.1"`, `"segment_events.0.enter"`, `"a.b.c"`, `""`, `["address", "lines", 0]`, `["segment_events", 1.5]`, `"score"`, `"address.lines.01"`, `[0]`}
	genFields = []string{"id", "type", "time", "tenant", "attributes", "settings", "endpoint", "data"}
	genStd1   = []string{"length", "type", "isString", "isNumber", "isObject", "isArray", "toString", "objectFields", "objectFieldsAll", "objectValues", "asciiLower", "asciiUpper", "isEmpty", "stringChars", "abs", "floor", "ceil", "manifestJsonMinified", "trim", "parseInt", "parseJson"}
	genStd2   = []string{"objectHas", "objectHasAll", "get", "join", "format", "mod", "startsWith", "endsWith", "split", "member", "contains", "max", "min", "map", "filter"}
	genBinops = []string{"+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "&&", "||", "in"}
)

func (g *templateGen) name() string {
	g.n++
	return fmt.Sprintf("v%d", g.n)
}

func (g *templateGen) expr(depth int) string {
	if depth > 5 || len(g.b) == 0 {
		return g.leaf()
	}
	switch g.next(22) {
	case 0, 1:
		return g.leaf()
	case 2:
		return fmt.Sprintf("e.get(%q%s)", g.pick(genKeys), g.optDefault(depth))
	case 3:
		return fmt.Sprintf("e.path(%s%s)", g.pick(genPaths), g.optDefault(depth))
	case 4:
		n := g.next(4)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = g.expr(depth + 1)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case 5:
		n := g.next(4)
		parts := make([]string, n)
		for i := range parts {
			hide := []string{":", "::", ":::", "+:"}[g.next(4)]
			key := g.pick(genKeys)
			if g.next(4) == 0 {
				key = "[" + g.expr(depth+1) + "]"
			}
			parts[i] = key + hide + " " + g.expr(depth+1)
		}
		if g.next(4) == 0 {
			parts = append(parts, "local "+g.name()+" = "+g.expr(depth+1))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case 6:
		v := g.name()
		val := g.expr(depth + 1)
		g.vars = append(g.vars, v)
		body := g.expr(depth + 1)
		g.vars = g.vars[:len(g.vars)-1]
		return fmt.Sprintf("(local %s = %s; %s)", v, val, body)
	case 7:
		return fmt.Sprintf("(if %s then %s else %s)", g.expr(depth+1), g.expr(depth+1), g.expr(depth+1))
	case 8, 9:
		return fmt.Sprintf("(%s %s %s)", g.expr(depth+1), g.pick(genBinops), g.expr(depth+1))
	case 10:
		return fmt.Sprintf("(%s%s)", []string{"!", "-", "+"}[g.next(3)], g.expr(depth+1))
	case 11:
		return fmt.Sprintf("%s[%s]", g.expr(depth+1), g.expr(depth+1))
	case 12:
		return fmt.Sprintf("%s.%s", g.expr(depth+1), g.pick(genKeys))
	case 13:
		v := g.name()
		arr := g.expr(depth + 1)
		g.vars = append(g.vars, v)
		body := g.expr(depth + 1)
		cond := ""
		if g.next(2) == 0 {
			cond = " if " + g.expr(depth+1)
		}
		g.vars = g.vars[:len(g.vars)-1]
		return fmt.Sprintf("[%s for %s in %s%s]", body, v, arr, cond)
	case 14:
		v := g.name()
		arr := g.expr(depth + 1)
		g.vars = append(g.vars, v)
		key, body := g.expr(depth+1), g.expr(depth+1)
		g.vars = g.vars[:len(g.vars)-1]
		return fmt.Sprintf("{[%s]: %s for %s in %s}", key, body, v, arr)
	case 15:
		return fmt.Sprintf("std.%s(%s)", g.pick(genStd1), g.expr(depth+1))
	case 16:
		f := g.pick(genStd2)
		if f == "map" || f == "filter" {
			return fmt.Sprintf("std.%s(%s, %s)", f, g.function(depth+1), g.expr(depth+1))
		}
		return fmt.Sprintf("std.%s(%s, %s)", f, g.expr(depth+1), g.expr(depth+1))
	case 17:
		return fmt.Sprintf("(%s %% [%s, %s])", g.pick(genStrings), g.expr(depth+1), g.expr(depth+1))
	case 18:
		f := g.name()
		fn := g.function(depth + 1)
		g.fns = append(g.fns, f)
		body := g.expr(depth + 1)
		g.fns = g.fns[:len(g.fns)-1]
		return fmt.Sprintf("(local %s = %s; %s)", f, fn, body)
	case 19:
		if len(g.fns) > 0 {
			return fmt.Sprintf("%s(%s)", g.pick(g.fns), g.expr(depth+1))
		}
		return "e." + g.pick(genFields)
	case 20:
		return fmt.Sprintf("(%s + %s)", g.expr(depth+1), g.expr(depth+1))
	default:
		return fmt.Sprintf(`error %s`, g.pick(genStrings))
	}
}

func (g *templateGen) function(depth int) string {
	v := g.name()
	g.vars = append(g.vars, v)
	body := g.expr(depth)
	g.vars = g.vars[:len(g.vars)-1]
	return fmt.Sprintf("function(%s) %s", v, body)
}

func (g *templateGen) optDefault(depth int) string {
	if g.next(2) == 0 {
		return ""
	}
	return ", " + g.expr(depth+1)
}

func (g *templateGen) leaf() string {
	switch g.next(7) {
	case 0:
		return g.pick(genNumbers)
	case 1:
		return g.pick(genStrings)
	case 2:
		return []string{"null", "true", "false", "[]", "{}"}[g.next(5)]
	case 3:
		if len(g.vars) > 0 {
			return g.pick(g.vars)
		}
		return "e.data"
	case 4:
		return "e." + g.pick(genFields)
	case 5:
		return fmt.Sprintf("e.get(%q)", g.pick(genKeys))
	default:
		return "e.data"
	}
}

// genTemplate returns the template the bytes b describe.
func genTemplate(b []byte) string {
	g := &templateGen{b: b}
	return "local e = import \"hooklet.libsonnet\";\n" + g.expr(0)
}

// FuzzFastPath generates templates within the fast path's subset and
// events, and compares the fast path with the sandbox.
func FuzzFastPath(f *testing.F) {
	for i, p := range fastPayloads()[:12] {
		f.Add([]byte(fmt.Sprintf("seed %d: the quick brown fox jumps over the lazy dog %d", i, i*7919)), p)
	}
	f.Add([]byte{2, 0, 3, 1, 5, 3, 0, 2, 1, 13, 4, 2, 8, 9, 1}, lyticsPayload)
	f.Add([]byte{16, 11, 1, 3, 0, 17, 8, 3, 14, 2}, lyticsPayload)
	sb := newSandbox(Options{Timeout: waitTimeout, MaxOutputBytes: 1 << 12})
	f.Fuzz(func(t *testing.T, prog []byte, payload string) {
		src := genTemplate(prog)
		p, err := sb.Compile(src)
		if err != nil {
			return
		}
		if !json.Valid([]byte(payload)) && len(payload) > 0 && payload[0] != '{' {
			payload = lyticsPayload
		}
		for _, in := range inputsFor(src, payload) {
			checkFastAgrees(t, p, src, in)
		}
		waitTemplate(t, p)
	})
}
