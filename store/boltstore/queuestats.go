package boltstore

import (
	"context"

	bolt "go.etcd.io/bbolt"

	webhook "github.com/hooklet/webhook"
)

var _ webhook.QueueStatser = (*Store)(nil)

// QueueStats counts the pending deliveries as of p.Now. It walks the due
// index of every endpoint with something pending, keys only, in one read
// transaction, which never blocks writers: its cost grows with the number
// of pending deliveries (tens of milliseconds per million).
func (s *Store) QueueStats(ctx context.Context, p *webhook.QueueStatsParams) (webhook.QueueStats, error) {
	if err := s.begin(ctx); err != nil {
		return webhook.QueueStats{}, err
	}
	var st webhook.QueueStats
	now := appendTime(nil, p.Now)
	err := s.view(func(tx *bolt.Tx) error {
		st = webhook.QueueStats{}
		due := sp(tx, spaceEndpointIndex).Cursor()
		heads := sp(tx, spaceHeads).Cursor()
		for ep, _ := heads.First(); ep != nil; ep, _ = heads.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			prefix := endpointPrefix(string(ep), subDue)
			for k, _ := due.Seek(prefix); hasPrefix(k, prefix); k, _ = due.Next() {
				t := k[len(prefix) : len(prefix)+timeLen]
				st.Pending++
				if string(t) > string(now) {
					st.Delayed++
					continue
				}
				st.Due++
				if tt := parseTime(t); st.OldestDue.IsZero() || tt.Before(st.OldestDue) {
					st.OldestDue = tt
				}
			}
		}
		return nil
	})
	if err != nil {
		return webhook.QueueStats{}, err
	}
	return st, nil
}
