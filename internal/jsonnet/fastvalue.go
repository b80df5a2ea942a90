package jsonnet

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/google/go-jsonnet/ast"
)

// This file holds the values of the fast path and the operations on them
// that must agree with go-jsonnet: equality, comparison, +, and
// manifestation as JSON.
//
// A value is one of: nil (null), bool, float64, string (valid UTF-8),
// []any (an array), map[string]any (an object decoded from JSON, every
// field visible), *fastObject (an object the template built) and
// *fastClosure (a function). The fast path evaluates eagerly and gives up
// on the first error, so a value never holds a pending error.

// errFallback is how the fast path gives up: the evaluation is then left
// to the sandbox, which gives the exact result or error.
var errFallback = errors.New("jsonnet: fast path gave up")

// fastField is one field of a *fastObject.
type fastField struct {
	name  string
	hide  ast.ObjectFieldHide
	plus  bool // +: the value is added to the inherited one
	value any
}

// fastObject is an object built by the template, its fields sorted by
// name.
type fastObject struct {
	fields []fastField
}

// find returns the index of the field name, or -1.
func (o *fastObject) find(name string) int {
	i := sort.Search(len(o.fields), func(i int) bool { return o.fields[i].name >= name })
	if i < len(o.fields) && o.fields[i].name == name {
		return i
	}
	return -1
}

// objectIndex returns the field name of an object value, hidden or not.
func objectIndex(o any, name string) (any, bool) {
	switch o := o.(type) {
	case map[string]any:
		v, ok := o[name]
		return v, ok
	case *fastObject:
		if i := o.find(name); i >= 0 {
			return o.fields[i].value, true
		}
	}
	return nil, false
}

// objectHas reports whether an object value has the field name; hidden
// fields count when all is set.
func objectHas(o any, name string, all bool) bool {
	switch o := o.(type) {
	case map[string]any:
		_, ok := o[name]
		return ok
	case *fastObject:
		i := o.find(name)
		return i >= 0 && (all || o.fields[i].hide != ast.ObjectFieldHidden)
	}
	return false
}

// objectFields returns the sorted names of an object value's fields,
// hidden ones only when all is set.
func objectFields(o any, all bool) []string {
	switch o := o.(type) {
	case map[string]any:
		names := make([]string, 0, len(o))
		for k := range o {
			names = append(names, k)
		}
		sort.Strings(names)
		return names
	case *fastObject:
		names := make([]string, 0, len(o.fields))
		for _, f := range o.fields {
			if all || f.hide != ast.ObjectFieldHidden {
				names = append(names, f.name)
			}
		}
		return names
	}
	return nil
}

// isObject reports whether v is an object value.
func isObject(v any) bool {
	switch v.(type) {
	case map[string]any, *fastObject:
		return true
	}
	return false
}

// typeName is std.type of v.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any, *fastObject:
		return "object"
	case *fastClosure:
		return "function"
	}
	return "unknown"
}

// asFastObject returns an object value as a *fastObject.
func asFastObject(v any) *fastObject {
	switch v := v.(type) {
	case *fastObject:
		return v
	case map[string]any:
		names := objectFields(v, true)
		o := &fastObject{fields: make([]fastField, len(names))}
		for i, n := range names {
			o.fields[i] = fastField{name: n, hide: ast.ObjectFieldInherit, value: v[n]}
		}
		return o
	}
	return nil
}

// equal is go-jsonnet's ==: values of different types differ, arrays and
// objects compare element by element (objects by their visible fields),
// functions cannot be compared.
func (c *fastCtx) equal(x, y any) (bool, error) {
	if err := c.spend(1); err != nil {
		return false, err
	}
	if typeName(x) != typeName(y) {
		return false, nil
	}
	switch x := x.(type) {
	case nil:
		return true, nil
	case bool:
		return x == y.(bool), nil
	case float64:
		return x == y.(float64), nil
	case string:
		return x == y.(string), nil
	case []any:
		ys := y.([]any)
		if len(x) != len(ys) {
			return false, nil
		}
		for i := range x {
			eq, err := c.equal(x[i], ys[i])
			if err != nil || !eq {
				return false, err
			}
		}
		return true, nil
	case map[string]any, *fastObject:
		xf, yf := objectFields(x, false), objectFields(y, false)
		if err := c.spend(len(xf) + len(yf)); err != nil {
			return false, err
		}
		if len(xf) != len(yf) {
			return false, nil
		}
		for i := range xf {
			if xf[i] != yf[i] {
				return false, nil
			}
		}
		for _, name := range xf {
			a, _ := objectIndex(x, name)
			b, _ := objectIndex(y, name)
			eq, err := c.equal(a, b)
			if err != nil || !eq {
				return false, err
			}
		}
		return true, nil
	}
	return false, errFallback
}

