package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook/signature"
)

func TestNewKeys(t *testing.T) {
	t.Parallel()

	s := NewSecret()
	require.True(t, strings.HasPrefix(s.Key, SecretPrefix))
	k, err := parseSecret(s.Key)
	require.NoError(t, err)
	require.Equal(t, signature.KindSecret, k.Kind())
	require.NotEqual(t, s.Key, NewSecret().Key)
	_, err = s.PublicKey()
	require.ErrorIs(t, err, ErrInvalidSecret)

	sk, pk := NewSigningKey()
	require.True(t, strings.HasPrefix(sk.Key, SigningKeyPrefix))
	require.True(t, strings.HasPrefix(pk, PublicKeyPrefix))
	derived, err := sk.PublicKey()
	require.NoError(t, err)
	require.Equal(t, pk, derived)
	_, err = parseSecret(pk)
	require.ErrorIs(t, err, ErrKeyPrefix, "a public key cannot sign")
	require.ErrorIs(t, err, ErrInvalidSecret)

	// Both are valid endpoint secrets.
	ep := Endpoint{ID: "ep", URL: "https://example.com", Secrets: []Secret{s, sk}}
	require.NoError(t, ep.validate(endpointCheck{}))
	ep.Secrets = []Secret{{Key: pk}}
	require.ErrorIs(t, ep.validate(endpointCheck{}), ErrInvalidSecret)
}

func TestSecretRedaction(t *testing.T) {
	t.Parallel()

	s := NewSecret()
	s.ExpiresAt = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	payload := strings.TrimPrefix(s.Key, SecretPrefix)
	ep := Endpoint{ID: "ep", Secrets: []Secret{s}}
	m := Message{ID: "e", Secrets: []Secret{s}}
	v, err := NewVerifier(s.Key)
	require.NoError(t, err)

	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"} {
		for _, val := range []any{s, &s, ep, &ep, m, []Secret{s}, *v, v, struct{ V Verifier }{*v}} {
			out := fmt.Sprintf(verb, val)
			require.NotContains(t, out, payload, "verb %s on %T", verb, val)
			require.NotContains(t, out, "whsec_", "verb %s on %T", verb, val)
		}
	}
	require.Contains(t, fmt.Sprint(s), "2030-01-02T03:04:05Z")

	for _, val := range []any{s, ep, m} {
		b, err := json.Marshal(val)
		require.NoError(t, err)
		require.NotContains(t, string(b), payload)
		require.Contains(t, string(b), `"key":"[redacted]"`)
	}
	b, err := json.Marshal(s)
	require.NoError(t, err)
	var back struct {
		ExpiresAt time.Time `json:"expires_at"`
	}
	require.NoError(t, json.Unmarshal(b, &back))
	require.True(t, back.ExpiresAt.Equal(s.ExpiresAt))
}

func TestTextMACCacheBounded(t *testing.T) {
	t.Parallel()
	var c textMACCache
	body := []byte("b")
	for range textMACCacheMax + 50 {
		key := NewSecret().Key
		mac := hmac.New(sha256.New, []byte(key))
		mac.Write(body)
		sum := c.sum(key, body)
		require.Equal(t, mac.Sum(nil), sum[:])
	}
	require.LessOrEqual(t, c.n.Load(), int64(textMACCacheMax))
	n := 0
	c.m.Range(func(_, _ any) bool { n++; return true })
	require.Equal(t, int(c.n.Load()), n)
}
