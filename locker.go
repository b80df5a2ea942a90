package webhook

import (
	"context"
	"time"
)

// Locker is implemented by stores that can hold named, time-bounded locks
// for the Dispatchers sharing them: a lock is held by one owner at a time,
// across every process that shares the store, until its owner unlocks it
// or its Until passes. A Dispatcher whose store is a Locker prunes (see
// [Config.Retention]) only while it holds the lock named
// [RetentionLockName], so that one replica at a time does the work; with a
// store that is not one, every Dispatcher prunes.
//
// A lock is a lease, not a mutex: its holder renews it (TryLock again as
// the same owner) before its Until passes, and must stop the guarded work
// when a renewal fails, since another owner may then hold it. Stores never
// read the clock: Now and Until come in the params, and a lock whose Until
// is at or before Now is free. Methods are safe for concurrent use, honour
// ctx and return an error wrapping [ErrClosed] once the store is closed.
type Locker interface {
	// TryLock takes the lock p.Name for p.Owner until p.Until and reports
	// true when the lock is free (never taken, unlocked, or its Until is
	// at or before p.Now) or already held by p.Owner (a renewal, which
	// moves its Until to p.Until). It reports false, changing nothing,
	// when another owner holds it. It never waits for the lock.
	TryLock(ctx context.Context, p *TryLockParams) (bool, error)
	// Unlock frees the lock p.Name when p.Owner holds it; otherwise (free,
	// expired and taken by another, or never taken) it does nothing and
	// returns nil.
	Unlock(ctx context.Context, p *UnlockParams) error
}

// TryLockParams are the parameters of [Locker.TryLock].
type TryLockParams struct {
	// Name names the lock; any non-empty string.
	Name string
	// Owner names the caller; the Dispatcher uses [Config.Owner].
	Owner string
	// Now is the current time, against which the holder's Until is
	// compared.
	Now time.Time
	// Until is when the lock frees itself unless renewed.
	Until time.Time
}

// UnlockParams are the parameters of [Locker.Unlock].
type UnlockParams struct {
	Name  string
	Owner string
}

// RetentionLockName is the name of the [Locker] lock a Dispatcher holds
// while it prunes.
const RetentionLockName = "hooklet.retention"
