package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/boltstore"
	"github.com/hooklet/webhook/webhooktest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fixture is a bbolt file with two endpoints and three deliveries: one
// succeeded, one failed after two attempts, one pending. The store is
// closed again, as the host's would be.
type fixture struct {
	path             string
	failed, pending  string
	succeeded, event string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	ctx := context.Background()
	f := fixture{path: filepath.Join(t.TempDir(), "hooklet.db")}
	st, err := boltstore.Open(f.path, nil)
	require.NoError(t, err)
	now := time.Now().Add(-time.Hour).Truncate(time.Second)
	d, err := webhook.New(webhook.Config{Store: st, Test: webhook.TestConfig{Clock: webhooktest.NewClock(now)}})
	require.NoError(t, err)
	for _, ep := range []webhook.Endpoint{
		{ID: "ep_billing", Tenant: "acme", URL: "https://example.com/billing", EventTypes: []string{"invoice.*"}},
		{ID: "ep_crm", URL: "https://example.com/crm", EventTypes: []string{"customer.*"}, Disabled: true},
	} {
		ep.Secrets = []webhook.Secret{webhook.NewSecret()}
		require.NoError(t, d.PutEndpoint(ctx, ep))
	}
	ids := map[string]string{}
	for _, typ := range []string{"invoice.paid", "invoice.failed", "invoice.sent"} {
		ev := webhook.Event{ID: "evt_" + typ, Type: typ, Tenant: "acme", Payload: json.RawMessage(`{"id":"in_1"}`)}
		require.NoError(t, d.Emit(ctx, ev))
		page, err := d.Deliveries(ctx, &webhook.ListDeliveriesParams{EventID: ev.ID})
		require.NoError(t, err)
		require.Len(t, page.Items, 1)
		ids[typ] = page.Items[0].ID
	}
	require.NoError(t, d.Close(ctx))
	f.succeeded, f.failed, f.pending, f.event = ids["invoice.paid"], ids["invoice.failed"], ids["invoice.sent"], "evt_invoice.failed"

	// Record attempts as the engine would.
	complete := func(id string, a webhook.Attempt, state webhook.DeliveryState) {
		leases, err := st.Lease(ctx, &webhook.LeaseParams{Owner: "t", Now: now.Add(time.Hour), Until: now.Add(2 * time.Hour), Limit: 10})
		require.NoError(t, err)
		var refs []webhook.LeaseRef
		var mine webhook.LeaseRef
		for _, l := range leases {
			if l.Delivery.ID == id {
				mine = webhook.LeaseRef{DeliveryID: id, Token: l.Token}
			} else {
				refs = append(refs, webhook.LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token})
			}
		}
		require.NotEmpty(t, mine.Token)
		a.DeliveryID, a.StartedAt = id, now
		_, err = st.Complete(ctx, &webhook.CompleteParams{Now: now, Outcomes: []webhook.Outcome{{Lease: mine,
			Attempts: []webhook.Attempt{a}, State: state, NextAttemptAt: now.Add(time.Minute)}}})
		require.NoError(t, err)
		require.NoError(t, st.Release(ctx, &webhook.ReleaseParams{Leases: refs, Now: now}))
	}
	complete(f.succeeded, webhook.Attempt{Number: 1, StatusCode: 200, Duration: 12 * time.Millisecond, ResponseBody: []byte("ok")}, webhook.StateSucceeded)
	complete(f.failed, webhook.Attempt{Number: 1, StatusCode: 503, Error: "503 Service Unavailable", ResponseBody: []byte("try\tlater")}, webhook.StatePending)
	complete(f.failed, webhook.Attempt{Number: 2, ErrorClass: webhook.ClassTimeout, Error: "timeout", Duration: 15 * time.Second}, webhook.StateFailed)
	require.NoError(t, st.Close())
	return f
}

