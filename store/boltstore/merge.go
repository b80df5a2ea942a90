package boltstore

import (
	"container/heap"

	bolt "go.etcd.io/bbolt"
)

// idMerge walks several ranges of spaceEndpointIndex at once, each a
// prefix followed by delivery IDs in ID order, and yields the IDs of all of
// them in ID order. A listing by state merges the state indexes of every
// endpoint; a listing by endpoint merges its indexes of every state. It
// reads one entry per ID it yields, plus one seek per range.
type idMerge []*idRange

// idRange is one range of an idMerge, at its current key.
type idRange struct {
	prefix []byte
	c      *cursor
	key    []byte
}

func (r *idRange) id() []byte { return r.key[len(r.prefix):] }

func (m idMerge) Len() int           { return len(m) }
func (m idMerge) Less(i, j int) bool { return string(m[i].id()) < string(m[j].id()) }
func (m idMerge) Swap(i, j int)      { m[i], m[j] = m[j], m[i] }
func (m *idMerge) Push(x any)        { *m = append(*m, x.(*idRange)) }
func (m *idMerge) Pop() any {
	old := *m
	x := old[len(old)-1]
	*m = old[:len(old)-1]
	return x
}

// mergeIDs returns an iterator over the IDs under prefixes, in ID order,
// after the ID after (from the start when it is empty).
func mergeIDs(tx *bolt.Tx, prefixes [][]byte, after string) func() (string, bool) {
	b := sp(tx, spaceEndpointIndex)
	m := make(idMerge, 0, len(prefixes))
	for _, p := range prefixes {
		r := &idRange{prefix: p, c: b.Cursor()}
		if after != "" {
			r.key, _ = seekAfter(r.c, append(append([]byte{}, p...), after...))
		} else {
			r.key, _ = r.c.Seek(p)
		}
		if hasPrefix(r.key, p) {
			m = append(m, r)
		}
	}
	heap.Init(&m)
	return func() (string, bool) {
		if len(m) == 0 {
			return "", false
		}
		r := m[0]
		id := string(r.id())
		if r.key, _ = r.c.Next(); hasPrefix(r.key, r.prefix) {
			heap.Fix(&m, 0)
		} else {
			heap.Pop(&m)
		}
		return id, true
	}
}

// allStateCodes are the codes an endpoint's state index may hold: those of
// stateCodes, and 0 for a state stored by name.
var allStateCodes = []byte{0, 1, 2, 3, 4}

// stateIndexPrefixes returns the prefixes of the state indexes that
// list every delivery of the endpoint (endpointID set), or of the state
// (code set, endpointID empty).
func stateIndexPrefixes(tx *bolt.Tx, endpointID string, code byte) [][]byte {
	var out [][]byte
	if endpointID != "" {
		for _, c := range allStateCodes {
			out = append(out, append(endpointPrefix(endpointID, subStates), c))
		}
		return out
	}
	for _, ep := range indexedEndpoints(tx) {
		out = append(out, append(endpointPrefix(ep, subStates), code))
	}
	return out
}
