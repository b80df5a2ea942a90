package webhook

// lane is one endpoint's share of the engine: how many of its deliveries
// run, and those leased beyond its concurrency cap, waiting in order for a
// slot. The engine's mutex guards every lane.
type lane struct {
	running int
	queue   []Lease // leased beyond the cap, waiting for a slot
}

// dispatch starts leased deliveries in their lanes, queueing those beyond
// a lane's cap.
func (e *deliveryEngine) dispatch(leases []Lease) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, l := range leases {
		if _, ok := e.held[l.Delivery.ID]; ok {
			// Our own lease lapsed (an extension failed) and the store
			// handed the delivery back to us: keep the one copy we run or
			// queue, under the new token.
			e.held[l.Delivery.ID] = LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token}
			if ln := e.lanes[l.Delivery.EndpointID]; ln != nil {
				for i := range ln.queue {
					if ln.queue[i].Delivery.ID == l.Delivery.ID {
						ln.queue[i].Token = l.Token
					}
				}
			}
			continue
		}
		e.held[l.Delivery.ID] = LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token}
		id := l.Delivery.EndpointID
		ln := e.lanes[id]
		if ln == nil {
			ln = &lane{}
			e.lanes[id] = ln
		}
		if ln.running >= e.laneCap(id) {
			ln.queue = append(ln.queue, l)
			continue
		}
		ln.running++
		e.running++
		e.wg.Add(1)
		go e.runLane(l)
	}
}

// runLane attempts l, then whatever its lane queued, until the queue is
// empty.
func (e *deliveryEngine) runLane(l Lease) {
	defer e.wg.Done()
	for {
		out, release := e.attempt(e.runCtx, &l)
		out.Lease.Token = e.token(out.Lease)
		if release {
			e.release([]LeaseRef{out.Lease})
		} else {
			e.rec.add(out)
		}
		next, ok := e.next(l.Delivery.EndpointID)
		if !ok {
			return
		}
		l = next
	}
}

// next hands the lane's next queued lease to the calling goroutine, or
// frees its slot.
func (e *deliveryEngine) next(endpointID string) (Lease, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ln := e.lanes[endpointID]
	if len(ln.queue) > 0 && !e.stopping {
		l := ln.queue[0]
		ln.queue[0] = Lease{}
		ln.queue = ln.queue[1:]
		return l, true
	}
	ln.running--
	e.running--
	if ln.running == 0 && len(ln.queue) == 0 {
		delete(e.lanes, endpointID)
	}
	e.wake()
	return Lease{}, false
}
