package signature_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook/signature"
)

// The Standard Webhooks specification's example.
const (
	specSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTS     = 1614265330
	specBody   = `{"test": 2432232314}`
	specSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

// signed returns the headers of a request with webhook-id id, signed at
// at with keys.
func signed(t testing.TB, id string, at time.Time, body []byte, keys ...string) http.Header {
	t.Helper()
	sig, err := signature.Sign(id, at, body, keys...)
	require.NoError(t, err)
	h := http.Header{}
	h.Set(signature.HeaderID, id)
	h.Set(signature.HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	h.Set(signature.HeaderSignature, sig)
	return h
}

func TestSpecKnownAnswer(t *testing.T) {
	t.Parallel()

	t.Run("Sign", func(t *testing.T) {
		t.Parallel()
		sig, err := signature.Sign(specID, time.Unix(specTS, 0), []byte(specBody), specSecret)
		require.NoError(t, err)
		require.Equal(t, specSig, sig)
	})

	t.Run("Verify", func(t *testing.T) {
		t.Parallel()
		h := http.Header{}
		h.Set("webhook-id", specID)
		h.Set("webhook-timestamp", strconv.Itoa(specTS))
		h.Set("webhook-signature", specSig)
		now := time.Unix(specTS, 0)
		require.NoError(t, signature.VerifyAt(specSecret, h, []byte(specBody), 0, now))
		require.ErrorIs(t, signature.VerifyAt(specSecret, h, []byte(specBody+" "), 0, now), signature.ErrInvalidSignature)
		require.ErrorIs(t, signature.Verify(specSecret, h, []byte(specBody), time.Minute), signature.ErrTimestampOutOfRange)
	})
}
