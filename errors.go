package webhook

import (
	"errors"
	"fmt"

	"github.com/hooklet/webhook/signature"
)

// Sentinel errors. Match them with [errors.Is]; every error the package
// returns for one of these conditions wraps the sentinel.
var (
	// ErrInvalidEvent is wrapped by every error that rejects an event handed
	// to [Dispatcher.Emit] or [Dispatcher.EmitBatch]. Nothing is stored.
	ErrInvalidEvent = errors.New("webhook: invalid event")

	// ErrInvalidEndpoint is wrapped by every error that rejects an endpoint
	// handed to [Dispatcher.PutEndpoint]. The stored endpoint is unchanged.
	ErrInvalidEndpoint = errors.New("webhook: invalid endpoint")

	// ErrInvalidConfig is wrapped by every error [New] returns for a bad
	// [Config].
	ErrInvalidConfig = errors.New("webhook: invalid config")

	// ErrInvalidSecret is wrapped by errors about a malformed signing secret.
	// It is [signature.ErrInvalidSecret], so it matches a [*KeyError].
	ErrInvalidSecret = signature.ErrInvalidSecret

	// ErrNotFound reports that an endpoint, event or delivery does not exist.
	// Stores map their backend's "no rows" condition to it.
	ErrNotFound = errors.New("webhook: not found")

	// ErrClosed is returned by a [Dispatcher] after [Dispatcher.Close] and by
	// a [Store] that has been closed.
	ErrClosed = errors.New("webhook: closed")

	// ErrAlreadyStarted is returned by [Dispatcher.Start] when the
	// Dispatcher has been started before.
	ErrAlreadyStarted = errors.New("webhook: already started")

	// ErrConflict reports that a conditional write found the record changed
	// since it was read (see [PutEndpointParams.IfUpdatedAt]); nothing was
	// written.
	ErrConflict = errors.New("webhook: conflict")

	// ErrLeaseLost reports that a delivery's lease is no longer held by the
	// caller: it expired and another owner leased the delivery, or it was
	// released. The outcome or extension carrying the stale token is refused.
	ErrLeaseLost = errors.New("webhook: lease lost")

	// ErrAddressNotAllowed is returned when the dial guard refuses to connect
	// to a loopback, private, link-local or metadata address. See
	// [Config.AllowPrivateNetworks].
	ErrAddressNotAllowed = errors.New("webhook: address not allowed")

	// ErrInvalidParams is wrapped by every error that rejects the
	// parameters of a query or a recovery call, such as an unknown
	// [DeliveryState] in [ListDeliveriesParams] or an empty endpoint ID.
	ErrInvalidParams = errors.New("webhook: invalid params")

	// ErrBatchingUnsupported is wrapped by the error that refuses an
	// endpoint with a [BatchPolicy] when the store is not a [Batcher].
	ErrBatchingUnsupported = errors.New("webhook: the store does not support batching")
)

// ValidationError describes why an event, endpoint or config was rejected.
// It wraps one of [ErrInvalidEvent], [ErrInvalidEndpoint] or
// [ErrInvalidConfig], and possibly a more specific cause such as
// [ErrInvalidSecret].
type ValidationError struct {
	// Kind is the sentinel the error wraps, e.g. ErrInvalidEvent.
	Kind error
	// Field names the offending field, e.g. "Payload" or "Secrets[1]".
	Field string
	// Reason says what is wrong, in lowercase words.
	Reason string
	// Err is an optional underlying cause.
	Err error
}

// Error returns the kind, the field and the reason.
func (e *ValidationError) Error() string {
	msg := fmt.Sprintf("%v: %s: %s", e.Kind, e.Field, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the kind sentinel and the underlying cause.
func (e *ValidationError) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

func invalidEvent(field, reason string) error {
	return &ValidationError{Kind: ErrInvalidEvent, Field: field, Reason: reason}
}

func invalidEndpoint(field, reason string, cause error) error {
	return &ValidationError{Kind: ErrInvalidEndpoint, Field: field, Reason: reason, Err: cause}
}

func invalidConfig(field, reason string) error {
	return &ValidationError{Kind: ErrInvalidConfig, Field: field, Reason: reason}
}

// ErrPayloadTooLarge is wrapped, together with [ErrInvalidEvent], by the
// error for an event whose payload exceeds [Config.MaxPayloadBytes].
var ErrPayloadTooLarge = errors.New("webhook: payload too large")

// ErrInvalidTx is wrapped by the error of [Dispatcher.EmitTx] when the
// transaction is not of the store's kind, or the store cannot enqueue in a
// host transaction.
var ErrInvalidTx = errors.New("webhook: invalid transaction")

// Sentinel errors of the [Store] contract.
var (
	// ErrDuplicateDelivery is wrapped by the error of [Store.Enqueue] when a
	// delivery ID is already stored or repeats within the call; nothing of
	// the call is written.
	ErrDuplicateDelivery = errors.New("webhook: duplicate delivery")

	// ErrReportRefused is wrapped by the error of [Reporter.Report] when
	// the delivery does not await a report carrying that token: the token
	// is forged, of another delivery or attempt, already used to end the
	// wait, or past the end of the wait. Nothing is written.
	ErrReportRefused = errors.New("webhook: report refused")
)
