package boltstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/boltstore"
)

// payload1K is a JSON payload of about 1 KiB.
var payload1K = json.RawMessage(`{"data":"` + strings.Repeat("x", 1010) + `"}`)

func benchItem(n int) webhook.EnqueueItem {
	id := fmt.Sprintf("%026d", n)
	return webhook.EnqueueItem{
		Event: webhook.Event{ID: "evt_" + id, Type: "invoice.paid", Time: t0, Payload: payload1K},
		Deliveries: []webhook.Delivery{{
			ID: "dlv_" + id, EventID: "evt_" + id, EndpointID: "ep_1",
			State: webhook.StatePending, NextAttemptAt: t0, CreatedAt: t0, UpdatedAt: t0,
		}},
	}
}

// BenchmarkEnqueue measures durable Enqueue calls of one event with one
// delivery and a 1 KiB payload: one item per call (one commit each), and 64
// items per call (what the engine's group commit hands the store).
func BenchmarkEnqueue(b *testing.B) {
	for _, per := range []int{1, 64} {
		b.Run(fmt.Sprintf("Items%d", per), func(b *testing.B) {
			st, err := boltstore.Open(filepath.Join(b.TempDir(), "bench.db"), benchOpts)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			ctx := context.Background()
			n := 0
			items := make([]webhook.EnqueueItem, per)
			b.ResetTimer()
			for b.Loop() {
				for i := range items {
					items[i] = benchItem(n)
					n++
				}
				if err := st.Enqueue(ctx, &webhook.EnqueueParams{Items: items, Now: t0}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "items/s")
		})
	}
}

// BenchmarkLeaseComplete measures leasing 64 due deliveries and recording
// one attempt for each, in two transactions.
func BenchmarkLeaseComplete(b *testing.B) {
	st, err := boltstore.Open(filepath.Join(b.TempDir(), "bench.db"), benchOpts)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	n := 0
	fill := func(count int) {
		items := make([]webhook.EnqueueItem, 0, 1000)
		for range count {
			items = append(items, benchItem(n))
			n++
			if len(items) == cap(items) {
				if err := st.Enqueue(ctx, &webhook.EnqueueParams{Items: items, Now: t0}); err != nil {
					b.Fatal(err)
				}
				items = items[:0]
			}
		}
		if len(items) > 0 {
			if err := st.Enqueue(ctx, &webhook.EnqueueParams{Items: items, Now: t0}); err != nil {
				b.Fatal(err)
			}
		}
	}
	fill(64 * 100)
	done := 0
	b.ResetTimer()
	for b.Loop() {
		if n-done < 64 {
			b.StopTimer()
			fill(64 * 100)
			b.StartTimer()
		}
		now := t0.Add(time.Second)
		ls, err := st.Lease(ctx, &webhook.LeaseParams{Owner: "w", Now: now, Until: now.Add(time.Minute), Limit: 64})
		if err != nil {
			b.Fatal(err)
		}
		outs := make([]webhook.Outcome, len(ls))
		for i, l := range ls {
			outs[i] = webhook.Outcome{
				Lease:    webhook.LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token},
				Attempts: []webhook.Attempt{{StartedAt: now, StatusCode: 200, Duration: time.Millisecond}},
				State:    webhook.StateSucceeded,
			}
		}
		if _, err := st.Complete(ctx, &webhook.CompleteParams{Outcomes: outs, Now: now}); err != nil {
			b.Fatal(err)
		}
		done += len(ls)
	}
	b.ReportMetric(float64(done)/b.Elapsed().Seconds(), "deliveries/s")
}

var benchOpts = &boltstore.Options{NoSync: os.Getenv("HOOKLET_BENCH_NOSYNC") != ""}
