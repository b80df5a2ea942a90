package boltstore

import (
	"bytes"
	"encoding/binary"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/hooklet/webhook"
)

// The store keeps its records in one bbolt bucket, split into keyspaces by
// a leading tag byte. One tree instead of one per keyspace means a commit
// rewrites fewer branch pages: an Enqueue dirties one leaf per keyspace it
// touches and the branches above them once. Every key is built so that byte
// order is the order the store needs; IDs are ULID-shaped, so ID order is
// creation order.
//
// Events, which carry the payloads, have a bucket of their own, so that the
// tree of small records and indexes stays shallow.
var (
	bucketData   = []byte("hooklet")
	bucketEvents = []byte("events")
)

// Keyspaces.
const (
	// spaceMeta: "version" -> the layout version; "seq" -> the last
	// place given in an ordered sequence (8 bytes, big-endian).
	spaceMeta byte = iota
	// spaceEndpointRecords: endpoint ID -> endpoint record.
	spaceEndpointRecords
	// spaceEvents: event ID -> event record, which lists the IDs of the
	// event's deliveries (fixed when it is enqueued).
	spaceEvents
	// spaceDeliveries: delivery ID -> delivery record.
	spaceDeliveries
	// spaceAttempts: (delivery ID, attempt number) -> attempt record.
	spaceAttempts
	// spaceLeases: delivery ID -> lease record. Leases live in memory; only
	// files written by earlier versions hold any, and Open releases them.
	spaceLeases
	// spaceEndpointIndex holds two indexes per endpoint, side by side so that
	// an Enqueue usually writes both into one leaf:
	//   (endpoint ID, 's', state code, delivery ID) -> nothing, every
	//   delivery by state (see subStates);
	//   (endpoint ID, 'q', due time, delivery ID) -> nothing, every pending
	//   delivery at its NextAttemptAt, leased or not.
	// Files of indexes version 1 also hold (endpoint ID, 'd', delivery ID)
	// for every delivery, which Open deletes (see buildIndexes).
	spaceEndpointIndex
	// spaceHeads: endpoint ID -> due time of its earliest entry in the due
	// index, for endpoints with a pending delivery; or an earlier time,
	// while that entry is due (see queue.fixHeads).
	spaceHeads
	// spaceHeadIndex: (due time, endpoint ID) -> nothing; spaceHeads in due
	// order, so the endpoints with something due are found first.
	spaceHeadIndex
	// spaceFinished: (updated at, delivery ID) -> nothing, for finished
	// deliveries, oldest first for Prune.
	spaceFinished
	// spaceOrphans: (stored at, event ID) -> nothing, for events left with
	// no delivery, oldest first for Prune.
	spaceOrphans
	// spaceSequences: (prefix(endpoint ID), prefix(ordering key), place)
	// -> delivery ID, for every pending ordered delivery, in the order its
	// sequence delivers them. Only the first of each sequence, its head,
	// has an entry in the due index; the others wait here, out of every
	// Lease's way, until the head ends.
	spaceSequences
	// spaceTenantEndpoints: (prefix(tenant), endpoint ID) -> nothing, for
	// endpoints with a tenant, so that listing a tenant's endpoints reads
	// only theirs. Files written before it existed get it at Open; the
	// meta key "tenant-index" records that it is complete.
	spaceTenantEndpoints
	// spaceStates: retired. Files of indexes version 1 hold (state code,
	// delivery ID) for every delivery, which Open deletes: a listing by
	// state merges the endpoints' state indexes instead (see
	// buildIndexes), which spares every Enqueue and Complete a write.
	spaceStates
	// spaceEventTimes: (stored at, event ID) -> nothing, every event in the
	// order it was stored, for ListEvents.
	spaceEventTimes
	// spaceTypes: (prefix(event type), delivery ID) -> nothing, every
	// delivery by the type of its event.
	spaceTypes
	// spaceAckTokens: delivery ID -> the SHA-256 of the callback token
	// its report must carry, while it awaits one.
	spaceAckTokens
	// spaceReports: (prefix(delivery ID), number) -> report record, as
	// attempts are keyed.
	spaceReports
	// spaceBatches: (prefix(batch ID), delivery ID) -> nothing, every
	// pending delivery that belongs to a formed batch, so that Lease
	// finds the batch's other members (see webhook.Batcher).
	spaceBatches
)

