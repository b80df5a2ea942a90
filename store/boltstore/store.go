package boltstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/internal/locktable"
)

// Defaults of [Options].
const (
	// TimeoutDefault is how long Open waits for the file lock by default.
	TimeoutDefault = 5 * time.Second
	// FileModeDefault is the permission of a file Open creates.
	FileModeDefault fs.FileMode = 0o600
	// PruneLimitDefault is how many deliveries Prune deletes when Limit is 0.
	PruneLimitDefault = 1000
	// ListScanLimit bounds how many records one page of a filtered listing
	// reads; a page that reaches it may hold fewer items than asked, with a
	// cursor to continue.
	ListScanLimit = 10000
)

// Errors returned by [Open]. They are wrapped in an [*OpenError].
var (
	// ErrLocked reports that another process, or another Open in this
	// process, holds the file.
	ErrLocked = errors.New("boltstore: file is locked by another process")
	// ErrCorrupt reports a file that is not a valid store: not a bbolt
	// file, a damaged one, or one whose records cannot be read.
	ErrCorrupt = errors.New("boltstore: file is corrupt")
)

// OpenError is the error [Open] returns. It wraps [ErrLocked], [ErrCorrupt]
// or the operating system's error (for example a *fs.PathError for a path
// that cannot be created).
type OpenError struct {
	// Path is the file Open was given.
	Path string
	// Err is the cause.
	Err error
}

func (e *OpenError) Error() string {
	return "boltstore: open " + e.Path + ": " + strings.TrimPrefix(e.Err.Error(), "boltstore: ")
}

// Unwrap returns the cause.
func (e *OpenError) Unwrap() error { return e.Err }

// Options configure [Open]. The zero value, and nil, mean the defaults.
type Options struct {
	// Timeout bounds how long Open waits for the file lock held by another
	// process before it fails with [ErrLocked]. Defaults to
	// [TimeoutDefault]; a negative value fails at once.
	Timeout time.Duration
	// NoSync skips fdatasync at each commit. Faster, but a crash of the
	// machine (not just the process) may lose recent writes, including
	// events whose Enqueue returned nil, or corrupt the file. See the
	// package documentation. Defaults to false: every commit is durable.
	NoSync bool
	// FileMode is the permission of the file when Open creates it.
	// Defaults to [FileModeDefault] (0600).
	FileMode fs.FileMode
}

func (o *Options) withDefaults() Options {
	var out Options
	if o != nil {
		out = *o
	}
	if out.Timeout == 0 {
		out.Timeout = TimeoutDefault
	}
	if out.Timeout < 0 {
		out.Timeout = time.Nanosecond // bbolt treats 0 as forever
	}
	if out.FileMode == 0 {
		out.FileMode = FileModeDefault
	}
	return out
}

// Store is a [webhook.Store] kept in one bbolt file. It is safe for
// concurrent use by many goroutines and Dispatchers of one process.
type Store struct {
	db     *bolt.DB
	path   string
	closed atomic.Bool
	leases leaseTable
	locks  locktable.Table
}

var _ webhook.Store = (*Store)(nil)

// Open opens the store in the file at path, creating it if it does not
// exist. The store starts with no lease held: what a previous process was
// attempting is due again at once (see the package documentation). A nil
// opts means the defaults.
//
// Open fails within about [Options.Timeout] with an [*OpenError] wrapping
// [ErrLocked] when the file is held, [ErrCorrupt] when it is not a valid
// store, or the operating system's error when it cannot be opened or
// created. It never panics on a damaged file.
func Open(path string, opts *Options) (*Store, error) {
	o := opts.withDefaults()
	db, err := openDB(path, &o)
	if err != nil {
		return nil, &OpenError{Path: path, Err: err}
	}
	s := &Store{db: db, path: path, leases: newLeaseTable()}
	if err := s.update(func(tx *bolt.Tx) error {
		if err := initLayout(tx); err != nil {
			return err
		}
		if err := buildIndexes(tx); err != nil {
			return err
		}
		if err := releaseAllLeases(tx); err != nil {
			return err
		}
		s.leases.loadBatches(tx)
		return nil
	}); err != nil {
		_ = db.Close()
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, errBadRecord) {
			err = fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		return nil, &OpenError{Path: path, Err: err}
	}
	return s, nil
}

