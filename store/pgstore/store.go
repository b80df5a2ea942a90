// Package pgstore is a [webhook.Store] on PostgreSQL (jackc/pgx/v5), for
// hosts that run several replicas: every replica's Dispatcher shares one
// queue in one database.
//
// # Sharing the work
//
// Deliveries are leased with SELECT ... FOR UPDATE SKIP LOCKED in batches;
// the owner, a fresh lease token and the deadline are written by the same
// statement, so a delivery is never handed to two live owners. A lease that
// expires (its owner crashed or stalled) is taken back by any replica, and
// an outcome or extension that carries the stale token is refused.
//
// # Ordered endpoints
//
// Each ordered delivery takes a place in its sequence (endpoint, ordering
// key) from a row of the sequences table that its enqueue updates and keeps
// locked until commit: enqueues into one sequence, from any replica or host
// transaction, commit one after the other, and places follow commit order.
// Only the head of a sequence is in the range leases scan; the others wait
// at due_at 'infinity' until the transaction that ends the head (Complete,
// in the same round trip) makes the next one due. Enqueues into different
// sequences do not wait for each other. Under REPEATABLE READ or
// SERIALIZABLE, an EnqueueTx racing another enqueue into the same sequence
// may fail with a serialization error, to be retried as usual.
//
// # Waking other replicas
//
// Enqueue, EnqueueTx, Release, Redeliver and endpoint changes send a NOTIFY;
// [Store.Notifications] listens on a dedicated connection that reconnects
// when lost. A lost notification delays work by at most
// [Options.CheckInterval], never loses it; an idle process issues about one
// ping per interval and no other polling. Where LISTEN cannot work, the
// store polls instead (see Behind a transaction pooler).
//
// # Transactional emit
//
// [Store.EnqueueTx] (through [webhook.Dispatcher.EmitTx]) writes events and
// deliveries inside the host's own transaction: the webhook exists if and
// only if the host's transaction commits, and the NOTIFY it sends is part of
// that transaction, delivered at commit. The transaction is a pgx.Tx, or a
// *sql.Tx for hosts on database/sql with pgx's driver
// (github.com/jackc/pgx/v5/stdlib), and so for sqlc, sqlx, ent and
// GORM too (see [Store.EnqueueTx]):
//
//	db := stdlib.OpenDBFromPool(pool) // or sql.Open("pgx", dsn)
//	tx, err := db.BeginTx(ctx, nil)
//	...
//	_, err = tx.ExecContext(ctx, "UPDATE orders SET paid = true WHERE id = $1", id)
//	...
//	err = d.EmitTx(ctx, tx, webhook.Event{Type: "order.paid", Payload: payload})
//	...
//	err = tx.Commit() // the event exists, and the replicas wake, now
//
// # Behind a transaction pooler
//
// The store keeps no session state on pooled connections: every operation
// is one statement or one transaction, NOTIFY is sent from inside them, and
// [Migrate] serializes with a transaction-scoped advisory lock. It runs
// behind PgBouncer in transaction pooling mode (pool_mode = transaction)
// once the host does two things:
//
//   - The pool must not use server-side prepared statements, which live on
//     one server connection (PgBouncer 1.21 and later track them when
//     max_prepared_statements is set; then nothing is needed). Add
//     default_query_exec_mode=cache_describe to the connection string, or
//     set pgx.ConnConfig.DefaultQueryExecMode to
//     pgx.QueryExecModeCacheDescribe (one round trip per statement, binary
//     format), or to QueryExecModeExec or QueryExecModeSimpleProtocol.
//     Statements prepared behind the pooler fail intermittently; the
//     store's errors then point here.
//   - LISTEN does not survive the transaction: give the listener a direct
//     connection with [Options.ListenerConnString], or, with no direct
//     route to the database, set [Options.PollInterval] and the store polls
//     through the pool with one cheap query per interval.
//
// For example:
//
//	cfg, err := pgxpool.ParseConfig("postgres://app@pgbouncer:6432/app?default_query_exec_mode=cache_describe")
//	...
//	pool, err := pgxpool.NewWithConfig(ctx, cfg)
//	...
//	st, err := pgstore.New(ctx, pool, &pgstore.Options{
//		ListenerConnString: "postgres://app@db:5432/app", // or PollInterval: 200 * time.Millisecond
//	})
//
// # History
//
// Pending deliveries live in a small hot table; finished ones move, in the
// statement that finishes them, into day partitions (one set for failed
// deliveries, one for the others), their attempts with them. Prune drops
// the partitions older than its cut-offs whole, so retention leaves no
// dead rows and the hot path never reads the history. See
// docs/pg-scale.md.
//
// # Durability
//
// Every write is one statement or one transaction, committed with the
// server's durability settings: with the default synchronous_commit=on, a
// write that returned nil survives a crash of the server or of the host.
//
// # Schema
//
// The tables live in their own schema ([Options.Schema], "hooklet" by
// default), created and migrated by [New] or [Migrate] under an advisory
// lock, so replicas that start together do not race.
package pgstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	webhook "github.com/hooklet/webhook"
)

