package webhooktest_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook/signature"
	"github.com/hooklet/webhook/webhooktest"
)

const waitTimeout = 10 * time.Second

// post sends body to url with Standard Webhooks headers signed at at with
// keys (unsigned without keys) and returns the status.
func post(t *testing.T, url, id string, at time.Time, body []byte, keys ...string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Close = true // no idle connection outlives the test
	req.Header.Set(signature.HeaderID, id)
	req.Header.Set(signature.HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	if len(keys) > 0 {
		sig, err := signature.Sign(id, at, body, keys...)
		require.NoError(t, err)
		req.Header.Set(signature.HeaderSignature, sig)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	return resp.StatusCode
}

// fakeTB records a failure instead of ending the test.
type fakeTB struct {
	testing.TB
	mu     sync.Mutex
	failed string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failed = fmt.Sprintf(format, args...)
}

func (f *fakeTB) failure() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

func TestReceiver(t *testing.T) {
	t.Parallel()

	t.Run("RecordsAndVerifies", func(t *testing.T) {
		t.Parallel()
		sec := signature.NewSecret()
		rc := webhooktest.NewReceiver(t, sec)
		require.True(t, strings.HasPrefix(rc.URL, "http://127.0.0.1:"), rc.URL)

		now := time.Now()
		require.Equal(t, http.StatusOK, post(t, rc.URL+"/hooks", "evt_1", now, []byte(`{"a":1}`), sec))
		require.Equal(t, http.StatusBadRequest, post(t, rc.URL, "evt_2", now, []byte(`{}`), signature.NewSecret()))
		require.Equal(t, http.StatusBadRequest, post(t, rc.URL, "evt_3", now.Add(-time.Hour), []byte(`{}`), sec))

		reqs := rc.WaitForRequests(t, 3, waitTimeout)
		require.Len(t, reqs, 3)
		require.True(t, reqs[0].Verified())
		require.Equal(t, "evt_1", reqs[0].ID())
		require.Equal(t, http.MethodPost, reqs[0].Method)
		require.Equal(t, "/hooks", reqs[0].Path)
		require.JSONEq(t, `{"a":1}`, string(reqs[0].Body))
		require.Equal(t, http.StatusOK, reqs[0].Status)
		require.False(t, reqs[0].Truncated)
		require.ErrorIs(t, reqs[1].VerifyErr, signature.ErrInvalidSignature)
		require.ErrorIs(t, reqs[2].VerifyErr, signature.ErrTimestampOutOfRange)
		require.Equal(t, http.StatusBadRequest, reqs[2].Status)
		require.Equal(t, 3, rc.Len())
		require.Equal(t, reqs, rc.Requests())
	})

	t.Run("StatusFunc", func(t *testing.T) {
		t.Parallel()
		sec := signature.NewSecret()
		rc := webhooktest.NewReceiver(t, sec)
		rc.SetStatusFunc(func(r webhooktest.Request) int {
			if r.ID() == "retry" {
				return http.StatusServiceUnavailable
			}
			return http.StatusAccepted
		})
		require.Equal(t, http.StatusServiceUnavailable, post(t, rc.URL, "retry", time.Now(), nil, sec))
		require.Equal(t, http.StatusAccepted, post(t, rc.URL, "ok", time.Now(), nil, sec))
		rc.SetStatusFunc(nil)
		require.Equal(t, http.StatusOK, post(t, rc.URL, "retry", time.Now(), nil, sec))
		got := rc.WaitForRequests(t, 3, waitTimeout)
		require.Equal(t, []int{503, 202, 200}, []int{got[0].Status, got[1].Status, got[2].Status})
	})

	t.Run("ManualClock", func(t *testing.T) {
		t.Parallel()
		sk, pk := signature.NewSigningKey()
		rc := webhooktest.NewReceiver(t, pk)
		clk := webhooktest.NewClock(t0)
		rc.SetNowFunc(clk.Now)
		require.Equal(t, http.StatusOK, post(t, rc.URL, "e", t0, nil, sk))
		rc.SetNowFunc(nil)
		require.Equal(t, http.StatusBadRequest, post(t, rc.URL, "e", t0, nil, sk), "t0 is far from the real time")
		got := rc.WaitForRequests(t, 2, waitTimeout)
		require.Equal(t, t0, got[0].ReceivedAt)
		require.ErrorIs(t, got[1].VerifyErr, signature.ErrTimestampOutOfRange)
	})

	t.Run("NoKeys", func(t *testing.T) {
		t.Parallel()
		rc := webhooktest.NewReceiver(t)
		require.Equal(t, http.StatusOK, post(t, rc.URL, "e", time.Now(), []byte("x")))
		got := rc.WaitForRequests(t, 1, waitTimeout)
		require.ErrorIs(t, got[0].VerifyErr, webhooktest.ErrNoKeys)
		require.False(t, got[0].Verified())
	})

	t.Run("BadKeyFailsTheTest", func(t *testing.T) {
		t.Parallel()
		ft := &fakeTB{TB: t}
		webhooktest.NewReceiver(ft, "whsec_short")
		require.Contains(t, ft.failure(), "invalid secret")
		require.NotContains(t, ft.failure(), "whsec_short")
	})

	t.Run("WaitTimesOut", func(t *testing.T) {
		t.Parallel()
		rc := webhooktest.NewReceiver(t)
		ft := &fakeTB{TB: t}
		require.Nil(t, rc.WaitForRequests(ft, 1, 10*time.Millisecond))
		require.Contains(t, ft.failure(), "0 of 1 requests arrived")
	})

	t.Run("WaitEndsWhenClosed", func(t *testing.T) {
		t.Parallel()
		rc := webhooktest.NewReceiver(t)
		rc.Close()
		rc.Close()
		ft := &fakeTB{TB: t}
		require.Nil(t, rc.WaitForRequests(ft, 1, waitTimeout))
		require.Contains(t, ft.failure(), "closed")
	})

	t.Run("StringHidesKeys", func(t *testing.T) {
		t.Parallel()
		sec := signature.NewSecret()
		rc := webhooktest.NewReceiver(t, sec)
		require.NotContains(t, fmt.Sprint(rc), sec[len("whsec_"):])
		require.Contains(t, rc.String(), rc.URL)
	})
}
