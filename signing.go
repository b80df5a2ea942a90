package webhook

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"net/textproto"
	"strconv"
	"time"

	"github.com/hooklet/webhook/signature"
)

// Signer adds authentication headers to an outgoing request.
//
// Sign must be safe for concurrent use and must not retain h, m or m.Body
// after it returns.
type Signer interface {
	// Sign adds the headers that let the receiver verify m to h.
	Sign(h http.Header, m *Message) error
}

// Message is what a [Signer] signs: one attempt of one delivery.
type Message struct {
	// ID is the event ID, sent as webhook-id.
	ID string
	// Timestamp is the attempt's time, sent as webhook-timestamp.
	Timestamp time.Time
	// Body is the exact request body.
	Body []byte
	// Secrets are the endpoint's secrets that are active at Timestamp.
	Secrets []Secret
}

// Standard Webhooks header names, in canonical form; those of package
// [signature].
const (
	HeaderID        = signature.HeaderID
	HeaderTimestamp = signature.HeaderTimestamp
	HeaderSignature = signature.HeaderSignature
)

// StandardSigner signs per the Standard Webhooks specification: it sets
// webhook-id, webhook-timestamp (Unix seconds) and webhook-signature over
// the bytes "id.timestamp.body", with one space-separated entry per secret
// active at the message's Timestamp, in the order of [Message.Secrets]:
// "v1,<base64 HMAC-SHA256>" for a "whsec_" secret and "v1a,<base64
// ed25519>" for a "whsk_" signing key. With no active secret it sends no
// webhook-signature. It is the default [Config.Signer].
//
// Parsed keys and keyed HMAC state are cached per key, so signing costs
// about one HMAC of the body per secret and a few small allocations.
type StandardSigner struct{}

// Sign implements [Signer]. It returns a [*KeyError] for a malformed
// secret.
func (StandardSigner) Sign(h http.Header, m *Message) error {
	var stack [256]byte
	out := strconv.AppendInt(stack[:0], m.Timestamp.Unix(), 10)
	tsLen := len(out)
	ts := out[:tsLen:tsLen] // the webhook-timestamp value, signed as sent
	signed := false
	for _, s := range m.Secrets {
		if !s.activeAt(m.Timestamp) {
			continue
		}
		k, err := parseSecret(s.Key)
		if err != nil {
			return err
		}
		if signed {
			out = append(out, ' ')
		}
		signed = true
		if out, err = k.AppendSignature(out, m.ID, ts, m.Body); err != nil {
			return err
		}
	}
	// One string holds the timestamp and the signature; one slice backs
	// the three header values.
	both := string(out)
	vals := make([]string, 3)
	vals[0], vals[1], vals[2] = m.ID, both[:tsLen], both[tsLen:]
	h[HeaderID] = vals[0:1:1]
	h[HeaderTimestamp] = vals[1:2:2]
	if signed {
		h[HeaderSignature] = vals[2:3:3]
	} else {
		delete(h, HeaderSignature)
	}
	return nil
}

// HMACHexSigner signs the body alone with HMAC-SHA256 and sends the
// lowercase hex digest in one header, as GitHub does with
// "X-Hub-Signature-256: sha256=<hex>". The HMAC key is the secret's full
// text as written, so a receiver configures exactly that string: a
// "whsec_..." secret, or a raw shared secret without prefix that the
// receiver already holds (GitHub-style receivers). Every active "whsec_"
// or raw secret adds one value of the header, in the order of
// [Message.Secrets]; "whsk_" keys are skipped, since an ed25519 key cannot
// be shared with a receiver. It sets webhook-id and webhook-timestamp too,
// so receivers can still deduplicate.
//
// The zero value is GitHub's scheme.
type HMACHexSigner struct {
	// Header carries the signature. Defaults to "X-Hub-Signature-256", and
	// then Prefix defaults to "sha256=".
	Header string
	// Prefix precedes the hex digest. Used as given when Header is set.
	Prefix string
}

// GitHub's signature header and prefix, the [HMACHexSigner] defaults.
const (
	HMACHexHeaderDefault = "X-Hub-Signature-256"
	HMACHexPrefixDefault = "sha256="
)

