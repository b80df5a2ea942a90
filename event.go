package webhook

import (
	"encoding/json"
	"fmt"
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
	// Time is when the event happened. Defaults to the time of Emit.
	Time time.Time
	// Payload is the event's data as JSON. Required, at most
	// [Config.MaxPayloadBytes].
	Payload json.RawMessage
	// Attributes are free-form string metadata (correlation ID,
	// organization, ...), available to templates and filters.
	Attributes map[string]string
}

// Limits on event fields other than the payload.
const (
	maxTypeLen   = 256
	maxIDLen     = 256
	maxTenantLen = 256
)

// validate checks e and fills defaults. The caller owns e.
func (e *Event) validate(now time.Time, maxPayload int) error {
	if e.Type == "" {
		return invalidEvent("Type", "is required")
	}
	if !utf8.ValidString(e.Type) || !utf8.ValidString(e.Tenant) || !utf8.ValidString(e.ID) {
		return invalidEvent("Type", "ID, Type and Tenant must be valid UTF-8")
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
	if len(e.Payload) == 0 {
		return invalidEvent("Payload", "is required")
	}
	if len(e.Payload) > maxPayload {
		return &ValidationError{Kind: ErrInvalidEvent, Field: "Payload",
			Reason: fmt.Sprintf("%d bytes exceeds the limit of %d", len(e.Payload), maxPayload),
			Err:    ErrPayloadTooLarge}
	}
	if !json.Valid(e.Payload) {
		return invalidEvent("Payload", "is not valid JSON")
	}
	if e.ID == "" {
		e.ID = ids.next("evt_", now)
	}
	if e.Time.IsZero() {
		e.Time = now
	}
	e.Time = e.Time.UTC()
	return nil
}
