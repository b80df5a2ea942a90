package jsonnet

import (
	"errors"
	"fmt"
	"strings"

	gojsonnet "github.com/google/go-jsonnet"
	"github.com/google/go-jsonnet/ast"
)

// Error reports a template that does not compile, or that failed while
// evaluating. Line and Column are 1-based, in the template's source; zero
// when unknown.
type Error struct {
	Line    int
	Column  int
	Message string
}

// Error returns the position, when known, and the message.
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("template:%d:%d: %s", e.Line, e.Column, e.Message)
	}
	return "template: " + e.Message
}

// errEvalCancelled is what the cancellation check answers once an
// evaluation is abandoned.
var errEvalCancelled = errors.New("evaluation cancelled")

// staticError converts a go-jsonnet parse or static analysis error.
func staticError(err error) *Error {
	var located interface{ Loc() ast.LocationRange }
	if errors.As(err, &located) {
		loc := located.Loc()
		msg := err.Error()
		if loc.IsSet() {
			// go-jsonnet's message is "<file>:<range> <msg>".
			if _, rest, ok := strings.Cut(msg, loc.String()+" "); ok {
				msg = rest
			}
		}
		return &Error{Line: loc.Begin.Line, Column: loc.Begin.Column, Message: firstLine(msg)}
	}
	return &Error{Message: firstLine(err.Error())}
}

// runtimeError converts an evaluation error, locating it at the innermost
// stack frame inside the template.
func runtimeError(err error) *Error {
	var rt gojsonnet.RuntimeError
	if !errors.As(err, &rt) {
		// go-jsonnet reports a recovered panic as a plain error with a
		// stack; keep only its first line.
		return &Error{Message: "internal error: " + firstLine(err.Error())}
	}
	e := &Error{Message: strings.TrimSuffix(strings.TrimSpace(rt.Msg), ".")}
	if e.Message == errEvalCancelled.Error() {
		e.Message = "evaluation cancelled"
	}
	for _, f := range rt.StackTrace {
		if f.Loc.FileName == templateFile && f.Loc.Begin.Line > 0 {
			e.Line, e.Column = f.Loc.Begin.Line, f.Loc.Begin.Column
			break
		}
	}
	return e
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func outputTooLarge(n, limit int) *Error {
	return &Error{Message: fmt.Sprintf("output of %d bytes exceeds the limit of %d", n, limit)}
}
