package jsonnet

import (
	"math"
	"strconv"
	"strings"

	"github.com/google/go-jsonnet/ast"
)

// This file holds the std functions of the fast path. Each does what
// go-jsonnet (with the sandbox's guarded std) does when its arguments have
// the expected types, and gives up otherwise.

// stdFunc is a std function of the fast path.
type stdFunc struct {
	params   []string
	required int
	fn       func(c *fastCtx, a []any) (any, error)
}

var fastStd map[string]*stdFunc

func init() {
	is := func(t string) *stdFunc {
		return &stdFunc{params: []string{"v"}, required: 1, fn: func(_ *fastCtx, a []any) (any, error) {
			return typeName(a[0]) == t, nil
		}}
	}
	fastStd = map[string]*stdFunc{
		"isString":   is("string"),
		"isNumber":   is("number"),
		"isBoolean":  is("boolean"),
		"isObject":   is("object"),
		"isArray":    is("array"),
		"isFunction": is("function"),
		"type": {params: []string{"x"}, required: 1, fn: func(_ *fastCtx, a []any) (any, error) {
			return typeName(a[0]), nil
		}},
		"length":   {params: []string{"x"}, required: 1, fn: stdLength},
		"toString": {params: []string{"a"}, required: 1, fn: func(c *fastCtx, a []any) (any, error) { return c.toString(a[0]) }},
		"get": {params: []string{"o", "f", "default"}, required: 2, fn: func(_ *fastCtx, a []any) (any, error) {
			name, ok := a[1].(string)
			if !ok || !isObject(a[0]) {
				return nil, errFallback
			}
			if objectHas(a[0], name, true) {
				v, _ := objectIndex(a[0], name)
				return v, nil
			}
			return a[2], nil
		}},
		"objectHas":       {params: []string{"o", "f"}, required: 2, fn: stdObjectHas(false)},
		"objectHasAll":    {params: []string{"o", "f"}, required: 2, fn: stdObjectHas(true)},
		"objectFields":    {params: []string{"o"}, required: 1, fn: stdObjectFields(false)},
		"objectFieldsAll": {params: []string{"o"}, required: 1, fn: stdObjectFields(true)},
		"objectValues": {params: []string{"o"}, required: 1, fn: func(c *fastCtx, a []any) (any, error) {
			if !isObject(a[0]) {
				return nil, errFallback
			}
			names := objectFields(a[0], false)
			if err := c.spend(1 + len(names)); err != nil {
				return nil, err
			}
			out := make([]any, len(names))
			for i, n := range names {
				out[i], _ = objectIndex(a[0], n)
			}
			return out, nil
		}},
		"join": {params: []string{"sep", "arr"}, required: 2, fn: stdJoin},
		"manifestJsonMinified": {params: []string{"value"}, required: 1, fn: func(c *fastCtx, a []any) (any, error) {
			m := minifier{}
			if err := m.value(a[0], c.manifestDepth); err != nil {
				return nil, err
			}
			if err := c.spend(1 + len(m.buf)/16); err != nil {
				return nil, err
			}
			return string(m.buf), nil
		}},
		"format": {params: []string{"str", "vals"}, required: 2, fn: stdFormat},
		"mod": {params: []string{"a", "b"}, required: 2, fn: func(c *fastCtx, a []any) (any, error) {
			switch x := a[0].(type) {
			case float64:
				if y, ok := a[1].(float64); ok && y != 0 {
					return checkNumber(math.Mod(x, y))
				}
			case string:
				return stdFormat(c, a)
			}
			return nil, errFallback
		}},
		"asciiLower": {params: []string{"str"}, required: 1, fn: stdASCII('A', 'Z', 'a'-'A')},
		"asciiUpper": {params: []string{"str"}, required: 1, fn: stdASCII('a', 'z', -('a' - 'A'))},
		"startsWith": {params: []string{"a", "b"}, required: 2, fn: stdStrings2(func(a, b string) any { return strings.HasPrefix(a, b) })},
		"endsWith":   {params: []string{"a", "b"}, required: 2, fn: stdStrings2(func(a, b string) any { return strings.HasSuffix(a, b) })},
		"trim": {params: []string{"str"}, required: 1, fn: func(_ *fastCtx, a []any) (any, error) {
			s, ok := a[0].(string)
			if !ok {
				return nil, errFallback
			}
			return strings.TrimSpace(s), nil
		}},
		"parseInt": {params: []string{"str"}, required: 1, fn: func(_ *fastCtx, a []any) (any, error) {
			s, ok := a[0].(string)
			if !ok {
				return nil, errFallback
			}
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, errFallback
			}
			return float64(n), nil
		}},
		"parseJson": {params: []string{"str"}, required: 1, fn: func(c *fastCtx, a []any) (any, error) {
			s, ok := a[0].(string)
			if !ok {
				return nil, errFallback
			}
			return c.decodeJSON(s, s)
		}},
		"isEmpty": {params: []string{"str"}, required: 1, fn: func(_ *fastCtx, a []any) (any, error) {
			s, ok := a[0].(string)
			if !ok {
				return nil, errFallback
			}
			return s == "", nil
		}},
		"split": {params: []string{"str", "c"}, required: 2, fn: func(c *fastCtx, a []any) (any, error) {
			s, ok1 := a[0].(string)
			sep, ok2 := a[1].(string)
			if !ok1 || !ok2 || sep == "" {
				return nil, errFallback
			}
			if err := c.spend(1 + len(s)/16); err != nil {
				return nil, err
			}
			parts := strings.Split(s, sep)
			out := make([]any, len(parts))
			for i, p := range parts {
				out[i] = p
			}
			return out, nil
		}},
		"strReplace": {params: []string{"str", "from", "to"}, required: 3, fn: func(c *fastCtx, a []any) (any, error) {
			s, ok1 := a[0].(string)
			from, ok2 := a[1].(string)
			to, ok3 := a[2].(string)
			if !ok1 || !ok2 || !ok3 || from == "" {
				return nil, errFallback
			}
			// The sandbox's guard, measured in bytes, which bound its
			// code points.
			if len(to) > stringLen(from) && len(s)*len(to) > c.limit*max(1, stringLen(from)) {
				return nil, errFallback
			}
			if err := c.spend(1 + len(s)/16); err != nil {
				return nil, err
			}
			return strings.ReplaceAll(s, from, to), nil
		}},
		"substr": {params: []string{"str", "from", "len"}, required: 3, fn: func(c *fastCtx, a []any) (any, error) {
			s, ok1 := a[0].(string)
			from, ok2 := a[1].(float64)
			n, ok3 := a[2].(float64)
			if !ok1 || !ok2 || !ok3 || from != math.Floor(from) || n != math.Floor(n) ||
				from < 0 || n < 0 || from > 1<<30 || n > 1<<30 {
				return nil, errFallback
			}
			if err := c.spend(1 + len(s)/16); err != nil {
				return nil, err
			}
			runes := []rune(s)
			start, end := int(from), int(from)+int(n)
			if start > len(runes) {
				return "", nil
			}
			end = min(end, len(runes))
			return string(runes[start:end]), nil
		}},
		"stringChars": {params: []string{"str"}, required: 1, fn: func(c *fastCtx, a []any) (any, error) {
			s, ok := a[0].(string)
			if !ok || len(s) > c.limit {
				return nil, errFallback
			}
			if err := c.spend(1 + len(s)/8); err != nil {
				return nil, err
			}
			out := make([]any, 0, len(s))
			for _, r := range s {
				out = append(out, string(r))
			}
			return out, nil
		}},
		"member":   {params: []string{"arr", "x"}, required: 2, fn: stdMember},
		"contains": {params: []string{"arr", "elem"}, required: 2, fn: stdMember},
		"abs": {params: []string{"n"}, required: 1, fn: func(_ *fastCtx, a []any) (any, error) {
			n, ok := a[0].(float64)
			if !ok {
				return nil, errFallback
			}
			if n > 0 {
				return n, nil
			}
			return -n, nil
		}},
		"floor": {params: []string{"x"}, required: 1, fn: stdMath(math.Floor)},
		"ceil":  {params: []string{"x"}, required: 1, fn: stdMath(math.Ceil)},
		"max": {params: []string{"a", "b"}, required: 2, fn: func(_ *fastCtx, a []any) (any, error) {
			cmp, err := compareNumbers(a[0], a[1])
			if err != nil {
				return nil, err
			}
			if cmp > 0 {
				return a[0], nil
			}
			return a[1], nil
		}},
		"min": {params: []string{"a", "b"}, required: 2, fn: func(_ *fastCtx, a []any) (any, error) {
			cmp, err := compareNumbers(a[0], a[1])
			if err != nil {
				return nil, err
			}
			if cmp < 0 {
				return a[0], nil
			}
			return a[1], nil
		}},
		"map": {params: []string{"func", "arr"}, required: 2, fn: func(c *fastCtx, a []any) (any, error) {
			fn, ok1 := a[0].(*fastClosure)
			arr, ok2 := a[1].([]any)
			if !ok1 || !ok2 || len(arr) > c.limit {
				return nil, errFallback
			}
			out := make([]any, len(arr))
			for i, e := range arr {
				v, err := c.call1(fn, e)
				if err != nil {
					return nil, err
				}
				out[i] = v
			}
			return out, nil
		}},
		"filter": {params: []string{"func", "arr"}, required: 2, fn: func(c *fastCtx, a []any) (any, error) {
			fn, ok1 := a[0].(*fastClosure)
			arr, ok2 := a[1].([]any)
			if !ok1 || !ok2 {
				return nil, errFallback
			}
			var out []any
			for _, e := range arr {
				v, err := c.call1(fn, e)
				if err != nil {
					return nil, err
				}
				keep, ok := v.(bool)
				if !ok {
					return nil, errFallback
				}
				if keep {
					out = append(out, e)
				}
			}
			if out == nil {
				out = []any{}
			}
			return out, nil
		}},
	}
}

