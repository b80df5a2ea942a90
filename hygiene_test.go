package webhook_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/webhooktest"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes, for a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSecretsNeverSurface runs deliveries through every failure a
// receiver or the dispatcher can produce, with a logger at debug level,
// and searches everything Hooklet wrote or returned for the secrets an
// endpoint holds: its signing secrets and its Authorization header.
func TestSecretsNeverSurface(t *testing.T) {
	t.Parallel()
	const (
		authValue = "Bearer hooklet-auth-token-7f3a9c"
		shared    = "raw-shared-secret-5d1e8b"
		urlToken  = "url-token-c0ffee42"
	)
	signingKey, _ := webhook.NewSigningKey()
	secrets := []string{
		testSecret, strings.TrimPrefix(testSecret, webhook.SecretPrefix),
		signingKey.Key, strings.TrimPrefix(signingKey.Key, webhook.SigningKeyPrefix),
		shared, authValue, "hooklet-auth-token-7f3a9c", urlToken,
	}

	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var errs []string
	note := func(err error) {
		if err != nil {
			errs = append(errs, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
		}
	}

	// echo answers 500 with every request header in the body, as
	// debugging receivers do.
	echo := func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_ = r.Header.Write(w)
		fmt.Fprintf(w, "url=%s\n", r.URL)
	}
	hang := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }
	reset := func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = conn.Close()
	}
	gone := func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) }
	ok := func(w http.ResponseWriter, r *http.Request) { _ = r.Header.Write(w) }

	st := newSignalStore(t)
	clk := webhooktest.NewClock(epoch)
	d := newDispatcher(t, webhook.Config{
		Store: st, AllowPrivateNetworks: true, Logger: logger, RequestTimeout: 200 * time.Millisecond,
		Retry: webhook.RetryPolicy{Schedule: []time.Duration{time.Second}, Jitter: -1},
		Test:  webhook.TestConfig{Clock: clk},
	})
	ctx := t.Context()
	require.NoError(t, d.Start(ctx))

	withToken := func(raw string) string { return raw + "/hook?token=" + urlToken }
	hmacHex := webhook.SignatureScheme{Kind: webhook.SignatureHMACHex}
	eps := []webhook.Endpoint{
		{ID: "ep_echo", URL: withToken(newReceiver(t, echo).URL)},
		{ID: "ep_echo_hmac", URL: withToken(newReceiver(t, echo).URL), Signature: hmacHex,
			Secrets: []webhook.Secret{{Key: shared}}},
		{ID: "ep_echo_ed25519", URL: withToken(newReceiver(t, echo).URL), Secrets: []webhook.Secret{signingKey}},
		{ID: "ep_ok", URL: withToken(newReceiver(t, ok).URL)},
		{ID: "ep_gone", URL: withToken(newReceiver(t, gone).URL)},
		{ID: "ep_hang", URL: withToken(newReceiver(t, hang).URL)},
		{ID: "ep_reset", URL: withToken(newReceiver(t, reset).URL)},
		{ID: "ep_template", URL: withToken(newReceiver(t, ok).URL),
			Template: "local e = import \"hooklet.libsonnet\";\n{ a: e.data.nope }"},
	}
	for i := range eps {
		eps[i].Headers = map[string]string{"Authorization": authValue}
		if eps[i].Secrets == nil {
			eps[i].Secrets = []webhook.Secret{{Key: testSecret}}
		}
		require.NoError(t, d.PutEndpoint(ctx, eps[i]))
	}

	// Inputs refused at the door, each carrying a secret.
	bad := func(mod func(ep *webhook.Endpoint)) {
		ep := webhook.Endpoint{ID: "ep_bad", URL: "https://hooks.example.com/", Secrets: []webhook.Secret{{Key: testSecret}}}
		mod(&ep)
		err := d.PutEndpoint(ctx, ep)
		require.ErrorIs(t, err, webhook.ErrInvalidEndpoint)
		note(err)
	}
	bad(func(ep *webhook.Endpoint) { ep.Secrets[0].Key = testSecret + "\n" })
	bad(func(ep *webhook.Endpoint) { ep.Secrets[0].Key = testSecret + "!" })
	bad(func(ep *webhook.Endpoint) { ep.Secrets[0].Key = shared })
	bad(func(ep *webhook.Endpoint) { ep.Headers = map[string]string{"Authorization": authValue + "\x01"} })
	bad(func(ep *webhook.Endpoint) { ep.Headers = map[string]string{"Authorization\n": authValue} })
	bad(func(ep *webhook.Endpoint) { ep.URL = "https://user:" + urlToken + "@hooks.example.com/" })
	bad(func(ep *webhook.Endpoint) { ep.URL = "https://hooks.example.com:99999/?token=" + urlToken })
	bad(func(ep *webhook.Endpoint) { ep.URL = "https://hooks.example.com/?token=" + urlToken + "\x7f" })
	bad(func(ep *webhook.Endpoint) { ep.URL = "http://127.0.0.1/?token=" + urlToken; ep.Secrets = nil })

	require.NoError(t, d.Emit(ctx, webhook.Event{ID: "evt_1", Type: "a", Payload: json.RawMessage(`{"n":1}`)}))
	// Every delivery gets two attempts, one second apart, unless its first
	// ends it.
	final := map[string]bool{}
	for round := 0; len(final) < len(eps); round++ {
		require.Less(t, round, 3, "deliveries did not finish")
		want := len(eps) - len(final)
		for range want {
			o := st.nextOutcome(t)
			if o.State != webhook.StatePending {
				final[o.Lease.DeliveryID] = true
			}
		}
		clk.Advance(time.Second)
	}

	// A second dispatcher, with the dial guard, reaches a name that
	// resolves to loopback.
	bst := newSignalStore(t)
	guarded := newDispatcher(t, webhook.Config{Store: bst, Logger: logger, Test: webhook.TestConfig{Clock: clk}})
	require.NoError(t, guarded.Start(ctx))
	u, err := url.Parse(newReceiver(t, ok).URL)
	require.NoError(t, err)
	require.NoError(t, guarded.PutEndpoint(ctx, webhook.Endpoint{
		ID: "ep_blocked", URL: "http://localhost:" + u.Port() + "/hook?token=" + urlToken,
		Headers: map[string]string{"Authorization": authValue}, Secrets: []webhook.Secret{{Key: testSecret}},
	}))
	require.NoError(t, guarded.Emit(ctx, webhook.Event{ID: "evt_2", Type: "a", Payload: json.RawMessage(`{}`)}))
	require.Equal(t, webhook.ClassBlocked, bst.nextOutcome(t).Attempts[0].ErrorClass)

	// Gather every record the operator can read.
	var records []string
	classes := map[webhook.ErrorClass]bool{}
	for _, dd := range []*webhook.Dispatcher{d, guarded} {
		dels, err := dd.Deliveries(ctx, &webhook.ListDeliveriesParams{Limit: 100})
		require.NoError(t, err)
		b, err := json.Marshal(dels)
		require.NoError(t, err)
		records = append(records, string(b), fmt.Sprintf("%+v", dels))
		for _, dl := range dels.Items {
			atts, err := dd.Attempts(ctx, &webhook.ListAttemptsParams{DeliveryID: dl.ID, Limit: 100})
			require.NoError(t, err)
			b, err := json.Marshal(atts)
			require.NoError(t, err)
			records = append(records, string(b), fmt.Sprintf("%+v", atts))
			for _, a := range atts.Items {
				records = append(records, string(a.ResponseBody), a.Error)
				classes[a.ErrorClass] = true
			}
		}
	}
	for _, c := range []webhook.ErrorClass{webhook.ClassTimeout, webhook.ClassConnection, webhook.ClassTemplate, webhook.ClassBlocked} {
		require.True(t, classes[c], "no attempt of class %q: the test no longer covers it", c)
	}
	require.Contains(t, logs.String(), "endpoint disabled", "the 410 path logged")

	everything := map[string]string{"logs": logs.String(), "errors": strings.Join(errs, "\n"), "records": strings.Join(records, "\n")}
	for where, text := range everything {
		for _, s := range secrets {
			require.False(t, strings.Contains(text, s), "%s reveal %q:\n%s", where, s, text)
		}
	}
	require.Len(t, errs, 3*9, "every refused input was noted")
}
