package boltstore

import (
	"bytes"
	"encoding/binary"
	"math"
	"time"
)

// Buckets. Every key is built so that byte order is the order the store
// needs; IDs are ULID-shaped, so ID order is creation order.
var (
	// bucketEndpoints: endpoint ID -> endpoint record.
	bucketEndpoints = []byte("endpoints")
	// bucketEvents: event ID -> event record.
	bucketEvents = []byte("events")
	// bucketDeliveries: delivery ID -> delivery record.
	bucketDeliveries = []byte("deliveries")
	// bucketAttempts: (delivery ID, attempt number) -> attempt record.
	bucketAttempts = []byte("attempts")
	// bucketLeases: delivery ID -> lease record, for leased deliveries only.
	bucketLeases = []byte("leases")
	// bucketEventDeliveries: (event ID, delivery ID) -> nothing.
	bucketEventDeliveries = []byte("event_deliveries")
	// bucketEndpointDeliveries: (endpoint ID, delivery ID) -> nothing.
	bucketEndpointDeliveries = []byte("endpoint_deliveries")
	// bucketDue: (endpoint ID, due time, delivery ID) -> nothing, for every
	// pending delivery. Its due time is NextAttemptAt, or the lease deadline
	// while it is leased.
	bucketDue = []byte("due")
	// bucketHeads: endpoint ID -> due time of its earliest entry in
	// bucketDue, for endpoints with a pending delivery.
	bucketHeads = []byte("heads")
	// bucketHeadIndex: (due time, endpoint ID) -> nothing; bucketHeads in
	// due order, so the endpoints with something due are found first.
	bucketHeadIndex = []byte("head_index")
	// bucketFinished: (updated at, delivery ID) -> nothing, for finished
	// deliveries, oldest first for Prune.
	bucketFinished = []byte("finished")
	// bucketOrphans: (stored at, event ID) -> nothing, for events left
	// with no delivery, oldest first for Prune.
	bucketOrphans = []byte("orphans")
)

var allBuckets = [][]byte{
	bucketEndpoints, bucketEvents, bucketDeliveries, bucketAttempts,
	bucketLeases, bucketEventDeliveries, bucketEndpointDeliveries,
	bucketDue, bucketHeads, bucketHeadIndex, bucketFinished, bucketOrphans,
}

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

// pairKey is (prefix(a), b): the key of the event and endpoint indexes.
func pairKey(a, b string) []byte {
	k := make([]byte, 0, 2+len(a)+len(b))
	return append(appendPrefix(k, a), b...)
}

// dueKey is (prefix(endpoint), due, delivery ID).
func dueKey(endpointID string, due time.Time, deliveryID string) []byte {
	k := make([]byte, 0, 2+len(endpointID)+timeLen+len(deliveryID))
	k = appendPrefix(k, endpointID)
	k = appendTime(k, due)
	return append(k, deliveryID...)
}

// timeKey is (time, id): the key of the head, finished and orphan indexes.
func timeKey(t time.Time, id string) []byte {
	k := make([]byte, 0, timeLen+len(id))
	return append(appendTime(k, t), id...)
}

// attemptKey is (prefix(delivery ID), number).
func attemptKey(deliveryID string, number int) []byte {
	k := make([]byte, 0, 2+len(deliveryID)+4)
	k = appendPrefix(k, deliveryID)
	return binary.BigEndian.AppendUint32(k, uint32(number))
}

func hasPrefix(k, prefix []byte) bool { return k != nil && bytes.HasPrefix(k, prefix) }
