package boltstore

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	webhook "github.com/hooklet/webhook"
)

func TestPagesPerCommit(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "x.db"), &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Unix(1e9, 0)
	payload := []byte(`{"data":"` + strings.Repeat("x", 1010) + `"}`)
	n := 0
	for _, per := range []int{1, 64} {
		run := func(rounds int) {
			for range rounds {
				items := make([]webhook.EnqueueItem, per)
				for i := range items {
					id := fmt.Sprintf("%026d", n)
					n++
					items[i] = webhook.EnqueueItem{Event: webhook.Event{ID: "evt_" + id, Type: "x", Payload: payload},
						Deliveries: []webhook.Delivery{{ID: "dlv_" + id, EndpointID: "ep_1", NextAttemptAt: t0}}}
				}
				if err := st.Enqueue(context.Background(), &webhook.EnqueueParams{Items: items, Now: t0}); err != nil {
					t.Fatal(err)
				}
			}
		}
		run(2000 / per)
		before := st.db.Stats()
		run(100)
		after := st.db.Stats()
		d := after.Sub(&before)
		t.Logf("per=%d: pages/commit=%.1f writes/commit=%.1f spills/commit=%.1f", per,
			float64(d.TxStats.GetPageCount())/100, float64(d.TxStats.GetWrite())/100, float64(d.TxStats.GetSpill())/100)
	}
}