// call1 calls a closure of exactly one parameter with v.
func (c *fastCtx) call1(fn *fastClosure, v any) (any, error) {
	if len(fn.fn.params) != 1 {
		return nil, errFallback
	}
	return c.call(fn.fn.body, &fastFrame{vars: []any{v}, up: fn.env})
}

func stdLength(c *fastCtx, a []any) (any, error) {
	switch v := a[0].(type) {
	case string:
		if err := c.spend(1 + len(v)/64); err != nil {
			return nil, err
		}
		return float64(stringLen(v)), nil
	case []any:
		return float64(len(v)), nil
	case map[string]any:
		return float64(len(v)), nil
	case *fastObject:
		if err := c.spend(1 + len(v.fields)); err != nil {
			return nil, err
		}
		return float64(len(objectFields(v, false))), nil
	}
	return nil, errFallback
}

func stdObjectHas(all bool) func(*fastCtx, []any) (any, error) {
	return func(_ *fastCtx, a []any) (any, error) {
		name, ok := a[1].(string)
		if !ok || !isObject(a[0]) {
			return nil, errFallback
		}
		return objectHas(a[0], name, all), nil
	}
}

func stdObjectFields(all bool) func(*fastCtx, []any) (any, error) {
	return func(c *fastCtx, a []any) (any, error) {
		if !isObject(a[0]) {
			return nil, errFallback
		}
		names := objectFields(a[0], all)
		if err := c.spend(1 + len(names)); err != nil {
			return nil, err
		}
		out := make([]any, len(names))
		for i, n := range names {
			out[i] = n
		}
		return out, nil
	}
}

