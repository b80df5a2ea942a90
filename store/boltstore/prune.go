package boltstore

import (
	"context"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	webhook "github.com/hooklet/webhook"
)

// Prune deletes up to Limit finished deliveries last updated before Before
// (failed ones before FailedBefore, when set), oldest first, with their attempts, and the events left with no delivery
// that were stored before Before. Each call is one transaction bounded by
// Limit (default [PruneLimitDefault]), so it never holds the write lock for
// long. Events left with no delivery are deleted up to Limit per call as
// well. It returns how many deliveries it deleted, or Limit when such
// events remain to be deleted, so that callers that repeat while the count
// equals Limit leave nothing prunable behind.
func (s *Store) Prune(ctx context.Context, p *webhook.PruneParams) (int, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	limit := p.Limit
	if limit <= 0 {
		limit = PruneLimitDefault
	}
	before := appendTime(nil, p.Before)
	scanTo := before
	if p.FailedBefore.After(p.Before) {
		scanTo = appendTime(nil, p.FailedBefore)
	}
	var n int
	err := s.update(func(tx *bolt.Tx) error {
		n = 0
		q := newQueue(tx)
		// Collect first: bbolt cursors must not run over keys being deleted.
		var ids []string
		c := q.finished.Cursor()
		for k, v := c.First(); k != nil && len(ids) < limit && string(k[:timeLen]) < string(scanTo); k, v = c.Next() {
			id := string(k[timeLen:])
			ok, err := q.prunable(p, id, parseTime(k), v)
			if err != nil {
				return err
			}
			if ok {
				ids = append(ids, id)
			}
		}
		attempts := sp(tx, spaceAttempts)
		events := sp(tx, spaceEvents)
		orphans := sp(tx, spaceOrphans)
		touched := make(map[string]struct{})
		evTypes := make(map[string]string)
		for _, id := range ids {
			d, ok, err := q.getDelivery(id)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if err := q.delFinished(&d); err != nil {
				return err
			}
			if err := deletePrefix(attempts, prefixKey(id)); err != nil {
				return err
			}
			if err := deletePrefix(sp(tx, spaceReports), prefixKey(id)); err != nil {
				return err
			}
			if err := q.unindexState(&d); err != nil {
				return err
			}
			if err := unindexType(events, d.EventID, id, evTypes); err != nil {
				return err
			}
			if err := q.deliveries.Delete([]byte(id)); err != nil {
				return err
			}
			touched[d.EventID] = struct{}{}
			n++
		}
		// Events whose last delivery went: delete them if old enough, else
		// remember them as orphans for a later Prune.
		for evID := range touched {
			v := events.Get([]byte(evID))
			if v == nil {
				continue
			}
			r, err := decodeEvent(evID, v)
			if err != nil {
				return corrupt("event", evID, err)
			}
			if slices.ContainsFunc(r.Deliveries, func(id string) bool {
				return q.deliveries.Get([]byte(id)) != nil
			}) {
				continue
			}
			if r.StoredAt.Before(p.Before) {
				err = events.Delete([]byte(evID))
				if err == nil {
					err = sp(tx, spaceEventTimes).Delete(timeKey(r.StoredAt, evID))
				}
			} else {
				err = orphans.Put(timeKey(r.StoredAt, evID), nil)
			}
			if err != nil {
				return err
			}
		}
		more, err := pruneOrphans(events, orphans, before, limit)
		if more {
			n = max(n, limit)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// prunable reports whether the finished delivery id, last updated at
// updated, is old enough for p. The entry's value is its state code; an
// entry written before states were kept there is looked up.
func (q *queue) prunable(p *webhook.PruneParams, id string, updated time.Time, v []byte) (bool, error) {
	if p.FailedBefore.IsZero() {
		return updated.Before(p.Before), nil
	}
	var st webhook.DeliveryState
	if len(v) == 1 && int(v[0]) < len(stateNames) && stateNames[v[0]] != "" {
		st = stateNames[v[0]]
	} else {
		d, ok, err := q.getDelivery(id)
		if err != nil || !ok {
			return false, err
		}
		st = d.State
	}
	return updated.Before(p.Cutoff(st)), nil
}

// pruneOrphans deletes up to limit events with no delivery stored before
// before, and reports whether more may remain.
func pruneOrphans(events, orphans space, before []byte, limit int) (bool, error) {
	var keys [][]byte
	more := false
	c := orphans.Cursor()
	for k, _ := c.First(); k != nil && string(k[:timeLen]) < string(before); k, _ = c.Next() {
		if len(keys) == limit {
			more = true
			break
		}
		keys = append(keys, append([]byte{}, k...))
	}
	for _, k := range keys {
		if err := events.Delete(k[timeLen:]); err != nil {
			return false, err
		}
		// An orphan's key is its event's stored time and ID.
		if err := sp(events.b.Tx(), spaceEventTimes).Delete(k); err != nil {
			return false, err
		}
		if err := orphans.Delete(k); err != nil {
			return false, err
		}
	}
	return more, nil
}

// deletePrefix deletes every key of b that starts with prefix.
func deletePrefix(b space, prefix []byte) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); hasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, append([]byte{}, k...))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
