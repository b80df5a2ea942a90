package pgstore

import (
	"context"

	webhook "github.com/hooklet/webhook"
)

var _ webhook.Batcher = (*Store)(nil)

// FormBatch records that the held deliveries of p.Leases form the batch
// p.BatchID and extends their leases, in one statement; when a lease is
// stale (or its delivery is not pending), it writes nothing and lists the
// stale ones. Lease then hands the batch's pending members out together
// (see the lease statement).
func (s *Store) FormBatch(ctx context.Context, p *webhook.FormBatchParams) (webhook.BatchResult, error) {
	if err := s.check(); err != nil {
		return webhook.BatchResult{}, err
	}
	defer s.due.clear() // a write may change the next due time
	if len(p.Leases) == 0 {
		return webhook.BatchResult{}, nil
	}
	ids, tokens := splitRefs(p.Leases)
	var stale []webhook.LeaseRef
	err := retryMoved(func() error {
		rows, _ := s.pool.Query(ctx, s.q.formBatch, ids, tokens, p.BatchID, p.Until)
		var err error
		stale, err = collectRefs(rows)
		return err
	})
	return webhook.BatchResult{Stale: stale}, wrap("form batch", err)
}
