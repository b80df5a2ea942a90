package jsonnet

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// This file decodes the event's JSON for the fast path as go-jsonnet's
// std.parseJson does (encoding/json into any), but faster, and lazily for
// the payload: a template that reads a few top-level fields decodes only
// those. The whole text is still checked, so that text encoding/json
// refuses is refused here too: syntax, control characters in strings,
// escapes, numbers out of range, nesting deeper than encoding/json allows.

// jsonMaxDepth is encoding/json's limit on nesting.
const jsonMaxDepth = 10000

// jsonText is a JSON text being checked or decoded.
type jsonText struct {
	s     string
	i     int
	depth int
}

func (t *jsonText) ws() {
	for t.i < len(t.s) {
		switch t.s[t.i] {
		case ' ', '\t', '\n', '\r':
			t.i++
		default:
			return
		}
	}
}

// value decodes the value at t.i, or only checks it when skip is set.
func (t *jsonText) value(skip bool) (any, error) {
	t.ws()
	if t.i >= len(t.s) {
		return nil, errFallback
	}
	switch c := t.s[t.i]; {
	case c == '{':
		return t.object(skip)
	case c == '[':
		return t.array(skip)
	case c == '"':
		start := t.i
		escaped, err := t.skipString()
		if err != nil || skip {
			return nil, err
		}
		return decodeString(t.s[start:t.i], escaped)
	case c == '-' || (c >= '0' && c <= '9'):
		return t.number(skip)
	case c == 't':
		return t.literal("true", true)
	case c == 'f':
		return t.literal("false", false)
	case c == 'n':
		return t.literal("null", nil)
	}
	return nil, errFallback
}

func (t *jsonText) literal(word string, v any) (any, error) {
	if len(t.s)-t.i < len(word) || t.s[t.i:t.i+len(word)] != word {
		return nil, errFallback
	}
	t.i += len(word)
	return v, nil
}

func (t *jsonText) enter() error {
	t.depth++
	if t.depth > jsonMaxDepth {
		return errFallback
	}
	return nil
}

func (t *jsonText) object(skip bool) (any, error) {
	if err := t.enter(); err != nil {
		return nil, err
	}
	t.i++ // {
	var m map[string]any
	if !skip {
		m = map[string]any{}
	}
	t.ws()
	if t.i < len(t.s) && t.s[t.i] == '}' {
		t.i++
		t.depth--
		return m, nil
	}
	for {
		t.ws()
		if t.i >= len(t.s) || t.s[t.i] != '"' {
			return nil, errFallback
		}
		start := t.i
		escaped, err := t.skipString()
		if err != nil {
			return nil, err
		}
		key := t.s[start:t.i]
		t.ws()
		if t.i >= len(t.s) || t.s[t.i] != ':' {
			return nil, errFallback
		}
		t.i++
		v, err := t.value(skip)
		if err != nil {
			return nil, err
		}
		if !skip {
			k, err := decodeString(key, escaped)
			if err != nil {
				return nil, err
			}
			m[k.(string)] = v
		}
		t.ws()
		if t.i >= len(t.s) {
			return nil, errFallback
		}
		switch t.s[t.i] {
		case ',':
			t.i++
		case '}':
			t.i++
			t.depth--
			return m, nil
		default:
			return nil, errFallback
		}
	}
}

func (t *jsonText) array(skip bool) (any, error) {
	if err := t.enter(); err != nil {
		return nil, err
	}
	t.i++ // [
	var a []any
	if !skip {
		a = []any{}
	}
	t.ws()
	if t.i < len(t.s) && t.s[t.i] == ']' {
		t.i++
		t.depth--
		return a, nil
	}
	for {
		v, err := t.value(skip)
		if err != nil {
			return nil, err
		}
		if !skip {
			a = append(a, v)
		}
		t.ws()
		if t.i >= len(t.s) {
			return nil, errFallback
		}
		switch t.s[t.i] {
		case ',':
			t.i++
		case ']':
			t.i++
			t.depth--
			return a, nil
		default:
			return nil, errFallback
		}
	}
}

