package webhook

import (
	"context"
	"time"
)

// runBatch sends a batch unit in its lane: the lane learns from the one
// request as from any attempt, and every member's outcome is recorded in
// one store call.
func (e *deliveryEngine) runBatch(ln *lane, u *batchUnit, start time.Time, probe bool) {
	defer e.wg.Done()
	e.mu.Lock()
	// A lapsed lease leased again by this engine carries a new token.
	for i := range u.leases {
		if h, ok := e.held[u.leases[i].Delivery.ID]; ok {
			u.leases[i].Token = h.Token
		}
	}
	maxBytes := ln.cfg.batch.MaxBytes
	e.mu.Unlock()
	if maxBytes == 0 {
		maxBytes = BatchMaxBytesMax // the endpoint stopped batching
	}

	res := e.attemptBatch(e.runCtx, u, maxBytes, e.formBatch)

	e.mu.Lock()
	for i := range res.outcomes {
		if h, ok := e.held[res.outcomes[i].Lease.DeliveryID]; ok {
			res.outcomes[i].Lease.Token = h.Token
		}
	}
	back := make(map[string]bool, len(res.back))
	for _, l := range res.back {
		back[l.Delivery.ID] = true
	}
	for _, l := range u.leases {
		if !back[l.Delivery.ID] {
			delete(e.active, l.Delivery.ID)
		}
	}
	for _, r := range res.lost {
		if h, ok := e.held[r.DeliveryID]; ok && h.Token == r.Token {
			delete(e.held, r.DeliveryID)
		}
	}
	now := e.clock.Now()
	if res.lineEst > 0 {
		ln.lineEst = res.lineEst
	}
	if len(res.back) > 0 {
		e.regatherLocked(ln, res.back, now)
	}
	ev, toRelease := e.finishLocked(ln, start, now, probe, res.rep)
	toRelease = append(toRelease, e.pumpLocked(now)...)
	e.mu.Unlock()

	e.release(res.release)
	e.completeBatch(res.outcomes)
	e.announceCircuit(u.leases[0].Delivery.EndpointID, ev)
	e.release(toRelease)
	e.wake()
}

// formBatch records a batch in the store, extending its members' leases.
func (e *deliveryEngine) formBatch(ctx context.Context, id string, refs []LeaseRef) ([]LeaseRef, error) {
	b, ok := e.store.(Batcher)
	if !ok {
		return nil, ErrBatchingUnsupported
	}
	now := e.clock.Now()
	res, err := b.FormBatch(ctx, &FormBatchParams{BatchID: id, Leases: refs, Now: now, Until: now.Add(e.limits.leaseDuration)})
	if err != nil {
		e.log.Warn("webhook: forming a batch", "batch_id", id, "count", len(refs), "error", err)
	}
	return res.Stale, err
}

// completeBatch records a batch's outcomes in one store call, so that a
// crash never records some members and not the others. When the store
// fails, the recorder takes them over, with its retries.
func (e *deliveryEngine) completeBatch(outs []Outcome) {
	if len(outs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := e.store.Complete(ctx, &CompleteParams{Outcomes: outs, Now: e.clock.Now()})
	if err != nil {
		e.log.Warn("webhook: recording a batch", "count", len(outs), "error", err)
		for _, o := range outs {
			e.rec.add(o)
		}
		return
	}
	if len(res.Stale) > 0 {
		e.log.Warn("webhook: batch outcomes refused: leases lost", "count", len(res.Stale))
	}
	refs := make([]LeaseRef, len(outs))
	for i := range outs {
		refs[i] = outs[i].Lease
	}
	e.recorded(refs)
}
