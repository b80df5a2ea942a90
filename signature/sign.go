package signature

import (
	"crypto/ed25519"
	"encoding/base64"
	"strconv"
	"time"
)

// Standard Webhooks header names, in canonical form.
const (
	HeaderID        = "Webhook-Id"
	HeaderTimestamp = "Webhook-Timestamp"
	HeaderSignature = "Webhook-Signature"
)

// AppendSignature appends k's versioned signature of "id.ts.body" to dst
// and returns the extended slice: "v1,<base64 HMAC-SHA256>" for a secret,
// "v1a,<base64 ed25519>" for a signing key. ts is the webhook-timestamp
// value exactly as sent. A public key cannot sign: it returns dst and a
// [*KeyError] with Reason [ErrKeyPrefix].
func (k *Key) AppendSignature(dst []byte, id string, ts, body []byte) ([]byte, error) {
	switch k.kind {
	case KindSecret:
		sum := k.sum(id, ts, body)
		dst = append(dst, "v1,"...)
		return base64.StdEncoding.AppendEncode(dst, sum[:]), nil
	case KindSigningKey:
		msg := signedContent(id, ts, body)
		sig := ed25519.Sign(k.priv, *msg)
		releaseContent(msg)
		dst = append(dst, "v1a,"...)
		return base64.StdEncoding.AppendEncode(dst, sig), nil
	}
	return dst, &KeyError{Prefix: PublicKeyPrefix, Reason: ErrKeyPrefix, Detail: "a public key cannot sign; use the whsk_ key"}
}

// Sign returns the webhook-signature value for a message with webhook-id
// id, webhook-timestamp timestamp (sent as Unix seconds) and the exact
// body: one space-separated entry per key, in order. Each key is a
// "whsec_" secret or a "whsk_" signing key; it returns a [*KeyError] for
// any other. It is what a sender without Hooklet, or a test, needs to
// produce a request that [Verify] accepts.
func Sign(id string, timestamp time.Time, body []byte, keys ...string) (string, error) {
	ts := strconv.AppendInt(nil, timestamp.Unix(), 10)
	var out []byte
	for i, s := range keys {
		k, err := ParseSigningKey(s)
		if err != nil {
			return "", err
		}
		if i > 0 {
			out = append(out, ' ')
		}
		if out, err = k.AppendSignature(out, id, ts, body); err != nil {
			return "", err
		}
	}
	return string(out), nil
}
