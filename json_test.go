package webhook_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
)

var jsonTime = time.Date(2026, 3, 4, 5, 6, 7, 891000000, time.UTC)

// jsonFields returns the top-level field names of a JSON object.
func jsonFields(t *testing.T, b []byte) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

func TestJSON(t *testing.T) {
	t.Parallel()

	t.Run("EventRoundTrip", func(t *testing.T) {
		t.Parallel()
		ev := webhook.Event{
			ID: "evt_1", Type: "invoice.paid", Tenant: "acme", Time: jsonTime,
			Payload:    json.RawMessage(`{"id":"in_1","amount":1200}`),
			Attributes: map[string]string{"correlation_id": "c1"},
		}
		b, err := json.Marshal(ev)
		require.NoError(t, err)
		require.JSONEq(t, `{"id":"evt_1","type":"invoice.paid","tenant":"acme",
			"time":"2026-03-04T05:06:07.891Z","payload":{"id":"in_1","amount":1200},
			"attributes":{"correlation_id":"c1"}}`, string(b))
		var back webhook.Event
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, ev, back)
	})

	t.Run("EventTimeInUTC", func(t *testing.T) {
		t.Parallel()
		paris := time.FixedZone("CET", 3600)
		b, err := json.Marshal(webhook.Event{ID: "e", Type: "t", Time: jsonTime.In(paris), Payload: json.RawMessage(`1`)})
		require.NoError(t, err)
		require.Equal(t, `"2026-03-04T05:06:07.891Z"`, string(jsonFields(t, b)["time"]))
	})

	t.Run("EndpointRoundTrip", func(t *testing.T) {
		t.Parallel()
		ep := webhook.Endpoint{
			ID: "ep_1", Tenant: "acme", URL: "https://example.com/hooks", Description: "billing",
			EventTypes: []string{"invoice.*"}, Template: `{a: 1}`, ContentType: "text/plain",
			Filter:         json.RawMessage(`{"data.amount":{"$gte":100}}`),
			Settings:       json.RawMessage(`{"region":"eu"}`),
			Headers:        map[string]string{"X-Team": "billing"},
			Signature:      webhook.SignatureScheme{Kind: webhook.SignatureHMACHex, Header: "X-Sig", Prefix: "sha256="},
			Disabled:       true,
			DisabledReason: "410 Gone",
			MaxConcurrency: 4,
			Retry: &webhook.RetryPolicy{Schedule: []time.Duration{5 * time.Second, 90 * time.Minute},
				Jitter: 0.2, MaxRetryAfter: time.Hour, StopOnClientError: true,
				Quick: webhook.QuickRetry{Tries: 3, Initial: 100 * time.Millisecond, Max: time.Second, Jitter: 0.5, GiveUpAfter: 4 * time.Second}},
			Ordered: true, Unsigned: true, RateLimit: 2.5, RateBurst: 3,
			Batch:        webhook.BatchPolicy{MaxEvents: 500, MaxBytes: 1 << 20, MaxWait: 1500 * time.Millisecond},
			FailingSince: jsonTime.Add(-time.Hour),
			AckTimeout:   15 * time.Minute,
			CreatedAt:    jsonTime, UpdatedAt: jsonTime.Add(time.Minute),
		}
		// Every field but the secrets (redacted, see below) is set, so a
		// field the JSON form forgets fails the round trip.
		v := reflect.ValueOf(ep)
		for i := range v.NumField() {
			if name := v.Type().Field(i).Name; name != "Secrets" {
				require.False(t, v.Field(i).IsZero(), "the fixture leaves Endpoint.%s zero", name)
			}
		}
		b, err := json.Marshal(ep)
		require.NoError(t, err)
		f := jsonFields(t, b)
		for _, name := range []string{"id", "tenant", "url", "description", "event_types", "filter", "template",
			"content_type", "settings", "headers", "signature", "disabled", "disabled_reason",
			"max_concurrency", "retry", "created_at", "updated_at", "ordered", "unsigned", "rate_limit",
			"rate_burst", "failing_since", "ack_timeout"} {
			require.Contains(t, f, name)
		}
		require.Equal(t, `"15m0s"`, string(f["ack_timeout"]))
		require.JSONEq(t, `{"schedule":["5s","1h30m0s"],"jitter":0.2,"max_retry_after":"1h0m0s","stop_on_client_error":true,
			"quick":{"tries":3,"initial":"100ms","max":"1s","jitter":0.5,"give_up_after":"4s"}}`, string(f["retry"]))
		require.JSONEq(t, `{"kind":"hmac-sha256-hex","header":"X-Sig","prefix":"sha256="}`, string(f["signature"]))
		var back webhook.Endpoint
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, ep, back)
	})

	t.Run("ReportRoundTrip", func(t *testing.T) {
		t.Parallel()
		r := webhook.Report{DeliveryID: "dlv_1", Number: 2, Attempt: 1, Status: webhook.ReportRunning,
			Message: "half way", Progress: 0.5, ReceivedAt: jsonTime}
		b, err := json.Marshal(r)
		require.NoError(t, err)
		require.JSONEq(t, `{"delivery_id":"dlv_1","number":2,"attempt":1,"status":"running","message":"half way",
			"progress":0.5,"received_at":"2026-03-04T05:06:07.891Z"}`, string(b))
		var back webhook.Report
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, r, back)
	})

	t.Run("EndpointSecretsRedacted", func(t *testing.T) {
		t.Parallel()
		key := webhook.NewSecret().Key
		ep := webhook.Endpoint{ID: "ep_1", URL: "https://example.com",
			Secrets: []webhook.Secret{{Key: key, ExpiresAt: jsonTime}, {Key: key}},
			Headers: map[string]string{"Authorization": "Bearer abc", "X-Api-Key": "k", "X-Team": "t"}}
		b, err := json.Marshal(ep)
		require.NoError(t, err)
		require.NotContains(t, string(b), key)
		require.NotContains(t, string(b), "Bearer abc")
		f := jsonFields(t, b)
		require.JSONEq(t, `[{"key":"[redacted]","expires_at":"2026-03-04T05:06:07.891Z"},{"key":"[redacted]"}]`, string(f["secrets"]))
		require.JSONEq(t, `{"Authorization":"[redacted]","X-Api-Key":"[redacted]","X-Team":"t"}`, string(f["headers"]))
	})

	t.Run("EndpointRedactedSecretRefused", func(t *testing.T) {
		t.Parallel()
		ep := webhook.Endpoint{ID: "ep_1", URL: "https://example.com", Secrets: []webhook.Secret{webhook.NewSecret()}}
		b, err := json.Marshal(ep)
		require.NoError(t, err)
		var back webhook.Endpoint
		err = json.Unmarshal(b, &back)
		require.ErrorIs(t, err, webhook.ErrRedacted)
		require.Contains(t, err.Error(), "secret key was redacted")
	})

	t.Run("EndpointRedactedHeaderRefused", func(t *testing.T) {
		t.Parallel()
		var back webhook.Endpoint
		err := json.Unmarshal([]byte(`{"id":"ep","url":"https://x","headers":{"Authorization":"[redacted]"}}`), &back)
		require.ErrorIs(t, err, webhook.ErrRedacted)
		require.Contains(t, err.Error(), `"Authorization"`)
	})

	t.Run("EndpointWithRealSecret", func(t *testing.T) {
		t.Parallel()
		key := webhook.NewSecret().Key
		var ep webhook.Endpoint
		require.NoError(t, json.Unmarshal([]byte(`{"id":"ep","url":"https://x","secrets":[{"key":"`+key+`","expires_at":"2026-03-04T05:06:07.891Z"}]}`), &ep))
		require.Equal(t, []webhook.Secret{{Key: key, ExpiresAt: jsonTime}}, ep.Secrets)
		require.NoError(t, json.Unmarshal([]byte(`{"id":"ep","url":"https://x","secrets":[{"Key":"`+key+`","ExpiresAt":"2026-03-04T05:06:07.891Z"}]}`), &ep))
		require.Equal(t, []webhook.Secret{{Key: key, ExpiresAt: jsonTime}}, ep.Secrets)
	})

	t.Run("SecretMarshalStaysRedacted", func(t *testing.T) {
		t.Parallel()
		s := webhook.Secret{Key: webhook.NewSecret().Key, ExpiresAt: jsonTime}
		b, err := json.Marshal(s)
		require.NoError(t, err)
		require.NotContains(t, string(b), s.Key)
		require.Contains(t, string(b), webhook.Redacted)
		var back webhook.Secret
		require.ErrorIs(t, json.Unmarshal(b, &back), webhook.ErrRedacted)
	})

	t.Run("DeliveryRoundTrip", func(t *testing.T) {
		t.Parallel()
		d := webhook.Delivery{ID: "dlv_1", EventID: "evt_1", EndpointID: "ep_1", State: webhook.StateFailed,
			Attempts: 3, NextAttemptAt: jsonTime, LastStatusCode: 500, LastError: "500 Internal Server Error",
			CreatedAt: jsonTime, UpdatedAt: jsonTime.Add(time.Second)}
		b, err := json.Marshal(d)
		require.NoError(t, err)
		require.JSONEq(t, `{"id":"dlv_1","event_id":"evt_1","endpoint_id":"ep_1","state":"failed","attempts":3,
			"next_attempt_at":"2026-03-04T05:06:07.891Z","last_status_code":500,"last_error":"500 Internal Server Error",
			"created_at":"2026-03-04T05:06:07.891Z","updated_at":"2026-03-04T05:06:08.891Z"}`, string(b))
		var back webhook.Delivery
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, d, back)
	})

	t.Run("AttemptRoundTripText", func(t *testing.T) {
		t.Parallel()
		a := webhook.Attempt{DeliveryID: "dlv_1", Number: 2, StartedAt: jsonTime, Duration: 12500 * time.Microsecond,
			StatusCode: 503, Error: "503 Service Unavailable", ResponseBody: []byte("try later"), ResponseTruncated: true}
		b, err := json.Marshal(a)
		require.NoError(t, err)
		require.JSONEq(t, `{"delivery_id":"dlv_1","number":2,"started_at":"2026-03-04T05:06:07.891Z","duration_ms":12.5,
			"status_code":503,"error":"503 Service Unavailable","response_body":"try later","response_truncated":true}`, string(b))
		var back webhook.Attempt
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, a, back)
	})

	t.Run("AttemptRoundTripBinary", func(t *testing.T) {
		t.Parallel()
		a := webhook.Attempt{DeliveryID: "dlv_1", Number: 1, StartedAt: jsonTime, Duration: 3 * time.Nanosecond,
			ErrorClass: webhook.ClassConnection, Error: "connection refused", ResponseBody: []byte{0xff, 0x00, 'a'}}
		b, err := json.Marshal(a)
		require.NoError(t, err)
		f := jsonFields(t, b)
		require.NotContains(t, f, "response_body")
		require.Equal(t, `"/wBh"`, string(f["response_body_base64"]))
		require.Equal(t, `"connection"`, string(f["error_class"]))
		var back webhook.Attempt
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, a, back)
	})

	t.Run("AttemptDurationOutOfRange", func(t *testing.T) {
		t.Parallel()
		var a webhook.Attempt
		require.Error(t, json.Unmarshal([]byte(`{"duration_ms":1e300}`), &a))
	})

	t.Run("RetryPolicyBadDuration", func(t *testing.T) {
		t.Parallel()
		var p webhook.RetryPolicy
		require.ErrorContains(t, json.Unmarshal([]byte(`{"schedule":["5s","soon"]}`), &p), "schedule[1]")
		require.ErrorContains(t, json.Unmarshal([]byte(`{"max_retry_after":"x"}`), &p), "max_retry_after")
	})

	t.Run("ZeroValuesOmitted", func(t *testing.T) {
		t.Parallel()
		b, err := json.Marshal(webhook.Delivery{ID: "dlv_1", State: webhook.StatePending})
		require.NoError(t, err)
		f := jsonFields(t, b)
		require.NotContains(t, f, "next_attempt_at")
		require.NotContains(t, f, "created_at")
		var back webhook.Delivery
		require.NoError(t, json.Unmarshal(b, &back))
		require.True(t, back.NextAttemptAt.IsZero())
	})
}
