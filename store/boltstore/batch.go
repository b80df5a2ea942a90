package boltstore

import (
	"context"
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"

	webhook "github.com/hooklet/webhook"
)

var _ webhook.Batcher = (*Store)(nil)

// Batches. A pending delivery of a formed batch has an entry in
// spaceBatches, written in the same transaction as its record, so a
// batch survives a crash whole. The lease table also keeps, in memory,
// the batch of every delivery this process formed or found at Open
// (batched): Lease looks a candidate up there, without a read, and then
// reads the batch's pending members from spaceBatches, which decides.
// Entries of deliveries that are no longer pending members are dropped
// when Complete ends them, or when Lease finds them out of date.

// indexBatch moves d's entry in spaceBatches from where old had it: a
// pending delivery with a BatchID has one.
func (q *queue) indexBatch(old, d *webhook.Delivery) error {
	in := func(x *webhook.Delivery) bool { return x != nil && x.BatchID != "" && !x.State.Finished() }
	switch {
	case in(old) && in(d) && old.BatchID == d.BatchID:
		return nil
	case in(old):
		if err := sp(q.tx, spaceBatches).Delete(batchKey(old.BatchID, old.ID)); err != nil {
			return err
		}
	}
	if in(d) {
		return sp(q.tx, spaceBatches).Put(batchKey(d.BatchID, d.ID), nil)
	}
	return nil
}

// batchMembers returns the pending members of batch id, in ID order.
func batchMembers(tx *bolt.Tx, id string) []string {
	prefix := prefixKey(id)
	var out []string
	c := sp(tx, spaceBatches).Cursor()
	for k, _ := c.Seek(prefix); hasPrefix(k, prefix); k, _ = c.Next() {
		out = append(out, string(k[len(prefix):]))
	}
	return out
}

// loadBatches fills the lease table's batched map from spaceBatches.
func (t *leaseTable) loadBatches(tx *bolt.Tx) {
	c := sp(tx, spaceBatches).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) < 2 {
			continue
		}
		n := int(k[0])<<8 | int(k[1])
		if len(k) < 2+n {
			continue
		}
		t.batched[string(k[2+n:])] = string(k[2 : 2+n])
	}
}

// forgetBatched drops the batch entries of deliveries that ended.
func (t *leaseTable) forgetBatched(ids []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range ids {
		delete(t.batched, id)
	}
}

// errNotMember aborts a FormBatch whose member is no longer pending.
var errNotMember = errors.New("not a pending delivery")

// FormBatch records that the held deliveries of p.Leases form the batch
// p.BatchID, in one durable transaction, and extends their leases; when
// a lease is stale, or its delivery is not pending, it writes nothing and
// lists the stale ones.
func (s *Store) FormBatch(ctx context.Context, p *webhook.FormBatchParams) (webhook.BatchResult, error) {
	var res webhook.BatchResult
	if err := s.begin(ctx); err != nil {
		return res, err
	}
	if len(p.Leases) == 0 {
		return res, nil
	}
	t := &s.leases
	claimed, _ := t.claim(p.Leases)
	for i, ref := range p.Leases {
		if !claimed[i] {
			res.Stale = append(res.Stale, ref)
		}
	}
	if len(res.Stale) > 0 {
		t.settle(p.Leases, claimed, false)
		return res, nil
	}
	var gone []webhook.LeaseRef
	err := s.update(func(tx *bolt.Tx) error {
		q := newQueue(tx)
		for _, ref := range p.Leases {
			d, ok, err := q.getDelivery(ref.DeliveryID)
			if err != nil {
				return err
			}
			if !ok || d.State != webhook.StatePending {
				gone = append(gone, ref)
				continue
			}
			// Only the record and the batch index change: the
			// delivery stays where it is in every other index.
			old := d
			d.BatchID = p.BatchID
			if err := q.indexBatch(&old, &d); err != nil {
				return err
			}
			if err := q.putDelivery(&d); err != nil {
				return err
			}
		}
		if len(gone) > 0 {
			return errNotMember
		}
		return nil
	})
	// The leases stay held; once the batch is written they are extended
	// and known as members, before any Lease can see them unclaimed.
	t.mu.Lock()
	for i, ref := range p.Leases {
		l := t.byDelivery[ref.DeliveryID]
		if !claimed[i] || l == nil {
			continue
		}
		l.settling = false
		if err == nil {
			l.until = p.Until
			t.batched[ref.DeliveryID] = p.BatchID
		}
	}
	t.mu.Unlock()
	if errors.Is(err, errNotMember) {
		return webhook.BatchResult{Stale: gone}, nil
	}
	return res, err
}

// batchCandidates returns the members of the batch that delivery id
// belongs to, when it is a pending member of one: all of them when none is
// held by a live lease at now (ok), none otherwise. A delivery that is not
// a member returns batch "". The caller holds t.mu.
func (t *leaseTable) batchCandidates(tx *bolt.Tx, id string, now time.Time) (batch string, members []string, ok bool) {
	batch, known := t.batched[id]
	if !known {
		return "", nil, true
	}
	members = batchMembers(tx, batch)
	member := false
	for _, m := range members {
		member = member || m == id
	}
	if !member {
		delete(t.batched, id)
		return "", nil, true
	}
	for _, m := range members {
		if t.blocks([]byte(m), now) {
			return batch, nil, false
		}
	}
	return batch, members, true
}
