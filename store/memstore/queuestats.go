package memstore

import (
	"context"

	"github.com/hooklet/webhook"
)

var _ webhook.QueueStatser = (*Store)(nil)

// QueueStats counts the pending deliveries as of p.Now.
func (s *Store) QueueStats(ctx context.Context, p *webhook.QueueStatsParams) (webhook.QueueStats, error) {
	if err := s.lock(ctx); err != nil {
		return webhook.QueueStats{}, err
	}
	defer s.mu.Unlock()
	var st webhook.QueueStats
	for _, r := range s.deliveries {
		if r.d.State != webhook.StatePending {
			continue
		}
		st.Pending++
		if r.d.NextAttemptAt.After(p.Now) {
			st.Delayed++
			continue
		}
		st.Due++
		if st.OldestDue.IsZero() || r.d.NextAttemptAt.Before(st.OldestDue) {
			st.OldestDue = r.d.NextAttemptAt
		}
	}
	return st, nil
}
