package pgstore

import (
	"slices"
	"sync"
	"time"
)

// dueMemo keeps the answer to NextDue that [Store.Lease] reads in its own
// round trip, right after its lease and in the same transaction, for the
// NextDue call that the engine makes next with the same Now and
// exclusions: a lease round that leaves slots free costs one round trip,
// not two. The answer is used once, and only if no write went through the
// Store since the Lease began (each write calls clear), so a caller that
// writes and then asks gets a fresh answer. Writes of other processes
// notify the engine, which then leases (and reads the answer) again.
type dueMemo struct {
	mu   sync.Mutex
	gen  uint64 // bumped by every write
	set  bool
	now  time.Time
	excl []string
	due  *time.Time
}

// begin returns the generation a Lease starts in.
func (m *dueMemo) begin() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gen
}

// put keeps due as the answer for (now, excl), read by a Lease that began
// in generation gen, unless a write came since.
func (m *dueMemo) put(gen uint64, now time.Time, excl []string, due *time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gen != gen {
		return
	}
	m.set, m.now, m.excl, m.due = true, now, slices.Clone(excl), due
}

// clear forgets the answer: a write may have changed it.
func (m *dueMemo) clear() {
	m.mu.Lock()
	m.gen++
	m.set, m.excl, m.due = false, nil, nil
	m.mu.Unlock()
}

// take returns the answer kept for (now, excl) and forgets it; ok is false
// when there is none.
func (m *dueMemo) take(now time.Time, excl []string) (due *time.Time, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.set || !m.now.Equal(now) || !slices.Equal(m.excl, excl) {
		return nil, false
	}
	due = m.due
	m.set, m.excl, m.due = false, nil, nil
	return due, true
}