// layoutVersion is stored under spaceMeta "version"; Open refuses a file of
// another layout.
const layoutVersion = "1"

// space is one keyspace of the data bucket.
type space struct {
	b       *bolt.Bucket
	tag     byte
	scratch *spaceScratch
}

// spaceScratch is what the point operations of one space reuse within a
// transaction: a buffer for tagged keys (bbolt copies a key it keeps, and
// only reads the others during the call) and a cursor for Get, whose
// search stack is kept from one call to the next.
type spaceScratch struct {
	key []byte
	get *bolt.Cursor
}

func sp(tx *bolt.Tx, tag byte) space {
	if tag == spaceEvents {
		return space{b: tx.Bucket(bucketEvents), tag: tag, scratch: new(spaceScratch)}
	}
	return space{b: tx.Bucket(bucketData), tag: tag, scratch: new(spaceScratch)}
}

// key returns k with the tag in front, in the scratch buffer: valid until
// the next call.
func (s space) key(k []byte) []byte {
	s.scratch.key = append(append(s.scratch.key[:0], s.tag), k...)
	return s.scratch.key
}

// Get returns the value of k, valid until the transaction ends, or nil.
func (s space) Get(k []byte) []byte {
	key := s.key(k)
	if s.scratch.get == nil {
		s.scratch.get = s.b.Cursor()
	}
	// Seek starts from the root each time, so the cursor stays right
	// across writes; the data bucket holds no nested buckets.
	ck, v := s.scratch.get.Seek(key)
	if !bytes.Equal(ck, key) {
		return nil
	}
	return v
}

// Put stores v under k. bbolt keeps v until the transaction commits: the
// caller must not reuse it.
func (s space) Put(k, v []byte) error { return s.b.Put(s.key(k), v) }

// Delete removes k.
func (s space) Delete(k []byte) error { return s.b.Delete(s.key(k)) }

// tagged returns the scratch buffer holding the tag alone: append a key to
// it and pass the result to putTagged or deleteTagged, before any other
// call on s. It spares the hot paths a buffer per key.
func (s space) tagged() []byte { return append(s.scratch.key[:0], s.tag) }

// putTagged is Put of a key that starts with the tag (see tagged).
func (s space) putTagged(k, v []byte) error {
	s.scratch.key = k[:0]
	return s.b.Put(k, v)
}

// deleteTagged is Delete of a key that starts with the tag (see tagged).
func (s space) deleteTagged(k []byte) error {
	s.scratch.key = k[:0]
	return s.b.Delete(k)
}

// Cursor returns a cursor over the keyspace only.
func (s space) Cursor() *cursor { return &cursor{c: s.b.Cursor(), tag: s.tag} }

// cursor walks one keyspace; it returns keys without the tag, and nil past
// the end of the keyspace.
type cursor struct {
	c   *bolt.Cursor
	tag byte
}

func (c *cursor) strip(k, v []byte) ([]byte, []byte) {
	if len(k) == 0 || k[0] != c.tag {
		return nil, nil
	}
	return k[1:], v
}

func (c *cursor) First() ([]byte, []byte) { return c.strip(c.c.Seek([]byte{c.tag})) }

func (c *cursor) Seek(k []byte) ([]byte, []byte) {
	t := make([]byte, 1+len(k))
	t[0] = c.tag
	copy(t[1:], k)
	return c.strip(c.c.Seek(t))
}

func (c *cursor) Next() ([]byte, []byte) { return c.strip(c.c.Next()) }

// timeLen is the length of an encoded instant: seconds since the Unix epoch
// with the sign bit flipped, then nanoseconds, both big-endian, so byte
// order is time order for every representable time.
const timeLen = 12

func appendTime(b []byte, t time.Time) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(t.Unix())^(1<<63))
	return binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()))
}

func parseTime(b []byte) time.Time {
	sec := int64(binary.BigEndian.Uint64(b) ^ (1 << 63))
	nsec := int64(binary.BigEndian.Uint32(b[8:]))
	return time.Unix(sec, nsec).UTC()
}

