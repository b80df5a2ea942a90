package webhook

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func b64(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }

func TestParseKey(t *testing.T) {
	t.Parallel()

	seed := make([]byte, ed25519.SeedSize)
	seed[0] = 7
	priv := ed25519.NewKeyFromSeed(seed)
	badPriv := append([]byte(nil), priv...)
	badPriv[40] ^= 1

	tests := []struct {
		name   string
		key    string
		kind   keyKind
		reason error
	}{
		{"SpecSecret", specSecret, keyHMAC, nil},
		{"Secret24", "whsec_" + b64(24), keyHMAC, nil},
		{"Secret64", "whsec_" + b64(64), keyHMAC, nil},
		{"SecretTooShort", "whsec_" + b64(23), 0, ErrKeyLength},
		{"SecretTooLong", "whsec_" + b64(65), 0, ErrKeyLength},
		{"SecretBadBase64", "whsec_" + b64(32)[1:], 0, ErrKeyEncoding},
		{"SecretURLBase64", "whsec_" + strings.Repeat("-_", 16), 0, ErrKeyEncoding},
		{"SigningSeed", "whsk_" + base64.StdEncoding.EncodeToString(seed), keySigning, nil},
		{"SigningFull", "whsk_" + base64.StdEncoding.EncodeToString(priv), keySigning, nil},
		{"SigningMismatchedHalf", "whsk_" + base64.StdEncoding.EncodeToString(badPriv), 0, ErrKeyEncoding},
		{"SigningWrongLength", "whsk_" + b64(48), 0, ErrKeyLength},
		{"Public", "whpk_" + base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)), keyPublic, nil},
		{"PublicWrongLength", "whpk_" + b64(31), 0, ErrKeyLength},
		{"NoPrefix", b64(32), 0, ErrKeyPrefix},
		{"WrongPrefix", "sk_" + b64(32), 0, ErrKeyPrefix},
		{"Empty", "", 0, ErrKeyPrefix},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := parseKey(tt.key)
			if tt.reason != nil {
				require.ErrorIs(t, err, tt.reason)
				require.ErrorIs(t, err, ErrInvalidSecret)
				var ke *KeyError
				require.ErrorAs(t, err, &ke)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.kind, k.kind)
		})
	}
}

func TestParseSecretRejectsPublicKey(t *testing.T) {
	t.Parallel()
	_, pk := NewSigningKey()
	_, err := parseSecret(pk)
	require.ErrorIs(t, err, ErrKeyPrefix)
	require.ErrorIs(t, err, ErrInvalidSecret)
}

func TestNewKeys(t *testing.T) {
	t.Parallel()

	s := NewSecret()
	require.True(t, strings.HasPrefix(s.Key, SecretPrefix))
	k, err := parseSecret(s.Key)
	require.NoError(t, err)
	require.Equal(t, keyHMAC, k.kind)
	require.NotEqual(t, s.Key, NewSecret().Key)
	_, err = s.PublicKey()
	require.ErrorIs(t, err, ErrInvalidSecret)

	sk, pk := NewSigningKey()
	require.True(t, strings.HasPrefix(sk.Key, SigningKeyPrefix))
	require.True(t, strings.HasPrefix(pk, PublicKeyPrefix))
	derived, err := sk.PublicKey()
	require.NoError(t, err)
	require.Equal(t, pk, derived)
	pub, err := parseKey(pk)
	require.NoError(t, err)
	require.Equal(t, keyPublic, pub.kind)

	// Both are valid endpoint secrets.
	ep := Endpoint{ID: "ep", URL: "https://example.com", Secrets: []Secret{s, sk}}
	require.NoError(t, ep.validate())
	ep.Secrets = []Secret{{Key: pk}}
	require.ErrorIs(t, ep.validate(), ErrInvalidSecret)
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
		require.Contains(t, string(b), `"Key":"[redacted]"`)
	}
	b, err := json.Marshal(s)
	require.NoError(t, err)
	var back struct{ ExpiresAt time.Time }
	require.NoError(t, json.Unmarshal(b, &back))
	require.True(t, back.ExpiresAt.Equal(s.ExpiresAt))
}

func TestKeyCacheBounded(t *testing.T) {
	t.Parallel()
	var c keyCache
	for range keyCacheMax + 50 {
		_, err := c.get(NewSecret().Key)
		require.NoError(t, err)
	}
	require.LessOrEqual(t, c.n.Load(), int64(keyCacheMax))
	n := 0
	c.m.Range(func(_, _ any) bool { n++; return true })
	require.Equal(t, int(c.n.Load()), n)
}
