package boltstore

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"math"

	bolt "go.etcd.io/bbolt"

	webhook "github.com/hooklet/webhook"
)

var _ webhook.Reporter = (*Store)(nil)

// setAwait keeps hash as the token hash d's report must carry, or, when
// hash is empty, forgets the one d had. It sets d.AwaitingReport; the
// caller saves d.
func (q *queue) setAwait(d *webhook.Delivery, hash []byte) error {
	tokens := sp(q.tx, spaceAckTokens)
	if len(hash) > 0 {
		d.AwaitingReport = true
		return tokens.Put([]byte(d.ID), append([]byte{}, hash...))
	}
	if !d.AwaitingReport {
		return nil
	}
	d.AwaitingReport = false
	return tokens.Delete([]byte(d.ID))
}

// failLastAttempt marks d's last attempt, the one that awaited a report,
// failed as w says, and sets d.LastError; the caller saves d.
func failLastAttempt(attempts space, d *webhook.Delivery, w *webhook.AttemptFailure) error {
	d.LastError = w.Error
	if d.Attempts < 1 {
		return nil
	}
	k := attemptKey(d.ID, d.Attempts)
	v := attempts.Get(k)
	if v == nil {
		return nil
	}
	a, err := decodeAttempt(d.ID, d.Attempts, v)
	if err != nil {
		return corrupt("attempt", d.ID, err)
	}
	a.ErrorClass, a.Error = w.Class, w.Error
	return attempts.Put(k, encodeAttempt(nil, &a))
}

// reserve keeps deliveryID from being leased while a report on it is
// written, and reports false when it is leased. Every reserve that
// returns true ends with unreserve.
func (t *leaseTable) reserve(deliveryID string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, leased := t.byDelivery[deliveryID]; leased {
		return false
	}
	// A settling entry with no token: Lease passes over it, and no
	// Complete, Release or ExtendLeases can name it.
	t.byDelivery[deliveryID] = &heldLease{settling: true}
	return true
}

func (t *leaseTable) unreserve(deliveryID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.byDelivery, deliveryID)
}

// Report records a receiver's report on a delivery that awaits one with
// the token hash given, and applies it, in one durable transaction; see
// [webhook.Reporter]. A delivery leased (even past its lease) is refused.
func (s *Store) Report(ctx context.Context, p *webhook.ReportParams) (webhook.Delivery, error) {
	if err := s.begin(ctx); err != nil {
		return webhook.Delivery{}, err
	}
	refused := fmt.Errorf("boltstore: report on delivery %q: %w", p.DeliveryID, webhook.ErrReportRefused)
	if !s.leases.reserve(p.DeliveryID) {
		if err := s.view(func(tx *bolt.Tx) error {
			if sp(tx, spaceDeliveries).Get([]byte(p.DeliveryID)) == nil {
				return notFound("delivery", p.DeliveryID)
			}
			return nil
		}); err != nil {
			return webhook.Delivery{}, err
		}
		return webhook.Delivery{}, refused
	}
	defer s.leases.unreserve(p.DeliveryID)
	var out webhook.Delivery
	var reserved []string
	defer func() {
		for _, id := range reserved {
			s.leases.unreserve(id)
		}
	}()
	err := s.update(func(tx *bolt.Tx) error {
		q := newQueue(tx)
		d, ok, err := q.getDelivery(p.DeliveryID)
		if err != nil {
			return err
		}
		if !ok {
			return notFound("delivery", p.DeliveryID)
		}
		if !awaits(tx, &d, p) {
			return refused
		}
		if out, err = applyReport(tx, q, d, p); err != nil {
			return err
		}
		if p.Batch && d.BatchID != "" {
			// The batch's other members that await the same report, and
			// that no lease holds (a leased one's wait has ended).
			for _, id := range batchMembers(tx, d.BatchID) {
				if id == d.ID || !s.leases.reserve(id) {
					continue
				}
				reserved = append(reserved, id)
				m, ok, err := q.getDelivery(id)
				if err != nil {
					return err
				}
				if !ok || !awaits(tx, &m, p) {
					continue
				}
				if _, err := applyReport(tx, q, m, p); err != nil {
					return err
				}
			}
		}
		return q.fixHeads(p.Now)
	})
	if err != nil {
		return webhook.Delivery{}, err
	}
	return out, nil
}