// skipString moves past the string at t.i, checking it, and reports
// whether it has escapes or bytes that decoding changes.
func (t *jsonText) skipString() (escaped bool, err error) {
	t.i++ // "
	for t.i < len(t.s) {
		c := t.s[t.i]
		switch {
		case c == '"':
			t.i++
			return escaped, nil
		case c < 0x20:
			return false, errFallback
		case c == '\\':
			escaped = true
			t.i++
			if t.i >= len(t.s) {
				return false, errFallback
			}
			switch t.s[t.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				t.i++
			case 'u':
				if len(t.s)-t.i < 5 {
					return false, errFallback
				}
				for _, h := range []byte(t.s[t.i+1 : t.i+5]) {
					if !isHex(h) {
						return false, errFallback
					}
				}
				t.i += 5
			default:
				return false, errFallback
			}
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(t.s[t.i:])
			if r == utf8.RuneError && size == 1 {
				escaped = true // becomes U+FFFD
			}
			t.i += size
		default:
			t.i++
		}
	}
	return false, errFallback
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// decodeString decodes a checked string token, quotes included.
func decodeString(tok string, escaped bool) (any, error) {
	if !escaped {
		return tok[1 : len(tok)-1], nil
	}
	var s string
	if err := json.Unmarshal([]byte(tok), &s); err != nil {
		return nil, errFallback
	}
	return s, nil
}

func (t *jsonText) number(skip bool) (any, error) {
	start := t.i
	if t.s[t.i] == '-' {
		t.i++
	}
	digits := func() int {
		n := 0
		for t.i < len(t.s) && t.s[t.i] >= '0' && t.s[t.i] <= '9' {
			t.i++
			n++
		}
		return n
	}
	if t.i < len(t.s) && t.s[t.i] == '0' {
		t.i++
	} else if digits() == 0 {
		return nil, errFallback
	}
	if t.i < len(t.s) && t.s[t.i] == '.' {
		t.i++
		if digits() == 0 {
			return nil, errFallback
		}
	}
	if t.i < len(t.s) && (t.s[t.i] == 'e' || t.s[t.i] == 'E') {
		t.i++
		if t.i < len(t.s) && (t.s[t.i] == '+' || t.s[t.i] == '-') {
			t.i++
		}
		if digits() == 0 {
			return nil, errFallback
		}
	}
	tok := t.s[start:t.i]
	// Only a number too large for a float64 fails; it has many digits
	// or an exponent.
	if !skip || len(tok) > 300 || hasExponent(tok) {
		f, err := strconv.ParseFloat(tok, 64)
		if err != nil {
			return nil, errFallback
		}
		return f, nil
	}
	return nil, nil
}

func hasExponent(tok string) bool {
	for i := 0; i < len(tok); i++ {
		if tok[i] == 'e' || tok[i] == 'E' {
			return true
		}
	}
	return false
}

// decodeJSONText decodes a whole JSON text.
func decodeJSONText(s string) (any, error) {
	t := jsonText{s: s}
	v, err := t.value(false)
	if err != nil {
		return nil, err
	}
	t.ws()
	if t.i != len(t.s) {
		return nil, errFallback
	}
	return v, nil
}

// lazyPayload is the payload of one evaluation, checked whole once, and
// decoded field by field when it is an object.
type lazyPayload struct {
	checked bool
	object  bool
	fields  []lazyField // top-level fields, in the order of the text
	decoded []lazyValue // the fields decoded so far
	inline  [32]lazyField
	inlineD [4]lazyValue
}

// lazyField locates one top-level field in the text.
type lazyField struct {
	keyStart, keyEnd int32 // the key's token, quotes included
	start, end       int32 // the value's
	escaped          bool
}

type lazyValue struct {
	field int
	value any
}

// check checks the whole text once and indexes the top-level fields.
func (p *lazyPayload) check(s string) error {
	if p.checked {
		return nil
	}
	if len(s) > 1<<30 {
		return errFallback
	}
	p.fields, p.decoded = p.inline[:0], p.inlineD[:0]
	t := jsonText{s: s}
	t.ws()
	if t.i < len(t.s) && t.s[t.i] == '{' {
		p.object = true
		t.depth = 1
		t.i++
		t.ws()
		if t.i < len(t.s) && t.s[t.i] == '}' {
			t.i++
		} else {
			for {
				t.ws()
				if t.i >= len(t.s) || t.s[t.i] != '"' {
					return errFallback
				}
				start := t.i
				escaped, err := t.skipString()
				if err != nil {
					return err
				}
				f := lazyField{keyStart: int32(start), keyEnd: int32(t.i), escaped: escaped}
				t.ws()
				if t.i >= len(t.s) || t.s[t.i] != ':' {
					return errFallback
				}
				t.i++
				t.ws()
				f.start = int32(t.i)
				if _, err := t.value(true); err != nil {
					return err
				}
				f.end = int32(t.i)
				p.fields = append(p.fields, f)
				t.ws()
				if t.i >= len(t.s) {
					return errFallback
				}
				if t.s[t.i] == '}' {
					t.i++
					break
				}
				if t.s[t.i] != ',' {
					return errFallback
				}
				t.i++
			}
		}
	} else if _, err := t.value(true); err != nil {
		return err
	}
	t.ws()
	if t.i != len(t.s) {
		return errFallback
	}
	p.checked = true
	return nil
}

// field returns the top-level field key of an object payload: the last
// one of that name, as encoding/json keeps.
func (p *lazyPayload) field(s, key string) (any, bool, error) {
	for i := len(p.fields) - 1; i >= 0; i-- {
		f := &p.fields[i]
		if !keyIs(s[f.keyStart:f.keyEnd], f.escaped, key) {
			continue
		}
		for _, d := range p.decoded {
			if d.field == i {
				return d.value, true, nil
			}
		}
		v, err := decodeJSONText(s[f.start:f.end])
		if err != nil {
			return nil, false, err
		}
		p.decoded = append(p.decoded, lazyValue{field: i, value: v})
		return v, true, nil
	}
	return nil, false, nil
}

// keyIs reports whether the key token tok decodes to key.
func keyIs(tok string, escaped bool, key string) bool {
	if !escaped {
		return len(tok) == len(key)+2 && tok[1:len(tok)-1] == key
	}
	k, err := decodeString(tok, true)
	return err == nil && k.(string) == key
}
