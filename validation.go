package webhook

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hooklet/webhook/signature"
)

// textClass says which control characters a validated string may hold.
// Every class requires valid UTF-8 (no overlong forms, no encoded
// surrogates) and refuses NUL, so every store keeps the text byte for
// byte: PostgreSQL refuses NUL and invalid UTF-8 in text, and JSON
// encoders rewrite invalid UTF-8.
type textClass int

const (
	// textName is for identifiers: no control character at all.
	textName textClass = iota
	// textLine is for one-line values sent in headers: the tab only.
	textLine
	// textMultiline is for free text: tab, line feed and carriage return.
	textMultiline
)

// checkText returns why s does not belong to class c, or "". The reason
// names a bad byte by its code, never by the byte itself, so the error
// stays printable.
func checkText(s string, c textClass) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b >= 0x20 && b != 0x7f {
			continue
		}
		switch {
		case b == '\t' && c >= textLine, (b == '\n' || b == '\r') && c == textMultiline:
			continue
		case b == 0:
			return "contains a NUL byte"
		}
		return fmt.Sprintf("contains the control character %#02x", b)
	}
	return ""
}

// fieldKey renders a map key or list value inside a field name: as is
// when printable, quoted with escapes otherwise.
func fieldKey(s string) string {
	if checkText(s, textName) == "" {
		return s
	}
	return strconv.QuoteToASCII(s)
}

// checkJSON returns why b is not JSON text in UTF-8 (RFC 8259 8.1), or "".
// encoding/json accepts invalid UTF-8 inside strings; a receiver may not.
func checkJSON(b []byte) string {
	if !json.Valid(b) {
		return "is not valid JSON"
	}
	if !utf8.Valid(b) {
		return "is not UTF-8 JSON text: a string holds invalid UTF-8"
	}
	return ""
}

// checkTime returns why t, in UTC, has no RFC 3339 form, or "".
func checkTime(t time.Time) string {
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return fmt.Sprintf("year %d is outside 0000-9999, which RFC 3339 timestamps cannot carry", y)
	}
	return ""
}

// checkPort returns why port, from a URL, cannot be dialled, or "".
// Empty means the scheme's default.
func checkPort(port string) string {
	if port == "" {
		return ""
	}
	n, err := strconv.ParseUint(port, 10, 32)
	if err != nil || n < 1 || n > 65535 {
		return "port must be a number from 1 to 65535"
	}
	return ""
}

// privateLiteral reports whether host is a literal IP address the dial
// guard refuses.
func privateLiteral(host string) bool {
	a, err := netip.ParseAddr(host)
	return err == nil && !publicAddr(a)
}

// keyKind sorts an endpoint secret by its prefix.
type keyKind int

const (
	keyRaw        keyKind = iota // a shared secret as the receiver holds it
	keySecret                    // "whsec_"
	keySigningKey                // "whsk_"
	keyPublicKey                 // "whpk_"
)

func kindOfKey(key string) keyKind {
	switch {
	case strings.HasPrefix(key, signature.SecretPrefix):
		return keySecret
	case strings.HasPrefix(key, signature.SigningKeyPrefix):
		return keySigningKey
	case strings.HasPrefix(key, signature.PublicKeyPrefix):
		return keyPublicKey
	}
	return keyRaw
}

// checkKey returns why key cannot sign for scheme kind, with the parse
// error when there is one; "" when it can. Neither ever holds the key.
func checkKey(key string, kind SignatureKind) (string, error) {
	if key == "" {
		return "is empty", nil
	}
	if reason := checkText(key, textName); reason != "" {
		return reason + " (a trailing newline?); keys are used exactly as written", nil
	}
	if strings.TrimSpace(key) != key {
		return "starts or ends with a space; keys are used exactly as written", nil
	}
	k := kindOfKey(key)
	if k == keyRaw && kind == SignatureHMACHex {
		return "", nil
	}
	_, err := parseSecret(key)
	switch {
	case k == keyPublicKey:
		return "is a public key (whpk_): an endpoint signs with a whsec_ secret or a whsk_ signing key, and the receiver holds the public key", err
	case k == keyRaw:
		return fmt.Sprintf("has no whsec_ or whsk_ prefix: a raw shared secret signs only with the %q scheme", SignatureHMACHex), err
	case err != nil:
		return "malformed", err
	}
	return "", nil
}

// signsWith reports whether a key of kind k adds a signature under
// scheme s.
func signsWith(k keyKind, s SignatureKind) bool {
	if s == SignatureHMACHex {
		return k == keySecret || k == keyRaw
	}
	return k == keySecret || k == keySigningKey
}
