package admin

import (
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
)

const xss = `<script>alert(1)</script>`

// postForm posts a console form as a browser on the same origin does.
func (b *testBundle) postForm(target string, form url.Values) *http.Response {
	b.t.Helper()
	r := httptest.NewRequest("POST", target, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	w := httptest.NewRecorder()
	b.h.ServeHTTP(w, r)
	return w.Result()
}

func TestConsole(t *testing.T) {
	t.Parallel()

	t.Run("SecurityHeaders", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		for _, target := range []string{"/", "/deliveries", "/static/style.css", "/api/v1/endpoints"} {
			res := b.do("GET", target, nil)
			res.Body.Close()
			require.Equal(t, http.StatusOK, res.StatusCode, target)
			csp := res.Header.Get("Content-Security-Policy")
			require.Contains(t, csp, "script-src 'self'", target)
			require.Contains(t, csp, "frame-ancestors 'none'", target)
			require.NotContains(t, csp, "unsafe-inline", target)
			require.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"), target)
		}
	})

	t.Run("NoInlineScript", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.putEndpoint("ep_1", "")
		for _, target := range []string{"/", "/endpoints/new", "/endpoints/ep_1", "/endpoints/ep_1/edit", "/deliveries"} {
			page := body(t, b.do("GET", target, nil))
			require.Equal(t, 1, strings.Count(page, "<script"), target)
			require.Contains(t, page, `<script src="/static/app.js" defer></script>`, target)
			require.NotContains(t, page, " onclick=", target)
			require.NotContains(t, page, "style=", target)
		}
	})

	t.Run("CrossOriginFormRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.putEndpoint("ep_1", "")
		r := httptest.NewRequest("POST", "/endpoints/ep_1/disable", nil)
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		w := httptest.NewRecorder()
		b.h.ServeHTTP(w, r)
		require.Equal(t, http.StatusForbidden, w.Code)
		r = httptest.NewRequest("POST", "/endpoints/ep_1/disable", nil)
		r.Header.Set("Origin", "https://evil.example.com")
		r.Host = "admin.example.com"
		w = httptest.NewRecorder()
		b.h.ServeHTTP(w, r)
		require.Equal(t, http.StatusForbidden, w.Code)
		ep, err := b.d.Endpoint(b.ctx, "ep_1")
		require.NoError(t, err)
		require.False(t, ep.Disabled)
		res := b.postForm("/endpoints/ep_1/disable", nil)
		require.Equal(t, http.StatusSeeOther, res.StatusCode)
		ep, err = b.d.Endpoint(b.ctx, "ep_1")
		require.NoError(t, err)
		require.True(t, ep.Disabled)
	})

	t.Run("EscapesEverything", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		id := `ep_"><script>alert(1)</script>`
		require.NoError(t, b.d.PutEndpoint(b.ctx, webhook.Endpoint{ID: id, URL: "https://example.com/x",
			Description: xss, Tenant: xss, Secrets: []webhook.Secret{webhook.NewSecret()}}))
		ev := webhook.Event{ID: "evt_x", Type: "invoice.paid", Payload: []byte(`{"html":"` + strings.ReplaceAll(xss, "/", `\/`) + `"}`)}
		require.NoError(t, b.d.Emit(b.ctx, ev))
		page, err := b.d.Deliveries(b.ctx, nil)
		require.NoError(t, err)
		dl := page.Items[0]
		b.record(dl, 500, xss, webhook.StateFailed)

		for _, target := range []string{"/", "/endpoints/" + url.PathEscape(id), "/endpoints/" + url.PathEscape(id) + "/edit",
			"/deliveries", "/deliveries/" + dl.ID, "/deliveries?type=" + url.QueryEscape(xss), "/?done=tested&arg=" + url.QueryEscape(xss)} {
			res := b.do("GET", target, nil)
			got := body(t, res)
			require.Equal(t, http.StatusOK, res.StatusCode, target)
			require.NotContains(t, got, xss, target)
			require.NotContains(t, got, "<script>alert", target)
		}
		got := body(t, b.do("GET", "/deliveries/"+dl.ID, nil))
		require.Contains(t, got, "&lt;script&gt;alert(1)&lt;/script&gt;", "the response body is shown, escaped")
	})

	t.Run("CreateThroughForm", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		res := b.postForm("/endpoints/save", url.Values{"new": {"1"}, "id": {"ep_form"}, "url": {"https://example.com/f"},
			"event_types": {"invoice.*, customer.created"}, "headers": {"X-Team: billing\nAuthorization: Bearer t0k"},
			"settings": {`{"region":"eu"}`}, "action": {"save"}})
		got := body(t, res)
		require.Equal(t, http.StatusOK, res.StatusCode, got)
		ep, err := b.d.Endpoint(b.ctx, "ep_form")
		require.NoError(t, err)
		require.Equal(t, []string{"invoice.*", "customer.created"}, ep.EventTypes)
		require.Equal(t, map[string]string{"X-Team": "billing", "Authorization": "Bearer t0k"}, ep.Headers)
		require.Len(t, ep.Secrets, 1)
		require.Contains(t, html.UnescapeString(got), ep.Secrets[0].Key, "the new secret is shown once")

		// The edit form shows the credential redacted, and saving it back
		// keeps the stored value.
		edit := body(t, b.do("GET", "/endpoints/ep_form/edit", nil))
		require.NotContains(t, edit, "t0k")
		require.NotContains(t, edit, ep.Secrets[0].Key)
		res = b.postForm("/endpoints/save", url.Values{"id": {"ep_form"}, "url": {"https://example.com/g"},
			"headers": {"Authorization: [redacted]"}, "action": {"save"}})
		require.Equal(t, http.StatusSeeOther, res.StatusCode, body(t, res))
		require.Equal(t, "/endpoints/ep_form?done=saved", res.Header.Get("Location"))
		ep2, err := b.d.Endpoint(b.ctx, "ep_form")
		require.NoError(t, err)
		require.Equal(t, "https://example.com/g", ep2.URL)
		require.Equal(t, map[string]string{"Authorization": "Bearer t0k"}, ep2.Headers)
		require.Equal(t, ep.Secrets, ep2.Secrets)

		// Creating the same ID again is refused on the form.
		res = b.postForm("/endpoints/save", url.Values{"new": {"1"}, "id": {"ep_form"}, "url": {"https://example.com/h"}, "action": {"save"}})
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Contains(t, body(t, res), "exists already")
	})

	t.Run("EditKeepsWhatTheFormDoesNotShow", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		retry := &webhook.RetryPolicy{Schedule: []time.Duration{time.Minute}, Quick: webhook.QuickRetryDefault()}
		require.NoError(t, b.d.PutEndpoint(b.ctx, webhook.Endpoint{
			ID: "ep_k", URL: "https://example.com/k", Secrets: []webhook.Secret{webhook.NewSecret()},
			Filter: json.RawMessage(`{"data.amount":{"$gte":100}}`), Ordered: true, RateLimit: 5, RateBurst: 2,
			Retry: retry, Signature: webhook.SignatureScheme{Kind: webhook.SignatureHMACHex},
		}))
		res := b.postForm("/endpoints/save", url.Values{"id": {"ep_k"}, "url": {"https://example.com/k2"}, "action": {"save"}})
		require.Equal(t, http.StatusSeeOther, res.StatusCode, body(t, res))
		ep, err := b.d.Endpoint(b.ctx, "ep_k")
		require.NoError(t, err)
		require.Equal(t, "https://example.com/k2", ep.URL)
		require.JSONEq(t, `{"data.amount":{"$gte":100}}`, string(ep.Filter))
		require.True(t, ep.Ordered)
		require.Equal(t, 5.0, ep.RateLimit)
		require.Equal(t, 2, ep.RateBurst)
		require.Equal(t, retry, ep.Retry)
		require.Equal(t, webhook.SignatureHMACHex, ep.Signature.Kind)
	})

	t.Run("TemplateErrorAtLineAndColumn", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		res := b.postForm("/endpoints/save", url.Values{"new": {"1"}, "id": {"ep_t"}, "url": {"https://example.com/t"},
			"template": {"{\n  a: ,\n}"}, "action": {"save"}})
		got := body(t, res)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Regexp(t, `Template error at line 2, column \d+`, got)
		require.Contains(t, got, "{\n  a: ,\n}", "the typed template is kept")
		_, err := b.d.Endpoint(b.ctx, "ep_t")
		require.ErrorIs(t, err, webhook.ErrNotFound)
	})

	t.Run("PreviewWithoutScript", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		res := b.postForm("/endpoints/save", url.Values{"new": {"1"}, "id": {"ep_p"}, "url": {"https://example.com/p"},
			"template": {`local event = import "hooklet.libsonnet"; { amount: event.get("amount", 0), region: event.settings.region }`},
			"settings": {`{"region":"eu"}`}, "action": {"preview"}})
		got := body(t, res)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Contains(t, got, "&#34;amount&#34;: 1200")
		require.Contains(t, got, "&#34;region&#34;: &#34;eu&#34;")
		_, err := b.d.Endpoint(b.ctx, "ep_p")
		require.ErrorIs(t, err, webhook.ErrNotFound, "a preview saves nothing")
	})

	t.Run("ReplayButtons", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.putEndpoint("ep_1", "")
		_, dls := b.emit("invoice.paid", "")
		b.record(dls[0], 500, "", webhook.StateFailed)
		_, dls2 := b.emit("invoice.sent", "")
		b.record(dls2[0], 500, "", webhook.StateFailed)

		page := body(t, b.do("GET", "/deliveries/"+dls[0].ID, nil))
		require.Contains(t, page, `action="/deliveries/`+dls[0].ID+`/redeliver"`)
		res := b.postForm("/deliveries/"+dls[0].ID+"/redeliver", nil)
		require.Equal(t, http.StatusSeeOther, res.StatusCode)
		got, err := b.d.Delivery(b.ctx, dls[0].ID)
		require.NoError(t, err)
		require.Equal(t, webhook.StatePending, got.State)

		page = body(t, b.do("GET", "/endpoints/ep_1", nil))
		require.Contains(t, page, `action="/endpoints/ep_1/redeliver-failed"`)
		require.Contains(t, page, `name="fresh_schedule"`)
		res = b.postForm("/endpoints/ep_1/redeliver-failed", url.Values{"since": {""}, "fresh_schedule": {"true"}})
		require.Equal(t, http.StatusSeeOther, res.StatusCode)
		require.Equal(t, "/endpoints/ep_1?arg=1&done=replayed", res.Header.Get("Location"))
		require.Contains(t, body(t, b.do("GET", res.Header.Get("Location"), nil)), "1 failed deliveries sent again.")
		got, err = b.d.Delivery(b.ctx, dls2[0].ID)
		require.NoError(t, err)
		require.Equal(t, webhook.StatePending, got.State)
		require.Equal(t, got.Attempts, got.ScheduleStart, "the retry schedule restarted")
	})

	t.Run("DeliveryLogFilters", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.putEndpoint("ep_1", "")
		b.putEndpoint("ep_2", "")
		_, paid := b.emit("invoice.paid", "")
		_, sent := b.emit("invoice.sent", "")
		b.record(paid[0], 500, "", webhook.StateFailed)
		page := body(t, b.do("GET", "/deliveries?state=failed", nil))
		require.Contains(t, page, paid[0].ID)
		require.NotContains(t, page, paid[1].ID)
		page = body(t, b.do("GET", "/deliveries?type=invoice.sent&endpoint=ep_2", nil))
		require.Contains(t, page, `<option value="failed">failed</option>`)
		for _, d := range sent {
			if d.EndpointID == "ep_2" {
				require.Contains(t, page, d.ID)
			} else {
				require.NotContains(t, page, d.ID)
			}
		}
		require.NotContains(t, page, paid[0].ID)
	})

	t.Run("FlashOnlyKnownMessages", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		require.Contains(t, body(t, b.do("GET", "/?done=deleted", nil)), `<p class="flash" role="status">Endpoint deleted.</p>`)
		require.Contains(t, body(t, b.do("GET", "/?done=tested&arg=evt_1", nil)), "Test event evt_1 emitted.")
		require.NotContains(t, body(t, b.do("GET", "/?done=Your+session+expired", nil)), `class="flash"`)
		require.NotContains(t, body(t, b.do("GET", "/?done=tested&arg=go+to+evil.example.com", nil)), `class="flash"`)
	})

	t.Run("LinksStayUnderTheMount", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.putEndpoint("ep_1", "")
		mux := http.NewServeMux()
		mux.Handle("/ops/admin/", http.StripPrefix("/ops/admin", b.h))
		r := httptest.NewRequest("GET", "/ops/admin/", nil)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		require.Equal(t, http.StatusOK, w.Code)
		page := w.Body.String()
		require.Contains(t, page, `href="/ops/admin/static/style.css"`)
		require.Contains(t, page, `href="/ops/admin/endpoints/ep_1"`)
	})
}