// SchemaDefault is the schema the tables live in when [Options.Schema] is
// empty.
const SchemaDefault = "hooklet"

// Options configure a [Store]. The zero value (or nil) is the default.
type Options struct {
	// Schema is the PostgreSQL schema that holds the store's tables, so they
	// live beside the host's own. It is created when missing. Defaults to
	// [SchemaDefault].
	Schema string
	// SkipMigrate makes [New] check the schema version instead of migrating,
	// for hosts that run [Migrate] as a separate step. New then fails when
	// the schema is not at the version this package needs.
	SkipMigrate bool
	// CheckInterval is how long the notification listener waits without a
	// notification before it checks its connection and the endpoints
	// version (one cheap query) and tells the engine to look for due work,
	// so that work or endpoint changes whose notification was lost are
	// found within this interval. An idle process costs about that query
	// and one look for due work per interval. With PollInterval set, it is
	// how often the poller reports DeliveriesDue even when nothing moved.
	// Defaults to [CheckIntervalDefault], at least [CheckIntervalMin].
	CheckInterval time.Duration
	// ListenerConnString is the connection string of the listener's
	// dedicated connection (see [Store.Notifications]), for a pool that
	// reaches the database through a transaction pooler such as PgBouncer,
	// where LISTEN does not survive the transaction: point it at the same
	// database directly (or through a pooler in session mode). The
	// listener holds one connection. Defaults to the pool's own
	// configuration.
	ListenerConnString string
	// PollInterval, when not zero, replaces the listener: every
	// PollInterval, [Store.Notifications] reads the endpoints version and
	// the earliest due delivery through the pool (one cheap indexed query,
	// valid through any pooler) and reports what moved. It is the way to
	// run behind a transaction pooler without a direct connection; an
	// interval of 100 to 500 ms keeps replicas about as quick to wake as
	// NOTIFY does. It cannot be set with ListenerConnString. Defaults to 0:
	// listen. At least [PollIntervalMin].
	PollInterval time.Duration
}

// Bounds of [Options.CheckInterval].
const (
	CheckIntervalDefault = 30 * time.Second
	CheckIntervalMin     = 10 * time.Millisecond
)

// PollIntervalMin is the shortest [Options.PollInterval].
const PollIntervalMin = 10 * time.Millisecond

func (o *Options) withDefaults() Options {
	var out Options
	if o != nil {
		out = *o
	}
	if out.Schema == "" {
		out.Schema = SchemaDefault
	}
	if out.CheckInterval == 0 {
		out.CheckInterval = CheckIntervalDefault
	}
	return out
}

// Store is a [webhook.Store] on a PostgreSQL database. It is safe for
// concurrent use by many goroutines and by many processes sharing the
// database.
type Store struct {
	pool    *pgxpool.Pool
	q       queries
	channel string // NOTIFY channel
	origin  string // random: tells this store's notifications from others'

	checkInterval time.Duration
	listenConfig  *pgx.ConnConfig // the listener's connection; nil when polling
	pollInterval  time.Duration

	due dueMemo // the next due time read by the last Lease

	closed    atomic.Bool
	closeOnce sync.Once
	listener  *listener
	listenMu  sync.Mutex
}

var (
	_ webhook.Store      = (*Store)(nil)
	_ webhook.TxEnqueuer = (*Store)(nil)
	_ webhook.Notifier   = (*Store)(nil)
)

