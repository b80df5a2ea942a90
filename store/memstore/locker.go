package memstore

import (
	"context"

	"github.com/hooklet/webhook"
)

var _ webhook.Locker = (*Store)(nil)

// TryLock takes or renews the named lock p.Name for p.Owner; see
// [webhook.Locker]. The locks live with the store, in this process.
func (s *Store) TryLock(ctx context.Context, p *webhook.TryLockParams) (bool, error) {
	if err := s.lock(ctx); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	return s.locks.TryLock(p), nil
}

// Unlock frees the named lock p.Name when p.Owner holds it.
func (s *Store) Unlock(ctx context.Context, p *webhook.UnlockParams) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	s.locks.Unlock(p)
	return nil
}