func stdASCII(lo, hi byte, shift int) func(*fastCtx, []any) (any, error) {
	return func(c *fastCtx, a []any) (any, error) {
		// std maps the characters through the guarded std.makeArray.
		s, ok := a[0].(string)
		if !ok || len(s) > c.limit {
			return nil, errFallback
		}
		if err := c.spend(1 + len(s)/64); err != nil {
			return nil, err
		}
		b := []byte(s)
		for i, c := range b {
			if c >= lo && c <= hi {
				b[i] = byte(int(c) + shift)
			}
		}
		return string(b), nil
	}
}

func stdStrings2(fn func(a, b string) any) func(*fastCtx, []any) (any, error) {
	return func(_ *fastCtx, a []any) (any, error) {
		x, ok1 := a[0].(string)
		y, ok2 := a[1].(string)
		if !ok1 || !ok2 {
			return nil, errFallback
		}
		return fn(x, y), nil
	}
}

func stdMath(fn func(float64) float64) func(*fastCtx, []any) (any, error) {
	return func(_ *fastCtx, a []any) (any, error) {
		x, ok := a[0].(float64)
		if !ok {
			return nil, errFallback
		}
		return checkNumber(fn(x))
	}
}

func stdMember(c *fastCtx, a []any) (any, error) {
	arr, ok := a[0].([]any)
	if !ok {
		return nil, errFallback
	}
	for _, e := range arr {
		if err := c.spend(1); err != nil {
			return nil, err
		}
		eq, err := c.equal(e, a[1])
		if err != nil {
			return nil, err
		}
		if eq {
			return true, nil
		}
	}
	return false, nil
}