// appendPrefix writes s with a two-byte length in front, so that a key
// starting with one ID never collides with a longer ID sharing its bytes.
// IDs are at most 256 bytes (the root package validates them); longer ones
// are cut by the length field and still sort and match consistently
// because the full bytes follow.
func appendPrefix(b []byte, s string) []byte {
	n := len(s)
	if n > math.MaxUint16 {
		n = math.MaxUint16
	}
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	return append(b, s...)
}

func prefixKey(s string) []byte { return appendPrefix(make([]byte, 0, 2+len(s)), s) }

// Sub-indexes of spaceEndpointIndex.
const (
	// subDeliveries: retired; see spaceEndpointIndex.
	subDeliveries = 'd'
	subDue        = 'q'
	// subStates: (endpoint ID, 's', state code, delivery ID) -> nothing,
	// every delivery of the endpoint by state. Together they list every
	// delivery of an endpoint, and of a state.
	subStates = 's'
)

// subEnd sorts after every sub-index: (prefix(endpoint), subEnd) is past
// all of an endpoint's keys.
const subEnd = 0xff

// endpointStatePrefix is (prefix(endpoint), 's', state code).
func endpointStatePrefix(endpointID string, st webhook.DeliveryState) []byte {
	return append(endpointPrefix(endpointID, subStates), stateCodes[st])
}

// appendEndpointStateKey appends (prefix(endpoint), 's', state code,
// delivery ID) to b.
func appendEndpointStateKey(b []byte, endpointID string, st webhook.DeliveryState, deliveryID string) []byte {
	b = append(appendPrefix(b, endpointID), subStates, stateCodes[st])
	return append(b, deliveryID...)
}

// endpointPrefix is (prefix(endpoint), sub): the start of one of an
// endpoint's indexes.
func endpointPrefix(endpointID string, sub byte) []byte {
	k := make([]byte, 0, 3+len(endpointID))
	return append(appendPrefix(k, endpointID), sub)
}

// appendDueKey appends (prefix(endpoint), 'q', due, delivery ID) to b.
func appendDueKey(b []byte, endpointID string, due time.Time, deliveryID string) []byte {
	b = append(appendPrefix(b, endpointID), subDue)
	b = appendTime(b, due)
	return append(b, deliveryID...)
}

// tenantEndpointKey is (prefix(tenant), endpoint ID).
func tenantEndpointKey(tenant, endpointID string) []byte {
	k := make([]byte, 0, 2+len(tenant)+len(endpointID))
	return append(appendPrefix(k, tenant), endpointID...)
}

// timeKey is (time, id): the key of the head, finished and orphan indexes.
func timeKey(t time.Time, id string) []byte {
	return appendTimeKey(make([]byte, 0, timeLen+len(id)), t, id)
}

func appendTimeKey(b []byte, t time.Time, id string) []byte {
	return append(appendTime(b, t), id...)
}

// sequencePrefix is (prefix(endpoint), prefix(ordering key)): the start of
// one ordered sequence in spaceSequences.
func sequencePrefix(endpointID, key string) []byte {
	k := make([]byte, 0, 4+len(endpointID)+len(key)+8)
	return appendPrefix(appendPrefix(k, endpointID), key)
}

// attemptKey is (prefix(delivery ID), number).
func attemptKey(deliveryID string, number int) []byte {
	return appendAttemptKey(make([]byte, 0, 2+len(deliveryID)+4), deliveryID, number)
}

func appendAttemptKey(b []byte, deliveryID string, number int) []byte {
	return binary.BigEndian.AppendUint32(appendPrefix(b, deliveryID), uint32(number))
}

func hasPrefix(k, prefix []byte) bool { return k != nil && bytes.HasPrefix(k, prefix) }

// batchKey is (prefix(batch ID), delivery ID), the key of spaceBatches.
func batchKey(batchID, deliveryID string) []byte {
	return append(prefixKey(batchID), deliveryID...)
}

// typeKey is (prefix(event type), delivery ID), the key of spaceTypes.
func typeKey(eventType, deliveryID string) []byte {
	return appendTypeKey(nil, eventType, deliveryID)
}

func appendTypeKey(b []byte, eventType, deliveryID string) []byte {
	return append(appendPrefix(b, eventType), deliveryID...)
}
