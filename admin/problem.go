package admin

import (
	"encoding/json"
	"errors"
	"net/http"

	webhook "github.com/hooklet/webhook"
)

// problem is an RFC 9457 problem detail, the body of every error answer of
// the JSON API.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Line and Column locate a template error, 1-based.
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
}

// httpError is an error that knows its HTTP status.
type httpError struct {
	status int
	msg    string
	err    error
}

func (e *httpError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

func (e *httpError) Unwrap() error { return e.err }

// badRequest returns an error that answers 400 with msg.
func badRequest(msg string, err error) error {
	return &httpError{status: http.StatusBadRequest, msg: msg, err: err}
}

// errNotFound answers 404 for a record that is missing or belongs to
// another tenant: the two must be indistinguishable.
var errNotFound = &httpError{status: http.StatusNotFound, msg: "not found", err: webhook.ErrNotFound}

// problemFor maps err to a problem detail: 400 for invalid input
// (ErrInvalidEndpoint, ErrInvalidEvent, template errors, ErrRedacted), 404
// for ErrNotFound, 409 for ErrConflict, 503 for ErrClosed, 500 otherwise.
// The detail of a 500 does not repeat the error, which may name internals.
func problemFor(err error) problem {
	p := problem{Type: "about:blank"}
	var he *httpError
	var te *webhook.TemplateError
	switch {
	case errors.As(err, &he) && he.status != 0:
		p.Status = he.status
		p.Detail = he.Error()
		if he.err == nil || he.err == webhook.ErrNotFound {
			p.Detail = he.msg
		}
	case errors.Is(err, webhook.ErrNotFound):
		p.Status, p.Detail = http.StatusNotFound, "not found"
	case errors.Is(err, webhook.ErrInvalidEndpoint), errors.Is(err, webhook.ErrInvalidEvent), errors.Is(err, webhook.ErrInvalidParams),
		errors.Is(err, webhook.ErrInvalidTemplate), errors.Is(err, webhook.ErrRedacted),
		errors.Is(err, webhook.ErrInvalidSecret):
		p.Status, p.Detail = http.StatusBadRequest, err.Error()
	case errors.Is(err, webhook.ErrConflict):
		p.Status, p.Detail = http.StatusConflict, err.Error()
	case errors.Is(err, webhook.ErrClosed):
		p.Status, p.Detail = http.StatusServiceUnavailable, "the dispatcher is closed"
	default:
		p.Status, p.Detail = http.StatusInternalServerError, "internal error"
	}
	if errors.As(err, &te) {
		p.Line, p.Column = te.Line, te.Column
	}
	p.Title = http.StatusText(p.Status)
	return p
}

// writeProblem answers err as application/problem+json.
func writeProblem(w http.ResponseWriter, err error) {
	p := problemFor(err)
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// writeJSON answers v as JSON with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeProblem(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
