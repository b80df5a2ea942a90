package boltstore

import (
	"context"
	"fmt"

	webhook "github.com/hooklet/webhook"
)

var _ webhook.Locker = (*Store)(nil)

// TryLock takes or renews the named lock p.Name for p.Owner; see
// [webhook.Locker]. Locks are kept in memory, not in the file: bbolt lets
// one process at a time open the file, so every Dispatcher that can share
// the store shares this Store value, and its locks end with it.
func (s *Store) TryLock(ctx context.Context, p *webhook.TryLockParams) (bool, error) {
	if err := s.begin(ctx); err != nil {
		return false, fmt.Errorf("boltstore: try lock: %w", err)
	}
	return s.locks.TryLock(p), nil
}

// Unlock frees the named lock p.Name when p.Owner holds it.
func (s *Store) Unlock(ctx context.Context, p *webhook.UnlockParams) error {
	if err := s.begin(ctx); err != nil {
		return fmt.Errorf("boltstore: unlock: %w", err)
	}
	s.locks.Unlock(p)
	return nil
}
