package boltstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// compactTxMaxSize is how many bytes Compact copies per write transaction.
const compactTxMaxSize = 64 << 20

// Compact writes a copy of the store file at src to a new file at dst,
// without the free pages that deletions ([Store.Prune]) left behind. bbolt
// reuses freed pages for new writes but never shrinks its file: after a
// large prune, a host that wants the disk space back stops the process,
// compacts, and replaces src with dst (os.Rename) before it opens the store
// again.
//
// src is opened read-only under a shared file lock, so Compact fails with
// an error wrapping [ErrLocked] after opts.Timeout while a [Store] has src
// open, and src is never changed. dst must not exist; it is created with
// opts.FileMode, and removed again when Compact fails. A nil opts means
// the defaults; NoSync applies to dst.
func Compact(dst, src string, opts *Options) (err error) {
	o := opts.withDefaults()
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("boltstore: compact: %s: %w", dst, fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("boltstore: compact: %w", err)
	}
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("boltstore: compact: %w", err)
	}
	from, err := bolt.Open(src, o.FileMode, &bolt.Options{ReadOnly: true, Timeout: o.Timeout, FreelistType: bolt.FreelistMapType})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("boltstore: compact %s: %w: waited %v", src, ErrLocked, o.Timeout)
	case err != nil:
		return fmt.Errorf("boltstore: compact %s: %w", src, err)
	}
	defer func() { err = errors.Join(err, from.Close()) }()
	to, err := openDB(dst, &o)
	if err != nil {
		return fmt.Errorf("boltstore: compact to %s: %w", dst, err)
	}
	err = bolt.Compact(to, from, compactTxMaxSize)
	err = errors.Join(err, to.Close())
	if err != nil {
		_ = os.Remove(dst)
		return fmt.Errorf("boltstore: compact %s to %s: %w", src, dst, err)
	}
	return nil
}
