package boltstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	webhook "github.com/hooklet/webhook"
)

// leaseTable holds the leases on pending deliveries. It lives in memory
// only: the file lock proves that no other process uses the file, and Open
// starts with no lease at all, so a lease never needs to outlive the
// process that holds it (see the package documentation). Leasing is thus a
// read transaction, and extending a lease touches no file.
//
// The due index keeps a delivery at its NextAttemptAt whether it is leased
// or not; Lease and NextDue pass over the entries the table holds.
//
// Lock order: mu, then a bbolt transaction. A Lease or NextDue begins its
// read transaction with mu held, so what it reads is never older than the
// table. Complete and Release mark their leases settling under mu, write
// without it, and drop the leases under mu once the write committed: in
// between, the leases block every other Lease, Complete and Release.
type leaseTable struct {
	mu          sync.Mutex
	byDelivery  map[string]*heldLease
	perEndpoint map[string]int // how many leases each endpoint's deliveries have
	// batched maps deliveries to the batch they were formed in; see
	// batch.go.
	batched map[string]string
}

// heldLease is the lease on one pending delivery.
type heldLease struct {
	endpointID string
	owner      string
	token      string
	until      time.Time
	// settling is set while a Complete or Release of the lease is being
	// written: the lease blocks Lease whatever its deadline, and no other
	// Complete or Release may claim it.
	settling bool
}

func newLeaseTable() leaseTable {
	return leaseTable{byDelivery: make(map[string]*heldLease), perEndpoint: make(map[string]int), batched: make(map[string]string)}
}

// blocks reports whether a lease keeps deliveryID from being leased at now:
// one that has not expired, or one being settled. The caller holds mu.
func (t *leaseTable) blocks(deliveryID []byte, now time.Time) bool {
	l := t.byDelivery[string(deliveryID)]
	return l != nil && (l.settling || now.Before(l.until))
}

// grant leases deliveryID to owner until until with a fresh token, taking
// over an expired lease if there is one. The caller holds mu.
func (t *leaseTable) grant(deliveryID, endpointID, owner string, until time.Time) string {
	token := newToken()
	if l := t.byDelivery[deliveryID]; l != nil {
		l.owner, l.token, l.until = owner, token, until
		return token
	}
	t.byDelivery[deliveryID] = &heldLease{endpointID: endpointID, owner: owner, token: token, until: until}
	t.perEndpoint[endpointID]++
	return token
}

// drop removes the lease on deliveryID. The caller holds mu.
func (t *leaseTable) drop(deliveryID string) {
	l := t.byDelivery[deliveryID]
	if l == nil {
		return
	}
	delete(t.byDelivery, deliveryID)
	if n := t.perEndpoint[l.endpointID] - 1; n > 0 {
		t.perEndpoint[l.endpointID] = n
	} else {
		delete(t.perEndpoint, l.endpointID)
	}
}

// revoke drops the leases granted with the given tokens that are still
// held with them.
func (t *leaseTable) revoke(granted []webhook.Lease) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range granted {
		id := granted[i].Delivery.ID
		if l := t.byDelivery[id]; l != nil && l.token == granted[i].Token && !l.settling {
			t.drop(id)
		}
	}
}

// held returns the lease a ref names when the ref's token is the one held.
// The caller holds mu.
func (t *leaseTable) held(ref webhook.LeaseRef) *heldLease {
	l := t.byDelivery[ref.DeliveryID]
	if l == nil || ref.Token == "" || l.token != ref.Token {
		return nil
	}
	return l
}

// claim marks settling the leases that refs name with their current token
// and that no other call is settling; claimed[i] reports whether refs[i]
// was marked. Every claim ends with settle.
func (t *leaseTable) claim(refs []webhook.LeaseRef) (claimed []bool, some bool) {
	claimed = make([]bool, len(refs))
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, ref := range refs {
		if l := t.held(ref); l != nil && !l.settling {
			l.settling = true
			claimed[i], some = true, true
		}
	}
	return claimed, some
}

// settle ends a claim: the claimed leases are dropped when the write
// committed, and held again, unmarked, when it did not.
func (t *leaseTable) settle(refs []webhook.LeaseRef, claimed []bool, committed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, ref := range refs {
		if !claimed[i] {
			continue
		}
		if committed {
			t.drop(ref.DeliveryID)
		} else if l := t.byDelivery[ref.DeliveryID]; l != nil {
			l.settling = false
		}
	}
}