// awaits reports whether d takes the report p: it awaits one under p's
// token hash and its wait has not ended.
func awaits(tx *bolt.Tx, d *webhook.Delivery, p *webhook.ReportParams) bool {
	return d.State == webhook.StatePending && d.AwaitingReport && p.Now.Before(d.NextAttemptAt) &&
		subtle.ConstantTimeCompare(sp(tx, spaceAckTokens).Get([]byte(d.ID)), p.TokenHash) == 1
}

// applyReport records p on d and applies it, in tx, and returns d as
// written.
func applyReport(tx *bolt.Tx, q *queue, d webhook.Delivery, p *webhook.ReportParams) (webhook.Delivery, error) {
	reports := sp(tx, spaceReports)
	rep := p.Report
	rep.DeliveryID, rep.Attempt, rep.ReceivedAt = d.ID, d.Attempts, p.Now
	rep.Number = lastNumber(reports, d.ID) + 1
	if err := reports.Put(attemptKey(d.ID, rep.Number), encodeReport(nil, &rep)); err != nil {
		return d, err
	}
	old := d
	d.UpdatedAt = p.Now
	if rep.Status == webhook.ReportRunning {
		d.NextAttemptAt = p.NextAttemptAt
	} else {
		if p.Failure != nil {
			if err := failLastAttempt(sp(tx, spaceAttempts), &d, p.Failure); err != nil {
				return d, err
			}
		}
		if err := q.setAwait(&d, nil); err != nil {
			return d, err
		}
		d.State = p.State
		if d.State == webhook.StatePending {
			d.NextAttemptAt = p.NextAttemptAt
		}
	}
	if err := q.save(&old, &d); err != nil {
		return d, err
	}
	if d.Ordered && d.State.Finished() {
		if err := q.leaveSequence(&d); err != nil {
			return d, err
		}
	}
	return d, nil
}

// lastNumber returns the number of the last record keyed (prefix(id),
// number) in b, 0 when there is none.
func lastNumber(b space, id string) int {
	prefix := prefixKey(id)
	last := b.key(attemptKey(id, math.MaxUint32))
	c := b.b.Cursor()
	k, _ := c.Seek(last)
	switch {
	case k == nil:
		k, _ = c.Last()
	case !bytes.Equal(k, last):
		k, _ = c.Prev()
	}
	if len(k) != 1+len(prefix)+4 || k[0] != b.tag || !bytes.HasPrefix(k[1:], prefix) {
		return 0
	}
	return int(binary.BigEndian.Uint32(k[1+len(prefix):]))
}

// ListReports returns one delivery's reports in the order they were
// recorded. The cursor is the number of the last report of the previous
// page. A missing delivery is an error wrapping [webhook.ErrNotFound].
func (s *Store) ListReports(ctx context.Context, p *webhook.ListReportsParams) (webhook.Page[webhook.Report], error) {
	var page webhook.Page[webhook.Report]
	if err := s.begin(ctx); err != nil {
		return page, err
	}
	after, err := numberCursor("reports", p.Cursor)
	if err != nil {
		return page, err
	}
	limit := webhook.PageLimit(p.Limit)
	err = s.view(func(tx *bolt.Tx) error {
		page = webhook.Page[webhook.Report]{Items: []webhook.Report{}}
		return listNumbered(tx, spaceReports, "report", p.DeliveryID, after, limit, &page, decodeReport,
			func(r *webhook.Report) int { return r.Number })
	})
	return page, err
}
