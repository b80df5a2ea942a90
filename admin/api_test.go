package admin

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
)

type endpointList = listing[apiEndpoint]
type deliveryList = listing[webhook.Delivery]

func TestAPI(t *testing.T) {
	t.Parallel()

	t.Run("CreateShowsSecretOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		res := b.do("PUT", "/api/v1/endpoints/ep_1", map[string]any{"url": "https://example.com/a", "event_types": []string{"invoice.*"}})
		m := decode[map[string]any](t, res, http.StatusCreated)
		key, _ := m["secret"].(string)
		require.True(t, strings.HasPrefix(key, webhook.SecretPrefix), "created answer carries the secret: %v", m)
		stored, err := b.d.Endpoint(b.ctx, "ep_1")
		require.NoError(t, err)
		require.Equal(t, key, stored.Secrets[0].Key)

		got := body(t, b.do("GET", "/api/v1/endpoints/ep_1", nil))
		require.NotContains(t, got, key)
		require.Contains(t, got, `"key":"[redacted]"`)

		// A replace without secrets keeps them and shows none.
		m = decode[map[string]any](t, b.do("PUT", "/api/v1/endpoints/ep_1", map[string]any{"url": "https://example.com/b"}), http.StatusOK)
		require.NotContains(t, m, "secret")
		stored, err = b.d.Endpoint(b.ctx, "ep_1")
		require.NoError(t, err)
		require.Equal(t, key, stored.Secrets[0].Key)
		require.Equal(t, "https://example.com/b", stored.URL)
	})

	t.Run("PutBackRedactedFails", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.putEndpoint("ep_1", "")
		got := body(t, b.do("GET", "/api/v1/endpoints/ep_1", nil))
		res := b.do("PUT", "/api/v1/endpoints/ep_1", got)
		p := decode[problem](t, res, http.StatusBadRequest)
		require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
		require.Contains(t, p.Detail, "redacted")
	})

	t.Run("RedactedHeaderKeepsStoredValue", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		ep := b.putEndpoint("ep_1", "")
		ep.Headers = map[string]string{"Authorization": "Bearer s3cret", "X-Team": "a"}
		require.NoError(t, b.d.PutEndpoint(b.ctx, ep))
		got := decode[map[string]any](t, b.do("GET", "/api/v1/endpoints/ep_1", nil), http.StatusOK)
		require.Equal(t, map[string]any{"Authorization": "[redacted]", "X-Team": "a"}, got["headers"])
		delete(got, "secrets")
		got["headers"] = map[string]string{"Authorization": "[redacted]", "X-Team": "b"}
		decode[map[string]any](t, b.do("PUT", "/api/v1/endpoints/ep_1", got), http.StatusOK)
		stored, err := b.d.Endpoint(b.ctx, "ep_1")
		require.NoError(t, err)
		require.Equal(t, map[string]string{"Authorization": "Bearer s3cret", "X-Team": "b"}, stored.Headers)
	})

	t.Run("InvalidEndpoint400", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		p := decode[problem](t, b.do("PUT", "/api/v1/endpoints/ep_1", map[string]any{"url": "ftp://x"}), http.StatusBadRequest)
		require.Equal(t, 400, p.Status)
		require.Equal(t, "Bad Request", p.Title)
		require.Contains(t, p.Detail, "invalid endpoint")
		p = decode[problem](t, b.do("PUT", "/api/v1/endpoints/ep_1", map[string]any{"url": "https://x", "template": "{a: }"}), http.StatusBadRequest)
		require.Equal(t, 1, p.Line)
		require.Positive(t, p.Column)
		decode[problem](t, b.do("PUT", "/api/v1/endpoints/ep_1", map[string]any{"id": "ep_2", "url": "https://x"}), http.StatusBadRequest)
		decode[problem](t, b.do("PUT", "/api/v1/endpoints/ep_1", "not json"), http.StatusBadRequest)
	})

	t.Run("NotFound404", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		for _, target := range []string{"/api/v1/endpoints/nope", "/api/v1/deliveries/nope", "/api/v1/events/nope", "/api/v1/deliveries/nope/attempts", "/api/v1/endpoints/nope/health"} {
			p := decode[problem](t, b.do("GET", target, nil), http.StatusNotFound)
			require.Equal(t, "Not Found", p.Title, target)
		}
		decode[problem](t, b.do("DELETE", "/api/v1/endpoints/nope", nil), http.StatusNotFound)
		decode[problem](t, b.do("GET", "/api/v1/nothing", nil), http.StatusNotFound)
	})

	t.Run("ListEndpointsPagesAndTenant", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.putEndpoint("ep_a", "t1")
		b.putEndpoint("ep_b", "t2")
		b.putEndpoint("ep_c", "t1")
		l := decode[endpointList](t, b.do("GET", "/api/v1/endpoints?limit=2", nil), http.StatusOK)
		require.Len(t, l.Items, 2)
		require.NotEmpty(t, l.Next)
		l2 := decode[endpointList](t, b.do("GET", "/api/v1/endpoints?limit=2&cursor="+url.QueryEscape(l.Next), nil), http.StatusOK)
		require.Len(t, l2.Items, 1)
		require.Empty(t, l2.Next)
		l = decode[endpointList](t, b.do("GET", "/api/v1/endpoints?tenant=t1", nil), http.StatusOK)
		require.Equal(t, []string{"ep_a", "ep_c"}, []string{l.Items[0].ID, l.Items[1].ID})
		decode[problem](t, b.do("GET", "/api/v1/endpoints?limit=x", nil), http.StatusBadRequest)
	})

	t.Run("DeleteEnableDisable", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.putEndpoint("ep_1", "")
		ep := decode[apiEndpoint](t, b.do("POST", "/api/v1/endpoints/ep_1/disable", nil), http.StatusOK)
		require.True(t, ep.Disabled)
		ep = decode[apiEndpoint](t, b.do("POST", "/api/v1/endpoints/ep_1/enable", nil), http.StatusOK)
		require.False(t, ep.Disabled)
		res := b.do("DELETE", "/api/v1/endpoints/ep_1", nil)
		require.Equal(t, http.StatusNoContent, res.StatusCode)
		_, err := b.d.Endpoint(b.ctx, "ep_1")
		require.ErrorIs(t, err, webhook.ErrNotFound)
	})

	t.Run("RotateSecret", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		old := b.putEndpoint("ep_1", "")
		rot := decode[map[string]any](t, b.do("POST", "/api/v1/endpoints/ep_1/rotate-secret", nil), http.StatusOK)
		key := rot["secret"].(string)
		require.True(t, strings.HasPrefix(key, webhook.SecretPrefix))
		require.Equal(t, epoch.Add(RotationGraceDefault).Format(time.RFC3339), rot["old_secrets_expire_at"])
		require.NotContains(t, rot["endpoint"], key)
		stored, err := b.d.Endpoint(b.ctx, "ep_1")
		require.NoError(t, err)
		require.Equal(t, []webhook.Secret{{Key: old.Secrets[0].Key, ExpiresAt: epoch.Add(RotationGraceDefault)}, {Key: key}}, stored.Secrets)
		// A later rotation drops what expired meanwhile.
		b.clock.Advance(RotationGraceDefault + time.Second)
		rot = decode[map[string]any](t, b.do("POST", "/api/v1/endpoints/ep_1/rotate-secret", nil), http.StatusOK)
		stored, err = b.d.Endpoint(b.ctx, "ep_1")
		require.NoError(t, err)
		require.Len(t, stored.Secrets, 2)
		require.Equal(t, key, stored.Secrets[0].Key)
		require.Equal(t, rot["secret"], stored.Secrets[1].Key)
	})

	t.Run("RotateSigningKeyGivesPublicKey", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		sk, _ := webhook.NewSigningKey()
		require.NoError(t, b.d.PutEndpoint(b.ctx, webhook.Endpoint{ID: "ep_1", URL: "https://example.com", Secrets: []webhook.Secret{sk}}))
		rot := decode[map[string]any](t, b.do("POST", "/api/v1/endpoints/ep_1/rotate-secret", nil), http.StatusOK)
		require.True(t, strings.HasPrefix(rot["secret"].(string), webhook.SigningKeyPrefix))
		require.True(t, strings.HasPrefix(rot["public_key"].(string), webhook.PublicKeyPrefix))
	})

	t.Run("TestEvent", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.putEndpoint("ep_1", "acme")
		other := b.putEndpoint("ep_2", "other")
		_ = other
		te := decode[testEvent](t, b.do("POST", "/api/v1/endpoints/ep_1/test", nil), http.StatusAccepted)
		require.Equal(t, TestEventTypeDefault, te.Type)
		ev, err := b.d.Event(b.ctx, te.EventID)
		require.NoError(t, err)
		require.Equal(t, "acme", ev.Tenant)
		require.Equal(t, "ep_1", ev.Attributes["hooklet_test_endpoint"])
		page, err := b.d.Deliveries(b.ctx, &webhook.ListDeliveriesParams{EventID: te.EventID})
		require.NoError(t, err)
		require.Len(t, page.Items, 1)
		require.Equal(t, "ep_1", page.Items[0].EndpointID)

		ep, err := b.d.Endpoint(b.ctx, "ep_1")
		require.NoError(t, err)
		ep.EventTypes = []string{"invoice.*"}
		require.NoError(t, b.d.PutEndpoint(b.ctx, ep))
		p := decode[problem](t, b.do("POST", "/api/v1/endpoints/ep_1/test", nil), http.StatusBadRequest)
		require.Contains(t, p.Detail, "hooklet.test")
	})

	t.Run("DeliveriesAttemptsRedeliver", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.putEndpoint("ep_1", "")
		ev, dls := b.emit("invoice.paid", "")
		require.Len(t, dls, 1)
		b.record(dls[0], 500, "boom", webhook.StateFailed)

		l := decode[deliveryList](t, b.do("GET", "/api/v1/deliveries?state=failed", nil), http.StatusOK)
		require.Len(t, l.Items, 1)
		require.Equal(t, dls[0].ID, l.Items[0].ID)
		require.Equal(t, 500, l.Items[0].LastStatusCode)
		l = decode[deliveryList](t, b.do("GET", "/api/v1/deliveries?state=succeeded", nil), http.StatusOK)
		require.Empty(t, l.Items)
		decode[problem](t, b.do("GET", "/api/v1/deliveries?state=bogus", nil), http.StatusBadRequest)

		dl := decode[webhook.Delivery](t, b.do("GET", "/api/v1/deliveries/"+dls[0].ID, nil), http.StatusOK)
		require.Equal(t, webhook.StateFailed, dl.State)
		atts := decode[listing[webhook.Attempt]](t, b.do("GET", "/api/v1/deliveries/"+dls[0].ID+"/attempts", nil), http.StatusOK)
		require.Len(t, atts.Items, 1)
		require.Equal(t, "boom", string(atts.Items[0].ResponseBody))
		require.Equal(t, 42*time.Millisecond, atts.Items[0].Duration)

		got := decode[webhook.Event](t, b.do("GET", "/api/v1/events/"+ev.ID, nil), http.StatusOK)
		require.Equal(t, ev, got)

		dl = decode[webhook.Delivery](t, b.do("POST", "/api/v1/deliveries/"+dls[0].ID+"/redeliver", nil), http.StatusAccepted)
		require.Equal(t, webhook.StatePending, dl.State)
	})

	t.Run("DeliveriesByEventTypeAndEndpoint", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.putEndpoint("ep_1", "")
		b.putEndpoint("ep_2", "")
		_, paid := b.emit("invoice.paid", "")
		b.clock.Advance(time.Millisecond)
		b.emit("customer.created", "")
		l := decode[deliveryList](t, b.do("GET", "/api/v1/deliveries?event_type=invoice.paid", nil), http.StatusOK)
		require.Len(t, l.Items, 2)
		require.ElementsMatch(t, []string{paid[0].ID, paid[1].ID}, []string{l.Items[0].ID, l.Items[1].ID})
		l = decode[deliveryList](t, b.do("GET", "/api/v1/deliveries?event_type=invoice.paid&endpoint_id=ep_2&limit=1", nil), http.StatusOK)
		require.Len(t, l.Items, 1)
		require.Equal(t, "ep_2", l.Items[0].EndpointID)
		// Pages of one, filtered by type, in ID order.
		var seen []string
		cursor := ""
		for range 10 {
			l = decode[deliveryList](t, b.do("GET", "/api/v1/deliveries?event_type=invoice.paid&limit=1&cursor="+url.QueryEscape(cursor), nil), http.StatusOK)
			for _, d := range l.Items {
				seen = append(seen, d.ID)
			}
			if l.Next == "" {
				break
			}
			cursor = l.Next
		}
		require.ElementsMatch(t, []string{paid[0].ID, paid[1].ID}, seen)
	})

	t.Run("RedeliverFailedSince", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.putEndpoint("ep_1", "")
		b.putEndpoint("ep_2", "")
		_, old := b.emit("a", "")
		for _, d := range old {
			b.record(d, 500, "", webhook.StateFailed)
		}
		b.clock.Advance(time.Hour)
		since := b.clock.Now()
		var recent []webhook.Delivery
		for i := range 3 {
			b.clock.Advance(time.Second)
			_, dls := b.emit("b"+string(rune('0'+i)), "")
			for _, d := range dls {
				b.record(d, 503, "", webhook.StateFailed)
				if d.EndpointID == "ep_1" {
					recent = append(recent, d)
				}
			}
		}
		res := decode[redeliverResult](t, b.do("POST", "/api/v1/endpoints/ep_1/redeliver-failed?since="+url.QueryEscape(since.Format(time.RFC3339)), nil), http.StatusOK)
		require.Equal(t, 3, res.Redelivered)
		for _, d := range recent {
			got, err := b.d.Delivery(b.ctx, d.ID)
			require.NoError(t, err)
			require.Equal(t, webhook.StatePending, got.State)
		}
		for _, d := range old {
			got, err := b.d.Delivery(b.ctx, d.ID)
			require.NoError(t, err)
			require.Equal(t, webhook.StateFailed, got.State)
		}
		decode[problem](t, b.do("POST", "/api/v1/endpoints/ep_1/redeliver-failed?since=yesterday", nil), http.StatusBadRequest)
		decode[problem](t, b.do("POST", "/api/v1/endpoints/ep_1/redeliver-failed?fresh_schedule=maybe", nil), http.StatusBadRequest)
		res = decode[redeliverResult](t, b.do("POST", "/api/v1/endpoints/ep_1/redeliver-failed?fresh_schedule=true", nil), http.StatusOK)
		require.Equal(t, 1, res.Redelivered)
		for _, d := range old {
			got, err := b.d.Delivery(b.ctx, d.ID)
			require.NoError(t, err)
			if d.EndpointID == "ep_1" {
				require.Equal(t, webhook.StatePending, got.State)
				require.Equal(t, got.Attempts, got.ScheduleStart, "the schedule restarts")
			}
		}
	})

	t.Run("Health", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		// Delivery IDs are monotonic across the process: run this test's
		// clock ahead of the other tests' so its IDs follow its clock.
		b.clock.Set(epoch.AddDate(5, 0, 0))
		b.putEndpoint("ep_1", "")
		// Two days ago: not counted.
		_, dls := b.emit("old", "")
		b.record(dls[0], 500, "", webhook.StateFailed)
		b.clock.Advance(47 * time.Hour)
		// Within the day, outside the hour: one failure then a success.
		_, dls = b.emit("day", "")
		b.record(dls[0], 0, "", webhook.StatePending)
		b.clock.Advance(time.Minute)
		b.record(dls[0], 200, "ok", webhook.StateSucceeded)
		b.clock.Advance(30 * time.Minute)
		// Within the hour: a failure.
		_, dls = b.emit("hour", "")
		b.record(dls[0], 503, "", webhook.StatePending)
		lastFailure := b.clock.Now()
		b.clock.Advance(31 * time.Minute)

		hl := decode[endpointHealth](t, b.do("GET", "/api/v1/endpoints/ep_1/health", nil), http.StatusOK)
		require.True(t, hl.Complete)
		require.Equal(t, 3, hl.Day.Attempts)
		require.Equal(t, 1, hl.Day.Succeeded)
		require.InDelta(t, 1.0/3, *hl.Day.SuccessRate, 1e-9)
		require.Equal(t, 1, hl.Hour.Attempts)
		require.Equal(t, 0, hl.Hour.Succeeded)
		require.Equal(t, 1, hl.Pending)
		require.Equal(t, lastFailure, hl.LastFailureAt.UTC())
		require.Equal(t, "Service Unavailable", hl.LastError)
		require.NotNil(t, hl.LastSuccessAt)

		// The cursor for a time sorts between the IDs made before and
		// after it.
		_, before := b.emit("before", "")
		b.clock.Advance(2 * time.Millisecond)
		cursor := deliveryCursorAt(b.clock.Now())
		_, after := b.emit("after", "")
		require.Less(t, before[0].ID, cursor)
		require.Greater(t, after[0].ID, cursor)
		page, err := b.d.Deliveries(b.ctx, &webhook.ListDeliveriesParams{Cursor: cursor})
		require.NoError(t, err)
		require.Len(t, page.Items, 1)
		require.Equal(t, after[0].ID, page.Items[0].ID)
	})

	t.Run("Preview", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		res := decode[previewResult](t, b.do("POST", "/api/v1/templates/preview", map[string]any{
			"template": `local event = import "hooklet.libsonnet"; { amount: event.get("amount", 0), region: event.settings.region }`,
			"settings": map[string]string{"region": "eu"},
		}), http.StatusOK)
		var out map[string]any
		require.NoError(t, json.Unmarshal([]byte(res.Body), &out), res.Body)
		require.Equal(t, map[string]any{"amount": 1200.0, "region": "eu"}, out)

		res = decode[previewResult](t, b.do("POST", "/api/v1/templates/preview", map[string]any{"template": ""}), http.StatusOK)
		require.Contains(t, res.Body, `"type":"invoice.paid"`)

		p := decode[problem](t, b.do("POST", "/api/v1/templates/preview", map[string]any{"template": "{\n  a: ,\n}"}), http.StatusBadRequest)
		require.Equal(t, 2, p.Line)
		require.Positive(t, p.Column)
	})
}
