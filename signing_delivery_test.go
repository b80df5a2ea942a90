package webhook_test

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
)

// TestSigningInterop checks what a real Dispatcher sends to a loopback
// receiver with the Standard Webhooks reference library, with
// crypto/ed25519 for v1a, and with Hooklet's own Verify.
func TestSigningInterop(t *testing.T) {
	t.Parallel()

	refVerify := func(t *testing.T, key string, req request) error {
		t.Helper()
		wh, err := standardwebhooks.NewWebhook(key)
		require.NoError(t, err)
		return wh.Verify(req.Body, req.Header)
	}

	t.Run("SystemClockWhsec", func(t *testing.T) {
		t.Parallel()
		d := newDispatcher(t, webhook.Config{Store: newSignalStore(t), AllowPrivateNetworks: true})
		ctx := context.Background()
		require.NoError(t, d.Start(ctx))
		rc := newReceiver(t, nil)
		sec := webhook.NewSecret()
		require.NoError(t, d.PutEndpoint(ctx, webhook.Endpoint{ID: "ep", URL: rc.URL, Secrets: []webhook.Secret{sec}}))
		require.NoError(t, d.Emit(ctx, webhook.Event{ID: "evt_real", Type: "invoice.paid", Payload: []byte(`{"id":"in_1"}`)}))

		req := rc.next(t)
		require.Equal(t, "evt_real", req.Header.Get("webhook-id"))
		require.NoError(t, refVerify(t, sec.Key, req))
		require.NoError(t, webhook.Verify(sec.Key, req.Header, req.Body, 0))
		require.Error(t, refVerify(t, webhook.NewSecret().Key, req))
		tampered := append([]byte(nil), req.Body...)
		tampered[len(tampered)-2] ^= 1
		require.Error(t, refVerify(t, sec.Key, request{Header: req.Header, Body: tampered}))
	})

	t.Run("Rotation", func(t *testing.T) {
		t.Parallel()
		b := setup(t, webhook.Config{})
		rc := newReceiver(t, nil)
		old := webhook.Secret{Key: testSecret, ExpiresAt: epoch.Add(time.Hour)}
		cur := webhook.NewSecret()
		sk, pk := webhook.NewSigningKey()
		b.addEndpoint(t, "ep", rc.URL, func(e *webhook.Endpoint) { e.Secrets = []webhook.Secret{old, cur, sk} })

		// Before the old secret expires, every key signs: v1, v1, v1a.
		b.emit(t, "a")
		req := rc.next(t)
		require.Equal(t, strconv.FormatInt(epoch.Unix(), 10), req.Header.Get("webhook-timestamp"))
		entries := strings.Split(req.Header.Get("webhook-signature"), " ")
		require.Len(t, entries, 3)
		for _, k := range []string{old.Key, cur.Key} {
			wh, err := standardwebhooks.NewWebhook(k)
			require.NoError(t, err)
			require.NoError(t, wh.VerifyIgnoringTimestamp(req.Body, req.Header))
		}
		sig, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(entries[2], "v1a,"))
		require.NoError(t, err)
		pub, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(pk, webhook.PublicKeyPrefix))
		require.NoError(t, err)
		signed := req.Header.Get("webhook-id") + "." + req.Header.Get("webhook-timestamp") + "." + string(req.Body)
		require.True(t, ed25519.Verify(pub, []byte(signed), sig))
		v, err := webhook.NewVerifier(pk)
		require.NoError(t, err)
		require.NoError(t, v.VerifyAt(req.Header, req.Body, epoch))
		b.nextOutcome(t)

		// After it expires, the old secret stops signing with no call from
		// the host.
		b.clock.Advance(time.Hour)
		b.emit(t, "b")
		req = rc.next(t)
		require.Len(t, strings.Fields(req.Header.Get("webhook-signature")), 2)
		wh, err := standardwebhooks.NewWebhook(old.Key)
		require.NoError(t, err)
		require.Error(t, wh.VerifyIgnoringTimestamp(req.Body, req.Header))
		wh, err = standardwebhooks.NewWebhook(cur.Key)
		require.NoError(t, err)
		require.NoError(t, wh.VerifyIgnoringTimestamp(req.Body, req.Header))
		require.NoError(t, webhook.VerifyAt(cur.Key, req.Header, req.Body, 0, epoch.Add(time.Hour)))
		require.ErrorIs(t, webhook.VerifyAt(old.Key, req.Header, req.Body, 0, epoch.Add(time.Hour)), webhook.ErrInvalidSignature)
	})

	t.Run("HMACHexPerEndpoint", func(t *testing.T) {
		t.Parallel()
		b := setup(t, webhook.Config{})
		rc := newReceiver(t, nil)
		b.addEndpoint(t, "ep", rc.URL, func(e *webhook.Endpoint) {
			e.Signature = webhook.SignatureScheme{Kind: webhook.SignatureHMACHex}
		})
		ev := b.emit(t, "a")
		req := rc.next(t)
		mac := hmac.New(sha256.New, []byte(testSecret))
		mac.Write(req.Body)
		require.Equal(t, "sha256="+hex.EncodeToString(mac.Sum(nil)), req.Header.Get("X-Hub-Signature-256"))
		require.Equal(t, ev.ID, req.Header.Get("webhook-id"))
		require.Equal(t, strconv.FormatInt(epoch.Unix(), 10), req.Header.Get("webhook-timestamp"))
		require.Empty(t, req.Header.Get("webhook-signature"))
	})
}
