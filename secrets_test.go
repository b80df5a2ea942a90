package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/memstore"
	"github.com/hooklet/webhook/webhooktest"
)

func TestPutEndpointRequiresSecret(t *testing.T) {
	t.Parallel()
	clk := webhooktest.NewClock(epoch)
	d := newDispatcher(t, webhook.Config{Store: newSignalStore(t), Test: webhook.TestConfig{Clock: clk}})
	ctx := t.Context()
	base := webhook.Endpoint{ID: "ep", URL: "https://hooks.example.com/in"}

	err := d.PutEndpoint(ctx, base)
	requireInvalid(t, err, webhook.ErrInvalidEndpoint, "Secrets")
	require.Contains(t, err.Error(), "Unsigned")

	expired := base
	expired.Secrets = []webhook.Secret{{Key: testSecret, ExpiresAt: epoch.Add(-time.Second)}, {Key: testSecret, ExpiresAt: epoch}}
	err = d.PutEndpoint(ctx, expired)
	requireInvalid(t, err, webhook.ErrInvalidEndpoint, "Secrets")
	require.Contains(t, err.Error(), "Unsigned")

	both := base
	both.Unsigned, both.Secrets = true, []webhook.Secret{{Key: testSecret}}
	requireInvalid(t, d.PutEndpoint(ctx, both), webhook.ErrInvalidEndpoint, "Unsigned")

	unsigned := base
	unsigned.Unsigned = true
	require.NoError(t, d.PutEndpoint(ctx, unsigned))
	got, err := d.Endpoint(ctx, "ep")
	require.NoError(t, err)
	require.True(t, got.Unsigned)

	live := base
	live.Secrets = []webhook.Secret{{Key: testSecret, ExpiresAt: epoch.Add(time.Second)}}
	require.NoError(t, d.PutEndpoint(ctx, live), "a secret that has not expired signs")
}

func TestUnsignedEndpointDelivers(t *testing.T) {
	t.Parallel()
	b := setup(t, webhook.Config{})
	rc := newReceiver(t, nil)
	b.addEndpoint(t, "ep", rc.URL, func(ep *webhook.Endpoint) { ep.Secrets, ep.Unsigned = nil, true })
	ev := b.emit(t, "a")
	req := rc.next(t)
	require.Equal(t, ev.ID, req.Header.Get("webhook-id"))
	require.Empty(t, req.Header.Values("webhook-signature"))
	require.Equal(t, webhook.StateSucceeded, b.nextOutcome(t).State)
}

func TestEndpointSecretKinds(t *testing.T) {
	t.Parallel()
	d := newDispatcher(t, webhook.Config{Store: newSignalStore(t)})
	sk, pk := webhook.NewSigningKey()
	hmacHex := webhook.SignatureScheme{Kind: webhook.SignatureHMACHex}
	for _, c := range []struct {
		name    string
		secrets []webhook.Secret
		scheme  webhook.SignatureScheme
		field   string // "" when accepted
		reason  string
	}{
		{"RawWithHMACHex", []webhook.Secret{{Key: "my GitHub shared secret"}}, hmacHex, "", ""},
		{"RawWithStandard", []webhook.Secret{{Key: "my GitHub shared secret"}}, webhook.SignatureScheme{}, "Secrets[0]", "hmac"},
		{"PublicKey", []webhook.Secret{{Key: pk}}, webhook.SignatureScheme{}, "Secrets[0]", "public key"},
		{"PublicKeyWithHMACHex", []webhook.Secret{{Key: pk}}, hmacHex, "Secrets[0]", "public key"},
		{"SigningKeyOnlyWithHMACHex", []webhook.Secret{sk}, hmacHex, "Secrets", "Unsigned"},
		{"SigningKeyStandard", []webhook.Secret{sk}, webhook.SignatureScheme{}, "", ""},
		{"SecretWithHMACHex", []webhook.Secret{{Key: testSecret}}, hmacHex, "", ""},
		{"RawTrailingNewline", []webhook.Secret{{Key: "shared\n"}}, hmacHex, "Secrets[0]", ""},
		{"RawEmpty", []webhook.Secret{{Key: ""}}, hmacHex, "Secrets[0]", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ep := webhook.Endpoint{ID: "ep_" + c.name, URL: "https://hooks.example.com/in", Secrets: c.secrets, Signature: c.scheme}
			err := d.PutEndpoint(t.Context(), ep)
			if c.field == "" {
				require.NoError(t, err)
				return
			}
			requireInvalid(t, err, webhook.ErrInvalidEndpoint, c.field)
			require.Contains(t, err.Error(), c.reason)
		})
	}
}