// New returns a Store on pool, creating or migrating its schema (see
// [Options.SkipMigrate]). The pool stays the caller's: [Store.Close] does
// not close it. A nil opts means the defaults.
func New(ctx context.Context, pool *pgxpool.Pool, opts *Options) (*Store, error) {
	if pool == nil {
		return nil, errors.New("pgstore: nil pool")
	}
	o := opts.withDefaults()
	if o.CheckInterval < CheckIntervalMin {
		return nil, fmt.Errorf("pgstore: CheckInterval %v is below the minimum of %v", o.CheckInterval, CheckIntervalMin)
	}
	var listenConfig *pgx.ConnConfig
	switch {
	case o.PollInterval != 0 && o.ListenerConnString != "":
		return nil, errors.New("pgstore: set ListenerConnString or PollInterval, not both")
	case o.PollInterval != 0:
		if o.PollInterval < PollIntervalMin {
			return nil, fmt.Errorf("pgstore: PollInterval %v is below the minimum of %v", o.PollInterval, PollIntervalMin)
		}
	case o.ListenerConnString != "":
		cfg, err := pgx.ParseConfig(o.ListenerConnString)
		if err != nil {
			// pgconn's parse error may quote the string, password and all.
			return nil, errors.New("pgstore: ListenerConnString is not a valid connection string")
		}
		listenConfig = cfg
	default:
		listenConfig = pool.Config().ConnConfig
	}
	if o.SkipMigrate {
		if err := checkVersion(ctx, pool, o.Schema); err != nil {
			return nil, err
		}
	} else if err := Migrate(ctx, pool, &o); err != nil {
		return nil, err
	}
	s := &Store{
		pool:    pool,
		q:       newQueries(pgx.Identifier{o.Schema}.Sanitize()),
		channel: channelName(o.Schema),
		origin:  rand.Text(),

		checkInterval: o.CheckInterval,
		listenConfig:  listenConfig,
		pollInterval:  o.PollInterval,
	}
	return s, nil
}

// Close stops the notification listener and closes the channel returned by
// [Store.Notifications]. Afterwards every method returns an error wrapping
// [webhook.ErrClosed]. It does not close the pool.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.listenMu.Lock()
		l := s.listener
		s.listenMu.Unlock()
		if l != nil {
			l.stop()
		}
	})
	return nil
}

// errClosed is returned by every method after Close.
var errClosed = fmt.Errorf("pgstore: %w", webhook.ErrClosed)

func (s *Store) check() error {
	if s.closed.Load() {
		return errClosed
	}
	return nil
}

// channelName is the NOTIFY channel of a schema. Channel names are
// identifiers, at most 63 bytes.
func channelName(schema string) string {
	ch := "hooklet_" + schema
	if len(ch) > 63 {
		ch = ch[:63]
	}
	return ch
}

// SQLSTATEs of a prepared statement missing from, or already on, the server
// connection.
const (
	invalidStatementName       = "26000"
	duplicatePreparedStatement = "42P05"
)

// wrap maps backend errors to the root sentinels and names the operation.
// SQLSTATEs of text PostgreSQL cannot hold: a NUL or invalid UTF-8 in
// text, or \u0000 in jsonb.
const (
	characterNotInRepertoire = "22021"
	untranslatableCharacter  = "22P05"
)

// wrapInput is wrap for a write of records the caller gave: text that
// PostgreSQL cannot hold is reported as kind (webhook.ErrInvalidEndpoint
// or webhook.ErrInvalidEvent), not as a database failure. The Dispatcher
// validates records so that this never happens; a caller of the store
// itself gets a typed error.
func wrapInput(op string, err error, kind error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == characterNotInRepertoire || pgErr.Code == untranslatableCharacter) {
		return fmt.Errorf("pgstore: %s: %w: %s", op, kind, pgErr.Message)
	}
	return wrap(op, err)
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("pgstore: %s: %w", op, webhook.ErrNotFound)
	}
	return fmt.Errorf("pgstore: %s: %w%s", op, err, poolerHint(err))
}

// poolerHint returns what to do about err when it comes from a prepared
// statement made on one server connection and used on another, as happens
// to a pool that prepares statements behind a transaction pooler.
func poolerHint(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == invalidStatementName || pgErr.Code == duplicatePreparedStatement) {
		return " (behind a transaction pooler such as PgBouncer, set the pool's default_query_exec_mode " +
			"to cache_describe: see the package doc of pgstore)"
	}
	return ""
}
