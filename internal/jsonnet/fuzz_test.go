package jsonnet

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

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
	tr := newSandbox(Options{Timeout: 100 * time.Millisecond, MaxOutputBytes: 1 << 16})
	f.Fuzz(func(t *testing.T, src string, payload []byte) {
		tmpl, err := tr.Compile(src)
		if err != nil {
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("compile error is not an *Error: %v", err)
			}
			return
		}
		if !json.Valid(payload) {
			payload = []byte(`{}`)
		}
		r, err := tmpl.Evaluate(context.Background(), input(string(payload)))
		waitTemplate(t, tmpl)
		if err != nil {
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("render error is not an *Error: %v", err)
			}
			if strings.Contains(te.Message, "internal error") {
				t.Fatalf("render crashed: %v", err)
			}
			return
		}
		if r.Kind == KindJSON && !json.Valid(r.Body) {
			t.Fatalf("invalid JSON body %q", r.Body)
		}
	})
}
