package boltstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	webhook "github.com/hooklet/webhook"
)

// TestPagesPerCommit logs how many pages an Enqueue commit writes, in a
// steady state where deliveries are leased and completed as they come.
// Set HOOKLET_PAGE_STATS=1 to run it.
func TestPagesPerCommit(t *testing.T) {
	t.Parallel()
	if os.Getenv("HOOKLET_PAGE_STATS") == "" {
		return
	}
	st, err := Open(filepath.Join(t.TempDir(), "x.db"), &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	t0 := time.Unix(1e9, 0)
	payload := []byte(`{"data":"` + strings.Repeat("x", 1010) + `"}`)
	n := 0
	for _, per := range []int{1, 64} {
		var pages, writes int64
		var commits int64
		for round := range 20000/per + 300 {
			items := make([]webhook.EnqueueItem, per)
			for i := range items {
				id := fmt.Sprintf("%026d", n)
				n++
				items[i] = webhook.EnqueueItem{Event: webhook.Event{ID: "evt_" + id, Type: "x", Payload: payload},
					Deliveries: []webhook.Delivery{{ID: "dlv_" + id, EndpointID: "ep_1", NextAttemptAt: t0}}}
			}
			before := st.db.Stats()
			if err := st.Enqueue(ctx, &webhook.EnqueueParams{Items: items, Now: t0}); err != nil {
				t.Fatal(err)
			}
			after := st.db.Stats()
			if round >= 20000/per {
				d := after.Sub(&before)
				pages += d.TxStats.GetPageCount()
				writes += d.TxStats.GetWrite()
				commits++
			}
			ls, err := st.Lease(ctx, &webhook.LeaseParams{Now: t0, Until: t0.Add(time.Minute), Limit: per})
			if err != nil {
				t.Fatal(err)
			}
			outs := make([]webhook.Outcome, len(ls))
			for i, l := range ls {
				outs[i] = webhook.Outcome{Lease: webhook.LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token},
					Attempts: []webhook.Attempt{{StatusCode: 200}}, State: webhook.StateSucceeded}
			}
			if _, err := st.Complete(ctx, &webhook.CompleteParams{Outcomes: outs, Now: t0}); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("enqueue %d items: pages/commit=%.1f writes/commit=%.1f", per,
			float64(pages)/float64(commits), float64(writes)/float64(commits))
	}
}
