package webhook_test

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/webhooktest"
)

// TestBlockedIsFinal delivers to a name that resolves to loopback with the
// dial guard on: the delivery fails at the first attempt, with an error
// that says how to allow the address, instead of retrying for a day.
func TestBlockedIsFinal(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	u, err := url.Parse(rc.URL)
	require.NoError(t, err)
	u.Host = "localhost:" + u.Port() // a name, not a literal: refused at dial time

	st := newSignalStore(t)
	clk := webhooktest.NewClock(epoch)
	d := newDispatcher(t, webhook.Config{Store: st, Test: webhook.TestConfig{Clock: clk}})
	ctx := context.Background()
	require.NoError(t, d.Start(ctx))
	require.NoError(t, d.PutEndpoint(ctx, webhook.Endpoint{ID: "ep", URL: u.String(), Secrets: []webhook.Secret{{Key: testSecret}}}))
	require.NoError(t, d.Emit(ctx, webhook.Event{ID: "evt_1", Type: "a", Payload: json.RawMessage(`{}`)}))

	o := st.nextOutcome(t)
	require.Equal(t, webhook.StateFailed, o.State, "a blocked address is not retried")
	require.True(t, o.NextAttemptAt.IsZero())
	require.Len(t, o.Attempts, 1)
	require.Equal(t, webhook.ClassBlocked, o.Attempts[0].ErrorClass)
	require.Contains(t, o.Attempts[0].Error, "AllowPrivateNetworks")
	require.Empty(t, rc.reqs, "the receiver was never reached")

	page, err := d.Deliveries(ctx, &webhook.ListDeliveriesParams{EventID: "evt_1"})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	require.Equal(t, webhook.StateFailed, page.Items[0].State)
	require.Equal(t, 1, page.Items[0].Attempts)
	require.Contains(t, page.Items[0].LastError, "AllowPrivateNetworks")

	// Nothing else is due, however long one waits.
	clk.Advance(30 * time.Hour)
	select {
	case o := <-st.outcomes:
		t.Fatalf("a blocked delivery was attempted again: %+v", o)
	default:
	}
}

// TestPutEndpointRefusesPrivateLiteral refuses, at the door, a URL whose
// host is a literal address the dial guard would refuse, unless private
// networks are allowed.
func TestPutEndpointRefusesPrivateLiteral(t *testing.T) {
	t.Parallel()
	guarded := newDispatcher(t, webhook.Config{Store: newSignalStore(t)})
	open := newDispatcher(t, webhook.Config{Store: newSignalStore(t), AllowPrivateNetworks: true})
	for _, raw := range []string{
		"http://127.0.0.1:8080/hook",
		"http://127.1.2.3/hook",
		"http://[::1]:8080/hook",
		"https://10.0.0.1/hook",
		"https://192.168.1.10/hook",
		"http://169.254.169.254/latest/meta-data",
		"http://[fd00:ec2::254]/",
		"http://[::ffff:127.0.0.1]/",
		"http://[::7f00:1]/",
		"http://[2001::80ff:fffe]/",
		"http://[64:ff9b:1:7f00:0:100::]/",
		"http://[fe80::1%25eth0]/",
		"http://0.0.0.0/",
	} {
		ep := webhook.Endpoint{ID: "ep", URL: raw, Secrets: []webhook.Secret{{Key: testSecret}}}
		err := guarded.PutEndpoint(t.Context(), ep)
		requireInvalid(t, err, webhook.ErrInvalidEndpoint, "URL")
		require.Contains(t, err.Error(), "AllowPrivateNetworks", raw)
		require.NoError(t, open.PutEndpoint(t.Context(), ep), raw)
	}
	for _, raw := range []string{
		"https://93.184.216.34/hook",
		"https://[2606:2800:220:1::1]/hook",
		"https://hooks.example.com/hook",
		"http://localhost:8080/hook", // a name: the dial guard decides
	} {
		ep := webhook.Endpoint{ID: "ep", URL: raw, Secrets: []webhook.Secret{{Key: testSecret}}}
		require.NoError(t, guarded.PutEndpoint(t.Context(), ep), raw)
	}
}
