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
// each Enqueue, Complete, Release, PutEndpoint and the rest is one bbolt
// transaction whose commit waits for fdatasync. An event whose
// [Store.Enqueue] returned nil survives a crash of the process or of the
// machine (kill -9, power loss), and so does every outcome whose
// [Store.Complete] returned nil.
//
// Leases are the exception, on purpose: they live in the memory of the
// [Store] and never reach the file, so [Store.Lease] is a read transaction
// and [Store.ExtendLeases] touches no file at all. Nothing is lost by it: a
// lease only says which owner of this process is attempting a delivery,
// and when the process ends, by Close or by a crash, every lease it held
// ends with it and the deliveries are due again (see One process).
// Exclusivity between owners sharing the Store holds all the same, and a
// Complete whose token is stale is refused as the contract says.
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
// process uses the file, no other process can hold a lease on its
// deliveries: that is why leases need not be written down. A new Store
// starts with none, so the deliveries a previous process was attempting
// when it stopped or crashed are due again at once, at their NextAttemptAt,
// without waiting for their leases to expire. Several Dispatchers in the
// one process may share a Store; they share its leases too, so a delivery
// is never handed to two of them at once.
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
// concurrent Emits into one call. Complete writes a batch of outcomes in
// one commit; Lease commits nothing. Pending deliveries are indexed per
// endpoint by NextAttemptAt, with an index of each endpoint's earliest due
// time: Lease reads the deliveries it returns plus about one entry per
// endpoint it passes over, and NextDue at most one entry per excluded
// endpoint, plus one per endpoint with deliveries already due, plus one,
// however large the backlog of an excluded endpoint.
// Both also step over the entries of leased deliveries, which are no more
// than the leases held. An event records its deliveries' IDs; deliveries
// are also indexed by endpoint and state, and by the type of their event,
// so a filtered listing reads the index of its filters: a page of a rare
// state among many others comes back full. A listing by endpoint alone
// merges the endpoint's state indexes, and one by state alone merges that
// state's index of every endpoint that has deliveries: one seek per
// endpoint per page, and no index write beyond one per state change. A
// listing whose filters no single index covers (event type with endpoint
// or state) checks the rest and stops after [ListScanLimit] records per
// page. Events are indexed by the time they were stored, for ListEvents.
// A file written before the current indexes gets them when opened, once:
// missing indexes are built, retired ones deleted.
// Prune deletes at most Limit deliveries per transaction.
//
// An Enqueue of one event with one delivery writes six keys (the event,
// the delivery, its due entry, its state entry, its type entry, the
// event's stored-time entry); a Complete that ends a delivery writes its
// attempts, its record, its state entry (moved), its finished entry, and
// deletes its due entry.
//
// Ordered deliveries are also kept per sequence (endpoint, ordering key) in
// enqueue order, and only the head of each is in the due index: a backlog
// behind one key costs Lease and NextDue nothing, and the Complete that
// ends a head moves the next one into the due index in the same commit.
package boltstore
