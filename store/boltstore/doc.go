// Package boltstore is the embedded default [webhook.Store]: one bbolt file
// (go.etcd.io/bbolt) in the host's own process, with no server to run.
//
//	st, err := boltstore.Open("hooklet.db", nil)
//	if err != nil { ... }
//	defer st.Close()
//	d, err := webhook.New(webhook.Config{Store: st})
//
// # Durability
//
// With the default [Options], every write that returned nil is on disk:
// each Enqueue, Complete, Lease, Release, PutEndpoint and the rest is one
// bbolt transaction whose commit waits for fdatasync. An event whose
// [Store.Enqueue] returned nil survives a crash of the process or of the
// machine (kill -9, power loss), and so does every outcome whose
// [Store.Complete] returned nil.
//
// With [Options.NoSync] the commit does not wait for the disk: a crash of
// the process loses nothing (the writes are in the operating system's
// page cache), but a crash of the machine may lose recent writes or, as
// bbolt documents, leave the file corrupt. Use it for tests and throwaway
// data only.
//
// # One process
//
// The file is locked by the process that opens it; a second [Open] of the
// same file, from another process or from the same one, fails with
// [ErrLocked] after [Options.Timeout]. Because the lock proves that no other
// process owns the file, Open releases every lease a previous process left
// behind: the deliveries it was attempting when it stopped or crashed are
// due again at once, without waiting for their leases to expire. Several
// Dispatchers in the one process may share a Store.
//
// # Damaged files
//
// Open, and every method after it, turns what bbolt does on a damaged file
// (an error, a panic, or a read outside the memory-mapped file) into an
// error wrapping [ErrCorrupt]; the store never takes the process down. It
// does not repair: restore the file from a backup, or move it aside.
//
// # Layout and cost
//
// Enqueue writes its events and deliveries in a single transaction (one
// commit) however many items it carries; the Dispatcher coalesces
// concurrent Emits into one call. Pending deliveries are indexed per
// endpoint by due time (a leased one at its lease deadline), with an index
// of each endpoint's earliest due time: Lease reads the deliveries it
// returns plus about one entry per endpoint it passes over, and NextDue at
// most one entry per excluded endpoint plus one, however large the backlog
// of an excluded endpoint. An event records its deliveries' IDs; deliveries
// are also indexed by endpoint. A listing filtered by state alone reads
// deliveries in ID order and stops after [ListScanLimit] records per page.
// Prune deletes at most Limit deliveries per transaction.
package boltstore