// hooklet runs the CLI and returns its exit code, stdout and stderr.
func hooklet(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCLI(t *testing.T) {
	t.Parallel()

	t.Run("Endpoints", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		code, out, errOut := hooklet(t, "-db", f.path, "endpoints")
		require.Equal(t, 0, code, errOut)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		require.Len(t, lines, 3)
		require.Regexp(t, `^ID\s+TENANT\s+URL\s+EVENT TYPES\s+STATUS\s+UPDATED$`, lines[0])
		require.Regexp(t, `^ep_billing\s+acme\s+https://example.com/billing\s+invoice\.\*\s+enabled\s+\d{4}-`, lines[1])
		require.Regexp(t, `^ep_crm\s+-\s+https://example.com/crm\s+customer\.\*\s+disabled\s+`, lines[2])
		// Columns are aligned.
		require.Equal(t, strings.Index(lines[0], "URL"), strings.Index(lines[1], "https://"))

		code, out, _ = hooklet(t, "endpoints", "-tenant", "acme", "-db", f.path, "--json")
		require.Equal(t, 0, code)
		var l struct {
			Items []map[string]any `json:"items"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &l))
		require.Len(t, l.Items, 1)
		require.Equal(t, "ep_billing", l.Items[0]["id"])
		require.NotContains(t, out, "whsec_", "secrets stay redacted")
	})

	t.Run("Deliveries", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		code, out, errOut := hooklet(t, "-db", f.path, "deliveries", "-state", "failed")
		require.Equal(t, 0, code, errOut)
		require.Contains(t, out, f.failed)
		require.NotContains(t, out, f.succeeded)
		require.Regexp(t, f.failed+`\s+evt_invoice.failed\s+ep_billing\s+failed\s+2\s+timeout`, out)

		code, out, errOut = hooklet(t, "-db", f.path, "-json", "deliveries", "-endpoint", "ep_billing", "-limit", "2")
		require.Equal(t, 0, code, errOut)
		var l struct {
			Items []map[string]any `json:"items"`
			Next  string           `json:"next"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &l))
		require.Len(t, l.Items, 2)
		require.NotEmpty(t, l.Next)
		code, _, errOut = hooklet(t, "-db", f.path, "deliveries", "-limit", "2")
		require.Equal(t, 0, code)
		require.Contains(t, errOut, "more: -cursor ")

		code, _, errOut = hooklet(t, "-db", f.path, "deliveries", "-state", "lost")
		require.Equal(t, 2, code)
		require.Contains(t, errOut, "-state must be")

		code, out, errOut = hooklet(t, "-db", f.path, "deliveries", "-type", "invoice.failed")
		require.Equal(t, 0, code, errOut)
		require.Contains(t, out, f.failed)
		require.NotContains(t, out, f.succeeded)
	})

	t.Run("DeliveryWithAttempts", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		code, out, errOut := hooklet(t, "-db", f.path, "delivery", f.failed)
		require.Equal(t, 0, code, errOut)
		require.Regexp(t, `state\s+failed`, out)
		require.Regexp(t, `event\s+evt_invoice.failed invoice.failed`, out)
		require.Regexp(t, `1\s+\S+ \S+\s+503\s+0s\s+-\s+503 Service Unavailable\s+try later`, out)
		require.Regexp(t, `2\s+\S+ \S+\s+-\s+15s\s+timeout\s+timeout`, out)

		code, out, _ = hooklet(t, "delivery", f.failed, "-db", f.path, "-json")
		require.Equal(t, 0, code)
		var v struct {
			Delivery webhook.Delivery  `json:"delivery"`
			Event    webhook.Event     `json:"event"`
			Attempts []webhook.Attempt `json:"attempts"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &v))
		require.Equal(t, f.failed, v.Delivery.ID)
		require.Equal(t, "invoice.failed", v.Event.Type)
		require.Len(t, v.Attempts, 2)
		require.Equal(t, "try\tlater", string(v.Attempts[0].ResponseBody))

		code, _, errOut = hooklet(t, "-db", f.path, "delivery", "dlv_missing")
		require.Equal(t, 1, code)
		require.Contains(t, errOut, "not found")
	})

	t.Run("DeliveryWithReports", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		ctx := context.Background()
		st, err := boltstore.Open(f.path, nil)
		require.NoError(t, err)
		now := time.Now().Truncate(time.Second)
		leases, err := st.Lease(ctx, &webhook.LeaseParams{Owner: "t", Now: now, Until: now.Add(time.Hour), Limit: 1})
		require.NoError(t, err)
		require.Len(t, leases, 1)
		require.Equal(t, f.pending, leases[0].Delivery.ID)
		hash := []byte("0123456789abcdef0123456789abcdef")
		_, err = st.Complete(ctx, &webhook.CompleteParams{Now: now, Outcomes: []webhook.Outcome{{
			Lease: webhook.LeaseRef{DeliveryID: f.pending, Token: leases[0].Token}, State: webhook.StatePending,
			Attempts:      []webhook.Attempt{{DeliveryID: f.pending, Number: 1, StartedAt: now, StatusCode: 202}},
			NextAttemptAt: now.Add(time.Hour), AwaitTokenHash: hash}}})
		require.NoError(t, err)
		_, err = st.Report(ctx, &webhook.ReportParams{DeliveryID: f.pending, TokenHash: hash, Now: now,
			Report: webhook.Report{Status: webhook.ReportRunning, Message: "loading rows", Progress: 0.25},
			State:  webhook.StatePending, NextAttemptAt: now.Add(time.Hour)})
		require.NoError(t, err)
		require.NoError(t, st.Close())

		code, out, errOut := hooklet(t, "-db", f.path, "delivery", f.pending)
		require.Equal(t, 0, code, errOut)
		require.Regexp(t, `awaiting report until\s+\S+`, out)
		require.Regexp(t, `1\s+\S+ \S+\s+1\s+running\s+25%\s+loading rows`, out)
		code, out, _ = hooklet(t, "-db", f.path, "delivery", f.pending, "-json")
		require.Equal(t, 0, code)
		var v struct {
			Reports []webhook.Report `json:"reports"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &v))
		require.Len(t, v.Reports, 1)
		require.Equal(t, "loading rows", v.Reports[0].Message)
	})

	t.Run("Redeliver", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		code, out, errOut := hooklet(t, "-db", f.path, "redeliver", f.failed)
		require.Equal(t, 0, code, errOut)
		require.Equal(t, "redelivered "+f.failed+"\n", out)
		code, out, _ = hooklet(t, "-db", f.path, "-json", "deliveries", "-state", "pending")
		require.Equal(t, 0, code)
		require.Contains(t, out, f.failed)
	})

	t.Run("RedeliverFailed", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		code, out, _ := hooklet(t, "-db", f.path, "redeliver-failed", "-endpoint", "ep_billing", "-since", "1m")
		require.Equal(t, 0, code)
		require.Equal(t, "redelivered 0 failed deliveries of ep_billing\n", out)
		code, out, errOut := hooklet(t, "-db", f.path, "redeliver-failed", "-endpoint", "ep_billing", "-since", "24h", "-json", "-fresh-schedule")
		require.Equal(t, 0, code, errOut)
		require.JSONEq(t, `{"redelivered":1}`, out)
		code, out, _ = hooklet(t, "-db", f.path, "-json", "delivery", f.failed)
		require.Equal(t, 0, code)
		var v struct {
			Delivery webhook.Delivery `json:"delivery"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &v))
		require.Equal(t, webhook.StatePending, v.Delivery.State)
		require.Equal(t, 2, v.Delivery.ScheduleStart, "the schedule restarts after its 2 attempts")
		code, _, errOut = hooklet(t, "-db", f.path, "redeliver-failed")
		require.Equal(t, 2, code)
		require.Contains(t, errOut, "-endpoint is required")
		code, _, errOut = hooklet(t, "-db", f.path, "redeliver-failed", "-endpoint", "ep_billing", "-since", "yesterday")
		require.Equal(t, 2, code)
		require.Contains(t, errOut, "RFC 3339")
	})

	t.Run("Prune", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		code, out, _ := hooklet(t, "-db", f.path, "prune", "-age", "720h")
		require.Equal(t, 0, code)
		require.Equal(t, "pruned 0 deliveries\n", out)
		code, out, errOut := hooklet(t, "-db", f.path, "prune", "-age", "1m")
		require.Equal(t, 0, code, errOut)
		require.Equal(t, "pruned 2 deliveries\n", out, "the finished ones; the pending one stays")
	})

	t.Run("Usage", func(t *testing.T) {
		t.Parallel()
		code, _, errOut := hooklet(t)
		require.Equal(t, 2, code)
		require.Contains(t, errOut, "usage: hooklet")
		code, _, errOut = hooklet(t, "-db", "x.db", "frobnicate")
		require.Equal(t, 2, code)
		require.Contains(t, errOut, `unknown command "frobnicate"`)
		code, _, errOut = hooklet(t, "endpoints")
		require.Equal(t, 2, code)
		require.Contains(t, errOut, "give -db FILE or -pg DSN")
		code, _, _ = hooklet(t, "-db", "a", "-pg", "b", "endpoints")
		require.Equal(t, 2, code)
	})

	t.Run("Serve", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		ctx, cancel := context.WithCancel(context.Background())
		out := &syncBuffer{lines: make(chan string, 10)}
		done := make(chan int, 1)
		go func() { done <- run(ctx, []string{"-db", f.path, "serve", "-addr", "127.0.0.1:0"}, out, out) }()
		var line string
		select {
		case line = <-out.lines:
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not start")
		}
		url := strings.TrimSpace(strings.TrimPrefix(line, "serving the admin console on "))
		res, err := httpGet(url + "api/v1/deliveries?state=failed")
		require.NoError(t, err)
		require.Contains(t, res, f.failed)
		cancel()
		require.Equal(t, 0, <-done)
	})
}