// compare is go-jsonnet's <, <=, >, >= on two numbers or two strings.
func compare(x, y any) (int, error) {
	switch x := x.(type) {
	case float64:
		if y, ok := y.(float64); ok {
			switch {
			case x < y:
				return -1, nil
			case x > y:
				return 1, nil
			}
			return 0, nil
		}
	case string:
		// Byte order of valid UTF-8 is code point order.
		if y, ok := y.(string); ok {
			switch {
			case x < y:
				return -1, nil
			case x > y:
				return 1, nil
			}
			return 0, nil
		}
	}
	return 0, errFallback
}

// checkNumber refuses what go-jsonnet refuses as the result of arithmetic.
func checkNumber(f float64) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, errFallback
	}
	return f, nil
}

// stringLen is std.length of a string: its code points.
func stringLen(s string) int { return utf8.RuneCountInString(s) }

// validString returns s as go-jsonnet sees a Go string: every byte that is
// not part of valid UTF-8 becomes U+FFFD.
func validString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return string([]rune(s))
}

// appendNumber appends f as go-jsonnet manifests a number.
func appendNumber(b []byte, f float64) []byte {
	if f == math.Floor(f) {
		return strconv.AppendFloat(b, f, 'f', 0, 64)
	}
	return strconv.AppendFloat(b, f, 'g', 17, 64)
}

const hexDigits = "0123456789abcdef"

// appendString appends s quoted as go-jsonnet manifests a string.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < 0x7f {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"':
				b = append(b, '\\', '"')
			case '\\':
				b = append(b, '\\', '\\')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r >= 0x80 && r <= 0x9f {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&0xf])
			start = i + size
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// manifester writes values as JSON, compact or in go-jsonnet's one-line
// form (", " and ": " separators, "[ ]" and "{ }" when empty) that
// std.toString uses. It gives up on a function and on nesting deeper than
// maxDepth.
type manifester struct {
	buf      []byte
	oneLine  bool
	maxDepth int
}

func (m *manifester) value(v any, depth int) error {
	if depth > m.maxDepth {
		return errFallback
	}
	switch v := v.(type) {
	case nil:
		m.buf = append(m.buf, "null"...)
	case bool:
		m.buf = strconv.AppendBool(m.buf, v)
	case float64:
		m.buf = appendNumber(m.buf, v)
	case string:
		m.buf = appendString(m.buf, v)
	case []any:
		if len(v) == 0 {
			if m.oneLine {
				m.buf = append(m.buf, "[ ]"...)
			} else {
				m.buf = append(m.buf, "[]"...)
			}
			return nil
		}
		m.buf = append(m.buf, '[')
		for i, e := range v {
			if i > 0 {
				m.sep(',')
			}
			if err := m.value(e, depth+1); err != nil {
				return err
			}
		}
		m.buf = append(m.buf, ']')
	case map[string]any:
		if len(v) == 0 {
			m.emptyObject()
			return nil
		}
		var names [16]string
		keys := names[:0]
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		m.buf = append(m.buf, '{')
		for i, k := range keys {
			if i > 0 {
				m.sep(',')
			}
			m.buf = appendString(m.buf, k)
			m.sep(':')
			if err := m.value(v[k], depth+1); err != nil {
				return err
			}
		}
		m.buf = append(m.buf, '}')
	case *fastObject:
		n := 0
		for _, f := range v.fields {
			if f.hide == ast.ObjectFieldHidden {
				continue
			}
			if n == 0 {
				m.buf = append(m.buf, '{')
			} else {
				m.sep(',')
			}
			n++
			m.buf = appendString(m.buf, f.name)
			m.sep(':')
			if err := m.value(f.value, depth+1); err != nil {
				return err
			}
		}
		if n == 0 {
			m.emptyObject()
			return nil
		}
		m.buf = append(m.buf, '}')
	default:
		return errFallback
	}
	return nil
}

func (m *manifester) sep(c byte) {
	m.buf = append(m.buf, c)
	if m.oneLine {
		m.buf = append(m.buf, ' ')
	}
}

func (m *manifester) emptyObject() {
	if m.oneLine {
		m.buf = append(m.buf, "{ }"...)
	} else {
		m.buf = append(m.buf, "{}"...)
	}
}

// toString is std.toString: a string as it is, anything else in
// go-jsonnet's one-line JSON.
func (c *fastCtx) toString(v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	m := manifester{oneLine: true, maxDepth: c.manifestDepth}
	if err := m.value(v, 0); err != nil {
		return "", err
	}
	if err := c.spend(1 + len(m.buf)/16); err != nil {
		return "", err
	}
	return string(m.buf), nil
}