// Sign implements [Signer]. It returns a [*KeyError] for a malformed
// "whsec_" secret.
func (s HMACHexSigner) Sign(h http.Header, m *Message) error {
	name, prefix := s.Header, s.Prefix
	if name == "" {
		name, prefix = HMACHexHeaderDefault, HMACHexPrefixDefault
	}
	name = textproto.CanonicalMIMEHeaderKey(name)
	h[HeaderID] = []string{m.ID}
	h[HeaderTimestamp] = []string{strconv.FormatInt(m.Timestamp.Unix(), 10)}
	delete(h, name)
	for _, sec := range m.Secrets {
		if !sec.activeAt(m.Timestamp) {
			continue
		}
		switch kindOfKey(sec.Key) {
		case keyRaw:
			if sec.Key == "" {
				return fmt.Errorf("%w: empty key", ErrInvalidSecret)
			}
		case keySecret:
			if _, err := parseSecret(sec.Key); err != nil {
				return err
			}
		default:
			continue
		}
		sum := textMACs.sum(sec.Key, m.Body)
		v := make([]byte, 0, len(prefix)+2*len(sum))
		v = append(v, prefix...)
		v = hex.AppendEncode(v, sum[:])
		h[name] = append(h[name], string(v))
	}
	return nil
}

// SignatureKind names a signing scheme an [Endpoint] can select.
type SignatureKind string

// Signing schemes.
const (
	// SignatureStandardWebhooks is Standard Webhooks signing by
	// [Config.Signer] ([StandardSigner] by default). The empty kind means
	// the same.
	SignatureStandardWebhooks SignatureKind = "standard-webhooks"
	// SignatureHMACHex is [HMACHexSigner] with the scheme's Header and
	// Prefix.
	SignatureHMACHex SignatureKind = "hmac-sha256-hex"
)

// SignatureScheme selects how requests to one endpoint are signed. The
// zero value means Standard Webhooks.
type SignatureScheme struct {
	// Kind is the scheme; empty means [SignatureStandardWebhooks].
	Kind SignatureKind
	// Header is the signature header for [SignatureHMACHex]. Defaults to
	// [HMACHexHeaderDefault] (and then Prefix to [HMACHexPrefixDefault]).
	Header string
	// Prefix precedes the hex digest for [SignatureHMACHex].
	Prefix string
}

// maxSignaturePrefix bounds [SignatureScheme.Prefix].
const maxSignaturePrefix = 64

// validate checks the scheme; errors name the offending field, lowercase.
func (s SignatureScheme) validate() error {
	switch s.Kind {
	case "", SignatureStandardWebhooks:
		if s.Header != "" || s.Prefix != "" {
			return fmt.Errorf("header and prefix apply only to %q", SignatureHMACHex)
		}
		return nil
	case SignatureHMACHex:
	default:
		return fmt.Errorf("unknown kind %q", s.Kind)
	}
	if s.Header == "" {
		if s.Prefix != "" {
			return fmt.Errorf("prefix needs a header")
		}
		return nil
	}
	if err := validateHeader(s.Header, s.Prefix); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	if len(s.Prefix) > maxSignaturePrefix {
		return fmt.Errorf("prefix longer than %d bytes", maxSignaturePrefix)
	}
	return nil
}

// defaultHMACHex is the GitHub-style signer, shared to avoid an allocation
// per request.
var defaultHMACHex Signer = HMACHexSigner{}

// signerFor returns the Signer for requests to ep: the scheme the endpoint
// selects, else dflt (the configured [Config.Signer]), else
// [StandardSigner]. Every signer it returns sets webhook-id and
// webhook-timestamp.
func signerFor(ep *Endpoint, dflt Signer) Signer {
	if ep.Signature.Kind == SignatureHMACHex {
		if ep.Signature.Header == "" {
			return defaultHMACHex
		}
		return HMACHexSigner{Header: ep.Signature.Header, Prefix: ep.Signature.Prefix}
	}
	if dflt == nil {
		return StandardSigner{}
	}
	return dflt
}