func stdJoin(c *fastCtx, a []any) (any, error) {
	arr, ok := a[1].([]any)
	if !ok {
		return nil, errFallback
	}
	if err := c.spend(1 + len(arr)); err != nil {
		return nil, err
	}
	switch sep := a[0].(type) {
	case string:
		// The sandbox's guard measures the parts first when there are
		// more than 16 of them, counting a separator for each.
		n := len(sep) * len(arr)
		var b strings.Builder
		first := true
		for _, e := range arr {
			switch e := e.(type) {
			case nil:
				continue
			case string:
				n += len(e)
				if !first {
					b.WriteString(sep)
				}
				b.WriteString(e)
				first = false
				if b.Len() > c.limit {
					return nil, errFallback
				}
			default:
				return nil, errFallback
			}
		}
		if n > c.limit {
			return nil, errFallback
		}
		return b.String(), nil
	case []any:
		n := len(sep) * len(arr)
		out := []any{}
		first := true
		for _, e := range arr {
			switch e := e.(type) {
			case nil:
				continue
			case []any:
				n += len(e)
				if n > c.limit {
					return nil, errFallback
				}
				if !first {
					out = append(out, sep...)
				}
				out = append(out, e...)
				first = false
			default:
				return nil, errFallback
			}
		}
		if n > c.limit || len(out) > c.limit {
			return nil, errFallback
		}
		return out, nil
	}
	return nil, errFallback
}

// stdFormat is std.format(str, vals) for the conversions %s, %d and %i
// without flags, width or precision, and %%; anything else gives up.
func stdFormat(c *fastCtx, a []any) (any, error) {
	str, ok := a[0].(string)
	if !ok {
		return nil, errFallback
	}
	var vals []any
	obj := false
	switch v := a[1].(type) {
	case []any:
		vals = v
	case map[string]any, *fastObject:
		obj = true
	default:
		vals = []any{v}
	}
	if err := c.spend(1 + len(str)/16); err != nil {
		return nil, err
	}
	var b []byte
	next := 0
	for i := 0; i < len(str); i++ {
		ch := str[i]
		if ch != '%' {
			b = append(b, ch)
			continue
		}
		i++
		if i >= len(str) {
			return nil, errFallback
		}
		var val any
		keyed := false
		if str[i] == '(' {
			keyed = true
			end := strings.IndexByte(str[i:], ')')
			if !obj || end < 0 {
				return nil, errFallback
			}
			key := str[i+1 : i+end]
			i += end + 1
			if i >= len(str) || !objectHas(a[1], key, false) {
				return nil, errFallback
			}
			val, _ = objectIndex(a[1], key)
		} else if str[i] != '%' {
			if obj || next >= len(vals) {
				return nil, errFallback
			}
			val = vals[next]
			next++
		}
		switch str[i] {
		case '%':
			if keyed {
				// %(key)% is not worth getting exactly right.
				return nil, errFallback
			}
			b = append(b, '%')
		case 's':
			s, err := c.toString(val)
			if err != nil {
				return nil, err
			}
			b = append(b, s...)
		case 'd', 'i':
			n, ok := val.(float64)
			if !ok || math.Abs(n) >= 1e15 {
				return nil, errFallback
			}
			// std.format truncates toward zero; -0.5 gives "0".
			n = math.Trunc(n)
			if n < 0 {
				b = append(b, '-')
			}
			b = strconv.AppendInt(b, int64(math.Abs(n)), 10)
		default:
			return nil, errFallback
		}
		if len(b) > c.limit {
			return nil, errFallback
		}
	}
	if !obj && next != len(vals) {
		return nil, errFallback
	}
	return string(b), nil
}

