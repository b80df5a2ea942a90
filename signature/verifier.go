package signature

import (
	"fmt"
	"net/http"
	"time"
)

// Verifier verifies requests against several keys, "whsec_" secrets and
// "whpk_" public keys mixed, as a receiver needs during a rotation: a
// request passes when any signature matches any key. Build it with
// [NewVerifier]; [Verifier.WithTolerance] derives one with another
// tolerance. It is immutable and safe for concurrent use. Its String and
// Format methods never reveal the keys.
type Verifier struct {
	tolerance time.Duration
	keys      []*Key
}

// NewVerifier returns a Verifier for the given keys ("whsec_", "whpk_"
// or "whsk_") with the tolerance [ToleranceDefault]. It returns an error
// wrapping [ErrInvalidSecret] (a [*KeyError] for a malformed key), also
// when no key is given.
func NewVerifier(keys ...string) (*Verifier, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no key given", ErrInvalidSecret)
	}
	v := &Verifier{tolerance: ToleranceDefault, keys: make([]*Key, 0, len(keys))}
	for i, s := range keys {
		k, err := ParseKey(s)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		v.keys = append(v.keys, k)
	}
	return v, nil
}

// WithTolerance returns a Verifier with the same keys that accepts a
// webhook-timestamp up to d from the current time, either way; d <= 0
// means [ToleranceDefault]. v itself is unchanged, so WithTolerance is
// safe to call at any time, also while v is in use.
func (v *Verifier) WithTolerance(d time.Duration) *Verifier {
	if d <= 0 {
		d = ToleranceDefault
	}
	return &Verifier{tolerance: d, keys: v.keys}
}

// Tolerance returns how far webhook-timestamp may be from the current
// time, either way.
func (v *Verifier) Tolerance() time.Duration { return v.tolerance }

// Verify checks a request as [Verify] does, against every key of v, at the
// current time.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	return v.VerifyAt(h, body, time.Now())
}

// VerifyAt is [Verifier.Verify] with the current time given as now.
func (v *Verifier) VerifyAt(h http.Header, body []byte, now time.Time) error {
	return verify(v.keys, h, body, v.tolerance, now)
}

// String describes the verifier without revealing its keys.
func (v *Verifier) String() string {
	return fmt.Sprintf("Verifier{Keys:%d Tolerance:%v}", len(v.keys), v.tolerance)
}

// GoString is String, for %#v.
func (v *Verifier) GoString() string { return v.String() }

// Format writes String for every verb, so that no fmt verb reveals a key.
func (v *Verifier) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(v.String())) }
