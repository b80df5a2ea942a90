package webhook

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Errors from [Verify] and [Verifier.Verify]. Each error they return
// wraps exactly one of these; none of them contains a key or a signature.
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

// ToleranceDefault is how far webhook-timestamp may be from the
// receiver's clock, either way, when no tolerance is given.
const ToleranceDefault = 5 * time.Minute

// maxSignatureEntries bounds the work one request can cause: entries of
// webhook-signature beyond it are ignored.
const maxSignatureEntries = 32

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
// Parsed keys are cached, so calling Verify per request is cheap; a
// [Verifier] accepts several keys.
func Verify(secret string, h http.Header, body []byte, tolerance time.Duration) error {
	return VerifyAt(secret, h, body, tolerance, time.Now())
}

// VerifyAt is [Verify] with the current time given as now.
func VerifyAt(secret string, h http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	k, err := keys.get(secret)
	if err != nil {
		return err
	}
	return verify([]*parsedKey{k}, h, body, tolerance, now)
}

// Verifier verifies requests against several keys, "whsec_" secrets and
// "whpk_" public keys mixed, as a receiver needs during a rotation: a
// request passes when any signature matches any key. Build it with
// [NewVerifier]. It is safe for concurrent use; set Tolerance before the
// first use. Its String and Format methods never reveal the keys.
type Verifier struct {
	// Tolerance is how far webhook-timestamp may be from the current time,
	// either way. Defaults to [ToleranceDefault].
	Tolerance time.Duration

	keys []*parsedKey
}

// NewVerifier returns a Verifier for the given keys ("whsec_", "whpk_"
// or "whsk_"). It returns an error wrapping [ErrInvalidSecret] (a
// [*KeyError]) for a malformed key, or when no key is given.
func NewVerifier(keys ...string) (*Verifier, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no key given", ErrInvalidSecret)
	}
	v := &Verifier{keys: make([]*parsedKey, 0, len(keys))}
	for i, s := range keys {
		k, err := parseKey(s)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		v.keys = append(v.keys, k)
	}
	return v, nil
}

// Verify checks a request as [Verify] does, against every key of v, at the
// current time.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	return v.VerifyAt(h, body, time.Now())
}

// VerifyAt is [Verifier.Verify] with the current time given as now.
func (v *Verifier) VerifyAt(h http.Header, body []byte, now time.Time) error {
	return verify(v.keys, h, body, v.Tolerance, now)
}

// String describes the verifier without revealing its keys.
func (v Verifier) String() string {
	return fmt.Sprintf("Verifier{Keys:%d Tolerance:%v}", len(v.keys), v.Tolerance)
}

// GoString is String, for %#v.
func (v Verifier) GoString() string { return v.String() }

// Format writes String for every verb, so that no fmt verb reveals a key.
func (v Verifier) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(v.String())) }

// headerNames is one family of the three signature headers.
type headerNames struct {
	id, ts, sig    string // canonical
	lid, lts, lsig string // lower case, for header maps built by hand
}

var headerFamilies = [...]headerNames{
	{HeaderID, HeaderTimestamp, HeaderSignature, "webhook-id", "webhook-timestamp", "webhook-signature"},
	{"Svix-Id", "Svix-Timestamp", "Svix-Signature", "svix-id", "svix-timestamp", "svix-signature"},
}

func headerValues(h http.Header, canon, lower string) []string {
	if v := h[canon]; len(v) > 0 {
		return v
	}
	return h[lower]
}

