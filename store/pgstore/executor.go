package pgstore

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	webhook "github.com/hooklet/webhook"
)

// executor runs one statement and discards its rows: all that
// [Store.EnqueueTx] needs from the host's transaction, whatever its kind.
type executor interface {
	exec(ctx context.Context, sql string, args ...any) error
}

// pgxExecer is the method pgx.Tx, *pgx.Conn, *pgxpool.Conn and *pgxpool.Pool
// share.
type pgxExecer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// sqlExecer is the method *sql.Tx, *sql.Conn and *sql.DB share, and with
// them the transactions of the libraries built on database/sql (sqlx,
// ent with its sql/execquery feature, GORM's Statement.ConnPool).
type sqlExecer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

type pgxExecutor struct{ x pgxExecer }

func (e pgxExecutor) exec(ctx context.Context, sql string, args ...any) error {
	_, err := e.x.Exec(ctx, sql, args...)
	return err
}

type sqlExecutor struct{ x sqlExecer }

func (e sqlExecutor) exec(ctx context.Context, sql string, args ...any) error {
	_, err := e.x.ExecContext(ctx, sql, args...)
	if err != nil && strings.HasPrefix(err.Error(), "sql: converting argument") {
		// database/sql refused the array parameters before the driver
		// saw them: the driver is not pgx's.
		return fmt.Errorf("%w (the store's statements need pgx's database/sql driver, github.com/jackc/pgx/v5/stdlib)", err)
	}
	return err
}

// txExecutor returns the executor of a host transaction, or an error
// wrapping [webhook.ErrInvalidTx]. The pools (*pgxpool.Pool, *sql.DB) have
// the method sets too, but a statement on a pool commits on its own: they
// are refused, so that a host that meant to pass its transaction finds out.
func txExecutor(tx any) (executor, error) {
	switch x := tx.(type) {
	case *pgxpool.Pool, *sql.DB:
		return nil, fmt.Errorf("%w: %T is a pool, not a transaction", webhook.ErrInvalidTx, tx)
	case pgxExecer:
		if isNil(x) {
			break
		}
		return pgxExecutor{x}, nil
	case sqlExecer:
		if isNil(x) {
			break
		}
		return sqlExecutor{x}, nil
	}
	return nil, fmt.Errorf("%w: want a pgx.Tx, a *sql.Tx or another transaction with pgx's Exec or database/sql's ExecContext, got %T",
		webhook.ErrInvalidTx, tx)
}

// isNil reports whether x is a nil pointer (a typed nil in an interface),
// which would panic on the first call.
func isNil(x any) bool {
	v := reflect.ValueOf(x)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
