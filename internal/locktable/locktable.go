// Package locktable keeps the named, time-bounded locks of a
// [webhook.Locker] in memory, for the stores whose every user is in one
// process (memstore, boltstore).
package locktable

import (
	"sync"
	"time"

	"github.com/hooklet/webhook"
)

// Table holds named locks. The zero value is an empty table, safe for
// concurrent use.
type Table struct {
	mu    sync.Mutex
	locks map[string]holder
}

type holder struct {
	owner string
	until time.Time
}

// TryLock does what [webhook.Locker.TryLock] says.
func (t *Table) TryLock(p *webhook.TryLockParams) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h, ok := t.locks[p.Name]; ok && h.owner != p.Owner && h.until.After(p.Now) {
		return false
	}
	if t.locks == nil {
		t.locks = map[string]holder{}
	}
	t.locks[p.Name] = holder{owner: p.Owner, until: p.Until}
	return true
}

// Unlock does what [webhook.Locker.Unlock] says.
func (t *Table) Unlock(p *webhook.UnlockParams) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h, ok := t.locks[p.Name]; ok && h.owner == p.Owner {
		delete(t.locks, p.Name)
	}
}
