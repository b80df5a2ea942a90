package webhook

import (
	"context"
	"errors"
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
// When the store is a [Locker], one Dispatcher at a time prunes: a round
// runs only while its pruner holds the lock RetentionLockName, taken for
// retentionLockDuration and renewed before every store call. The holder
// keeps it from round to round (it renews it first thing in each round,
// before the lock could lapse), so the same replica prunes every hour, and
// the others' rounds cost one TryLock each; the holder frees it when it
// stops, so another takes over at its next round, and a holder that
// crashed is replaced once the lock expires. Without a Locker every
// Dispatcher that shares the store prunes it, which is still correct:
// Store.Prune deletes only what is old enough, so two pruners never undo
// each other's work and a repeated call finds nothing.
type pruner struct {
	store   Store
	locker  Locker // nil: the store is no Locker; prune without a lock
	owner   string // the lock's owner: Config.Owner
	clock   Clock
	log     *slog.Logger
	metrics *metrics
	// keep and keepFailed are Config.Retention and Config.RetentionFailed;
	// a negative keepFailed keeps failed deliveries forever.
	keep, keepFailed time.Duration

	held bool // the latest TryLock succeeded; owned by the loop

	ctx    context.Context // cancelled by stop
	cancel context.CancelFunc
	done   chan struct{}
}

// retentionLockDuration is how long a pruner holds the retention lock past
// its latest renewal: two rounds, so that the holder's next round renews
// it before it lapses even when the holder's round starts a little after
// another replica's.
const retentionLockDuration = 2 * RetentionInterval

// unlockTimeout bounds the Unlock of a stopping pruner; a lock not freed
// in time expires by itself.
const unlockTimeout = 5 * time.Second

// errRetentionLockLost stops a round whose renewal of the retention lock
// failed: another Dispatcher may be pruning.
var errRetentionLockLost = errors.New("webhook: retention lock lost to another dispatcher")

func newPruner(store Store, owner string, clock Clock, log *slog.Logger, m *metrics, keep, keepFailed time.Duration) *pruner {
	ctx, cancel := context.WithCancel(context.Background())
	locker, _ := store.(Locker)
	return &pruner{
		store: store, locker: locker, owner: owner, clock: clock, log: log, metrics: m,
		keep: keep, keepFailed: keepFailed,
		ctx: ctx, cancel: cancel, done: make(chan struct{}),
	}
}

func (p *pruner) start() { go p.loop() }

// stop stops pruning, cutting a store call in flight short, frees the
// retention lock if it holds it, and waits until the loop has returned.
func (p *pruner) stop() {
	p.cancel()
	<-p.done
}

func (p *pruner) loop() {
	defer close(p.done)
	defer p.unlock()
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

// round prunes until nothing is old enough, and logs what it did; with a
// Locker, only when it holds the retention lock.
func (p *pruner) round() {
	if !p.lock() {
		return
	}
	pp := p.params(p.clock.Now())
	var renew func() error
	if p.locker != nil {
		renew = func() error {
			if !p.lock() {
				return errRetentionLockLost
			}
			return nil
		}
	}
	n, err := pruneAll(p.ctx, p.store, pp, p.metrics, renew)
	switch {
	case err != nil && p.ctx.Err() == nil:
		p.log.Warn("webhook: pruning finished deliveries", "deleted", n, "error", err)
	case n > 0:
		p.log.Info("webhook: pruned finished deliveries", "deleted", n,
			"before", pp.Before, "failed_before", pp.FailedBefore)
	}
}

// lock takes or renews the retention lock and reports whether this pruner
// holds it; always true without a Locker.
func (p *pruner) lock() bool {
	if p.locker == nil {
		return true
	}
	now := p.clock.Now()
	ok, err := p.locker.TryLock(p.ctx, &TryLockParams{
		Name: RetentionLockName, Owner: p.owner, Now: now, Until: now.Add(retentionLockDuration),
	})
	if err != nil {
		if p.ctx.Err() == nil {
			p.log.Warn("webhook: taking the retention lock", "error", err)
		}
		// The lock may be ours or not: stop frees it if it is.
		p.held = true
		return false
	}
	if !ok && p.held {
		p.log.Info("webhook: another dispatcher holds the retention lock now")
	}
	p.held = ok
	return ok
}

// unlock frees the retention lock if this pruner may hold it.
func (p *pruner) unlock() {
	if p.locker == nil || !p.held {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), unlockTimeout)
	defer cancel()
	if err := p.locker.Unlock(ctx, &UnlockParams{Name: RetentionLockName, Owner: p.owner}); err != nil {
		p.log.Warn("webhook: freeing the retention lock; it expires by itself", "error", err)
	}
	p.held = false
}

// pruneAll calls Store.Prune with pp until a call deletes less than
// pp.Limit, and returns how many deliveries it deleted. A non-nil renew
// runs before every call but the first; its error ends the loop.
func pruneAll(ctx context.Context, store Store, pp *PruneParams, m *metrics, renew func() error) (int, error) {
	total := 0
	for first := true; ; first = false {
		if !first && renew != nil {
			if err := renew(); err != nil {
				return total, err
			}
		}
		n, err := store.Prune(ctx, pp)
		total += n
		m.prune(n)
		if err != nil || n < pp.Limit {
			return total, err
		}
	}
}
