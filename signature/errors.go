package signature

import "errors"

// ErrInvalidSecret is wrapped by every error about a malformed key; a
// [*KeyError] matches it with [errors.Is].
var ErrInvalidSecret = errors.New("webhook: invalid secret")

// Reasons a key does not parse. A [*KeyError] wraps exactly one of them,
// together with [ErrInvalidSecret].
var (
	// ErrKeyPrefix: the key does not start with a prefix valid where it is
	// used ("whsec_" or "whsk_" to sign; "whsec_", "whpk_" or "whsk_" to
	// verify).
	ErrKeyPrefix = errors.New("wrong key prefix")
	// ErrKeyEncoding: the text after the prefix is not standard base64.
	ErrKeyEncoding = errors.New("bad base64")
	// ErrKeyLength: the decoded key has the wrong number of bytes.
	ErrKeyLength = errors.New("wrong key length")
)

// Errors from [Verify] and [Verifier.Verify]. Each error they return
// wraps exactly one of these (or [ErrInvalidSecret] for a bad key); none
// of them contains a key or a signature.
var (
	// ErrMissingHeader: webhook-id, webhook-timestamp or webhook-signature
	// (or their svix-* equivalents) is absent or empty.
	ErrMissingHeader = errors.New("webhook: missing header")
	// ErrMalformedHeader: webhook-timestamp is not a decimal Unix time.
	ErrMalformedHeader = errors.New("webhook: malformed header")
	// ErrTimestampOutOfRange: webhook-timestamp is further from now than
	// the tolerance, in the past or in the future. Rejecting such
	// requests defeats replays.
	ErrTimestampOutOfRange = errors.New("webhook: timestamp out of range")
	// ErrInvalidSignature: no signature in webhook-signature matches any
	// key for this id, timestamp and body.
	ErrInvalidSignature = errors.New("webhook: invalid signature")
)

// KeyError reports a key that does not parse. It never contains the key
// itself. It matches [ErrInvalidSecret] and its Reason with [errors.Is].
type KeyError struct {
	// Prefix is the prefix the key was read as ("whsec_", "whsk_" or
	// "whpk_"); empty when no known prefix was found.
	Prefix string
	// Reason is [ErrKeyPrefix], [ErrKeyEncoding] or [ErrKeyLength].
	Reason error
	// Detail says more, in lowercase words, e.g. "10 bytes, want 24 to 64".
	Detail string
}

// Error describes the problem without the key: "webhook: invalid secret:
// whsec_ key: bad base64".
func (e *KeyError) Error() string {
	msg := ErrInvalidSecret.Error() + ": "
	if e.Prefix != "" {
		msg += e.Prefix + " key: "
	}
	msg += e.Reason.Error()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Unwrap returns [ErrInvalidSecret] and the Reason.
func (e *KeyError) Unwrap() []error { return []error{ErrInvalidSecret, e.Reason} }