// newToken returns a fresh random lease token.
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// Lease hands up to Limit due deliveries to Owner until Until, earliest due
// first, each with a fresh random token; a delivery whose lease expired
// comes back at its NextAttemptAt. A Limit of 0 or less leases nothing.
// Lease writes nothing to the file: leases are kept in memory (see the
// package documentation).
func (s *Store) Lease(ctx context.Context, p *webhook.LeaseParams) ([]webhook.Lease, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if p.Limit <= 0 {
		return nil, nil
	}
	exclude := excludeSet(p.ExcludeEndpoints)
	t := &s.leases
	var out []webhook.Lease
	t.mu.Lock()
	locked := true
	unlock := func() {
		if locked {
			locked = false
			t.mu.Unlock()
		}
	}
	defer unlock()
	err := s.view(func(tx *bolt.Tx) error {
		cands := scanDue(tx, p.Now, p.Limit, exclude, t)
		if len(cands) == 0 {
			return nil
		}
		out = make([]webhook.Lease, len(cands))
		for i, c := range cands {
			out[i] = webhook.Lease{
				Delivery: webhook.Delivery{ID: c.deliveryID},
				Token:    t.grant(c.deliveryID, c.endpointID, p.Owner, p.Until),
				Until:    p.Until,
			}
		}
		// The leases are taken; the records are read from this
		// transaction's snapshot without blocking other calls.
		unlock()
		return readLeased(tx, out)
	})
	unlock()
	if err != nil {
		t.revoke(out)
		return nil, err
	}
	return out, nil
}

// readLeased fills in the delivery and event of each lease, whose
// Delivery.ID is set.
func readLeased(tx *bolt.Tx, out []webhook.Lease) error {
	deliveries := sp(tx, spaceDeliveries)
	events := sp(tx, spaceEvents)
	evCache := make(map[string]webhook.Event, len(out))
	for i := range out {
		id := out[i].Delivery.ID
		v := deliveries.Get([]byte(id))
		if v == nil {
			return corrupt("due index entry", id, fmt.Errorf("delivery missing"))
		}
		d, err := decodeDelivery(id, v)
		if err != nil {
			return corrupt("delivery", id, err)
		}
		ev, ok := evCache[d.EventID]
		if !ok {
			v := events.Get([]byte(d.EventID))
			if v == nil {
				return corrupt("delivery", d.ID, fmt.Errorf("event %q missing", d.EventID))
			}
			r, err := decodeEventRecord(d.EventID, v, false)
			if err != nil {
				return corrupt("event", d.EventID, err)
			}
			ev = r.Event
			evCache[d.EventID] = ev
		} else {
			ev = ev.Clone()
		}
		out[i].Delivery, out[i].Event = d, ev
	}
	return nil
}

// ExtendLeases moves the deadline of the leases still held with the given
// tokens to Until; the others are listed in the result as stale. It
// writes nothing to the file.
func (s *Store) ExtendLeases(ctx context.Context, p *webhook.ExtendLeasesParams) (webhook.BatchResult, error) {
	var res webhook.BatchResult
	if err := s.begin(ctx); err != nil {
		return res, err
	}
	t := &s.leases
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, ref := range p.Leases {
		l := t.held(ref)
		if l == nil {
			res.Stale = append(res.Stale, ref)
			continue
		}
		l.until = p.Until
	}
	return res, nil
}

