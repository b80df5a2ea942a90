package webhook

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook/signature"
)

func TestVerifySpecKnownAnswer(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	h.Set("webhook-id", specID)
	h.Set("webhook-timestamp", strconv.Itoa(specTS))
	h.Set("webhook-signature", specSig)
	now := time.Unix(specTS, 0)
	require.NoError(t, VerifyAt(specSecret, h, []byte(specBody), 0, now))
	require.ErrorIs(t, VerifyAt(specSecret, h, []byte(specBody+" "), 0, now), ErrInvalidSignature)
	require.ErrorIs(t, Verify(specSecret, h, []byte(specBody), time.Minute), ErrTimestampOutOfRange)
}

// TestVerifyWhatStandardSignerSends checks the root wrappers against the
// root signer, and that their errors match the root names. The verifying
// logic itself is tested in package signature.
func TestVerifyWhatStandardSignerSends(t *testing.T) {
	t.Parallel()

	now := time.Unix(1700000000, 0)
	body := []byte(`{"type":"invoice.paid"}`)
	sec, other := NewSecret(), NewSecret()
	sk, pk := NewSigningKey()
	tol := 5 * time.Minute
	good := sign(t, StandardSigner{}, "evt_1", now, body, sec)

	tests := []struct {
		name string
		key  string
		h    http.Header
		body []byte
		now  time.Time
		want error
	}{
		{"Valid", sec.Key, good, body, now, nil},
		{"Rotated", other.Key, sign(t, StandardSigner{}, "evt_1", now, body, sec, other), body, now, nil},
		{"V1aPublicKey", pk, sign(t, StandardSigner{}, "evt_1", now, body, sec, sk), body, now, nil},
		{"V1aSigningKey", sk.Key, sign(t, StandardSigner{}, "evt_1", now, body, sk), body, now, nil},
		{"BodyChanged", sec.Key, good, []byte("{}"), now, ErrInvalidSignature},
		{"WrongKey", other.Key, good, body, now, ErrInvalidSignature},
		{"NoHeaders", sec.Key, http.Header{}, body, now, ErrMissingHeader},
		{"TimestampNotNumber", sec.Key, http.Header{HeaderID: {"e"}, HeaderTimestamp: {"x"}, HeaderSignature: {"v1,x"}}, body, now, ErrMalformedHeader},
		{"Late", sec.Key, good, body, now.Add(tol + time.Second), ErrTimestampOutOfRange},
		{"BadKey", "whsec_short", good, body, now, ErrInvalidSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := VerifyAt(tt.key, tt.h, tt.body, tol, tt.now)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
			require.NotContains(t, err.Error(), strings.TrimPrefix(sec.Key, SecretPrefix))
		})
	}
}

// TestRootNamesAreTheLeafNames checks that errors from package signature
// match the root's names, and the root's errors the leaf's.
func TestRootNamesAreTheLeafNames(t *testing.T) {
	t.Parallel()
	pairs := []struct{ root, leaf error }{
		{ErrInvalidSecret, signature.ErrInvalidSecret},
		{ErrKeyPrefix, signature.ErrKeyPrefix},
		{ErrKeyEncoding, signature.ErrKeyEncoding},
		{ErrKeyLength, signature.ErrKeyLength},
		{ErrMissingHeader, signature.ErrMissingHeader},
		{ErrMalformedHeader, signature.ErrMalformedHeader},
		{ErrTimestampOutOfRange, signature.ErrTimestampOutOfRange},
		{ErrInvalidSignature, signature.ErrInvalidSignature},
	}
	for _, p := range pairs {
		require.ErrorIs(t, p.leaf, p.root)
	}
	_, err := signature.ParseKey("whsec_!!!")
	require.ErrorIs(t, err, ErrInvalidSecret)
	var ke *KeyError
	require.True(t, errors.As(err, &ke))
	require.Equal(t, SecretPrefix, ke.Prefix)
	require.Equal(t, signature.HeaderSignature, HeaderSignature)
}

func TestVerifier(t *testing.T) {
	t.Parallel()

	now := time.Unix(1700000000, 0)
	body := []byte("payload")
	old, cur := NewSecret(), NewSecret()
	sk, pk := NewSigningKey()
	v, err := NewVerifier(cur.Key, pk)
	require.NoError(t, err)

	require.NoError(t, v.VerifyAt(sign(t, StandardSigner{}, "e", now, body, old, cur), body, now))
	require.NoError(t, v.VerifyAt(sign(t, StandardSigner{}, "e", now, body, sk), body, now))
	require.ErrorIs(t, v.VerifyAt(sign(t, StandardSigner{}, "e", now, body, old), body, now), ErrInvalidSignature)
	require.ErrorIs(t, v.VerifyAt(sign(t, StandardSigner{}, "e", now, body, cur), body, now.Add(ToleranceDefault+time.Second)), ErrTimestampOutOfRange)

	v = v.WithTolerance(time.Hour)
	require.NoError(t, v.VerifyAt(sign(t, StandardSigner{}, "e", now, body, cur), body, now.Add(59*time.Minute)))
	require.NoError(t, v.Verify(sign(t, StandardSigner{}, "e", time.Now(), body, cur), body))

	_, err = NewVerifier()
	require.ErrorIs(t, err, ErrInvalidSecret)
	_, err = NewVerifier(cur.Key, "whsec_x")
	require.ErrorIs(t, err, ErrInvalidSecret)
	require.ErrorIs(t, err, ErrKeyEncoding)
}
