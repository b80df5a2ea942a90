package admin

import (
	"context"
	"time"

	webhook "github.com/hooklet/webhook"
)

// redeliverResult is the answer to a bulk redelivery.
type redeliverResult struct {
	// Redelivered counts the deliveries made pending again.
	Redelivered int `json:"redelivered"`
}

// redeliverFailed redelivers every failed delivery of an endpoint in scope
// that failed at or after since (its last update), through
// [webhook.Dispatcher.RedeliverFailed]; fresh restarts their retry
// schedule.
func (s *scope) redeliverFailed(ctx context.Context, endpointID string, since time.Time, fresh bool) (redeliverResult, error) {
	if _, err := s.endpoint(ctx, endpointID); err != nil {
		return redeliverResult{}, err
	}
	n, err := s.d.RedeliverFailed(ctx, endpointID, since, &webhook.RedeliverOptions{FreshSchedule: fresh})
	return redeliverResult{Redelivered: n}, err
}