func TestRawSharedSecretSignsHMACHex(t *testing.T) {
	t.Parallel()
	b := setup(t, webhook.Config{})
	rc := newReceiver(t, nil)
	const shared = "my GitHub shared secret"
	b.addEndpoint(t, "ep", rc.URL, func(ep *webhook.Endpoint) {
		ep.Secrets = []webhook.Secret{{Key: shared}}
		ep.Signature = webhook.SignatureScheme{Kind: webhook.SignatureHMACHex}
	})
	b.emit(t, "a")
	req := rc.next(t)
	mac := hmac.New(sha256.New, []byte(shared))
	mac.Write(req.Body)
	require.Equal(t, []string{"sha256=" + hex.EncodeToString(mac.Sum(nil))}, req.Header.Values("X-Hub-Signature-256"))
	require.Equal(t, webhook.StateSucceeded, b.nextOutcome(t).State)
}

func TestRotateSecret(t *testing.T) {
	t.Parallel()

	t.Run("OldSecretsExpireAfterGrace", func(t *testing.T) {
		t.Parallel()
		b := setup(t, webhook.Config{})
		rc := newReceiver(t, nil)
		old := b.addEndpoint(t, "ep", rc.URL)
		soon := epoch.Add(10 * time.Minute)
		require.NoError(t, b.d.PutEndpoint(b.ctx, func() webhook.Endpoint {
			ep := old.Clone()
			ep.Secrets = append(ep.Secrets, webhook.Secret{Key: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", ExpiresAt: soon})
			return ep
		}()))

		s, err := b.d.RotateSecret(b.ctx, "ep", time.Hour)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(s.Key, webhook.SecretPrefix))
		require.True(t, s.ExpiresAt.IsZero())
		got, err := b.d.Endpoint(b.ctx, "ep")
		require.NoError(t, err)
		require.Len(t, got.Secrets, 3)
		require.Equal(t, testSecret, got.Secrets[0].Key)
		require.Equal(t, epoch.Add(time.Hour), got.Secrets[0].ExpiresAt, "the old secret expires after the grace")
		require.Equal(t, soon, got.Secrets[1].ExpiresAt, "an earlier expiry is kept")
		require.Equal(t, s.Key, got.Secrets[2].Key)
		require.True(t, got.Secrets[2].ExpiresAt.IsZero())

		// During the grace both sign; after it, only the new one.
		b.emit(t, "a")
		require.Len(t, strings.Fields(rc.next(t).Header.Get("webhook-signature")), 3)
		b.nextOutcome(t)
		b.clock.Advance(time.Hour)
		b.emit(t, "a")
		req := rc.next(t)
		require.Len(t, strings.Fields(req.Header.Get("webhook-signature")), 1)
		require.NoError(t, webhook.Verify(s.Key, req.Header, req.Body, time.Duration(1<<62)))
		b.nextOutcome(t)

		// Expired secrets are dropped at the next rotation.
		s2, err := b.d.RotateSecret(b.ctx, "ep", 0)
		require.NoError(t, err)
		got, err = b.d.Endpoint(b.ctx, "ep")
		require.NoError(t, err)
		require.Len(t, got.Secrets, 2)
		require.Equal(t, s.Key, got.Secrets[0].Key)
		require.Equal(t, b.clock.Now().UTC(), got.Secrets[0].ExpiresAt, "grace 0 ends the old secret now")
		require.Equal(t, s2.Key, got.Secrets[1].Key)
	})

	t.Run("KeepsTheKeyKind", func(t *testing.T) {
		t.Parallel()
		d := newDispatcher(t, webhook.Config{Store: newSignalStore(t)})
		sk, _ := webhook.NewSigningKey()
		require.NoError(t, d.PutEndpoint(t.Context(), webhook.Endpoint{ID: "ep", URL: "https://hooks.example.com/", Secrets: []webhook.Secret{sk}}))
		s, err := d.RotateSecret(t.Context(), "ep", time.Minute)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(s.Key, webhook.SigningKeyPrefix), "a signing key is rotated to a signing key")
		_, err = s.PublicKey()
		require.NoError(t, err)
	})

	t.Run("SignsAnUnsignedEndpoint", func(t *testing.T) {
		t.Parallel()
		d := newDispatcher(t, webhook.Config{Store: newSignalStore(t)})
		require.NoError(t, d.PutEndpoint(t.Context(), webhook.Endpoint{ID: "ep", URL: "https://hooks.example.com/", Unsigned: true}))
		s, err := d.RotateSecret(t.Context(), "ep", time.Minute)
		require.NoError(t, err)
		got, err := d.Endpoint(t.Context(), "ep")
		require.NoError(t, err)
		require.False(t, got.Unsigned)
		require.Equal(t, []webhook.Secret{s}, got.Secrets)
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		d := newDispatcher(t, webhook.Config{Store: newSignalStore(t)})
		_, err := d.RotateSecret(t.Context(), "nope", time.Minute)
		require.ErrorIs(t, err, webhook.ErrNotFound)
		require.NoError(t, d.PutEndpoint(t.Context(), webhook.Endpoint{ID: "ep", URL: "https://hooks.example.com/", Secrets: []webhook.Secret{{Key: testSecret}}}))
		_, err = d.RotateSecret(t.Context(), "ep", -time.Second)
		require.Error(t, err)
	})

	t.Run("KeepsAConcurrentEdit", func(t *testing.T) {
		t.Parallel()
		ms := memstore.New()
		t.Cleanup(func() { require.NoError(t, ms.Close()) })
		cs := &rotationEditStore{Store: ms}
		d := newDispatcher(t, webhook.Config{Store: cs, Test: webhook.TestConfig{Clock: webhooktest.NewClock(epoch)}})
		ctx := t.Context()
		ep := webhook.Endpoint{ID: "ep", URL: "https://hooks.example.com/", Secrets: []webhook.Secret{{Key: testSecret}}}
		require.NoError(t, d.PutEndpoint(ctx, ep))
		// Between RotateSecret's read and its write, another process edits
		// the endpoint.
		cs.edit = func() {
			edited, err := ms.GetEndpoint(ctx, &webhook.GetEndpointParams{ID: "ep"})
			require.NoError(t, err)
			edited.Description = "edited meanwhile"
			edited.UpdatedAt = edited.UpdatedAt.Add(time.Second)
			require.NoError(t, ms.PutEndpoint(ctx, &webhook.PutEndpointParams{Endpoint: edited}))
		}
		s, err := d.RotateSecret(ctx, "ep", time.Hour)
		require.NoError(t, err)
		got, err := d.Endpoint(ctx, "ep")
		require.NoError(t, err)
		require.Equal(t, "edited meanwhile", got.Description, "the concurrent edit is kept")
		require.Len(t, got.Secrets, 2)
		require.Equal(t, s.Key, got.Secrets[1].Key)
		require.True(t, cs.conflicts > 0, "the first conditional write conflicted")
	})
}

