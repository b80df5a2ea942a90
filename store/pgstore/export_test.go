package pgstore

import "strings"

// Listening starts the listener and returns a channel closed once it
// listens, for tests that must not miss the first notification.
func (s *Store) Listening() <-chan struct{} {
	s.Notifications()
	s.listenMu.Lock()
	defer s.listenMu.Unlock()
	return s.listener.ready
}

// Wrap is wrap, for tests of its hints.
var Wrap = wrap

// LockKey is the advisory lock key of a schema's migrations.
var LockKey = lockKey

// MigrateTo migrates the schema of opts up to and including version, for
// tests that start from an earlier schema.
var MigrateTo = migrateTo

// PartitionedHistoryVersion is the version of the migration that
// partitions the history.
func PartitionedHistoryVersion() int { return MigrationVersion("_partitioned_history.sql") }

// MigrationVersion is the version of the migration whose file name ends
// with suffix; 0 when there is none.
func MigrationVersion(suffix string) int {
	ms, _ := migrations()
	for _, m := range ms {
		if strings.HasSuffix(m.name, suffix) {
			return m.version
		}
	}
	return 0
}
