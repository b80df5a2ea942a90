package webhook

import (
	"errors"
	"fmt"

	"github.com/hooklet/webhook/internal/filter"
)

// Limits on [Endpoint.Filter].
const (
	// MaxFilterBytes caps the size of a filter document.
	MaxFilterBytes = filter.MaxBytes
	// MaxFilterDepth caps how deeply a filter nests objects and arrays.
	MaxFilterDepth = filter.MaxDepth
	// MaxFilterNodes caps the number of JSON values in a filter.
	MaxFilterNodes = filter.MaxNodes
)

// compileFilter compiles an endpoint's filter; an empty one yields nil,
// which lets every event through. A bad one yields a [*FilterError].
func compileFilter(src []byte) (*filter.Program, error) {
	p, err := filter.Compile(src)
	if err != nil {
		var fe *filter.Error
		if errors.As(err, &fe) {
			return nil, &FilterError{Path: fe.Path, Reason: fe.Reason, Err: fe.Err}
		}
		return nil, &FilterError{Path: "$", Reason: err.Error()}
	}
	return p, nil
}

// filterDocument is ev as filters see it. The payload is parsed on first
// use, at most once.
func filterDocument(ev *Event) *filter.Document {
	return &filter.Document{
		ID: ev.ID, Type: ev.Type, Tenant: ev.Tenant, Time: ev.Time,
		Attributes: ev.Attributes, Data: ev.Payload,
	}
}

// FilterError reports an [Endpoint.Filter] that does not compile. It wraps
// [ErrInvalidEndpoint], and the cause (a regexp syntax error) when there
// is one.
type FilterError struct {
	// Path locates the fault in the filter as a JSONPath expression, e.g.
	// `$["data.amount"].$gte` or `$.$or[1]`.
	Path string
	// Reason says what is wrong, in lowercase words.
	Reason string
	// Err is an optional underlying cause.
	Err error
}

// Error returns the kind, the path and the reason.
func (e *FilterError) Error() string {
	msg := fmt.Sprintf("%v: Filter: %s: %s", ErrInvalidEndpoint, e.Path, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns [ErrInvalidEndpoint] and the underlying cause.
func (e *FilterError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalidEndpoint, e.Err}
	}
	return []error{ErrInvalidEndpoint}
}
