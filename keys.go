package webhook

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Key prefixes, as the Standard Webhooks specification serializes keys.
const (
	// SecretPrefix starts a symmetric secret: the base64 of 24 to 64 random
	// bytes. It signs "v1" (HMAC-SHA256) signatures; the receiver holds the
	// same secret.
	SecretPrefix = "whsec_"
	// SigningKeyPrefix starts an ed25519 signing key: the base64 of the
	// 64-byte private key (seed followed by public key) or of the 32-byte
	// seed. It signs "v1a" signatures and never leaves the sender.
	SigningKeyPrefix = "whsk_"
	// PublicKeyPrefix starts an ed25519 public key: the base64 of its 32
	// bytes. The receiver verifies "v1a" signatures with it.
	PublicKeyPrefix = "whpk_"
)

// Secret length bounds, in decoded bytes.
const (
	minSecretBytes = 24
	maxSecretBytes = 64
	newSecretBytes = 32
)

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

// NewSecret returns a fresh "whsec_" secret of 32 random bytes, for HMAC
// ("v1") signatures. Hand the same Key to the receiver.
func NewSecret() Secret {
	b := make([]byte, newSecretBytes)
	_, _ = rand.Read(b) // never fails; see crypto/rand.Read
	return Secret{Key: SecretPrefix + base64.StdEncoding.EncodeToString(b)}
}

// NewSigningKey returns a fresh ed25519 signing key as a "whsk_" Secret,
// for "v1a" signatures, and the matching "whpk_" public key to hand to the
// receiver. The signing key never needs to leave the sender.
func NewSigningKey() (Secret, string) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic("webhook: ed25519 key generation failed: " + err.Error()) // crypto/rand never fails
	}
	return Secret{Key: SigningKeyPrefix + base64.StdEncoding.EncodeToString(priv)},
		PublicKeyPrefix + base64.StdEncoding.EncodeToString(pub)
}

// PublicKey returns the "whpk_" public key of a "whsk_" signing key, for
// the receiver. It returns a [*KeyError] for a malformed key and for a
// "whsec_" secret, which has no public half.
func (s Secret) PublicKey() (string, error) {
	k, err := parseSecret(s.Key)
	if err != nil {
		return "", err
	}
	if k.kind != keySigning {
		return "", &KeyError{Prefix: SecretPrefix, Reason: ErrKeyPrefix, Detail: "a symmetric secret has no public key"}
	}
	return PublicKeyPrefix + base64.StdEncoding.EncodeToString(k.pub), nil
}

// Format writes the redacted form of the secret for every verb, so that no
// fmt verb (%v, %+v, %#v, %s, %q, %x, %d, ...) reveals the key.
func (s Secret) Format(f fmt.State, verb rune) {
	_, _ = f.Write([]byte(s.String()))
}

// MarshalJSON encodes the secret with its key redacted, so that logging or
// serving an [Endpoint] as JSON never reveals it. A store that persists
// secrets must copy Key into its own record type.
func (s Secret) MarshalJSON() ([]byte, error) {
	b := []byte(`{"Key":"[redacted]"`)
	if !s.ExpiresAt.IsZero() {
		b = append(b, `,"ExpiresAt":`...)
		b = strconv.AppendQuote(b, s.ExpiresAt.Format(time.RFC3339Nano))
	}
	return append(b, '}'), nil
}

var _ json.Marshaler = Secret{}

// keyKind is what a parsed key can do.
type keyKind uint8

const (
	keyHMAC    keyKind = iota + 1 // whsec_: signs and verifies v1
	keySigning                    // whsk_: signs v1a, verifies v1a
	keyPublic                     // whpk_: verifies v1a
)

// parsedKey is a decoded key with the state that makes signing cheap.
// It is immutable after parsing and safe for concurrent use.
type parsedKey struct {
	kind keyKind
	// macs pools *macState keyed with the decoded whsec_ bytes (keyHMAC).
	macs sync.Pool
	// textMACs pools *macState keyed with the secret's text, for the
	// HMAC hex scheme (keyHMAC).
	textMACs sync.Pool
	priv     ed25519.PrivateKey // keySigning
	pub      ed25519.PublicKey  // keySigning, keyPublic
}