// plus is go-jsonnet's +, with the sandbox's limit on the length of the
// string or array it makes.
func (c *fastCtx) plus(x, y any) (any, error) {
	if ys, ok := y.(string); ok {
		xs, err := c.toString(x)
		if err != nil {
			return nil, err
		}
		return c.concat(xs, ys)
	}
	switch x := x.(type) {
	case float64:
		if y, ok := y.(float64); ok {
			return checkNumber(x + y)
		}
	case string:
		ys, err := c.toString(y)
		if err != nil {
			return nil, err
		}
		return c.concat(x, ys)
	case []any:
		if y, ok := y.([]any); ok {
			n := len(x) + len(y)
			if n > c.limit {
				return nil, errFallback
			}
			if err := c.spend(1 + n/16); err != nil {
				return nil, err
			}
			out := make([]any, 0, n)
			return append(append(out, x...), y...), nil
		}
	case map[string]any, *fastObject:
		if isObject(y) {
			l, r := asFastObject(x), asFastObject(y)
			if err := c.spend(len(l.fields) + len(r.fields)); err != nil {
				return nil, err
			}
			return c.extend(l, r)
		}
	}
	return nil, errFallback
}

func (c *fastCtx) concat(x, y string) (any, error) {
	// A byte count bounds the code point count the sandbox measures.
	n := len(x) + len(y)
	if n > c.limit {
		return nil, errFallback
	}
	if err := c.spend(1 + n/64); err != nil {
		return nil, err
	}
	return x + y, nil
}

// extend is left + right for objects whose fields do not refer to self or
// super: right's fields override left's, a +: field of right adds to
// left's, and a field keeps left's visibility unless right sets its own.
func (c *fastCtx) extend(left, right *fastObject) (any, error) {
	if err := c.spend(1 + (len(left.fields)+len(right.fields))/8); err != nil {
		return nil, err
	}
	out := &fastObject{fields: make([]fastField, 0, len(left.fields)+len(right.fields))}
	i, j := 0, 0
	for i < len(left.fields) || j < len(right.fields) {
		switch {
		case j == len(right.fields) || (i < len(left.fields) && left.fields[i].name < right.fields[j].name):
			out.fields = append(out.fields, left.fields[i])
			i++
		case i == len(left.fields) || right.fields[j].name < left.fields[i].name:
			out.fields = append(out.fields, right.fields[j])
			j++
		default:
			l, r := left.fields[i], right.fields[j]
			f := r
			if r.hide == ast.ObjectFieldInherit {
				f.hide = l.hide
			}
			if r.plus {
				if l.plus {
					// Which additions happen first would depend on what
					// the result is later added to.
					return nil, errFallback
				}
				v, err := c.plus(l.value, r.value)
				if err != nil {
					return nil, err
				}
				f.value, f.plus = v, false
			}
			out.fields = append(out.fields, f)
			i++
			j++
		}
	}
	return out, nil
}

// manifestJSON writes the compact JSON of v into a fresh buffer.
func (c *fastCtx) manifestJSON(v any, sizeHint int) ([]byte, error) {
	m := manifester{buf: make([]byte, 0, sizeHint), maxDepth: c.manifestDepth}
	if err := m.value(v, 0); err != nil {
		return nil, err
	}
	return m.buf, nil
}

// minifier writes values as std.manifestJsonMinified does: numbers in
// the shortest decimal form, strings as encoding/json encodes them
// without escaping HTML.
type minifier struct {
	buf []byte
	enc *json.Encoder
	out bytes.Buffer
}

func (m *minifier) value(v any, depth int) error {
	if depth <= 0 {
		return errFallback
	}
	switch v := v.(type) {
	case nil:
		m.buf = append(m.buf, "null"...)
	case bool:
		m.buf = strconv.AppendBool(m.buf, v)
	case float64:
		m.buf = strconv.AppendFloat(m.buf, v, 'f', -1, 64)
	case string:
		return m.str(v)
	case []any:
		m.buf = append(m.buf, '[')
		for i, e := range v {
			if i > 0 {
				m.buf = append(m.buf, ',')
			}
			if err := m.value(e, depth-1); err != nil {
				return err
			}
		}
		m.buf = append(m.buf, ']')
	case map[string]any, *fastObject:
		m.buf = append(m.buf, '{')
		for i, name := range objectFields(v, false) {
			if i > 0 {
				m.buf = append(m.buf, ',')
			}
			if err := m.str(name); err != nil {
				return err
			}
			m.buf = append(m.buf, ':')
			fv, _ := objectIndex(v, name)
			if err := m.value(fv, depth-1); err != nil {
				return err
			}
		}
		m.buf = append(m.buf, '}')
	default:
		return errFallback
	}
	return nil
}

func (m *minifier) str(s string) error {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		m.buf = append(m.buf, '"')
		m.buf = append(m.buf, s...)
		m.buf = append(m.buf, '"')
		return nil
	}
	if m.enc == nil {
		m.enc = json.NewEncoder(&m.out)
		m.enc.SetEscapeHTML(false)
	}
	m.out.Reset()
	if err := m.enc.Encode(s); err != nil {
		return errFallback
	}
	m.buf = append(m.buf, bytes.TrimRight(m.out.Bytes(), "\n")...)
	return nil
}