// readHeaders finds id, timestamp and signature values in h: the webhook-*
// family if any of its headers is present, else svix-*.
func readHeaders(h http.Header) (id, ts string, sigs []string, err error) {
	f := &headerFamilies[0]
	for i := range headerFamilies {
		c := &headerFamilies[i]
		if len(headerValues(h, c.id, c.lid)) > 0 || len(headerValues(h, c.ts, c.lts)) > 0 ||
			len(headerValues(h, c.sig, c.lsig)) > 0 {
			f = c
			break
		}
	}
	ids := headerValues(h, f.id, f.lid)
	if len(ids) == 0 || ids[0] == "" {
		return "", "", nil, fmt.Errorf("%w: %s", ErrMissingHeader, f.lid)
	}
	tss := headerValues(h, f.ts, f.lts)
	if len(tss) == 0 || tss[0] == "" {
		return "", "", nil, fmt.Errorf("%w: %s", ErrMissingHeader, f.lts)
	}
	sigs = headerValues(h, f.sig, f.lsig)
	empty := true
	for _, s := range sigs {
		if strings.TrimSpace(s) != "" {
			empty = false
			break
		}
	}
	if empty {
		return "", "", nil, fmt.Errorf("%w: %s", ErrMissingHeader, f.lsig)
	}
	return ids[0], tss[0], sigs, nil
}

// parseTimestamp reads decimal Unix seconds: 1 to 18 ASCII digits.
func parseTimestamp(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func verify(keys []*parsedKey, h http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	id, ts, sigs, err := readHeaders(h)
	if err != nil {
		return err
	}
	sec, ok := parseTimestamp(ts)
	if !ok {
		return fmt.Errorf("%w: webhook-timestamp is not decimal unix seconds", ErrMalformedHeader)
	}
	if tolerance <= 0 {
		tolerance = ToleranceDefault
	}
	switch d := now.Sub(time.Unix(sec, 0)); {
	case d > tolerance:
		return fmt.Errorf("%w: %v in the past, tolerance %v", ErrTimestampOutOfRange, d.Truncate(time.Second), tolerance)
	case d < -tolerance:
		return fmt.Errorf("%w: %v in the future, tolerance %v", ErrTimestampOutOfRange, (-d).Truncate(time.Second), tolerance)
	}

	tsb := []byte(ts)
	var (
		sums    [][sha256.Size]byte // v1 expectations, one per whsec_ key, computed on first use
		content *[]byte             // id.ts.body for v1a, built on first use
		entries int
		matched bool
		// Decode may write up to DecodedLen(len(src)) bytes: 66 for the 88
		// characters of an unpadded v1a signature.
		sigBytes [ed25519.SignatureSize + 3]byte
	)
	defer func() {
		if content != nil {
			releaseContent(content)
		}
	}()
	for _, value := range sigs {
		for value != "" && entries < maxSignatureEntries && !matched {
			var entry string
			entry, value, _ = strings.Cut(value, " ")
			if entry == "" {
				continue
			}
			entries++
			version, sig, ok := strings.Cut(entry, ",")
			if !ok {
				continue
			}
			switch version {
			case "v1":
				if len(sig) != base64.StdEncoding.EncodedLen(sha256.Size) {
					continue
				}
				n, err := base64.StdEncoding.Decode(sigBytes[:], []byte(sig))
				if err != nil || n != sha256.Size {
					continue
				}
				if sums == nil {
					sums = make([][sha256.Size]byte, 0, len(keys))
					for _, k := range keys {
						if k.kind == keyHMAC {
							sums = append(sums, k.sum(id, tsb, body))
						}
					}
				}
				for i := range sums {
					if hmac.Equal(sums[i][:], sigBytes[:sha256.Size]) {
						matched = true
					}
				}
			case "v1a":
				if len(sig) != base64.StdEncoding.EncodedLen(ed25519.SignatureSize) {
					continue
				}
				n, err := base64.StdEncoding.Decode(sigBytes[:], []byte(sig))
				if err != nil || n != ed25519.SignatureSize {
					continue
				}
				sig := sigBytes[:ed25519.SignatureSize]
				if content == nil {
					content = signedContent(id, tsb, body)
				}
				for _, k := range keys {
					if k.kind != keyHMAC && ed25519.Verify(k.pub, *content, sig) {
						matched = true
						break
					}
				}
			}
		}
	}
	if matched {
		return nil
	}
	return ErrInvalidSignature
}