// macState is one keyed HMAC-SHA256 with scratch space. The hmac's
// Reset restores the precomputed ipad state, so reusing it skips the key
// schedule.
type macState struct {
	mac hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

func newMACPool(key []byte) sync.Pool {
	return sync.Pool{New: func() any {
		return &macState{mac: hmac.New(sha256.New, key), buf: make([]byte, 0, 128)}
	}}
}

// sum returns HMAC-SHA256(key, id "." ts "." body) for keyHMAC keys.
func (k *parsedKey) sum(id string, ts, body []byte) [sha256.Size]byte {
	return macSum(&k.macs, id, ts, body, true)
}

// textSum returns HMAC-SHA256(text key, body) for keyHMAC keys.
func (k *parsedKey) textSum(body []byte) [sha256.Size]byte {
	return macSum(&k.textMACs, "", nil, body, false)
}

func macSum(p *sync.Pool, id string, ts, body []byte, prefix bool) [sha256.Size]byte {
	st := p.Get().(*macState)
	st.mac.Reset()
	if prefix {
		st.buf = append(st.buf[:0], id...)
		st.buf = append(st.buf, '.')
		st.buf = append(st.buf, ts...)
		st.buf = append(st.buf, '.')
		st.mac.Write(st.buf)
	}
	st.mac.Write(body)
	out := [sha256.Size]byte(st.mac.Sum(st.sum[:0]))
	if cap(st.buf) <= 4096 {
		p.Put(st)
	}
	return out
}

// msgBufs pools the buffers that hold "id.ts.body" for ed25519.
var msgBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// maxPooledMsg bounds the buffers kept in msgBufs.
const maxPooledMsg = 1 << 20

// signedContent returns "id.ts.body" in a pooled buffer; give it back
// with releaseContent once done with it.
func signedContent(id string, ts, body []byte) *[]byte {
	bp := msgBufs.Get().(*[]byte)
	b := append((*bp)[:0], id...)
	b = append(b, '.')
	b = append(b, ts...)
	b = append(b, '.')
	*bp = append(b, body...)
	return bp
}

func releaseContent(bp *[]byte) {
	if cap(*bp) <= maxPooledMsg {
		msgBufs.Put(bp)
	}
}

// parseSecret returns the parsed form of an endpoint secret: "whsec_" or
// "whsk_". Parsed keys are cached, so calling it per request is cheap.
func parseSecret(s string) (*parsedKey, error) {
	k, err := keys.get(s)
	if err != nil {
		return nil, err
	}
	if k.kind == keyPublic {
		return nil, &KeyError{Prefix: PublicKeyPrefix, Reason: ErrKeyPrefix, Detail: "a public key cannot sign; use the whsk_ key"}
	}
	return k, nil
}

// parseKey decodes any key: "whsec_", "whsk_" or "whpk_".
func parseKey(s string) (*parsedKey, error) {
	switch {
	case strings.HasPrefix(s, SecretPrefix):
		key, err := decodeKey(s, SecretPrefix)
		if err != nil {
			return nil, err
		}
		if len(key) < minSecretBytes || len(key) > maxSecretBytes {
			return nil, &KeyError{Prefix: SecretPrefix, Reason: ErrKeyLength,
				Detail: fmt.Sprintf("%d bytes, want %d to %d", len(key), minSecretBytes, maxSecretBytes)}
		}
		k := &parsedKey{kind: keyHMAC, macs: newMACPool(key), textMACs: newMACPool([]byte(s))}
		return k, nil
	case strings.HasPrefix(s, SigningKeyPrefix):
		key, err := decodeKey(s, SigningKeyPrefix)
		if err != nil {
			return nil, err
		}
		var priv ed25519.PrivateKey
		switch len(key) {
		case ed25519.SeedSize:
			priv = ed25519.NewKeyFromSeed(key)
		case ed25519.PrivateKeySize:
			priv = ed25519.NewKeyFromSeed(key[:ed25519.SeedSize])
			if !hmac.Equal(priv[ed25519.SeedSize:], key[ed25519.SeedSize:]) {
				return nil, &KeyError{Prefix: SigningKeyPrefix, Reason: ErrKeyEncoding,
					Detail: "public half does not match the seed"}
			}
		default:
			return nil, &KeyError{Prefix: SigningKeyPrefix, Reason: ErrKeyLength,
				Detail: fmt.Sprintf("%d bytes, want %d or %d", len(key), ed25519.SeedSize, ed25519.PrivateKeySize)}
		}
		return &parsedKey{kind: keySigning, priv: priv, pub: priv.Public().(ed25519.PublicKey)}, nil
	case strings.HasPrefix(s, PublicKeyPrefix):
		key, err := decodeKey(s, PublicKeyPrefix)
		if err != nil {
			return nil, err
		}
		if len(key) != ed25519.PublicKeySize {
			return nil, &KeyError{Prefix: PublicKeyPrefix, Reason: ErrKeyLength,
				Detail: fmt.Sprintf("%d bytes, want %d", len(key), ed25519.PublicKeySize)}
		}
		return &parsedKey{kind: keyPublic, pub: ed25519.PublicKey(key)}, nil
	}
	return nil, &KeyError{Reason: ErrKeyPrefix,
		Detail: fmt.Sprintf("want %q, %q or %q", SecretPrefix, SigningKeyPrefix, PublicKeyPrefix)}
}

func decodeKey(s, prefix string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(s[len(prefix):])
	if err != nil {
		// The error of DecodeString names an offset, never the input.
		return nil, &KeyError{Prefix: prefix, Reason: ErrKeyEncoding}
	}
	return key, nil
}

// keyCacheMax bounds the number of parsed keys kept in memory.
const keyCacheMax = 4096

// keys caches parsed keys by their text, so the signing hot path never
// decodes a key or repeats an HMAC key schedule.
var keys keyCache

// keyCache is a bounded map from key text to *parsedKey. When full, it
// evicts an arbitrary entry; an evicted key is simply parsed again.
type keyCache struct {
	m sync.Map // string -> *parsedKey
	n atomic.Int64
}

func (c *keyCache) get(s string) (*parsedKey, error) {
	if v, ok := c.m.Load(s); ok {
		return v.(*parsedKey), nil
	}
	k, err := parseKey(s)
	if err != nil {
		return nil, err
	}
	if c.n.Load() >= keyCacheMax {
		c.m.Range(func(key, _ any) bool {
			if _, loaded := c.m.LoadAndDelete(key); loaded {
				c.n.Add(-1)
			}
			return false
		})
	}
	if v, loaded := c.m.LoadOrStore(s, k); loaded {
		return v.(*parsedKey), nil
	}
	c.n.Add(1)
	return k, nil
}
