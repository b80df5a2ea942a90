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
// # Waking other replicas
//
// Enqueue, EnqueueTx, Release, Redeliver and endpoint changes send a NOTIFY;
// [Store.Notifications] listens on a dedicated connection that reconnects
// when lost. A lost notification delays work by at most
// [Options.CheckInterval], never loses it; an idle process issues about one
// ping per interval and no other polling.
//
// # Transactional emit
//
// [Store.EnqueueTx] writes events and deliveries inside the host's own
// pgx.Tx: the webhook exists if and only if the host's transaction commits,
// and the NOTIFY it sends is delivered at commit.
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
	// and one look for due work per interval. Defaults to [CheckIntervalDefault],
	// at least [CheckIntervalMin].
	CheckInterval time.Duration
}

// Bounds of [Options.CheckInterval].
const (
	CheckIntervalDefault = 30 * time.Second
	CheckIntervalMin     = 10 * time.Millisecond
)

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
	return fmt.Errorf("pgstore: %s: %w", op, err)
}
