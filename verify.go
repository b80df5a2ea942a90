package webhook

import (
	"net/http"
	"time"

	"github.com/hooklet/webhook/signature"
)

// Errors from [Verify] and [Verifier.Verify]. Each error they return
// wraps exactly one of these; none of them contains a key or a signature.
// They are those of package [signature].
var (
	// ErrMissingHeader: webhook-id, webhook-timestamp or webhook-signature
	// (or their svix-* equivalents) is absent or empty.
	ErrMissingHeader = signature.ErrMissingHeader
	// ErrMalformedHeader: webhook-timestamp is not a decimal Unix time.
	ErrMalformedHeader = signature.ErrMalformedHeader
	// ErrTimestampOutOfRange: webhook-timestamp is further from now than
	// the tolerance, in the past or in the future. Rejecting such
	// requests defeats replays.
	ErrTimestampOutOfRange = signature.ErrTimestampOutOfRange
	// ErrInvalidSignature: no signature in webhook-signature matches any
	// key for this id, timestamp and body.
	ErrInvalidSignature = signature.ErrInvalidSignature
)

// ToleranceDefault is how far webhook-timestamp may be from the
// receiver's clock, either way, when no tolerance is given.
const ToleranceDefault = signature.ToleranceDefault

// Verify checks a request signed per the Standard Webhooks specification
// with one key: a "whsec_" secret (v1 signatures) or a "whpk_" public key
// (v1a; a "whsk_" signing key works too). h holds the request headers
// (webhook-* or svix-*), body the exact request body. A timestamp further
// than tolerance from the current time, either way, is rejected;
// tolerance <= 0 means [ToleranceDefault].
//
// It returns nil if any signature matches, else an error wrapping
// [ErrMissingHeader], [ErrMalformedHeader], [ErrTimestampOutOfRange],
// [ErrInvalidSignature] or, for a bad key, [ErrInvalidSecret]. Signatures
// of unknown versions are ignored. Comparisons take constant time.
//
// It is [signature.Verify]: a receiver that only verifies can import
// package signature alone, which links nothing but the standard library.
func Verify(secret string, h http.Header, body []byte, tolerance time.Duration) error {
	return signature.Verify(secret, h, body, tolerance)
}

// VerifyAt is [Verify] with the current time given as now.
func VerifyAt(secret string, h http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	return signature.VerifyAt(secret, h, body, tolerance, now)
}

// Verifier verifies requests against several keys, as a receiver needs
// during a rotation. It is [signature.Verifier].
type Verifier = signature.Verifier

// NewVerifier returns a [Verifier] for the given keys ("whsec_", "whpk_"
// or "whsk_"). It returns an error wrapping [ErrInvalidSecret] (a
// [*KeyError]) for a malformed key, or when no key is given. It is
// [signature.NewVerifier].
func NewVerifier(keys ...string) (*Verifier, error) {
	return signature.NewVerifier(keys...)
}
