package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/hooklet/webhook/signature"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const waitTimeout = 10 * time.Second

// signedRequest builds a POST signed with the given keys.
func signedRequest(t *testing.T, url, id string, at time.Time, body []byte, keys ...string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	sig, err := signature.Sign(id, at, body, keys...)
	require.NoError(t, err)
	req.Header.Set(signature.HeaderID, id)
	req.Header.Set(signature.HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	req.Header.Set(signature.HeaderSignature, sig)
	return req
}

type handled struct {
	mu  sync.Mutex
	ids []string
	err error
}

func (h *handled) handle(_ context.Context, id string, _ []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return h.err
	}
	h.ids = append(h.ids, id)
	return nil
}

func (h *handled) get() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.ids...)
}

func setup(t *testing.T, keys ...string) (*httptest.Server, *handled) {
	t.Helper()
	v, err := signature.NewVerifier(keys...)
	require.NoError(t, err)
	got := &handled{}
	srv := httptest.NewServer(&Handler{
		Verifier: v,
		Seen:     NewSeen(100, time.Hour, time.Now),
		Handle:   got.handle,
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	t.Cleanup(srv.Close)
	return srv, got
}

func do(t *testing.T, req *http.Request) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	return resp.StatusCode
}

func TestHandler(t *testing.T) {
	t.Parallel()

	t.Run("HandlesOnceAndAcknowledgesDuplicates", func(t *testing.T) {
		t.Parallel()
		sec := signature.NewSecret()
		srv, got := setup(t, sec)
		body := []byte(`{"type":"invoice.paid"}`)
		require.Equal(t, http.StatusNoContent, do(t, signedRequest(t, srv.URL, "evt_1", time.Now(), body, sec)))
		// A retry re-signs with a new timestamp; it is acknowledged, not handled again.
		require.Equal(t, http.StatusOK, do(t, signedRequest(t, srv.URL, "evt_1", time.Now().Add(time.Second), body, sec)))
		require.Equal(t, []string{"evt_1"}, got.get())
	})

	t.Run("RejectsBadRequests", func(t *testing.T) {
		t.Parallel()
		sec := signature.NewSecret()
		srv, got := setup(t, sec)
		body := []byte(`{}`)

		bad := signedRequest(t, srv.URL, "evt_1", time.Now(), body, signature.NewSecret())
		require.Equal(t, http.StatusBadRequest, do(t, bad))

		old := signedRequest(t, srv.URL, "evt_2", time.Now().Add(-time.Hour), body, sec)
		require.Equal(t, http.StatusBadRequest, do(t, old))

		unsigned, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
		require.NoError(t, err)
		require.Equal(t, http.StatusBadRequest, do(t, unsigned))

		get, err := http.NewRequest(http.MethodGet, srv.URL, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusMethodNotAllowed, do(t, get))

		huge := signedRequest(t, srv.URL, "evt_3", time.Now(), make([]byte, MaxBodyBytes+1), sec)
		require.Equal(t, http.StatusRequestEntityTooLarge, do(t, huge))

		require.Empty(t, got.get())
	})

	t.Run("FailedHandlingIsRetried", func(t *testing.T) {
		t.Parallel()
		sec := signature.NewSecret()
		srv, got := setup(t, sec)
		got.mu.Lock()
		got.err = errors.New("database down")
		got.mu.Unlock()
		require.Equal(t, http.StatusInternalServerError, do(t, signedRequest(t, srv.URL, "evt_1", time.Now(), nil, sec)))
		got.mu.Lock()
		got.err = nil
		got.mu.Unlock()
		require.Equal(t, http.StatusNoContent, do(t, signedRequest(t, srv.URL, "evt_1", time.Now(), nil, sec)))
		require.Equal(t, []string{"evt_1"}, got.get())
	})

	t.Run("RotationAndEd25519", func(t *testing.T) {
		t.Parallel()
		old, cur := signature.NewSecret(), signature.NewSecret()
		sk, pk := signature.NewSigningKey()
		srv, got := setup(t, cur, pk)
		require.Equal(t, http.StatusNoContent, do(t, signedRequest(t, srv.URL, "a", time.Now(), nil, old, cur)))
		require.Equal(t, http.StatusNoContent, do(t, signedRequest(t, srv.URL, "b", time.Now(), nil, sk)))
		require.Equal(t, http.StatusBadRequest, do(t, signedRequest(t, srv.URL, "c", time.Now(), nil, old)))
		require.Equal(t, []string{"a", "b"}, got.get())
	})
}

func TestSeen(t *testing.T) {
	t.Parallel()

	t.Run("States", func(t *testing.T) {
		t.Parallel()
		s := NewSeen(10, time.Hour, time.Now)
		require.Equal(t, New, s.Begin("a"))
		require.Equal(t, InFlight, s.Begin("a"))
		s.Finish("a", true)
		require.Equal(t, Done, s.Begin("a"))
		require.Equal(t, New, s.Begin("b"))
		s.Finish("b", false)
		require.Equal(t, New, s.Begin("b"))
	})

	t.Run("BoundedByCount", func(t *testing.T) {
		t.Parallel()
		s := NewSeen(100, time.Hour, time.Now)
		for i := range 1000 {
			require.Equal(t, New, s.Begin(strconv.Itoa(i)))
			s.Finish(strconv.Itoa(i), true)
		}
		require.Equal(t, 100, s.Len())
		require.Equal(t, Done, s.Begin("999"))
		require.Equal(t, New, s.Begin("0"), "the oldest ids are forgotten first")
	})

	t.Run("ForgetsAfterTTL", func(t *testing.T) {
		t.Parallel()
		now := time.Unix(1000, 0)
		s := NewSeen(100, time.Minute, func() time.Time { return now })
		require.Equal(t, New, s.Begin("a"))
		s.Finish("a", true)
		now = now.Add(59 * time.Second)
		require.Equal(t, Done, s.Begin("a"))
		now = now.Add(time.Second)
		require.Equal(t, New, s.Begin("a"))
		require.Equal(t, 1, s.Len())
	})
}

func TestRun(t *testing.T) {
	t.Parallel()

	sec := signature.NewSecret()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	var logs bytes.Buffer
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, env(sec), &syncWriter{w: &logs}, ready)
	}()
	var addr net.Addr
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run ended early: %v", err)
	case <-time.After(waitTimeout):
		t.Fatal("receiver did not start in time")
	}
	url := "http://" + addr.String() + "/"
	require.Equal(t, http.StatusNoContent, do(t, signedRequest(t, url, "evt_run", time.Now(), []byte("{}"), sec)))
	http.DefaultClient.CloseIdleConnections()
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(waitTimeout):
		t.Fatal("receiver did not stop in time")
	}
}

func TestRunNeedsAKey(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0"}, env(""), io.Discard, nil)
	require.ErrorContains(t, err, "no key")
	err = run(context.Background(), []string{"-secret", "whsec_bad"}, env(""), io.Discard, nil)
	require.ErrorIs(t, err, signature.ErrInvalidSecret)
	require.NotContains(t, err.Error(), "whsec_bad")
}

// env returns a getenv with WEBHOOK_SECRET set to secret.
func env(secret string) func(string) string {
	return func(name string) string {
		if name == "WEBHOOK_SECRET" {
			return secret
		}
		return ""
	}
}

// syncWriter serializes writes from the server's goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