// rotationEditStore runs edit once, just before the first conditional
// PutEndpoint, and counts the conflicts it causes.
type rotationEditStore struct {
	webhook.Store
	once      sync.Once
	edit      func()
	conflicts int
}

func (s *rotationEditStore) PutEndpoint(ctx context.Context, p *webhook.PutEndpointParams) error {
	if !p.IfUpdatedAt.IsZero() && s.edit != nil {
		s.once.Do(s.edit)
	}
	err := s.Store.PutEndpoint(ctx, p)
	if errors.Is(err, webhook.ErrConflict) {
		s.conflicts++
	}
	return err
}

// ExampleDispatcher_RotateSecret shows a deployment that declares its
// endpoint at every start without undoing a rotation: the declaration
// leaves the secrets to RotateSecret, and sets one only when the endpoint
// is new.
func ExampleDispatcher_RotateSecret() {
	st := memstore.New()
	defer st.Close()
	d, err := webhook.New(webhook.Config{Store: st})
	if err != nil {
		panic(err)
	}
	defer d.Close(context.Background())
	ctx := context.Background()

	deploy := func() error {
		want := webhook.Endpoint{ID: "ep_billing", URL: "https://billing.example.com/hooks", EventTypes: []string{"invoice.*"}}
		cur, err := d.Endpoint(ctx, want.ID)
		switch {
		case err == nil:
			want.Secrets = cur.Secrets // managed by RotateSecret
		case errors.Is(err, webhook.ErrNotFound):
			want.Secrets = []webhook.Secret{webhook.NewSecret()} // hand it to the receiver
		default:
			return err
		}
		return d.PutEndpoint(ctx, want)
	}

	if err := deploy(); err != nil {
		panic(err)
	}
	// Rotate: the new key is returned once, for the receiver; the old one
	// keeps signing for a day.
	if _, err := d.RotateSecret(ctx, "ep_billing", 24*time.Hour); err != nil {
		panic(err)
	}
	if err := deploy(); err != nil { // the next deploy keeps the rotation
		panic(err)
	}
	ep, err := d.Endpoint(ctx, "ep_billing")
	if err != nil {
		panic(err)
	}
	for i, s := range ep.Secrets {
		fmt.Println(i, "expires:", !s.ExpiresAt.IsZero())
	}
	// Output:
	// 0 expires: true
	// 1 expires: false
}
