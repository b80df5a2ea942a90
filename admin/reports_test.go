package admin

import (
	"crypto/sha256"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
)

// awaitReport records an attempt answered 202 on dl that awaits a report,
// then the receiver's running report with msg.
func (b *testBundle) awaitReport(dl webhook.Delivery, msg string) {
	b.t.Helper()
	now := b.clock.Now()
	leases, err := b.st.Lease(b.ctx, &webhook.LeaseParams{Owner: "test", Now: now.Add(time.Hour), Until: now.Add(2 * time.Hour), Limit: 1000})
	require.NoError(b.t, err)
	var mine webhook.LeaseRef
	var others []webhook.LeaseRef
	for _, l := range leases {
		if l.Delivery.ID == dl.ID {
			mine = webhook.LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token}
		} else {
			others = append(others, webhook.LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token})
		}
	}
	require.NotEmpty(b.t, mine.Token, "delivery %s not leased", dl.ID)
	require.NoError(b.t, b.st.Release(b.ctx, &webhook.ReleaseParams{Leases: others, Now: now}))
	hash := sha256.Sum256([]byte("token"))
	_, err = b.st.Complete(b.ctx, &webhook.CompleteParams{Now: now, Outcomes: []webhook.Outcome{{
		Lease: mine, State: webhook.StatePending, NextAttemptAt: now.Add(15 * time.Minute), AwaitTokenHash: hash[:],
		Attempts: []webhook.Attempt{{DeliveryID: dl.ID, Number: 1, StartedAt: now, StatusCode: http.StatusAccepted}},
	}}})
	require.NoError(b.t, err)
	_, err = b.st.Report(b.ctx, &webhook.ReportParams{DeliveryID: dl.ID, TokenHash: hash[:], Now: now.Add(time.Minute),
		Report: webhook.Report{Status: webhook.ReportRunning, Message: msg, Progress: 0.4},
		State:  webhook.StatePending, NextAttemptAt: now.Add(16 * time.Minute)})
	require.NoError(b.t, err)
}

func TestReports(t *testing.T) {
	t.Parallel()

	t.Run("APIListsReports", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.putEndpoint("ep_1", "")
		_, dls := b.emit("invoice.paid", "")
		b.awaitReport(dls[0], "loading rows")
		dl := decode[webhook.Delivery](t, b.do("GET", "/api/v1/deliveries/"+dls[0].ID, nil), http.StatusOK)
		require.True(t, dl.AwaitingReport)
		reps := decode[listing[webhook.Report]](t, b.do("GET", "/api/v1/deliveries/"+dls[0].ID+"/reports", nil), http.StatusOK)
		require.Len(t, reps.Items, 1)
		require.Equal(t, webhook.ReportRunning, reps.Items[0].Status)
		require.Equal(t, "loading rows", reps.Items[0].Message)
		require.InDelta(t, 0.4, reps.Items[0].Progress, 1e-9)
		require.Equal(t, 1, reps.Items[0].Attempt)
		require.Equal(t, http.StatusNotFound, b.do("GET", "/api/v1/deliveries/nope/reports", nil).StatusCode)
	})

	t.Run("ConsoleShowsReports", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		b.putEndpoint("ep_1", "")
		_, dls := b.emit("invoice.paid", "")
		page := body(t, b.do("GET", "/deliveries/"+dls[0].ID, nil))
		require.NotContains(t, page, "<h2>Reports</h2>")
		b.awaitReport(dls[0], "loading <rows>")
		page = body(t, b.do("GET", "/deliveries/"+dls[0].ID, nil))
		require.Contains(t, page, "Awaiting report until")
		require.Contains(t, page, "<h2>Reports</h2>")
		require.Contains(t, page, "loading &lt;rows&gt;")
		require.Contains(t, page, `<progress max="1" value="0.4">`)
		require.True(t, strings.Contains(page, ">running<"), page)
	})
}
