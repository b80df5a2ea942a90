package webhook

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"
)

// The Standard Webhooks specification's example.
const (
	specSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTS     = 1614265330
	specBody   = `{"test": 2432232314}`
	specSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

// refV1 is an independent v1 signer written from the specification.
func refV1(t testing.TB, secret, id string, ts int64, body []byte) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	require.NoError(t, err)
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.%s", id, ts, body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func sign(t testing.TB, s Signer, id string, ts time.Time, body []byte, secrets ...Secret) http.Header {
	t.Helper()
	h := http.Header{}
	require.NoError(t, s.Sign(h, &Message{ID: id, Timestamp: ts, Body: body, Secrets: secrets}))
	return h
}

func TestStandardSigner(t *testing.T) {
	t.Parallel()

	t.Run("SpecKnownAnswer", func(t *testing.T) {
		t.Parallel()
		h := sign(t, StandardSigner{}, specID, time.Unix(specTS, 0), []byte(specBody), Secret{Key: specSecret})
		require.Equal(t, specID, h.Get("webhook-id"))
		require.Equal(t, "1614265330", h.Get("webhook-timestamp"))
		require.Equal(t, specSig, h.Get("webhook-signature"))
		require.Equal(t, specSig, refV1(t, specSecret, specID, specTS, []byte(specBody)))
	})

	t.Run("OneEntryPerKeyInOrder", func(t *testing.T) {
		t.Parallel()
		old, cur := NewSecret(), NewSecret()
		sk, pk := NewSigningKey()
		ts := time.Unix(1700000000, 0)
		body := []byte(`{"a":1}`)
		h := sign(t, StandardSigner{}, "evt_1", ts, body, old, cur, sk)
		entries := strings.Split(h.Get(HeaderSignature), " ")
		require.Len(t, entries, 3)
		require.Equal(t, refV1(t, old.Key, "evt_1", ts.Unix(), body), entries[0])
		require.Equal(t, refV1(t, cur.Key, "evt_1", ts.Unix(), body), entries[1])

		// v1a checked against crypto/ed25519 directly.
		v, ok := strings.CutPrefix(entries[2], "v1a,")
		require.True(t, ok)
		sig, err := base64.StdEncoding.DecodeString(v)
		require.NoError(t, err)
		pub, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(pk, "whpk_"))
		require.NoError(t, err)
		require.True(t, ed25519.Verify(pub, []byte("evt_1.1700000000."+string(body)), sig))
		require.False(t, ed25519.Verify(pub, []byte("evt_1.1700000001."+string(body)), sig))
	})

	t.Run("ExpiredSecretStopsSigning", func(t *testing.T) {
		t.Parallel()
		now := time.Unix(1700000000, 0)
		old := NewSecret()
		old.ExpiresAt = now.Add(time.Hour)
		cur := NewSecret()
		before := sign(t, StandardSigner{}, "e", now, nil, old, cur)
		require.Len(t, strings.Fields(before.Get(HeaderSignature)), 2)
		after := sign(t, StandardSigner{}, "e", now.Add(time.Hour), nil, old, cur)
		require.Equal(t, refV1(t, cur.Key, "e", now.Add(time.Hour).Unix(), nil), after.Get(HeaderSignature))
	})

	t.Run("NoSecretNoSignature", func(t *testing.T) {
		t.Parallel()
		h := http.Header{HeaderSignature: {"stale"}}
		require.NoError(t, StandardSigner{}.Sign(h, &Message{ID: "e", Timestamp: time.Unix(5, 0)}))
		require.Equal(t, "e", h.Get(HeaderID))
		require.Equal(t, "5", h.Get(HeaderTimestamp))
		require.Empty(t, h.Values(HeaderSignature))
	})

	t.Run("MalformedSecret", func(t *testing.T) {
		t.Parallel()
		err := StandardSigner{}.Sign(http.Header{}, &Message{ID: "e", Secrets: []Secret{{Key: "whsec_!!!"}}})
		require.ErrorIs(t, err, ErrInvalidSecret)
		require.ErrorIs(t, err, ErrKeyEncoding)
		require.NotContains(t, err.Error(), "!!!")
	})

	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		secrets := []Secret{NewSecret(), NewSecret()}
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 200 {
					id := fmt.Sprintf("e_%d_%d", g, i)
					body := []byte(strings.Repeat("x", i))
					h := http.Header{}
					if err := (StandardSigner{}).Sign(h, &Message{ID: id, Timestamp: time.Unix(int64(i), 0), Body: body, Secrets: secrets}); err != nil {
						t.Error(err)
						return
					}
					want := refV1(t, secrets[0].Key, id, int64(i), body) + " " + refV1(t, secrets[1].Key, id, int64(i), body)
					if got := h.Get(HeaderSignature); got != want {
						t.Errorf("signature %q, want %q", got, want)
						return
					}
				}
			}()
		}
		wg.Wait()
	})
}

