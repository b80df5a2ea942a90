package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
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

// Standard Webhooks header names.
const (
	HeaderID        = "Webhook-Id"
	HeaderTimestamp = "Webhook-Timestamp"
	HeaderSignature = "Webhook-Signature"
)

const secretPrefix = "whsec_"

// Secret length bounds, in decoded bytes.
const (
	minSecretBytes = 24
	maxSecretBytes = 64
)

// parseSecret decodes a "whsec_" secret to its key bytes.
func parseSecret(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(s, secretPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: want the %q prefix", ErrInvalidSecret, secretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("%w: bad base64", ErrInvalidSecret)
	}
	if len(key) < minSecretBytes || len(key) > maxSecretBytes {
		return nil, fmt.Errorf("%w: %d key bytes, want %d to %d", ErrInvalidSecret, len(key), minSecretBytes, maxSecretBytes)
	}
	return key, nil
}

// StandardSigner signs per the Standard Webhooks specification: it sets
// webhook-id, webhook-timestamp (Unix seconds) and webhook-signature with
// one "v1,<base64 HMAC-SHA256>" entry per secret, over "id.timestamp.body".
// It is the default [Config.Signer].
type StandardSigner struct{}

// Sign implements [Signer].
func (StandardSigner) Sign(h http.Header, m *Message) error {
	ts := strconv.FormatInt(m.Timestamp.Unix(), 10)
	h[HeaderID] = []string{m.ID}
	h[HeaderTimestamp] = []string{ts}
	if len(m.Secrets) == 0 {
		return nil
	}
	sig := make([]byte, 0, len(m.Secrets)*48)
	for i, s := range m.Secrets {
		key, err := parseSecret(s.Key)
		if err != nil {
			return err
		}
		if i > 0 {
			sig = append(sig, ' ')
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(m.ID))
		mac.Write([]byte{'.'})
		mac.Write([]byte(ts))
		mac.Write([]byte{'.'})
		mac.Write(m.Body)
		var sum [sha256.Size]byte
		sig = append(sig, "v1,"...)
		sig = base64.StdEncoding.AppendEncode(sig, mac.Sum(sum[:0]))
	}
	h[HeaderSignature] = []string{string(sig)}
	return nil
}
