package webhook

import (
	"slices"
	"strings"
)

// fanoutIndex finds the endpoints an event may go to without looking at
// the others: entries are filed by tenant, then by type pattern, exact
// names in a map and "prefix.*" patterns in a trie of dot-separated
// segments. The work of a lookup depends on the number of segments of the
// event type and on the number of matches, not on the number of entries.
//
// An event with a tenant reaches the entries of that tenant only; an event
// without a tenant reaches every entry, so every entry is also filed in a
// second index over all tenants (tenant-less entries only there).
//
// A fanoutIndex is not safe for concurrent use; its owner guards it.
type fanoutIndex[T any] struct {
	entries map[string]*fanoutEntry[T]
	tenants map[string]*typeIndex[T] // by tenant; no "" key
	all     *typeIndex[T]
}

// fanoutEntry is one indexed endpoint and the buckets that hold it.
type fanoutEntry[T any] struct {
	id    string
	val   T
	slots []bucketSlot[T]
}

// bucket is a set of entries, unordered; each entry knows its position.
// It knows where it is filed, to leave once empty: its owner's every
// bucket, the exact bucket of key, or the bucket of a trie node.
type bucket[T any] struct {
	items []*fanoutEntry[T]
	owner *typeIndex[T]
	key   string
	node  *trieNode[T]
}

// bucketSlot records that an entry sits at items[i] of b.
type bucketSlot[T any] struct {
	b *bucket[T]
	i int
}

// typeIndex files entries by type pattern.
type typeIndex[T any] struct {
	every  *bucket[T] // "*" and endpoints without patterns
	exact  map[string]*bucket[T]
	prefix *trieNode[T]
	size   int // entries filed, counting each pattern
	// tenant is the tenant whose entries this index holds, in parent's
	// tenants; parent is nil for the index over all tenants.
	tenant string
	parent *fanoutIndex[T]
}

// trieNode is the node reached by a sequence of type segments; its
// bucket holds the entries whose pattern is that sequence followed by
// ".*".
type trieNode[T any] struct {
	parent   *trieNode[T]
	segment  string
	children map[string]*trieNode[T]
	subs     *bucket[T]
}

func newFanoutIndex[T any]() *fanoutIndex[T] {
	return &fanoutIndex[T]{
		entries: map[string]*fanoutEntry[T]{},
		tenants: map[string]*typeIndex[T]{},
		all:     &typeIndex[T]{},
	}
}

// len returns the number of entries.
func (x *fanoutIndex[T]) len() int { return len(x.entries) }

// get returns the value filed under id.
func (x *fanoutIndex[T]) get(id string) (T, bool) {
	e, ok := x.entries[id]
	if !ok {
		var zero T
		return zero, false
	}
	return e.val, true
}

// put files v under id for tenant and the type patterns (see
// [Endpoint.EventTypes]; none means every type), replacing what id held.
func (x *fanoutIndex[T]) put(id, tenant string, patterns []string, v T) {
	x.remove(id)
	patterns = distinctPatterns(patterns)
	e := &fanoutEntry[T]{id: id, val: v, slots: make([]bucketSlot[T], 0, 2*max(1, len(patterns)))}
	x.entries[id] = e
	x.all.add(e, patterns)
	if tenant == "" {
		return
	}
	ti, ok := x.tenants[tenant]
	if !ok {
		ti = &typeIndex[T]{tenant: tenant, parent: x}
		x.tenants[tenant] = ti
	}
	ti.add(e, patterns)
}

// remove drops the entry filed under id, if any.
func (x *fanoutIndex[T]) remove(id string) {
	e, ok := x.entries[id]
	if !ok {
		return
	}
	delete(x.entries, id)
	for _, s := range e.slots {
		s.b.remove(s.i)
	}
	e.slots = nil
}

// match appends to dst the values whose tenant and patterns let through
// an event of tenant and type typ, once each, in ID order.
func (x *fanoutIndex[T]) match(dst []T, tenant, typ string) []T {
	var found []*fanoutEntry[T]
	if tenant == "" {
		found = x.all.collect(found, typ)
	} else if ti, ok := x.tenants[tenant]; ok {
		found = ti.collect(found, typ)
	}
	slices.SortFunc(found, func(a, b *fanoutEntry[T]) int { return strings.Compare(a.id, b.id) })
	found = slices.Compact(found)
	for _, e := range found {
		dst = append(dst, e.val)
	}
	return dst
}

