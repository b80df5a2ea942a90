package pgstore

import (
	"context"
	"time"

	webhook "github.com/hooklet/webhook"
)

var _ webhook.QueueStatser = (*Store)(nil)

// QueueStats counts the pending deliveries as of p.Now in one statement
// over the partial index of pending deliveries: its cost grows with the
// number of pending deliveries, never with the finished ones.
func (s *Store) QueueStats(ctx context.Context, p *webhook.QueueStatsParams) (webhook.QueueStats, error) {
	if err := s.check(); err != nil {
		return webhook.QueueStats{}, err
	}
	var (
		st     webhook.QueueStats
		oldest *time.Time
	)
	err := s.pool.QueryRow(ctx, `
SELECT count(*), count(*) FILTER (WHERE next_attempt_at <= $1),
	min(next_attempt_at) FILTER (WHERE next_attempt_at <= $1)
FROM `+s.q.schema+`.deliveries WHERE state = 'pending'`, p.Now).Scan(&st.Pending, &st.Due, &oldest)
	if err != nil {
		return webhook.QueueStats{}, wrap("queue stats", err)
	}
	st.Delayed = st.Pending - st.Due
	if oldest != nil {
		st.OldestDue = oldest.UTC()
	}
	return st, nil
}
