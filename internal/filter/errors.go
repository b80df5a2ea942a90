package filter

import (
	"strconv"
	"strings"
)

// Error reports a filter that does not compile: what is wrong and where.
type Error struct {
	// Path locates the fault in the filter document as a JSONPath
	// expression, e.g. `$["data.amount"].$gte` or `$.$or[1]`.
	Path string
	// Reason says what is wrong, in lowercase words.
	Reason string
	// Err is an optional underlying cause, such as a regexp syntax error.
	Err error
}

// Error returns the path and the reason.
func (e *Error) Error() string {
	msg := "filter: " + e.Path + ": " + e.Reason
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// jsonPath is the location of a value in the filter document, kept as a
// linked list so that descending costs no copy.
type jsonPath struct {
	parent *jsonPath
	key    string
	index  int // used when key is empty and isIndex is set
	isIdx  bool
}

func (p *jsonPath) child(key string) *jsonPath { return &jsonPath{parent: p, key: key} }
func (p *jsonPath) element(i int) *jsonPath    { return &jsonPath{parent: p, index: i, isIdx: true} }
func (p *jsonPath) fail(reason string) *Error  { return &Error{Path: p.String(), Reason: reason} }
func (p *jsonPath) failErr(reason string, err error) *Error {
	return &Error{Path: p.String(), Reason: reason, Err: err}
}

// String renders the path in JSONPath notation: `$`, then `.name` for a
// plain member name, `["a.b"]` for any other, `[i]` for an element.
func (p *jsonPath) String() string {
	var parts []*jsonPath
	for q := p; q != nil; q = q.parent {
		parts = append(parts, q)
	}
	var b strings.Builder
	b.WriteString("$")
	for i := len(parts) - 1; i >= 0; i-- {
		q := parts[i]
		switch {
		case q.isIdx:
			b.WriteString("[" + strconv.Itoa(q.index) + "]")
		case plainName(q.key):
			b.WriteString("." + q.key)
		default:
			b.WriteString("[" + strconv.Quote(q.key) + "]")
		}
	}
	return b.String()
}

func plainName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
