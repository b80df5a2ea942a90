package filter

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzCompileMatch compiles arbitrary filters and evaluates them against
// arbitrary payloads: nothing may panic, evaluation is deterministic, and
// {"$not": F} matches exactly when F does not.
func FuzzCompileMatch(f *testing.F) {
	seeds := [][2]string{
		{`{"data.amount": {"$gte": 100, "$lt": 200}}`, `{"amount": 150}`},
		{`{"$or": [{"data.a": "x"}, {"data.b.0": {"$in": [1, "2", null]}}]}`, `{"a": "y", "b": [1]}`},
		{`{"data": {"items": {"sku": {"$regex": "^a"}}}}`, `{"items": [{"sku": "a1"}, 3, [4]]}`},
		{`{"data.s": {"$startsWith": ["a", "b"], "$endsWith": "z", "$not": {"$in": "q"}}}`, `{"s": "abz"}`},
		{`{"data.x": {"$exist": false}, "attributes.k": {"$neq": "v"}}`, `[1, {"x": null}]`},
		{`{"time": {"$gt": "2025-01-01T00:00:00Z"}, "data.$.t": {"$lte": "2025-01-01T00:00:00.1+01:00"}}`, `[{"t": "2024-12-31T23:00:00Z"}]`},
		{`{"data.o": {"$eq": {"a": [1, {"b": 2}], "a": 3}}}`, `{"o": {"a": 3}}`},
		{`{"data.n": {"$gt": -1.5e300}}`, `{"n": 1e999}`},
	}
	for _, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, filter, payload []byte) {
		doc := func() *Document {
			return &Document{
				ID: "evt_1", Type: "a.b", Time: time.Unix(1735689600, 0),
				Attributes: map[string]string{"k": "v"}, Data: payload,
			}
		}
		if _, err := parse(payload, maxParseDepth); (err == nil) != json.Valid(payload) {
			t.Fatalf("parse and json.Valid disagree on %q: %v", payload, err)
		}
		p, err := Compile(filter)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		got := p.Match(doc())
		if again := p.Match(doc()); again != got {
			t.Fatalf("Match is not deterministic")
		}
		if Empty(filter) {
			return
		}
		neg := append(append([]byte(`{"$not": `), filter...), '}')
		np, err := Compile(neg)
		if err != nil {
			return // one level deeper or one value more than the limits
		}
		if np.Match(doc()) == got {
			t.Fatalf("$not of %s matches as it does", filter)
		}
	})
}
