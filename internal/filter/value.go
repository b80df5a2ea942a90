package filter

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// kind is the JSON type of a value.
type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

// value is a decoded JSON value. Objects keep their members in document
// order; a repeated key resolves to its last occurrence, as encoding/json
// does.
type value struct {
	k   kind
	b   bool
	s   string // a string's content, or a number's literal text
	arr []value
	obj []member
}

type member struct {
	key string
	val value
}

// get returns the member named key of an object.
func (v *value) get(key string) (*value, bool) {
	for i := len(v.obj) - 1; i >= 0; i-- {
		if v.obj[i].key == key {
			return &v.obj[i].val, true
		}
	}
	return nil, false
}

// errSyntax reports JSON the parser cannot read.
var errSyntax = errors.New("invalid JSON")

// maxParseDepth bounds the nesting of a parsed payload; encoding/json
// allows the same.
const maxParseDepth = 10000

// parse decodes one JSON document nested at most maxDepth deep.
func parse(data []byte, maxDepth int) (value, error) {
	// One copy of the whole document; every string value is a substring
	// of it.
	p := parser{data: string(data), maxDepth: maxDepth}
	p.skipSpace()
	v, err := p.value(0)
	if err != nil {
		return value{}, err
	}
	p.skipSpace()
	if p.i != len(p.data) {
		return value{}, errSyntax
	}
	return v, nil
}

type parser struct {
	data     string
	i        int
	maxDepth int
	// members and elements are stacks shared by all containers being
	// parsed: a container's children go on top and are copied out, sized,
	// when it ends.
	members  []member
	elements []value
}

func (p *parser) skipSpace() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (value, error) {
	if depth > p.maxDepth {
		return value{}, errSyntax
	}
	if p.i >= len(p.data) {
		return value{}, errSyntax
	}
	switch c := p.data[p.i]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.str()
		return value{k: kindString, s: s}, err
	case c == 't':
		return value{k: kindBool, b: true}, p.literal("true")
	case c == 'f':
		return value{k: kindBool}, p.literal("false")
	case c == 'n':
		return value{k: kindNull}, p.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return value{}, errSyntax
}

func (p *parser) literal(word string) error {
	if !strings.HasPrefix(p.data[p.i:], word) {
		return errSyntax
	}
	p.i += len(word)
	return nil
}

func (p *parser) object(depth int) (value, error) {
	p.i++ // {
	v := value{k: kindObject}
	base := len(p.members)
	defer func() { p.members = p.members[:base] }()
	p.skipSpace()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
		return v, nil
	}
	for {
		p.skipSpace()
		if p.i >= len(p.data) || p.data[p.i] != '"' {
			return value{}, errSyntax
		}
		key, err := p.str()
		if err != nil {
			return value{}, err
		}
		p.skipSpace()
		if p.i >= len(p.data) || p.data[p.i] != ':' {
			return value{}, errSyntax
		}
		p.i++
		p.skipSpace()
		el, err := p.value(depth + 1)
		if err != nil {
			return value{}, err
		}
		p.members = append(p.members, member{key: key, val: el})
		p.skipSpace()
		if p.i >= len(p.data) {
			return value{}, errSyntax
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			v.obj = append(make([]member, 0, len(p.members)-base), p.members[base:]...)
			return v, nil
		default:
			return value{}, errSyntax
		}
	}
}

func (p *parser) array(depth int) (value, error) {
	p.i++ // [
	v := value{k: kindArray}
	base := len(p.elements)
	defer func() { p.elements = p.elements[:base] }()
	p.skipSpace()
	if p.i < len(p.data) && p.data[p.i] == ']' {
		p.i++
		v.arr = []value{}
		return v, nil
	}
	for {
		p.skipSpace()
		el, err := p.value(depth + 1)
		if err != nil {
			return value{}, err
		}
		p.elements = append(p.elements, el)
		p.skipSpace()
		if p.i >= len(p.data) {
			return value{}, errSyntax
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			v.arr = append(make([]value, 0, len(p.elements)-base), p.elements[base:]...)
			return v, nil
		default:
			return value{}, errSyntax
		}
	}
}