// stdCall compiles std.name(...).
func (fc *fastCompiler) stdCall(n *ast.Apply, s *fastScope, name string) fastExpr {
	if strings.HasPrefix(name, "$") && n.Target.Loc().IsSet() {
		// std's internal functions serve what comprehensions desugar to
		// (an index the desugarer made has no location); go-jsonnet
		// refuses or crashes on other uses.
		panic(unsupportedf(n, "std.%s", name))
	}
	switch name {
	case "$flatMapArray":
		return fc.comprehension(n, s)
	case "$objectFlatMerge":
		args := fc.args(n, s, []string{"x"}, 1)
		return func(c *fastCtx, f *fastFrame) (any, error) {
			var a [1]any
			if err := evalArgs(c, f, args, a[:]); err != nil {
				return nil, err
			}
			return c.objectFlatMerge(a[0])
		}
	}
	sf, ok := fastStd[name]
	if !ok {
		panic(unsupportedf(n, "std.%s", name))
	}
	if len(n.Arguments.Named) > 0 {
		panic(unsupportedf(n, "named arguments to std.%s", name))
	}
	args := fc.args(n, s, sf.params, sf.required)
	nparams := len(sf.params)
	return func(c *fastCtx, f *fastFrame) (any, error) {
		var buf [4]any
		a := buf[:nparams]
		if err := evalArgs(c, f, args, a); err != nil {
			return nil, err
		}
		return sf.fn(c, a)
	}
}

// comprehension compiles $std.$flatMapArray(function(x) body, arr), what
// an array comprehension desugars to, into a loop.
func (fc *fastCompiler) comprehension(n *ast.Apply, s *fastScope) fastExpr {
	if len(n.Arguments.Positional) != 2 || len(n.Arguments.Named) > 0 {
		panic(unsupportedf(n, "std.flatMap"))
	}
	fn, ok := n.Arguments.Positional[0].Expr.(*ast.Function)
	if !ok || len(fn.Parameters) != 1 || fn.Parameters[0].DefaultArg != nil {
		panic(unsupportedf(n, "std.flatMap"))
	}
	arr := fc.expr(n.Arguments.Positional[1].Expr, s)
	inner := &fastScope{names: map[ast.Identifier]fastBinding{fn.Parameters[0].Name: {kind: bindSlot}}, up: s}
	fc.sites++
	body := fc.expr(fn.Body, inner)
	return func(c *fastCtx, f *fastFrame) (any, error) {
		av, err := arr(c, f)
		if err != nil {
			return nil, err
		}
		elems, ok := av.([]any)
		if !ok {
			return nil, errFallback
		}
		out := make([]any, 0, len(elems))
		for _, e := range elems {
			v, err := c.call(body, &fastFrame{vars: []any{e}, up: f})
			if err != nil {
				return nil, err
			}
			part, ok := v.([]any)
			if !ok {
				return nil, errFallback
			}
			out = append(out, part...)
		}
		return out, nil
	}
}

// objectFlatMerge is what an object comprehension desugars to: it merges
// objects of one field each, refusing a name twice.
func (c *fastCtx) objectFlatMerge(v any) (any, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, errFallback
	}
	o := &fastObject{}
	for _, e := range arr {
		eo, ok := e.(*fastObject)
		if !ok {
			return nil, errFallback
		}
		o.fields = append(o.fields, eo.fields...)
	}
	sortFields(o.fields)
	for i := 1; i < len(o.fields); i++ {
		if o.fields[i].name == o.fields[i-1].name {
			return nil, errFallback
		}
	}
	return o, nil
}

// compareNumbers compares two numbers, and gives up on anything else.
func compareNumbers(x, y any) (int, error) {
	if _, ok := x.(float64); !ok {
		return 0, errFallback
	}
	return compare(x, y)
}
