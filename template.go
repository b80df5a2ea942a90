package webhook

import (
	"context"
	"errors"
	"fmt"
)

// Transformer compiles endpoint templates. A template is compiled once, when
// the endpoint is saved, and the compiled [Template] renders each delivery.
//
// Compile must be safe for concurrent use. It returns a *[TemplateError] for
// a template that does not compile.
type Transformer interface {
	Compile(template string) (Template, error)
}

// Template is a compiled endpoint template.
//
// Render must be safe for concurrent use and must return, with an error,
// within a bounded time even for a runaway template. Its error is recorded
// in the attempt and fails the delivery without retry: a template that
// failed once fails again on the same input.
type Template interface {
	Render(ctx context.Context, in *RenderInput) (Rendered, error)
}

// RenderInput is what a template sees. It must not be modified.
type RenderInput struct {
	Event    *Event
	Endpoint *Endpoint
	// CallbackURL is the callback URL of the attempt being rendered, for
	// an endpoint with an [Endpoint.AckTimeout] (the jsonnet helper
	// library's event.callback_url); empty otherwise. A rendering with a
	// CallbackURL is never shared with another delivery.
	CallbackURL string
}

// Rendered is a template's output for one delivery.
type Rendered struct {
	// Body is the request body.
	Body []byte
	// ContentType is the body's media type.
	ContentType string
	// Skip means the template chose not to send this event to this
	// endpoint; the delivery ends [StateSkipped].
	Skip bool
}

// ErrInvalidTemplate is wrapped by every [TemplateError].
var ErrInvalidTemplate = errors.New("webhook: invalid template")

// TemplateError reports a template that does not compile, or that failed
// while rendering. Line and Column are 1-based; zero when unknown.
type TemplateError struct {
	Line    int
	Column  int
	Message string
}

// Error returns the position, when known, and the message.
func (e *TemplateError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("webhook: template:%d:%d: %s", e.Line, e.Column, e.Message)
	}
	return "webhook: template: " + e.Message
}

// Unwrap returns [ErrInvalidTemplate].
func (e *TemplateError) Unwrap() error { return ErrInvalidTemplate }

// EndpointReader is an optional interface of a [Template]. ReadsEndpoint
// reports whether a rendering may depend on the endpoint it is rendered
// for (its ID, URL or Settings). When it does not, the body rendered for
// one event is the same for every endpoint that uses the template, and
// may be rendered once and shared; the content type of a string body
// still comes from each endpoint.
type EndpointReader interface {
	ReadsEndpoint() bool
}
