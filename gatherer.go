package webhook

import (
	"slices"
	"time"
)

// batchUnit is one batch on its way to an endpoint: the leases of its
// members, in the order they go in the body. In its lane's queue it stands
// as its first lease, the lead; lane.units maps the lead to the unit.
type batchUnit struct {
	id string
	// formed is set when the store already holds the batch: its members
	// were leased together, as a batch sent before. It is sent whole,
	// whatever its size.
	formed bool
	leases []Lease
}

// refs returns the lease refs of the unit's members.
func (u *batchUnit) refs() []LeaseRef {
	refs := make([]LeaseRef, len(u.leases))
	for i := range u.leases {
		refs[i] = LeaseRef{DeliveryID: u.leases[i].Delivery.ID, Token: u.leases[i].Token}
	}
	return refs
}

// envelopeOverhead estimates the bytes a line adds to an event's payload
// and type: the envelope's keys, the ID and the timestamp.
const envelopeOverhead = 96

// estimate guesses the size of l's line in a batch body: its payload and
// type plus the envelope, or the average line of the lane's last batch
// when that is larger (a template may render more than the payload).
func (ln *lane) estimate(l *Lease) int {
	return max(len(l.Event.Payload)+len(l.Event.Type)+len(l.Event.ID)+envelopeOverhead, ln.lineEst)
}

// The gather: a batched endpoint's lane gathers leased deliveries until a
// batch is full (by count or estimated bytes) or its oldest delivery has
// waited MaxWait; the batch is then queued as a unit, which one worker
// sends as one request. Gathering holds no worker: the leases wait in the
// lane, kept alive by the extender like queued ones. All of it runs with
// the engine's mutex held.

// gatherLocked adds l to the gather of its lane ln and queues the batches
// that are full.
func (e *deliveryEngine) gatherLocked(ln *lane, l Lease, now time.Time) {
	if len(ln.gather) == 0 {
		ln.gatherSince = now
	}
	ln.gather = append(ln.gather, l)
	ln.gatherBytes += ln.estimate(&l)
	e.cutLocked(ln, now, false)
}

// cutLocked queues the full batches of ln's gather; with flush, it queues
// what remains too.
func (e *deliveryEngine) cutLocked(ln *lane, now time.Time, flush bool) {
	p := ln.cfg.batch
	if !p.Enabled() {
		// The endpoint stopped batching: what was gathered goes as it is.
		flush = true
		p = p.withDefaults(0)
		p.MaxBytes = BatchMaxBytesMax
	}
	for len(ln.gather) > 0 {
		n, size := 0, 0
		for n < len(ln.gather) && n < p.MaxEvents {
			s := ln.estimate(&ln.gather[n])
			if n > 0 && size+s > p.MaxBytes {
				break
			}
			size += s
			n++
		}
		if n == len(ln.gather) && n < p.MaxEvents && !flush {
			return
		}
		u := &batchUnit{id: ids.next("batch_", now), leases: slices.Clone(ln.gather[:n])}
		clear(ln.gather[:n])
		ln.gather = ln.gather[n:]
		ln.gatherBytes -= size
		e.queueUnitLocked(ln, u)
	}
	ln.gather, ln.gatherBytes = nil, 0
}

// queueUnitLocked queues a batch in its lane.
func (e *deliveryEngine) queueUnitLocked(ln *lane, u *batchUnit) {
	if ln.units == nil {
		ln.units = map[string]*batchUnit{}
	}
	ln.units[u.leases[0].Delivery.ID] = u
	ln.queue = append(ln.queue, u.leases[0])
	e.busy[u.leases[0].Delivery.EndpointID] = ln
}

