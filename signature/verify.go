package signature

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"
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
func Verify(key string, h http.Header, body []byte, tolerance time.Duration) error {
	return VerifyAt(key, h, body, tolerance, time.Now())
}

// VerifyAt is [Verify] with the current time given as now.
func VerifyAt(key string, h http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	k, err := keys.get(key)
	if err != nil {
		return err
	}
	return verify([]*Key{k}, h, body, tolerance, now)
}

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
	for _, s := range sigs {
		if strings.TrimSpace(s) != "" {
			return ids[0], tss[0], sigs, nil
		}
	}
	return "", "", nil, fmt.Errorf("%w: %s", ErrMissingHeader, f.lsig)
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

// checkTimestamp returns nil when the webhook-timestamp value ts is within
// tolerance of now, either way.
func checkTimestamp(ts string, tolerance time.Duration, now time.Time) error {
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
	return nil
}

// signed is the message a signature covers: "id.ts.body".
type signed struct {
	id       string
	ts, body []byte
}

// inlineSums is how many HMACs a v1Matcher keeps without allocating.
const inlineSums = 4

// v1Matcher checks "v1" (HMAC-SHA256) signatures against the secrets
// among the keys. It computes each secret's HMAC once, on first use.
// Keys and message are passed to each call, not kept, so that a matcher
// on the stack stays there.
type v1Matcher struct {
	done   bool
	n      int // HMACs in inline, then extra
	inline [inlineSums][sha256.Size]byte
	extra  [][sha256.Size]byte
}

// match reports whether sig, the base64 text after "v1,", is the HMAC of
// the message under any secret among keys.
func (m *v1Matcher) match(keys []*Key, msg *signed, sig string) bool {
	// Decode may write up to DecodedLen(len(src)) bytes: 33 for 44
	// characters.
	var raw [sha256.Size + 3]byte
	if len(sig) != base64.StdEncoding.EncodedLen(sha256.Size) {
		return false
	}
	if n, err := base64.StdEncoding.Decode(raw[:], []byte(sig)); err != nil || n != sha256.Size {
		return false
	}
	if !m.done {
		m.done = true
		for _, k := range keys {
			if k.kind != KindSecret {
				continue
			}
			sum := k.sum(msg.id, msg.ts, msg.body)
			if m.n < inlineSums {
				m.inline[m.n] = sum
			} else {
				m.extra = append(m.extra, sum)
			}
			m.n++
		}
	}
	// Compare with every HMAC, without stopping at a match.
	matched := false
	for i := range min(m.n, inlineSums) {
		if hmac.Equal(m.inline[i][:], raw[:sha256.Size]) {
			matched = true
		}
	}
	for i := range m.extra {
		if hmac.Equal(m.extra[i][:], raw[:sha256.Size]) {
			matched = true
		}
	}
	return matched
}

// v1aMatcher checks "v1a" (ed25519) signatures against the public halves
// of the keys. It builds the signed content once, on first use; call
// release when done.
type v1aMatcher struct {
	content *[]byte
}

// match reports whether sig, the base64 text after "v1a,", is a valid
// ed25519 signature of the message by any key among keys.
func (m *v1aMatcher) match(keys []*Key, msg *signed, sig string) bool {
	// Decode may write up to DecodedLen(len(src)) bytes: 66 for the 88
	// characters of an unpadded signature.
	var raw [ed25519.SignatureSize + 3]byte
	if len(sig) != base64.StdEncoding.EncodedLen(ed25519.SignatureSize) {
		return false
	}
	if n, err := base64.StdEncoding.Decode(raw[:], []byte(sig)); err != nil || n != ed25519.SignatureSize {
		return false
	}
	if m.content == nil {
		m.content = signedContent(msg.id, msg.ts, msg.body)
	}
	for _, k := range keys {
		if k.kind != KindSecret && ed25519.Verify(k.pub, *m.content, raw[:ed25519.SignatureSize]) {
			return true
		}
	}
	return false
}

// release returns the pooled signed content.
func (m *v1aMatcher) release() {
	if m.content != nil {
		releaseContent(m.content)
		m.content = nil
	}
}

func verify(keys []*Key, h http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	id, ts, sigs, err := readHeaders(h)
	if err != nil {
		return err
	}
	if err := checkTimestamp(ts, tolerance, now); err != nil {
		return err
	}
	msg := signed{id: id, ts: []byte(ts), body: body}
	var (
		v1  v1Matcher
		v1a v1aMatcher
	)
	defer v1a.release()

	entries := 0
	for _, value := range sigs {
		for value != "" && entries < maxSignatureEntries {
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
			var matched bool
			switch version {
			case "v1":
				matched = v1.match(keys, &msg, sig)
			case "v1a":
				matched = v1a.match(keys, &msg, sig)
			}
			if matched {
				return nil
			}
		}
	}
	return ErrInvalidSignature
}
