package webhook_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
)

// These tests run templates end to end through a Dispatcher.

func TestTemplatedDelivery(t *testing.T) {
	t.Parallel()

	t.Run("LyticsTemplateWithSettings", func(t *testing.T) {
		t.Parallel()
		b := setup(t, webhook.Config{Transformer: webhook.NewJsonnetTransformer(webhook.JsonnetOptions{Timeout: time.Minute})})
		rc := newReceiver(t, nil)
		b.addEndpoint(t, "ep", rc.URL, func(e *webhook.Endpoint) {
			e.Template = lyticsSettingsTemplate
			e.Settings = json.RawMessage(`{"api_key":"k-9"}`)
		})
		require.NoError(t, b.d.Emit(b.ctx, webhook.Event{Type: "user.entered", Payload: json.RawMessage(lyticsPayload)}))

		req := rc.next(t)
		require.JSONEq(t, `{"api_key":"k-9","list":"default","subscribers":[{"email":"ada@example.com","segments":["vip","trial"]}]}`, string(req.Body))
		require.Equal(t, "application/json", req.Header.Get("Content-Type"))
		require.Equal(t, webhook.StateSucceeded, b.nextOutcome(t).State)
	})

	t.Run("StringBodyWithEndpointContentType", func(t *testing.T) {
		t.Parallel()
		b := setup(t, webhook.Config{Transformer: webhook.NewJsonnetTransformer(webhook.JsonnetOptions{Timeout: time.Minute})})
		rc := newReceiver(t, nil)
		b.addEndpoint(t, "ep", rc.URL, func(e *webhook.Endpoint) {
			e.Template = `local e = import "hooklet.libsonnet"; std.join("", [std.manifestJsonMinified(s) + "\n" for s in e.get("segment_events")])`
			e.ContentType = "application/x-ndjson"
		})
		require.NoError(t, b.d.Emit(b.ctx, webhook.Event{Type: "user.entered", Payload: json.RawMessage(lyticsPayload)}))

		req := rc.next(t)
		require.Equal(t, "{\"enter\":\"2026-01-02T03:04:05Z\",\"segment\":\"vip\"}\n{\"enter\":\"2026-01-01T00:00:00Z\",\"segment\":\"trial\"}\n", string(req.Body))
		require.Equal(t, "application/x-ndjson", req.Header.Get("Content-Type"))
	})

	t.Run("NullSkips", func(t *testing.T) {
		t.Parallel()
		b := setup(t, webhook.Config{Transformer: webhook.NewJsonnetTransformer(webhook.JsonnetOptions{Timeout: time.Minute})})
		rc := newReceiver(t, nil)
		b.addEndpoint(t, "ep", rc.URL, func(e *webhook.Endpoint) {
			e.Template = `local e = import "hooklet.libsonnet"; if e.type == "user.entered" then null else {t: e.type}`
		})
		ev := webhook.Event{ID: "evt_skip", Type: "user.entered", Payload: json.RawMessage(`{}`)}
		require.NoError(t, b.d.Emit(b.ctx, ev))
		require.Equal(t, webhook.StateSkipped, b.nextOutcome(t).State)
		require.Equal(t, webhook.StateSkipped, b.delivery(t, "evt_skip").State)

		require.NoError(t, b.d.Emit(b.ctx, webhook.Event{Type: "user.left", Payload: json.RawMessage(`{}`)}))
		require.JSONEq(t, `{"t":"user.left"}`, string(rc.next(t).Body))
	})

	t.Run("RuntimeErrorFailsWithoutRetry", func(t *testing.T) {
		t.Parallel()
		b := setup(t, webhook.Config{Transformer: webhook.NewJsonnetTransformer(webhook.JsonnetOptions{Timeout: time.Minute})})
		rc := newReceiver(t, nil)
		b.addEndpoint(t, "ep", rc.URL, func(e *webhook.Endpoint) {
			e.Template = "local e = import \"hooklet.libsonnet\";\n{ email: e.data.email }"
		})
		require.NoError(t, b.d.Emit(b.ctx, webhook.Event{ID: "evt_bad", Type: "t", Payload: json.RawMessage(`{}`)}))
		o := b.nextOutcome(t)
		require.Equal(t, webhook.StateFailed, o.State)
		require.Len(t, o.Attempts, 1)
		require.Equal(t, webhook.ClassTemplate, o.Attempts[0].ErrorClass)
		require.Contains(t, o.Attempts[0].Error, "template:2:10: Field does not exist: email")
	})

	t.Run("InvalidTemplateRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t, webhook.Config{Transformer: webhook.NewJsonnetTransformer(webhook.JsonnetOptions{})})
		err := b.d.PutEndpoint(b.ctx, webhook.Endpoint{Secrets: []webhook.Secret{{Key: testSecret}}, ID: "ep", URL: "http://127.0.0.1:1/", Template: "{\n  a: import \"/etc/passwd\" }"})
		require.ErrorIs(t, err, webhook.ErrInvalidEndpoint)
		require.ErrorIs(t, err, webhook.ErrInvalidTemplate)
		var te *webhook.TemplateError
		require.ErrorAs(t, err, &te)
		require.Equal(t, 2, te.Line)
		require.Equal(t, 6, te.Column)
		_, err = b.d.Endpoint(b.ctx, "ep")
		require.ErrorIs(t, err, webhook.ErrNotFound)
	})

	t.Run("RunawayTemplateDoesNotStopOthers", func(t *testing.T) {
		t.Parallel()
		const runaway = "local f(n) = f(n + 1) tailstrict; f(0)"
		// The plain template shares the timeout; 500 ms leaves it room on
		// a loaded machine.
		tr := webhook.NewJsonnetTransformer(webhook.JsonnetOptions{Timeout: 500 * time.Millisecond})
		b := setup(t, webhook.Config{Transformer: tr})
		slow := newReceiver(t, nil)
		fast := newReceiver(t, nil)
		b.addEndpoint(t, "runaway", slow.URL, func(e *webhook.Endpoint) { e.Template = runaway })
		b.addEndpoint(t, "plain", fast.URL, func(e *webhook.Endpoint) { e.Template = `{ok: true}` })

		for range 3 {
			require.NoError(t, b.d.Emit(b.ctx, webhook.Event{Type: "t", Payload: json.RawMessage(`{}`)}))
			require.JSONEq(t, `{"ok":true}`, string(fast.next(t).Body))
		}
		var failed []webhook.Attempt
		for range 6 {
			o := b.nextOutcome(t)
			if o.State == webhook.StateFailed {
				failed = append(failed, o.Attempts...)
			}
		}
		require.Len(t, failed, 3)
		for _, a := range failed {
			require.Equal(t, webhook.ClassTemplate, a.ErrorClass)
			require.Contains(t, a.Error, "time limit of 500ms")
		}
		require.Empty(t, slow.reqs)

		// The same, cached, disabled version: it fails at once.
		tmpl, err := tr.Compile(runaway)
		require.NoError(t, err)
		_, err = tmpl.Render(b.ctx, &webhook.RenderInput{Event: &webhook.Event{Type: "t"}})
		require.ErrorContains(t, err, "disabled until it is changed")
	})
}

func TestTemplateErrorMatching(t *testing.T) {
	t.Parallel()
	_, err := webhook.NewJsonnetTransformer(webhook.JsonnetOptions{}).Compile("{")
	require.True(t, errors.Is(err, webhook.ErrInvalidTemplate))
}
