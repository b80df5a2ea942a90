package pgstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	webhook "github.com/hooklet/webhook"
)

var _ webhook.Locker = (*Store)(nil)

// TryLock takes or renews the named lock p.Name for p.Owner; see
// [webhook.Locker]. A lock is a row of the locks table, taken or renewed
// by one upsert whose conflict arm changes the row only when p.Owner holds
// it or its until is at or before p.Now: PostgreSQL locks the row for the
// statement, so two replicas never both take it. Unlike an advisory lock,
// it holds no session, so it works behind a transaction pooler, survives
// a lost connection, and its expiry follows the Dispatcher's clock.
func (s *Store) TryLock(ctx context.Context, p *webhook.TryLockParams) (bool, error) {
	if err := s.check(); err != nil {
		return false, err
	}
	var ok bool
	err := s.pool.QueryRow(ctx, `
INSERT INTO `+s.q.schema+`.locks AS l (name, owner, until) VALUES ($1, $2, $4)
ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until
	WHERE l.owner = excluded.owner OR l.until <= $3
RETURNING true`, p.Name, p.Owner, p.Now, p.Until).Scan(&ok)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, wrap("try lock", err)
	}
	return ok, nil
}

// Unlock frees the named lock p.Name when p.Owner holds it.
func (s *Store) Unlock(ctx context.Context, p *webhook.UnlockParams) error {
	if err := s.check(); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `DELETE FROM `+s.q.schema+`.locks WHERE name = $1 AND owner = $2`, p.Name, p.Owner)
	return wrap("unlock", err)
}