// Complete records the outcomes of leased deliveries in one durable
// transaction, and drops their leases once it committed. Attempts are
// stored numbered from the delivery's Attempts+1 in the order given;
// outcomes whose token is stale are listed in the result and nothing of
// them is written.
func (s *Store) Complete(ctx context.Context, p *webhook.CompleteParams) (webhook.BatchResult, error) {
	var res webhook.BatchResult
	if err := s.begin(ctx); err != nil {
		return res, err
	}
	if len(p.Outcomes) == 0 {
		return res, nil
	}
	refs := make([]webhook.LeaseRef, len(p.Outcomes))
	for i := range p.Outcomes {
		refs[i] = p.Outcomes[i].Lease
	}
	claimed, some := s.leases.claim(refs)
	if !some {
		res.Stale = refs
		return res, nil
	}
	err := s.update(func(tx *bolt.Tx) error {
		res = webhook.BatchResult{}
		q := newQueue(tx)
		attempts := sp(tx, spaceAttempts)
		// Attempts and the finished index are appended to, in ID and
		// time order: fill their pages.
		attempts.b.FillPercent = appendFillPercent
		for i := range p.Outcomes {
			o := &p.Outcomes[i]
			if !claimed[i] {
				res.Stale = append(res.Stale, o.Lease)
				continue
			}
			d, ok, err := q.getDelivery(o.Lease.DeliveryID)
			if err != nil {
				return err
			}
			if !ok || d.State != webhook.StatePending {
				res.Stale = append(res.Stale, o.Lease)
				continue
			}
			old := d
			for j := range o.Attempts {
				a := o.Attempts[j]
				d.Attempts++
				if err := attempts.putTagged(appendAttemptKey(attempts.tagged(), d.ID, d.Attempts), encodeAttempt(nil, &a)); err != nil {
					return err
				}
				d.LastStatusCode = a.StatusCode
				d.LastError = a.Error
			}
			if w := o.WaitEnded; w != nil && len(o.Attempts) == 0 {
				if err := failLastAttempt(attempts, &d, w); err != nil {
					return err
				}
			}
			if err := q.setAwait(&d, o.AwaitTokenHash); err != nil {
				return err
			}
			state := o.State
			if state == "" {
				state = webhook.StatePending
			}
			d.State = state
			d.UpdatedAt = p.Now
			if !state.Finished() {
				d.NextAttemptAt = o.NextAttemptAt
			}
			if err := q.save(&old, &d); err != nil {
				return err
			}
			if d.Ordered && state.Finished() {
				if err := q.leaveSequence(&d); err != nil {
					return err
				}
			}
		}
		return q.fixHeads(p.Now)
	})
	s.leases.settle(refs, claimed, err == nil)
	if err != nil {
		return webhook.BatchResult{}, err
	}
	var ended []string
	for i := range p.Outcomes {
		if claimed[i] && p.Outcomes[i].State.Finished() {
			ended = append(ended, p.Outcomes[i].Lease.DeliveryID)
		}
	}
	if len(ended) > 0 {
		s.leases.forgetBatched(ended)
	}
	return res, nil
}

// Release gives leased deliveries back without an attempt: they are due at
// Now, which is written to the file. Stale tokens are ignored.
func (s *Store) Release(ctx context.Context, p *webhook.ReleaseParams) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	claimed, some := s.leases.claim(p.Leases)
	if !some {
		return nil
	}
	err := s.update(func(tx *bolt.Tx) error {
		q := newQueue(tx)
		for i, ref := range p.Leases {
			if !claimed[i] {
				continue
			}
			d, ok, err := q.getDelivery(ref.DeliveryID)
			if err != nil {
				return err
			}
			if !ok || d.State != webhook.StatePending {
				continue
			}
			old := d
			d.NextAttemptAt = p.Now
			d.UpdatedAt = p.Now
			if err := q.save(&old, &d); err != nil {
				return err
			}
		}
		return q.fixHeads(p.Now)
	})
	s.leases.settle(p.Leases, claimed, err == nil)
	return err
}

// NextDue returns the earliest instant at which Lease with the same
// ExcludeEndpoints could return a delivery, and false when none is pending:
// the earliest NextAttemptAt of an unleased delivery, or lease deadline. It
// reads one index entry per excluded endpoint at most, plus one, plus one
// per endpoint whose deliveries were already due, plus the leased entries
// it steps over.
func (s *Store) NextDue(ctx context.Context, p *webhook.NextDueParams) (time.Time, bool, error) {
	if err := s.begin(ctx); err != nil {
		return time.Time{}, false, err
	}
	exclude := excludeSet(p.ExcludeEndpoints)
	var (
		at    time.Time
		found bool
	)
	earlier := func(t time.Time) {
		if !found || t.Before(at) {
			at, found = t, true
		}
	}
	t := &s.leases
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range t.byDelivery {
		if _, skip := exclude[l.endpointID]; !skip {
			earlier(l.until)
		}
	}
	err := s.view(func(tx *bolt.Tx) error {
		due := sp(tx, spaceEndpointIndex).Cursor()
		c := sp(tx, spaceHeadIndex).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			head := parseTime(k[:timeLen])
			if found && !head.Before(at) {
				return nil
			}
			ep := string(k[timeLen:])
			if _, skip := exclude[ep]; skip {
				continue
			}
			// The head may be earlier than the endpoint's first entry (see
			// fixHeads), and that entry may be leased: find the first
			// unleased one.
			leases := t.perEndpoint[ep]
			prefix := endpointPrefix(ep, subDue)
			for dk, _ := due.Seek(prefix); hasPrefix(dk, prefix); dk, _ = due.Next() {
				r := dk[len(prefix):]
				if leases == 0 {
					earlier(parseTime(r[:timeLen]))
					break
				}
				if _, leased := t.byDelivery[string(r[timeLen:])]; !leased {
					earlier(parseTime(r[:timeLen]))
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		return time.Time{}, false, err
	}
	return at, found, nil
}