// TestInteropStandardWebhooksLibrary checks what StandardSigner sends
// with the Standard Webhooks reference library for Go.
func TestInteropStandardWebhooksLibrary(t *testing.T) {
	t.Parallel()

	verifyWith := func(t *testing.T, secret string, h http.Header, body []byte) error {
		t.Helper()
		wh, err := standardwebhooks.NewWebhook(secret)
		require.NoError(t, err)
		return wh.Verify(body, h)
	}

	t.Run("OneSecret", func(t *testing.T) {
		t.Parallel()
		sec := NewSecret()
		body := []byte(`{"type":"invoice.paid","data":{"id":"in_1"}}`)
		h := sign(t, StandardSigner{}, "evt_1", time.Now(), body, sec)
		require.NoError(t, verifyWith(t, sec.Key, h, body))
		require.Error(t, verifyWith(t, sec.Key, h, append(body, ' ')))
		require.Error(t, verifyWith(t, NewSecret().Key, h, body))
	})

	t.Run("SpecKey", func(t *testing.T) {
		t.Parallel()
		h := sign(t, StandardSigner{}, specID, time.Unix(specTS, 0), []byte(specBody), Secret{Key: specSecret})
		wh, err := standardwebhooks.NewWebhook(specSecret)
		require.NoError(t, err)
		require.NoError(t, wh.VerifyIgnoringTimestamp([]byte(specBody), h))
	})

	t.Run("Rotation", func(t *testing.T) {
		t.Parallel()
		now := time.Now()
		old := NewSecret()
		old.ExpiresAt = now.Add(time.Hour)
		cur := NewSecret()
		sk, _ := NewSigningKey()
		body := []byte(`{}`)
		// The reference library ignores v1a entries and accepts either key.
		h := sign(t, StandardSigner{}, "evt_2", now, body, old, sk, cur)
		require.NoError(t, verifyWith(t, old.Key, h, body))
		require.NoError(t, verifyWith(t, cur.Key, h, body))
		// Once the old secret has expired, only the new one verifies.
		later := now.Add(time.Hour)
		h = sign(t, StandardSigner{}, "evt_2", later, body, old, cur)
		wh, err := standardwebhooks.NewWebhook(old.Key)
		require.NoError(t, err)
		require.Error(t, wh.VerifyIgnoringTimestamp(body, h))
		wh, err = standardwebhooks.NewWebhook(cur.Key)
		require.NoError(t, err)
		require.NoError(t, wh.VerifyIgnoringTimestamp(body, h))
	})
}