// distinctPatterns reduces patterns to the distinct ones that matter: all
// of them unless one is "*". The result may share patterns' array.
func distinctPatterns(patterns []string) []string {
	if len(patterns) == 0 || slices.Contains(patterns, "*") {
		return nil
	}
	if len(patterns) == 1 {
		return patterns
	}
	out := slices.Clone(patterns)
	slices.Sort(out)
	return slices.Compact(out)
}

// add files e under each pattern; no pattern means every type.
func (ti *typeIndex[T]) add(e *fanoutEntry[T], patterns []string) {
	if len(patterns) == 0 {
		if ti.every == nil {
			ti.every = &bucket[T]{owner: ti}
		}
		ti.file(ti.every, e)
		return
	}
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, ".*"); ok {
			if ti.prefix == nil {
				ti.prefix = &trieNode[T]{}
			}
			n := ti.prefix
			for seg := range strings.SplitSeq(prefix, ".") {
				c, ok := n.children[seg]
				if !ok {
					c = &trieNode[T]{parent: n, segment: seg}
					if n.children == nil {
						n.children = map[string]*trieNode[T]{}
					}
					n.children[seg] = c
				}
				n = c
			}
			if n.subs == nil {
				n.subs = &bucket[T]{owner: ti, node: n}
			}
			ti.file(n.subs, e)
			continue
		}
		b, ok := ti.exact[p]
		if !ok {
			if ti.exact == nil {
				ti.exact = map[string]*bucket[T]{}
			}
			b = &bucket[T]{owner: ti, key: p}
			ti.exact[p] = b
		}
		ti.file(b, e)
	}
}

// file puts e in b, which belongs to ti.
func (ti *typeIndex[T]) file(b *bucket[T], e *fanoutEntry[T]) {
	ti.size++
	e.slots = append(e.slots, bucketSlot[T]{b: b, i: len(b.items)})
	b.items = append(b.items, e)
}

// remove takes out the entry at items[i], moving the last entry into its
// place, and drops the bucket, and its type index, once they are empty.
func (b *bucket[T]) remove(i int) {
	last := len(b.items) - 1
	moved := b.items[last]
	b.items[i] = moved
	b.items[last] = nil
	b.items = b.items[:last]
	if i != last {
		for j := range moved.slots {
			if moved.slots[j].b == b && moved.slots[j].i == last {
				moved.slots[j].i = i
				break
			}
		}
	}
	ti := b.owner
	if len(b.items) == 0 {
		switch {
		case b.node != nil:
			b.node.dropSubs()
		case b == ti.every:
			ti.every = nil
		default:
			delete(ti.exact, b.key)
		}
	}
	ti.size--
	if ti.size == 0 && ti.parent != nil {
		delete(ti.parent.tenants, ti.tenant)
	}
}

// collect appends the entries whose pattern matches typ; an entry with
// several matching patterns is appended once per pattern.
func (ti *typeIndex[T]) collect(dst []*fanoutEntry[T], typ string) []*fanoutEntry[T] {
	if ti.every != nil {
		dst = append(dst, ti.every.items...)
	}
	if b, ok := ti.exact[typ]; ok {
		dst = append(dst, b.items...)
	}
	// "a.b.*" matches typ when typ starts with "a.b." and goes on.
	n := ti.prefix
	rest := typ
	for n != nil && n.children != nil {
		seg, after, ok := strings.Cut(rest, ".")
		if !ok || after == "" {
			break
		}
		c, found := n.children[seg]
		if !found {
			break
		}
		if c.subs != nil {
			dst = append(dst, c.subs.items...)
		}
		n, rest = c, after
	}
	return dst
}

// dropSubs removes n's empty bucket and then n itself, and its ancestors,
// as long as they hold nothing.
func (n *trieNode[T]) dropSubs() {
	n.subs = nil
	for n.parent != nil && n.subs == nil && len(n.children) == 0 {
		delete(n.parent.children, n.segment)
		if len(n.parent.children) == 0 {
			n.parent.children = nil
		}
		n = n.parent
	}
}