// flushGathersLocked queues the gathers that waited their MaxWait, and
// returns when the next one will have (zero: none waits).
func (e *deliveryEngine) flushGathersLocked(now time.Time) (wake time.Time) {
	for _, ln := range e.lanes {
		if len(ln.gather) == 0 {
			continue
		}
		due := ln.gatherSince.Add(ln.cfg.batch.MaxWait)
		if !ln.cfg.batch.Enabled() || !due.After(now) {
			e.cutLocked(ln, now, true)
			continue
		}
		if wake.IsZero() || due.Before(wake) {
			wake = due
		}
	}
	return wake
}

// gatherWake returns when the oldest gather will have waited its MaxWait
// (zero: none waits).
func (e *deliveryEngine) gatherWake() (wake time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ln := range e.lanes {
		if len(ln.gather) == 0 {
			continue
		}
		if due := ln.gatherSince.Add(ln.cfg.batch.MaxWait); wake.IsZero() || due.Before(wake) {
			wake = due
		}
	}
	return wake
}

// regatherLocked puts back, at the front of ln's gather, the members a
// batch could not hold once rendered (its lines outgrew MaxBytes); they go
// in the next batch, at once.
func (e *deliveryEngine) regatherLocked(ln *lane, back []Lease, now time.Time) {
	size := 0
	for i := range back {
		size += ln.estimate(&back[i])
	}
	ln.gather = append(slices.Clone(back), ln.gather...)
	ln.gatherBytes += size
	ln.gatherSince = now.Add(-ln.cfg.batch.MaxWait)
	e.busy[back[0].Delivery.EndpointID] = ln
}

// unitRefsLocked returns the refs of what a queued lease stands for: the
// members of its batch, or itself; the unit is dropped from the lane.
func unitRefsLocked(ln *lane, l *Lease) []LeaseRef {
	if u, ok := ln.units[l.Delivery.ID]; ok {
		delete(ln.units, l.Delivery.ID)
		return u.refs()
	}
	return []LeaseRef{{DeliveryID: l.Delivery.ID, Token: l.Token}}
}

// takeGather empties ln's gather and returns its leases, no longer active.
// Called with e.mu held.
func takeGather(e *deliveryEngine, ln *lane) []LeaseRef {
	refs := make([]LeaseRef, 0, len(ln.gather))
	for _, l := range ln.gather {
		refs = append(refs, LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token})
		delete(e.active, l.Delivery.ID)
	}
	ln.gather, ln.gatherBytes = nil, 0
	return refs
}

// dropStaleLocked removes from ln's gather and queued batches the leases
// another owner holds now (stale maps delivery IDs to stale tokens).
func (e *deliveryEngine) dropStaleLocked(ln *lane, stale map[string]string) {
	isStale := func(l Lease) bool {
		if tok, ok := stale[l.Delivery.ID]; ok && tok == l.Token {
			delete(e.active, l.Delivery.ID)
			return true
		}
		return false
	}
	ln.gather = slices.DeleteFunc(ln.gather, isStale)
	for lead, u := range ln.units {
		u.leases = slices.DeleteFunc(u.leases, isStale)
		if len(u.leases) > 0 && u.leases[0].Delivery.ID == lead {
			continue
		}
		// The lead is gone: queue the unit under its new lead, if any.
		delete(ln.units, lead)
		i := slices.IndexFunc(ln.queue, func(l Lease) bool { return l.Delivery.ID == lead })
		if len(u.leases) == 0 {
			if i >= 0 {
				ln.queue = slices.Delete(ln.queue, i, i+1)
			}
			continue
		}
		ln.units[u.leases[0].Delivery.ID] = u
		if i >= 0 {
			ln.queue[i] = u.leases[0]
		}
	}
}

// retokenLocked records that ln's gathered or batched lease of delivery id
// now carries token (our own lapsed lease, leased again).
func retokenLocked(ln *lane, id, token string) {
	for i := range ln.gather {
		if ln.gather[i].Delivery.ID == id {
			ln.gather[i].Token = token
		}
	}
	for _, u := range ln.units {
		for i := range u.leases {
			if u.leases[i].Delivery.ID == id {
				u.leases[i].Token = token
			}
		}
	}
}
