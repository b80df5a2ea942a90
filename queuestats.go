package webhook

import (
	"context"
	"time"
)

// QueueStatser is implemented by stores that can count their queue
// cheaply. The Dispatcher reports queue depth and delivery lag as metrics
// only when its store is one; see [Config.MeterProvider].
type QueueStatser interface {
	// QueueStats counts the pending deliveries as of p.Now. It must be
	// cheap enough to answer every metrics collection (an index scan at
	// most), safe for concurrent use, and honour ctx.
	QueueStats(ctx context.Context, p *QueueStatsParams) (QueueStats, error)
}

// QueueStatsParams are the parameters of [QueueStatser.QueueStats].
type QueueStatsParams struct {
	Now time.Time
}

// QueueStats describes the pending deliveries of a store at one instant.
type QueueStats struct {
	// Pending counts every pending delivery, leased or not.
	Pending int64
	// Due counts the pending deliveries whose next attempt time is at or
	// before Now, leased (being attempted) or not.
	Due int64
	// Delayed counts the pending deliveries waiting for a later attempt
	// time: Pending - Due.
	Delayed int64
	// OldestDue is the next attempt time of the earliest due delivery,
	// zero when none is due; Now minus it is the delivery lag (how long
	// the oldest due delivery has waited for its attempt).
	OldestDue time.Time
}
