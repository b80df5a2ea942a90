package pgstore

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// PartitionsAhead is how many days of history partitions, after the
// database's current day (UTC), [Store.Prune] keeps created, so that
// finished deliveries land in a day partition rather than in a DEFAULT
// one.
const PartitionsAhead = 7

// partitionLockTimeout bounds how long creating or dropping a partition
// waits for its locks (ACCESS EXCLUSIVE on the partitioned table, briefly):
// a partition whose lock is not granted in time is left for the next
// prune, so that no query of the hot path queues behind it.
const partitionLockTimeout = "2s"

// SQLSTATEs of partition maintenance and of a row moved by a concurrent
// update.
const (
	lockNotAvailable    = "55P03"
	serializationFailed = "40001"
)

// ensurePartitions creates the day partitions of the history from the day
// before the database's current day (UTC) to PartitionsAhead days after.
func (s *Store) ensurePartitions(ctx context.Context) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '"+partitionLockTimeout+"'"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "SELECT "+s.q.schema+".ensure_partitions("+
			"(now() AT TIME ZONE 'UTC')::date - 1, (now() AT TIME ZONE 'UTC')::date + $1::int)", PartitionsAhead)
		return err
	})
	if isCode(err, lockNotAvailable) {
		return nil // the next prune creates them
	}
	return err
}

// historyPartition is one day partition of the finished deliveries.
type historyPartition struct {
	name     string // deliveries_done_pYYYYMMDD or deliveries_failed_pYYYYMMDD
	attempts string // its attempts' partition
	failed   bool
	end      time.Time // exclusive upper bound
}

// historyPartitions lists the day partitions of the finished deliveries.
func (s *Store) historyPartitions(ctx context.Context) ([]historyPartition, error) {
	rows, _ := s.pool.Query(ctx, `SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
		WHERE i.inhparent IN (to_regclass($1), to_regclass($2)) ORDER BY c.relname`,
		s.q.schema+".deliveries_done", s.q.schema+".deliveries_failed")
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	var out []historyPartition
	for _, name := range names {
		parent, day, ok := strings.Cut(name, "_p")
		if !ok {
			continue // the DEFAULT partitions
		}
		start, err := time.Parse("20060102", day)
		if err != nil {
			continue
		}
		out = append(out, historyPartition{
			name:     name,
			attempts: "attempts" + strings.TrimPrefix(parent, "deliveries") + "_p" + day,
			failed:   parent == "deliveries_failed",
			end:      start.AddDate(0, 0, 1),
		})
	}
	return out, nil
}

// dropPartitions drops the history partitions (deliveries and their
// attempts) that end at or before their cut-off, each in its own short
// transaction that first deletes the events stored before before whose
// deliveries are all in the partition. It returns how many deliveries the
// dropped partitions held.
func (s *Store) dropPartitions(ctx context.Context, before, failedBefore time.Time) (int, error) {
	parts, err := s.historyPartitions(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, p := range parts {
		cutoff := before
		if p.failed {
			cutoff = failedBefore
		}
		if p.end.After(cutoff) {
			continue
		}
		var n int
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '"+partitionLockTimeout+"'"); err != nil {
				return err
			}
			name := s.q.schema + "." + pgx.Identifier{p.name}.Sanitize()
			// SHARE: no row of the partition changes (Redeliver, a row
			// prune) until it is gone, while reads of the history go on.
			if _, err := tx.Exec(ctx, "LOCK TABLE "+name+" IN SHARE MODE"); err != nil {
				return err
			}
			// The events whose deliveries are all in this partition.
			if _, err := tx.Exec(ctx, strings.ReplaceAll(s.q.pruneEvents, "{{p}}", name), before, name); err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+name).Scan(&n); err != nil {
				return err
			}
			// The reports of its deliveries.
			if _, err := tx.Exec(ctx, "DELETE FROM "+s.q.schema+".reports AS r USING "+name+" AS p WHERE r.delivery_id = p.id"); err != nil {
				return err
			}
			// Deliveries first, then attempts: the order in which Complete
			// and Redeliver lock the two partitioned tables, so that a
			// drop waits for them rather than deadlock with them.
			_, err := tx.Exec(ctx, "DROP TABLE "+name+
				"; DROP TABLE IF EXISTS "+s.q.schema+"."+pgx.Identifier{p.attempts}.Sanitize())
			return err
		})
		switch {
		case isCode(err, lockNotAvailable):
			continue // busy: the next prune drops it
		case err != nil:
			return total, err
		}
		total += n
	}
	return total, nil
}

// retryMoved runs f again, up to four times, when it fails because a row it
// meant to lock was moved to another partition by a concurrent update (a
// delivery that a concurrent Complete finished, or Redeliver made
// pending). The statement then failed whole, and its next run sees the
// row where it is now.
func retryMoved(f func() error) error {
	err := f()
	for i := 0; i < 4 && isCode(err, serializationFailed); i++ {
		err = f()
	}
	return err
}

// isCode reports whether err is a PostgreSQL error with the SQLSTATE code.
func isCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}