func TestHMACHexSigner(t *testing.T) {
	t.Parallel()

	body := []byte(`{"zen":"keep it simple"}`)
	sec := NewSecret()
	mac := hmac.New(sha256.New, []byte(sec.Key))
	mac.Write(body)
	want := hex.EncodeToString(mac.Sum(nil))

	t.Run("GitHubByDefault", func(t *testing.T) {
		t.Parallel()
		h := sign(t, HMACHexSigner{}, "evt_1", time.Unix(10, 0), body, sec)
		require.Equal(t, "sha256="+want, h.Get("X-Hub-Signature-256"))
		require.Equal(t, "evt_1", h.Get("webhook-id"))
		require.Equal(t, "10", h.Get("webhook-timestamp"))
		require.Empty(t, h.Get(HeaderSignature))
	})

	t.Run("CustomHeaderAndPrefix", func(t *testing.T) {
		t.Parallel()
		sk, _ := NewSigningKey()
		h := sign(t, HMACHexSigner{Header: "x-signature"}, "evt_1", time.Unix(10, 0), body, sk, sec)
		require.Equal(t, []string{want}, h.Values("X-Signature"))
	})

	t.Run("OneValuePerActiveSecret", func(t *testing.T) {
		t.Parallel()
		now := time.Unix(100, 0)
		old := NewSecret()
		old.ExpiresAt = now.Add(time.Second)
		h := sign(t, HMACHexSigner{Header: "X-Sig", Prefix: "v="}, "e", now, body, sec, old)
		require.Len(t, h.Values("X-Sig"), 2)
		require.Equal(t, "v="+want, h.Values("X-Sig")[0])
		h = sign(t, HMACHexSigner{Header: "X-Sig", Prefix: "v="}, "e", now.Add(time.Second), body, sec, old)
		require.Equal(t, []string{"v=" + want}, h.Values("X-Sig"))
	})
}

func TestSignerFor(t *testing.T) {
	t.Parallel()

	custom := HMACHexSigner{Header: "X-Custom"}
	require.Equal(t, StandardSigner{}, signerFor(&Endpoint{}, nil))
	require.Equal(t, custom, signerFor(&Endpoint{}, custom))
	require.Equal(t, HMACHexSigner{}, signerFor(&Endpoint{Signature: SignatureScheme{Kind: SignatureHMACHex}}, nil))
	require.Equal(t, HMACHexSigner{Header: "X-Sig", Prefix: "p="},
		signerFor(&Endpoint{Signature: SignatureScheme{Kind: SignatureHMACHex, Header: "X-Sig", Prefix: "p="}}, StandardSigner{}))
}

func TestSignatureSchemeValidation(t *testing.T) {
	t.Parallel()

	ok := []SignatureScheme{
		{},
		{Kind: SignatureStandardWebhooks},
		{Kind: SignatureHMACHex},
		{Kind: SignatureHMACHex, Header: "X-Hub-Signature-256", Prefix: "sha256="},
		{Kind: SignatureHMACHex, Header: "X-Signature"},
	}
	for _, s := range ok {
		require.NoError(t, s.validate(), "%+v", s)
	}
	bad := []SignatureScheme{
		{Kind: "rsa"},
		{Header: "X-Sig"},
		{Kind: SignatureHMACHex, Prefix: "sha256="},
		{Kind: SignatureHMACHex, Header: "Webhook-Signature"},
		{Kind: SignatureHMACHex, Header: "Content-Type"},
		{Kind: SignatureHMACHex, Header: "bad header"},
		{Kind: SignatureHMACHex, Header: "X-Sig", Prefix: "a\nb"},
		{Kind: SignatureHMACHex, Header: "X-Sig", Prefix: strings.Repeat("p", 65)},
	}
	for _, s := range bad {
		require.Error(t, s.validate(), "%+v", s)
	}

	ep := Endpoint{ID: "ep", URL: "https://example.com", Signature: SignatureScheme{Kind: "rsa"}}
	err := ep.validate(endpointCheck{})
	require.ErrorIs(t, err, ErrInvalidEndpoint)
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "Signature", ve.Field)
}

func TestErrorsNeverRevealKeys(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"whsec_c2hvcnQ=", "whsec_#notbase64#", "whsk_c2hvcnQ=", "whpk_c2hvcnQ=", "nope_c2hvcnQ="} {
		_, err := parseSecret(key)
		require.Error(t, err)
		require.True(t, errors.Is(err, ErrInvalidSecret))
		payload := key[strings.IndexByte(key, '_')+1:]
		require.NotContains(t, err.Error(), payload)
	}
	// Wire up with json as a host would, to be sure nothing leaks there.
	b, err := json.Marshal(map[string]any{"s": NewSecret()})
	require.NoError(t, err)
	require.NotContains(t, string(b), "whsec_")
}
