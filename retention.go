package webhook

import (
	"context"
	"log/slog"
	"time"
)

// Retention defaults of [Config].
const (
	// RetentionDefault is how long finished deliveries are kept.
	RetentionDefault = 30 * 24 * time.Hour
	// RetentionFailedDefault is how long failed deliveries are kept: longer
	// than the others, since they are what an operator inspects and
	// replays.
	RetentionFailedDefault = 90 * 24 * time.Hour
	// RetentionInterval is how often the Dispatcher prunes.
	RetentionInterval = time.Hour
	// pruneBatch is the Limit of one Store.Prune call.
	pruneBatch = 1000
)

// pruner deletes finished deliveries, their attempts and their events once
// they are older than the retention, in the background: at start, then
// every RetentionInterval, in store calls of at most pruneBatch
// deliveries, so that it never holds the store for long.
//
// Every Dispatcher that shares a store prunes it. That needs no
// coordination: Store.Prune deletes only what is old enough, so two
// pruners never undo each other's work and a repeated call finds nothing;
// each call is bounded; and the PostgreSQL store skips rows another
// pruner holds rather than wait for them. N replicas thus cost N small
// queries an hour, and no lease row or lock to keep.
type pruner struct {
	store   Store
	clock   Clock
	log     *slog.Logger
	metrics *metrics
	// keep and keepFailed are Config.Retention and Config.RetentionFailed;
	// a negative keepFailed keeps failed deliveries forever.
	keep, keepFailed time.Duration

	ctx    context.Context // cancelled by stop
	cancel context.CancelFunc
	done   chan struct{}
}

func newPruner(store Store, clock Clock, log *slog.Logger, m *metrics, keep, keepFailed time.Duration) *pruner {
	ctx, cancel := context.WithCancel(context.Background())
	return &pruner{
		store: store, clock: clock, log: log, metrics: m, keep: keep, keepFailed: keepFailed,
		ctx: ctx, cancel: cancel, done: make(chan struct{}),
	}
}

func (p *pruner) start() { go p.loop() }

// stop stops pruning, cutting a store call in flight short, and waits
// until the loop has returned.
func (p *pruner) stop() {
	p.cancel()
	<-p.done
}

func (p *pruner) loop() {
	defer close(p.done)
	for {
		// The next round's timer is armed before this round runs, so a
		// round never delays the schedule.
		t := p.clock.NewTimer(RetentionInterval)
		p.round()
		select {
		case <-p.ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
	}
}

// params returns the cut-offs as of now.
func (p *pruner) params(now time.Time) *PruneParams {
	pp := &PruneParams{Before: now.Add(-p.keep), Limit: pruneBatch}
	switch {
	case p.keepFailed < 0:
		// Nothing finished before the epoch: failures are kept.
		pp.FailedBefore = time.Unix(0, 0).UTC()
	case p.keepFailed > 0:
		pp.FailedBefore = now.Add(-p.keepFailed)
	}
	return pp
}

// round prunes until nothing is old enough, and logs what it did.
func (p *pruner) round() {
	pp := p.params(p.clock.Now())
	n, err := pruneAll(p.ctx, p.store, pp, p.metrics)
	switch {
	case err != nil && p.ctx.Err() == nil:
		p.log.Warn("webhook: pruning finished deliveries", "deleted", n, "error", err)
	case n > 0:
		p.log.Info("webhook: pruned finished deliveries", "deleted", n,
			"before", pp.Before, "failed_before", pp.FailedBefore)
	}
}

// pruneAll calls Store.Prune with pp until a call deletes less than
// pp.Limit, and returns how many deliveries it deleted.
func pruneAll(ctx context.Context, store Store, pp *PruneParams, m *metrics) (int, error) {
	total := 0
	for {
		n, err := store.Prune(ctx, pp)
		total += n
		m.prune(n)
		if err != nil || n < pp.Limit {
			return total, err
		}
	}
}
