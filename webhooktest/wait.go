package webhooktest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	webhook "github.com/hooklet/webhook"
)

// PollInterval is how often [WaitForDelivery] and [WaitForEvent] ask the
// Dispatcher again.
const PollInterval = 5 * time.Millisecond

// WaitForDelivery waits until the delivery deliveryID has finished
// (succeeded, failed or skipped; see [webhook.DeliveryState.Finished]) and
// returns it. It fails the test if that has not happened within timeout,
// or if the Dispatcher returns an error other than [webhook.ErrNotFound]
// (a delivery may not be visible yet). Call it from the test's goroutine.
//
// With a manual [Clock], a delivery that waits for a retry finishes only
// once the test advances the clock.
func WaitForDelivery(t testing.TB, d *webhook.Dispatcher, deliveryID string, timeout time.Duration) webhook.Delivery {
	t.Helper()
	var last webhook.Delivery
	err := poll(timeout, func(ctx context.Context) (bool, error) {
		del, err := d.Delivery(ctx, deliveryID)
		if errors.Is(err, webhook.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		last = del
		return del.State.Finished(), nil
	})
	if err != nil {
		t.Fatalf("webhooktest: delivery %s: %v (last seen: %s after %d attempts)", deliveryID, err, cmp.Or(string(last.State), "not found"), last.Attempts)
		return webhook.Delivery{}
	}
	return last
}

// WaitForEvent waits until the event eventID has deliveries and every one
// of them has finished, and returns them in ID order. It fails the test
// if that has not happened within timeout, or on an error from the
// Dispatcher. An event that matched no endpoint never has a delivery, so
// waiting for it fails. Call it from the test's goroutine.
func WaitForEvent(t testing.TB, d *webhook.Dispatcher, eventID string, timeout time.Duration) []webhook.Delivery {
	t.Helper()
	var all []webhook.Delivery
	pending := 0
	err := poll(timeout, func(ctx context.Context) (bool, error) {
		got, err := eventDeliveries(ctx, d, eventID)
		if err != nil {
			return false, err
		}
		all, pending = got, 0
		for _, del := range all {
			if !del.State.Finished() {
				pending++
			}
		}
		return len(all) > 0 && pending == 0, nil
	})
	if err != nil {
		t.Fatalf("webhooktest: event %s: %v (%d deliveries, %d pending)", eventID, err, len(all), pending)
		return nil
	}
	return all
}

// eventDeliveries lists every delivery of the event, all pages.
func eventDeliveries(ctx context.Context, d *webhook.Dispatcher, eventID string) ([]webhook.Delivery, error) {
	var all []webhook.Delivery
	p := &webhook.ListDeliveriesParams{EventID: eventID}
	for {
		page, err := d.Deliveries(ctx, p)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.Next == "" {
			return all, nil
		}
		p.Cursor = page.Next
	}
}

// poll calls done every PollInterval until it reports true or fails, for
// at most timeout.
func poll(timeout time.Duration, done func(ctx context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(PollInterval)
	defer tick.Stop()
	for {
		ok, err := done(ctx)
		if err != nil && ctx.Err() == nil {
			return err
		}
		if ok && err == nil {
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("not finished within %v", timeout)
		}
	}
}
