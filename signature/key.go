package signature

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"strings"
	"sync"
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

// KeyKind is what a [Key] is, and so what it can do.
type KeyKind uint8

// Kinds of keys.
const (
	// KindSecret is a "whsec_" secret: it signs and verifies "v1".
	KindSecret KeyKind = iota + 1
	// KindSigningKey is a "whsk_" ed25519 signing key: it signs and
	// verifies "v1a".
	KindSigningKey
	// KindPublicKey is a "whpk_" ed25519 public key: it verifies "v1a".
	KindPublicKey
)

// String returns the kind's key prefix: "whsec_", "whsk_" or "whpk_".
func (k KeyKind) String() string {
	switch k {
	case KindSecret:
		return SecretPrefix
	case KindSigningKey:
		return SigningKeyPrefix
	case KindPublicKey:
		return PublicKeyPrefix
	}
	return fmt.Sprintf("KeyKind(%d)", uint8(k))
}

// Key is a parsed key with the state that makes signing cheap (a pool of
// keyed HMACs for a secret). It is immutable and safe for concurrent use;
// use it through a pointer. Its String and Format methods never reveal
// the key.
type Key struct {
	kind KeyKind
	// macs pools *macState keyed with the decoded whsec_ bytes.
	macs sync.Pool
	priv ed25519.PrivateKey // KindSigningKey
	pub  ed25519.PublicKey  // KindSigningKey, KindPublicKey
}

// ParseKey returns the parsed form of any key: "whsec_", "whsk_" or
// "whpk_". It returns a [*KeyError] for a malformed key. Parsed keys are
// cached by their text, so calling it per request is cheap.
func ParseKey(s string) (*Key, error) {
	return keys.get(s)
}

// ParseSigningKey is [ParseKey] for a key that signs: a "whsec_" secret or
// a "whsk_" signing key. A "whpk_" public key yields a [*KeyError] with
// Reason [ErrKeyPrefix].
func ParseSigningKey(s string) (*Key, error) {
	k, err := keys.get(s)
	if err != nil {
		return nil, err
	}
	if k.kind == KindPublicKey {
		return nil, &KeyError{Prefix: PublicKeyPrefix, Reason: ErrKeyPrefix, Detail: "a public key cannot sign; use the whsk_ key"}
	}
	return k, nil
}

// Kind reports what the key is.
func (k *Key) Kind() KeyKind { return k.kind }

// String describes the key without revealing it: "Key{whsec_}".
func (k *Key) String() string { return "Key{" + k.kind.String() + "}" }

// Format writes String for every verb, so that no fmt verb reveals the key.
func (k *Key) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(k.String())) }

// NewSecret returns a fresh "whsec_" secret of 32 random bytes, for HMAC
// ("v1") signatures. The sender and the receiver hold the same secret.
func NewSecret() string {
	b := make([]byte, newSecretBytes)
	_, _ = rand.Read(b) // never fails; see crypto/rand.Read
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// NewSigningKey returns a fresh ed25519 "whsk_" signing key, for "v1a"
// signatures, and the matching "whpk_" public key to hand to the receiver.
// The signing key never needs to leave the sender.
func NewSigningKey() (signingKey, publicKey string) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic("webhook: ed25519 key generation failed: " + err.Error()) // crypto/rand never fails
	}
	return SigningKeyPrefix + base64.StdEncoding.EncodeToString(priv),
		PublicKeyPrefix + base64.StdEncoding.EncodeToString(pub)
}

// PublicKey returns the "whpk_" public key of a "whsk_" signing key, for
// the receiver. It returns a [*KeyError] for a malformed key and for a
// "whsec_" secret, which has no public half.
func PublicKey(signingKey string) (string, error) {
	k, err := ParseSigningKey(signingKey)
	if err != nil {
		return "", err
	}
	if k.kind != KindSigningKey {
		return "", &KeyError{Prefix: SecretPrefix, Reason: ErrKeyPrefix, Detail: "a symmetric secret has no public key"}
	}
	return PublicKeyPrefix + base64.StdEncoding.EncodeToString(k.pub), nil
}

// parseKey decodes any key, without the cache.
func parseKey(s string) (*Key, error) {
	switch {
	case strings.HasPrefix(s, SecretPrefix):
		return parseSecret(s)
	case strings.HasPrefix(s, SigningKeyPrefix):
		return parseSigning(s)
	case strings.HasPrefix(s, PublicKeyPrefix):
		return parsePublic(s)
	}
	return nil, &KeyError{Reason: ErrKeyPrefix,
		Detail: fmt.Sprintf("want %q, %q or %q", SecretPrefix, SigningKeyPrefix, PublicKeyPrefix)}
}

func parseSecret(s string) (*Key, error) {
	key, err := decodeKey(s, SecretPrefix)
	if err != nil {
		return nil, err
	}
	if len(key) < minSecretBytes || len(key) > maxSecretBytes {
		return nil, &KeyError{Prefix: SecretPrefix, Reason: ErrKeyLength,
			Detail: fmt.Sprintf("%d bytes, want %d to %d", len(key), minSecretBytes, maxSecretBytes)}
	}
	return &Key{kind: KindSecret, macs: newMACPool(key)}, nil
}

func parseSigning(s string) (*Key, error) {
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
	return &Key{kind: KindSigningKey, priv: priv, pub: priv.Public().(ed25519.PublicKey)}, nil
}

func parsePublic(s string) (*Key, error) {
	key, err := decodeKey(s, PublicKeyPrefix)
	if err != nil {
		return nil, err
	}
	if len(key) != ed25519.PublicKeySize {
		return nil, &KeyError{Prefix: PublicKeyPrefix, Reason: ErrKeyLength,
			Detail: fmt.Sprintf("%d bytes, want %d", len(key), ed25519.PublicKeySize)}
	}
	return &Key{kind: KindPublicKey, pub: ed25519.PublicKey(key)}, nil
}

func decodeKey(s, prefix string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(s[len(prefix):])
	if err != nil {
		// The error of DecodeString names an offset, never the input.
		return nil, &KeyError{Prefix: prefix, Reason: ErrKeyEncoding}
	}
	return key, nil
}

// macState is one keyed HMAC-SHA256 with scratch space. The hmac's
// Reset restores the precomputed ipad state, so reusing it skips the key
// schedule.
type macState struct {
	mac hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

// maxPooledMACBuf bounds the scratch space kept in a pooled macState.
const maxPooledMACBuf = 4096

func newMACPool(key []byte) sync.Pool {
	return sync.Pool{New: func() any {
		return &macState{mac: hmac.New(sha256.New, key), buf: make([]byte, 0, 128)}
	}}
}

// sum returns HMAC-SHA256(key, id "." ts "." body) for a secret.
func (k *Key) sum(id string, ts, body []byte) [sha256.Size]byte {
	st := k.macs.Get().(*macState)
	st.mac.Reset()
	st.buf = append(st.buf[:0], id...)
	st.buf = append(st.buf, '.')
	st.buf = append(st.buf, ts...)
	st.buf = append(st.buf, '.')
	st.mac.Write(st.buf)
	st.mac.Write(body)
	out := [sha256.Size]byte(st.mac.Sum(st.sum[:0]))
	if cap(st.buf) <= maxPooledMACBuf {
		k.macs.Put(st)
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
