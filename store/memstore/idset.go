package memstore

import (
	"slices"
	"sort"
)

// idSet keeps IDs in order for cursor pagination. Changes are buffered and
// merged in at the next read, so that loading many IDs costs one sort and
// a page costs a binary search, however many IDs there are.
type idSet struct {
	sorted  []string
	added   []string
	removed map[string]bool
}

func (s *idSet) add(id string) {
	if s.removed[id] {
		delete(s.removed, id) // still in sorted
		return
	}
	s.added = append(s.added, id)
}

// remove drops an ID the set holds.
func (s *idSet) remove(id string) {
	if i := slices.Index(s.added, id); i >= 0 {
		s.added = slices.Delete(s.added, i, i+1)
		return
	}
	if s.removed == nil {
		s.removed = map[string]bool{}
	}
	s.removed[id] = true
}

func (s *idSet) len() int { return len(s.sorted) + len(s.added) - len(s.removed) }

// after returns up to n IDs greater than cursor, in order.
func (s *idSet) after(cursor string, n int) []string {
	s.settle()
	i := sort.SearchStrings(s.sorted, cursor)
	if i < len(s.sorted) && s.sorted[i] == cursor {
		i++
	}
	return slices.Clone(s.sorted[i:min(len(s.sorted), i+n)])
}

// settle merges the buffered changes into sorted.
func (s *idSet) settle() {
	if len(s.added) == 0 && len(s.removed) == 0 {
		return
	}
	slices.Sort(s.added)
	out := make([]string, 0, s.len())
	a, b := s.sorted, s.added
	for len(a) > 0 || len(b) > 0 {
		var id string
		if len(b) == 0 || len(a) > 0 && a[0] < b[0] {
			id, a = a[0], a[1:]
		} else {
			id, b = b[0], b[1:]
		}
		if !s.removed[id] {
			out = append(out, id)
		}
	}
	s.sorted, s.added, s.removed = out, nil, nil
}
