package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hooklet/webhook/signature"
)

// Key prefixes, as the Standard Webhooks specification serializes keys.
// They are those of package [signature].
const (
	// SecretPrefix starts a symmetric secret: the base64 of 24 to 64 random
	// bytes. It signs "v1" (HMAC-SHA256) signatures; the receiver holds the
	// same secret.
	SecretPrefix = signature.SecretPrefix
	// SigningKeyPrefix starts an ed25519 signing key: the base64 of the
	// 64-byte private key (seed followed by public key) or of the 32-byte
	// seed. It signs "v1a" signatures and never leaves the sender.
	SigningKeyPrefix = signature.SigningKeyPrefix
	// PublicKeyPrefix starts an ed25519 public key: the base64 of its 32
	// bytes. The receiver verifies "v1a" signatures with it.
	PublicKeyPrefix = signature.PublicKeyPrefix
)

// Reasons a key does not parse. A [*KeyError] wraps exactly one of them,
// together with [ErrInvalidSecret]. They are those of package [signature].
var (
	// ErrKeyPrefix: the key does not start with a prefix valid where it is
	// used ("whsec_" or "whsk_" to sign; "whsec_", "whpk_" or "whsk_" to
	// verify).
	ErrKeyPrefix = signature.ErrKeyPrefix
	// ErrKeyEncoding: the text after the prefix is not standard base64.
	ErrKeyEncoding = signature.ErrKeyEncoding
	// ErrKeyLength: the decoded key has the wrong number of bytes.
	ErrKeyLength = signature.ErrKeyLength
)

// KeyError reports a key that does not parse. It never contains the key
// itself. It matches [ErrInvalidSecret] and its Reason with [errors.Is].
// It is [signature.KeyError].
type KeyError = signature.KeyError

// NewSecret returns a fresh "whsec_" secret of 32 random bytes, for HMAC
// ("v1") signatures. Hand the same Key to the receiver.
func NewSecret() Secret {
	return Secret{Key: signature.NewSecret()}
}

// NewSigningKey returns a fresh ed25519 signing key as a "whsk_" Secret,
// for "v1a" signatures, and the matching "whpk_" public key to hand to the
// receiver. The signing key never needs to leave the sender.
func NewSigningKey() (Secret, string) {
	sk, pk := signature.NewSigningKey()
	return Secret{Key: sk}, pk
}

// PublicKey returns the "whpk_" public key of a "whsk_" signing key, for
// the receiver. It returns a [*KeyError] for a malformed key and for a
// "whsec_" secret, which has no public half.
func (s Secret) PublicKey() (string, error) {
	return signature.PublicKey(s.Key)
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
	b := []byte(`{"key":"[redacted]"`)
	if !s.ExpiresAt.IsZero() {
		b = append(b, `,"expires_at":`...)
		b = strconv.AppendQuote(b, s.ExpiresAt.Format(time.RFC3339Nano))
	}
	return append(b, '}'), nil
}

var _ json.Marshaler = Secret{}

// parseSecret returns the parsed form of an endpoint secret: "whsec_" or
// "whsk_". Parsed keys are cached, so calling it per request is cheap.
func parseSecret(s string) (*signature.Key, error) {
	return signature.ParseSigningKey(s)
}

// textMACCacheMax bounds the number of secrets whose text-keyed HMAC state
// is kept in memory.
const textMACCacheMax = 4096

// textMACs caches, per secret text, a pool of HMAC-SHA256 states keyed
// with that text, for [HMACHexSigner]: a reused state skips the key
// schedule.
var textMACs textMACCache

// textMACCache is a bounded map from a secret's text to a *sync.Pool of
// *textMAC. When full, it evicts an arbitrary entry.
type textMACCache struct {
	m sync.Map // string -> *sync.Pool
	n atomic.Int64
}

// textMAC is one keyed HMAC-SHA256 with room for its sum.
type textMAC struct {
	mac hash.Hash
	sum [sha256.Size]byte
}

// sum returns HMAC-SHA256(key, body), the key being the secret's text.
func (c *textMACCache) sum(key string, body []byte) [sha256.Size]byte {
	p := c.pool(key)
	st := p.Get().(*textMAC)
	st.mac.Reset()
	st.mac.Write(body)
	out := [sha256.Size]byte(st.mac.Sum(st.sum[:0]))
	p.Put(st)
	return out
}

func (c *textMACCache) pool(key string) *sync.Pool {
	if v, ok := c.m.Load(key); ok {
		return v.(*sync.Pool)
	}
	p := &sync.Pool{New: func() any { return &textMAC{mac: hmac.New(sha256.New, []byte(key))} }}
	if c.n.Load() >= textMACCacheMax {
		c.m.Range(func(k, _ any) bool {
			if _, loaded := c.m.LoadAndDelete(k); loaded {
				c.n.Add(-1)
			}
			return false
		})
	}
	if v, loaded := c.m.LoadOrStore(key, p); loaded {
		return v.(*sync.Pool)
	}
	c.n.Add(1)
	return p
}
