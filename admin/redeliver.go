package admin

import (
	"context"
	"time"

	webhook "github.com/hooklet/webhook"
)

// redeliverBatch is how many failed deliveries one store read returns
// during a bulk redelivery; each batch is redelivered before the next is
// read.
const redeliverBatch = 100

// redeliverResult is the answer to a bulk redelivery.
type redeliverResult struct {
	// Redelivered counts the deliveries made pending again.
	Redelivered int `json:"redelivered"`
}

// redeliverFailed redelivers every failed delivery of an endpoint in scope
// that failed at or after since (its last update), in batches of
// redeliverBatch. A delivery that is no longer failed when its turn comes
// is left alone.
func (s *scope) redeliverFailed(ctx context.Context, endpointID string, since time.Time) (redeliverResult, error) {
	if _, err := s.endpoint(ctx, endpointID); err != nil {
		return redeliverResult{}, err
	}
	var res redeliverResult
	p := &webhook.ListDeliveriesParams{EndpointID: endpointID, State: webhook.StateFailed, Limit: redeliverBatch}
	for {
		page, err := s.d.Deliveries(ctx, p)
		if err != nil {
			return res, err
		}
		for _, dl := range page.Items {
			if dl.UpdatedAt.Before(since) {
				continue
			}
			if err := s.d.Redeliver(ctx, dl.ID); err != nil {
				return res, err
			}
			res.Redelivered++
		}
		if page.Next == "" {
			return res, nil
		}
		p.Cursor = page.Next
	}
}