// str reads a string token; p.data[p.i] is its opening quote.
func (p *parser) str() (string, error) {
	start := p.i
	p.i++
	escaped := false
	for p.i < len(p.data) {
		switch c := p.data[p.i]; {
		case c == '"':
			p.i++
			if !escaped {
				return p.data[start+1 : p.i-1], nil
			}
			var s string
			if err := json.Unmarshal([]byte(p.data[start:p.i]), &s); err != nil {
				return "", errSyntax
			}
			return s, nil
		case c == '\\':
			escaped = true
			p.i += 2
		case c < 0x20:
			return "", errSyntax
		default:
			p.i++
		}
	}
	return "", errSyntax
}

func (p *parser) number() (value, error) {
	start := p.i
	if p.data[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.data) && p.data[p.i] >= '0' && p.data[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	intStart := p.i
	if n := digits(); n == 0 || (n > 1 && p.data[intStart] == '0') {
		return value{}, errSyntax
	}
	if p.i < len(p.data) && p.data[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return value{}, errSyntax
		}
	}
	if p.i < len(p.data) && (p.data[p.i] == 'e' || p.data[p.i] == 'E') {
		p.i++
		if p.i < len(p.data) && (p.data[p.i] == '+' || p.data[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return value{}, errSyntax
		}
	}
	return value{k: kindNumber, s: p.data[start:p.i]}, nil
}

// isInteger reports whether a number literal has neither fraction nor
// exponent.
func isInteger(lit string) bool {
	return !strings.ContainsAny(lit, ".eE")
}

// compareNumbers orders two JSON number literals by value. Integers are
// compared exactly, however long; other numbers as float64.
func compareNumbers(a, b string) int {
	if isInteger(a) && isInteger(b) {
		return compareIntegers(a, b)
	}
	fa, fb := toFloat(a), toFloat(b)
	switch {
	case fa < fb:
		return -1
	case fa > fb:
		return 1
	}
	return 0
}

func toFloat(lit string) float64 {
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		// Only a range error is possible for a valid literal; ParseFloat
		// then returns ±Inf or 0, which orders correctly.
		if math.IsNaN(f) {
			return 0
		}
	}
	return f
}

// compareIntegers orders two integer literals without converting them:
// JSON forbids leading zeros, so a longer magnitude is a larger one.
func compareIntegers(a, b string) int {
	na, nb := strings.HasPrefix(a, "-"), strings.HasPrefix(b, "-")
	ma, mb := strings.TrimPrefix(a, "-"), strings.TrimPrefix(b, "-")
	if ma == "0" {
		na = false
	}
	if mb == "0" {
		nb = false
	}
	switch {
	case na && !nb:
		return -1
	case !na && nb:
		return 1
	}
	c := len(ma) - len(mb)
	if c == 0 {
		c = strings.Compare(ma, mb)
	}
	if c > 0 {
		c = 1
	} else if c < 0 {
		c = -1
	}
	if na {
		return -c
	}
	return c
}

// equal reports whether two values are the same JSON value: numbers by
// value, objects regardless of member order. Its cost is linear in the
// smaller of the two.
func equal(a, b *value) bool {
	if a.k != b.k {
		return false
	}
	switch a.k {
	case kindNull:
		return true
	case kindBool:
		return a.b == b.b
	case kindNumber:
		return compareNumbers(a.s, b.s) == 0
	case kindString:
		return a.s == b.s
	case kindArray:
		if len(a.arr) != len(b.arr) {
			return false
		}
		for i := range a.arr {
			if !equal(&a.arr[i], &b.arr[i]) {
				return false
			}
		}
		return true
	}
	// Objects: b is the operand, which compile has reduced to distinct
	// keys. Equal when every key of b has an equal value in a, and every
	// key of a is one of b's; each step costs a scan of b, never of a, so
	// the whole is linear in a for a given operand.
	for i := range b.obj {
		av, ok := a.get(b.obj[i].key)
		if !ok || !equal(av, &b.obj[i].val) {
			return false
		}
	}
	for i := range a.obj {
		if _, ok := b.get(a.obj[i].key); !ok {
			return false
		}
	}
	return true
}

// timestamp parses s when it is an RFC 3339 timestamp.
func timestamp(s string) (time.Time, bool) {
	// The cheap shape check keeps ordinary strings off the parser.
	if len(s) < len("2006-01-02T15:04:05Z") || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}
