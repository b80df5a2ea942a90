package signature_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook/signature"
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
		kind   signature.KeyKind
		reason error
	}{
		{"SpecSecret", specSecret, signature.KindSecret, nil},
		{"Secret24", "whsec_" + b64(24), signature.KindSecret, nil},
		{"Secret64", "whsec_" + b64(64), signature.KindSecret, nil},
		{"SecretTooShort", "whsec_" + b64(23), 0, signature.ErrKeyLength},
		{"SecretTooLong", "whsec_" + b64(65), 0, signature.ErrKeyLength},
		{"SecretBadBase64", "whsec_" + b64(32)[1:], 0, signature.ErrKeyEncoding},
		{"SecretURLBase64", "whsec_" + strings.Repeat("-_", 16), 0, signature.ErrKeyEncoding},
		{"SigningSeed", "whsk_" + base64.StdEncoding.EncodeToString(seed), signature.KindSigningKey, nil},
		{"SigningFull", "whsk_" + base64.StdEncoding.EncodeToString(priv), signature.KindSigningKey, nil},
		{"SigningMismatchedHalf", "whsk_" + base64.StdEncoding.EncodeToString(badPriv), 0, signature.ErrKeyEncoding},
		{"SigningWrongLength", "whsk_" + b64(48), 0, signature.ErrKeyLength},
		{"Public", "whpk_" + base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)), signature.KindPublicKey, nil},
		{"PublicWrongLength", "whpk_" + b64(31), 0, signature.ErrKeyLength},
		{"NoPrefix", b64(32), 0, signature.ErrKeyPrefix},
		{"WrongPrefix", "sk_" + b64(32), 0, signature.ErrKeyPrefix},
		{"Empty", "", 0, signature.ErrKeyPrefix},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := signature.ParseKey(tt.key)
			if tt.reason != nil {
				require.ErrorIs(t, err, tt.reason)
				require.ErrorIs(t, err, signature.ErrInvalidSecret)
				var ke *signature.KeyError
				require.ErrorAs(t, err, &ke)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.kind, k.Kind())
			again, err := signature.ParseKey(tt.key)
			require.NoError(t, err)
			require.Same(t, k, again, "parsed keys are cached")
		})
	}
}

func TestParseSigningKeyRejectsPublicKey(t *testing.T) {
	t.Parallel()
	sk, pk := signature.NewSigningKey()
	_, err := signature.ParseSigningKey(pk)
	require.ErrorIs(t, err, signature.ErrKeyPrefix)
	require.ErrorIs(t, err, signature.ErrInvalidSecret)
	k, err := signature.ParseSigningKey(sk)
	require.NoError(t, err)
	require.Equal(t, signature.KindSigningKey, k.Kind())

	pub, err := signature.ParseKey(pk)
	require.NoError(t, err)
	_, err = pub.AppendSignature(nil, "e", []byte("1"), nil)
	require.ErrorIs(t, err, signature.ErrKeyPrefix)
}

func TestNewKeys(t *testing.T) {
	t.Parallel()

	s := signature.NewSecret()
	require.True(t, strings.HasPrefix(s, signature.SecretPrefix))
	k, err := signature.ParseSigningKey(s)
	require.NoError(t, err)
	require.Equal(t, signature.KindSecret, k.Kind())
	require.NotEqual(t, s, signature.NewSecret())
	_, err = signature.PublicKey(s)
	require.ErrorIs(t, err, signature.ErrInvalidSecret)
	require.ErrorIs(t, err, signature.ErrKeyPrefix)

	sk, pk := signature.NewSigningKey()
	require.True(t, strings.HasPrefix(sk, signature.SigningKeyPrefix))
	require.True(t, strings.HasPrefix(pk, signature.PublicKeyPrefix))
	derived, err := signature.PublicKey(sk)
	require.NoError(t, err)
	require.Equal(t, pk, derived)
	pub, err := signature.ParseKey(pk)
	require.NoError(t, err)
	require.Equal(t, signature.KindPublicKey, pub.Kind())
	_, err = signature.PublicKey(pk)
	require.ErrorIs(t, err, signature.ErrKeyPrefix)
}

func TestErrorsNeverRevealKeys(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"whsec_c2hvcnQ=", "whsec_#notbase64#", "whsk_c2hvcnQ=", "whpk_c2hvcnQ=", "nope_c2hvcnQ="} {
		_, err := signature.ParseKey(key)
		require.Error(t, err)
		require.True(t, errors.Is(err, signature.ErrInvalidSecret))
		payload := key[strings.IndexByte(key, '_')+1:]
		require.NotContains(t, err.Error(), payload)
	}
}

func TestKeyAndVerifierNeverRevealKeys(t *testing.T) {
	t.Parallel()
	s := signature.NewSecret()
	sk, pk := signature.NewSigningKey()
	payloads := []string{s[len("whsec_"):], sk[len("whsk_"):], pk[len("whpk_"):]}
	ks, err := signature.ParseKey(s)
	require.NoError(t, err)
	ksk, err := signature.ParseKey(sk)
	require.NoError(t, err)
	v, err := signature.NewVerifier(s, pk)
	require.NoError(t, err)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"} {
		for _, val := range []any{ks, ksk, v, *v, struct{ V signature.Verifier }{*v}, []*signature.Key{ks}} {
			out := fmt.Sprintf(verb, val)
			for _, p := range payloads {
				require.NotContains(t, out, p, "verb %s on %T", verb, val)
			}
		}
	}
	require.Equal(t, "Key{whsec_}", ks.String())
	require.Equal(t, "Verifier{Keys:2 Tolerance:5m0s}", fmt.Sprint(v))
}
