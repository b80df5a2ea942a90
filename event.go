package webhook

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Event is a domain event the host emits. Hooklet stores it, fans it out to
// every matching [Endpoint] and delivers it to each.
type Event struct {
	// ID identifies the event; it is sent as the webhook-id header of every
	// attempt, so receivers can deduplicate. Emitting an ID that is already
	// stored adds nothing and is not an error, which makes Emit safe to
	// retry. Defaults to a new sortable unique ID ("evt_" + ULID).
	ID string
	// Type names the event, e.g. "invoice.paid". Required.
	Type string
	// Tenant scopes the event: when set, only endpoints of the same tenant
	// receive it. An event without a tenant goes to every matching endpoint.
	Tenant string
	// OrderingKey names the sequence the event belongs to at endpoints
	// that are [Endpoint.Ordered]: such an endpoint receives the events of
	// one key one at a time, in emit order, and events of different keys
	// in parallel. Events without a key form one sequence per ordered
	// endpoint. Endpoints that are not ordered ignore it. At most 256
	// bytes of valid UTF-8 without control characters.
	OrderingKey string
	// Time is when the event happened, in the years 0000 to 9999 (those an
	// RFC 3339 timestamp can carry). Defaults to the time of Emit.
	Time time.Time
	// Payload is the event's data as JSON text in UTF-8 (RFC 8259 8.1:
	// invalid UTF-8 inside a string is refused, though encoding/json
	// accepts it). Required, at most [Config.MaxPayloadBytes].
	Payload json.RawMessage
	// Attributes are free-form string metadata (correlation ID,
	// organization, ...), available to templates and filters.
	Attributes map[string]string

	// TraceParent and TraceState are the W3C trace context of the span
	// that emitted the event (the traceparent and tracestate headers). Emit
	// fills them from its ctx when both are empty; they are stored with the
	// event, so every attempt, in any process and after any restart, links
	// its span to the emitting one and sends them on to the receiver. Empty
	// when the emitter was not traced.
	TraceParent string
	TraceState  string
}

// Clone returns a deep copy of e: its Payload and Attributes are not shared
// with e.
func (e Event) Clone() Event {
	e.Payload = slices.Clone(e.Payload)
	e.Attributes = maps.Clone(e.Attributes)
	return e
}

// Limits on event fields other than the payload.
const (
	maxTypeLen   = 256
	maxIDLen     = 256
	maxTenantLen = 256
	maxKeyLen    = 256

	maxTraceParentLen = 256
	maxTraceStateLen  = 512

	maxAttributes   = 64
	maxAttributeLen = 4096
)

// cleanString reports whether s is valid UTF-8 free of control
// characters, as identifiers and names must be.
func cleanString(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// validate checks e and fills defaults. The caller owns e.
func (e *Event) validate(now time.Time, maxPayload int) error {
	if e.Type == "" {
		return invalidEvent("Type", "is required")
	}
	for field, v := range map[string]string{"ID": e.ID, "Type": e.Type, "Tenant": e.Tenant, "OrderingKey": e.OrderingKey} {
		if !cleanString(v) {
			return invalidEvent(field, "must be valid UTF-8 without control characters")
		}
	}
	if len(e.Attributes) > maxAttributes {
		return invalidEvent("Attributes", fmt.Sprintf("more than %d attributes", maxAttributes))
	}
	for k, v := range e.Attributes {
		if !cleanString(k) || !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 || len(k)+len(v) > maxAttributeLen {
			return invalidEvent("Attributes", fmt.Sprintf("attribute %q must be valid UTF-8 without NUL, key and value at most %d bytes", k, maxAttributeLen))
		}
	}
	if len(e.Type) > maxTypeLen {
		return invalidEvent("Type", fmt.Sprintf("longer than %d bytes", maxTypeLen))
	}
	if len(e.ID) > maxIDLen {
		return invalidEvent("ID", fmt.Sprintf("longer than %d bytes", maxIDLen))
	}
	if len(e.Tenant) > maxTenantLen {
		return invalidEvent("Tenant", fmt.Sprintf("longer than %d bytes", maxTenantLen))
	}
	if err := e.validateTrace(); err != nil {
		return err
	}
	if len(e.OrderingKey) > maxKeyLen {
		return invalidEvent("OrderingKey", fmt.Sprintf("longer than %d bytes", maxKeyLen))
	}
	if len(e.Payload) == 0 {
		return invalidEvent("Payload", "is required")
	}
	if len(e.Payload) > maxPayload {
		return &ValidationError{Kind: ErrInvalidEvent, Field: "Payload",
			Reason: fmt.Sprintf("%d bytes exceeds the limit of %d", len(e.Payload), maxPayload),
			Err:    ErrPayloadTooLarge}
	}
	if reason := checkJSON(e.Payload); reason != "" {
		return invalidEvent("Payload", reason)
	}
	if e.ID == "" {
		e.ID = ids.next("evt_", now)
	}
	if e.Time.IsZero() {
		e.Time = now
	}
	e.Time = e.Time.UTC()
	if reason := checkTime(e.Time); reason != "" {
		return invalidEvent("Time", reason)
	}
	return nil
}

// validateTrace checks the trace context fields: free of control
// characters and bounded, since they are stored and sent as headers.
func (e *Event) validateTrace() error {
	switch {
	case !cleanString(e.TraceParent) || len(e.TraceParent) > maxTraceParentLen:
		return invalidEvent("TraceParent", fmt.Sprintf("must be valid UTF-8 without control characters, at most %d bytes", maxTraceParentLen))
	case !cleanString(e.TraceState) || len(e.TraceState) > maxTraceStateLen:
		return invalidEvent("TraceState", fmt.Sprintf("must be valid UTF-8 without control characters, at most %d bytes", maxTraceStateLen))
	}
	return nil
}
