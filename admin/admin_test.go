package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/memstore"
	"github.com/hooklet/webhook/webhooktest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// testBundle is what setup gives a test: a Dispatcher over a memstore
// whose engine is not started, so deliveries move only when the test
// records their attempts, and the admin handler over it.
type testBundle struct {
	t     *testing.T
	ctx   context.Context
	d     *webhook.Dispatcher
	st    *memstore.Store
	clock *webhooktest.Clock
	h     http.Handler
}

func setup(t *testing.T, opts *Options) *testBundle {
	t.Helper()
	st := memstore.New()
	clock := webhooktest.NewClock(epoch)
	d, err := webhook.New(webhook.Config{Store: st, Test: webhook.TestConfig{Clock: clock}})
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, d.Close(context.Background()))
		require.NoError(t, st.Close())
	})
	o := Options{NowFunc: clock.Now}
	if opts != nil {
		o = *opts
		o.NowFunc = clock.Now
	}
	return &testBundle{t: t, ctx: context.Background(), d: d, st: st, clock: clock, h: NewHandler(d, &o)}
}

// putEndpoint saves an endpoint directly.
func (b *testBundle) putEndpoint(id, tenant string) webhook.Endpoint {
	b.t.Helper()
	ep := webhook.Endpoint{ID: id, Tenant: tenant, URL: "https://example.com/" + id,
		Secrets: []webhook.Secret{webhook.NewSecret()}, Description: "endpoint " + id}
	require.NoError(b.t, b.d.PutEndpoint(b.ctx, ep))
	got, err := b.d.Endpoint(b.ctx, id)
	require.NoError(b.t, err)
	return got
}

// emit emits an event and returns its deliveries.
func (b *testBundle) emit(typ, tenant string) (webhook.Event, []webhook.Delivery) {
	b.t.Helper()
	ev := webhook.Event{ID: "evt_" + typ + "_" + tenant + "_" + b.clock.Now().Format("150405.000000000"),
		Type: typ, Tenant: tenant, Payload: json.RawMessage(`{"n":1}`)}
	require.NoError(b.t, b.d.Emit(b.ctx, ev))
	page, err := b.d.Deliveries(b.ctx, &webhook.ListDeliveriesParams{EventID: ev.ID})
	require.NoError(b.t, err)
	stored, err := b.d.Event(b.ctx, ev.ID)
	require.NoError(b.t, err)
	return stored, page.Items
}

// record records one attempt of a pending delivery answered with status
// and body, and moves it to state.
func (b *testBundle) record(dl webhook.Delivery, status int, body string, state webhook.DeliveryState) {
	b.t.Helper()
	now := b.clock.Now()
	leases, err := b.st.Lease(b.ctx, &webhook.LeaseParams{Owner: "test", Now: now.Add(time.Hour), Until: now.Add(2 * time.Hour), Limit: 1000})
	require.NoError(b.t, err)
	var refs []webhook.LeaseRef
	var mine webhook.LeaseRef
	for _, l := range leases {
		ref := webhook.LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token}
		if l.Delivery.ID == dl.ID {
			mine = ref
		} else {
			refs = append(refs, ref)
		}
	}
	require.NotEmpty(b.t, mine.Token, "delivery %s not leased", dl.ID)
	got, err := b.d.Delivery(b.ctx, dl.ID)
	require.NoError(b.t, err)
	a := webhook.Attempt{DeliveryID: dl.ID, Number: got.Attempts + 1, StartedAt: now, Duration: 42 * time.Millisecond,
		StatusCode: status, ResponseBody: []byte(body)}
	if status == 0 {
		a.ErrorClass, a.Error = webhook.ClassConnection, "connection refused"
	} else if status >= 300 {
		a.Error = http.StatusText(status)
	}
	_, err = b.st.Complete(b.ctx, &webhook.CompleteParams{Now: now, Outcomes: []webhook.Outcome{{
		Lease: mine, Attempts: []webhook.Attempt{a}, State: state, NextAttemptAt: now.Add(time.Minute)}}})
	require.NoError(b.t, err)
	if len(refs) > 0 {
		require.NoError(b.t, b.st.Release(b.ctx, &webhook.ReleaseParams{Leases: refs, Now: now}))
	}
}

// do serves one request and returns the response.
func (b *testBundle) do(method, target string, body any, hdr ...string) *http.Response {
	b.t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(v)
	default:
		j, err := json.Marshal(v)
		require.NoError(b.t, err)
		rd = bytes.NewReader(j)
	}
	r := httptest.NewRequest(method, target, rd)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	b.h.ServeHTTP(w, r)
	return w.Result()
}

// decode reads a JSON answer with the expected status.
func decode[T any](t *testing.T, res *http.Response, status int) T {
	t.Helper()
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, status, res.StatusCode, "body: %s", body)
	var v T
	require.NoError(t, json.Unmarshal(body, &v), "body: %s", body)
	return v
}

// apiEndpoint is an endpoint as a client reads it: the secrets come back
// redacted, which webhook.Endpoint refuses to decode.
type apiEndpoint struct {
	ID       string `json:"id"`
	Tenant   string `json:"tenant"`
	URL      string `json:"url"`
	Disabled bool   `json:"disabled"`
}

// body reads a whole answer.
func body(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return string(b)
}