// initLayout creates the data bucket of a new file, or checks the layout
// version of an existing one.
func initLayout(tx *bolt.Tx) error {
	if tx.Bucket(bucketData) == nil {
		for _, name := range [][]byte{bucketData, bucketEvents} {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		if err := sp(tx, spaceMeta).Put([]byte("version"), []byte(layoutVersion)); err != nil {
			return err
		}
		return sp(tx, spaceMeta).Put(metaTenantIndex, []byte("1"))
	}
	if tx.Bucket(bucketEvents) == nil {
		return fmt.Errorf("%w: bucket %q missing", ErrCorrupt, bucketEvents)
	}
	if v := sp(tx, spaceMeta).Get([]byte("version")); string(v) != layoutVersion {
		return fmt.Errorf("%w: layout version %q, want %q", ErrCorrupt, v, layoutVersion)
	}
	return buildTenantIndex(tx)
}

// metaTenantIndex marks a file whose spaceTenantEndpoints is complete.
var metaTenantIndex = []byte("tenant-index")

// buildTenantIndex fills spaceTenantEndpoints in a file written before it
// existed, once.
func buildTenantIndex(tx *bolt.Tx) error {
	meta := sp(tx, spaceMeta)
	if meta.Get(metaTenantIndex) != nil {
		return nil
	}
	// Keys first, writes after: the index shares the bucket the cursor
	// walks, and bbolt cursors do not survive writes.
	var keys [][]byte
	c := sp(tx, spaceEndpointRecords).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		ep, err := decodeEndpoint(string(k), v)
		if err != nil {
			return corrupt("endpoint", string(k), err)
		}
		if ep.Tenant != "" {
			keys = append(keys, tenantEndpointKey(ep.Tenant, ep.ID))
		}
	}
	index := sp(tx, spaceTenantEndpoints)
	for _, k := range keys {
		if err := index.Put(k, nil); err != nil {
			return err
		}
	}
	return meta.Put(metaTenantIndex, []byte("1"))
}

// openDB opens the bbolt file, turning a panic on a damaged file into
// ErrCorrupt.
func openDB(path string, o *Options) (db *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if db != nil {
				_ = db.Close()
			}
			db, err = nil, fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	db, err = bolt.Open(path, o.FileMode, &bolt.Options{
		Timeout: o.Timeout,
		NoSync:  o.NoSync,
		// The freelist stays synced: without it bbolt rebuilds the list at
		// Open in a goroutine that panics, beyond recovery, on a damaged file.
		FreelistType: bolt.FreelistMapType,
	})
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: waited %v", ErrLocked, o.Timeout)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum),
		errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrInvalidMapping):
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	case errorsAsPath(err):
		return nil, err
	default:
		// bbolt reports short or unreadable files with plain errors.
		if _, statErr := os.Stat(path); statErr == nil {
			return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		return nil, err
	}
}

func errorsAsPath(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe)
}

// Close closes the file, after the transactions in progress end; the
// leases held end with it. Every method called afterwards returns
// [webhook.ErrClosed]. Closing twice returns nil.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("boltstore: close: %w", err)
	}
	return nil
}

// Path returns the file the store was opened on.
func (s *Store) Path() string { return s.path }

// update runs fn in one write transaction, mapping a closed database to
// webhook.ErrClosed and a panic on damaged data to ErrCorrupt.
func (s *Store) update(fn func(tx *bolt.Tx) error) (err error) {
	if s.closed.Load() {
		return webhook.ErrClosed
	}
	defer recoverCorrupt(&err, debug.SetPanicOnFault(true))
	return mapErr(s.db.Update(fn))
}

// view runs fn in one read transaction, like update.
func (s *Store) view(fn func(tx *bolt.Tx) error) (err error) {
	if s.closed.Load() {
		return webhook.ErrClosed
	}
	defer recoverCorrupt(&err, debug.SetPanicOnFault(true))
	return mapErr(s.db.View(fn))
}

// recoverCorrupt turns a panic of bbolt on damaged data into ErrCorrupt.
// bbolt reads the file through a read-only memory map, so a damaged page
// can also make it read outside the map: with panic-on-fault set for the
// transaction's goroutine, that fault is a panic too instead of a crash.
func recoverCorrupt(err *error, oldPanicOnFault bool) {
	debug.SetPanicOnFault(oldPanicOnFault)
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: %v", ErrCorrupt, r)
	}
}

func mapErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return webhook.ErrClosed
	}
	return err
}

// begin checks ctx and the store before a transaction.
func (s *Store) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return webhook.ErrClosed
	}
	return nil
}

// corrupt wraps a decoding error of a stored record.
func corrupt(what, id string, err error) error {
	return fmt.Errorf("%w: %s %q: %w", ErrCorrupt, what, id, err)
}
