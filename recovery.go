package webhook

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// recoveryBatch is how many events or deliveries one store read returns
// during a backfill or a bulk redelivery; each batch is written before the
// next is read.
const recoveryBatch = 500

// Backfill creates deliveries to the endpoint endpointID for the stored
// events it would receive if they were emitted now and that have no
// delivery to it yet: the events emitted while it was disabled, before it
// was created, or before it subscribed to their type ("replay missing").
// It looks at the events stored at or after since (the time they were
// emitted; zero: every stored event) and matches them against the endpoint
// as it is now: enabled, tenant, event type patterns and [Endpoint.Filter],
// as an emit would. A stored filter that no longer compiles yields its
// [*FilterError] and creates nothing. It returns how many
// deliveries it created; they are due at once, unordered even on an
// ordered endpoint (they would otherwise hold back its live sequences),
// and get the endpoint's whole retry schedule.
//
// Backfill is idempotent: running it again creates nothing for the events
// it already covered, and concurrent runs create each delivery once. It
// works in bounded batches, each one atomic; when it returns an error, the
// batches before it are kept, and running it again completes the work. A
// disabled endpoint matches no event: enable it first. A missing endpoint
// yields [ErrNotFound]; an empty ID an error wrapping [ErrInvalidParams].
// Events already pruned cannot be backfilled.
func (d *Dispatcher) Backfill(ctx context.Context, endpointID string, since time.Time) (int, error) {
	if d.isClosed() {
		return 0, ErrClosed
	}
	if endpointID == "" {
		return 0, fmt.Errorf("backfill: %w: empty endpoint ID", ErrInvalidParams)
	}
	ep, err := d.store.GetEndpoint(ctx, &GetEndpointParams{ID: endpointID})
	if err != nil {
		return 0, err
	}
	filter, err := compileFilter(ep.Filter)
	if err != nil {
		return 0, fmt.Errorf("backfill %s: %w", endpointID, err)
	}
	total := 0
	p := &ListEventsParams{Since: since, Limit: recoveryBatch}
	for {
		page, err := d.store.ListEvents(ctx, p)
		if err != nil {
			return total, err
		}
		now := d.clock.Now()
		var ds []Delivery
		for i := range page.Items {
			ev := &page.Items[i]
			if !ep.matches(ev) || filter != nil && !filter.Match(filterDocument(ev)) {
				continue
			}
			ds = append(ds, Delivery{
				ID:            ids.next("dlv_", now),
				EventID:       ev.ID,
				EndpointID:    ep.ID,
				OrderingKey:   ev.OrderingKey,
				State:         StatePending,
				NextAttemptAt: now,
				CreatedAt:     now,
				UpdatedAt:     now,
			})
		}
		if len(ds) > 0 {
			n, err := d.store.AddDeliveries(ctx, &AddDeliveriesParams{Deliveries: ds, Now: now})
			if err != nil {
				return total, err
			}
			total += n
			if n > 0 {
				d.engine.wake()
			}
		}
		if page.Next == "" {
			return total, nil
		}
		p.Cursor = page.Next
	}
}

// RedeliverOptions are the choices of [Dispatcher.RedeliverFailed]; nil
// means the zero value.
type RedeliverOptions struct {
	// FreshSchedule restarts the retry schedule of each redelivered
	// delivery: it gets every attempt of its endpoint's retry policy once
	// more, as a new delivery would (attempt numbers go on from those
	// already recorded). Without it, a redelivery goes on with the
	// schedule where it stopped: a delivery that used up its schedule
	// gets one attempt, and one that failed early for a reason retrying
	// cannot fix (a template error, a disabled endpoint, a 410) gets the
	// attempts it had left. Defaults to false.
	FreshSchedule bool
}

// RedeliverFailed sends again every failed delivery of the endpoint
// endpointID that failed at or after since (its last update; zero: every
// failed delivery), as [Dispatcher.Redeliver] does for one: each becomes
// pending, due at once, keeping its attempt history. It returns how many it
// made pending.
//
// It is idempotent: a delivery made pending is no longer failed, so running
// it again redelivers only what failed since. It works in bounded batches;
// when it returns an error, the redeliveries before it are kept. A missing
// endpoint yields [ErrNotFound]; an empty ID an error wrapping
// [ErrInvalidParams].
func (d *Dispatcher) RedeliverFailed(ctx context.Context, endpointID string, since time.Time, opts *RedeliverOptions) (int, error) {
	if d.isClosed() {
		return 0, ErrClosed
	}
	if endpointID == "" {
		return 0, fmt.Errorf("redeliver failed: %w: empty endpoint ID", ErrInvalidParams)
	}
	var o RedeliverOptions
	if opts != nil {
		o = *opts
	}
	if _, err := d.store.GetEndpoint(ctx, &GetEndpointParams{ID: endpointID}); err != nil {
		return 0, err
	}
	total := 0
	p := &ListDeliveriesParams{EndpointID: endpointID, State: StateFailed, Limit: recoveryBatch}
	for {
		page, err := d.store.ListDeliveries(ctx, p)
		if err != nil {
			return total, err
		}
		now := d.clock.Now()
		n := 0
		for _, dl := range page.Items {
			if dl.UpdatedAt.Before(since) {
				continue
			}
			err := d.store.Redeliver(ctx, &RedeliverParams{DeliveryID: dl.ID, Now: now, FreshSchedule: o.FreshSchedule})
			if errors.Is(err, ErrNotFound) {
				continue // pruned meanwhile
			}
			if err != nil {
				if n > 0 {
					d.engine.wake()
				}
				return total, fmt.Errorf("redeliver %s: %w", dl.ID, err)
			}
			n++
		}
		total += n
		if n > 0 {
			d.engine.wake()
		}
		if page.Next == "" {
			return total, nil
		}
		p.Cursor = page.Next
	}
}
