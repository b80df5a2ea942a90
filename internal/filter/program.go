package filter

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Program is a compiled filter. It is immutable and safe for concurrent
// use; a nil *Program matches every event.
type Program struct {
	root     node
	usesData bool
	nodes    int
}

// Match reports whether the event d describes passes the filter. It never
// panics, and its cost is linear in the size of the event for each
// condition of the filter.
func (p *Program) Match(d *Document) bool {
	if p == nil {
		return true
	}
	return p.root.match(d)
}

// UsesData reports whether the filter reads the payload, so that a caller
// can tell before building a [Document] whether it will be parsed.
func (p *Program) UsesData() bool { return p != nil && p.usesData }

// Nodes is the number of values in the filter document that compiled to p.
func (p *Program) Nodes() int {
	if p == nil {
		return 0
	}
	return p.nodes
}

// node is one compiled filter: a logical combination or a condition.
type node interface {
	match(d *Document) bool
}

type andNode []node

func (n andNode) match(d *Document) bool {
	for _, k := range n {
		if !k.match(d) {
			return false
		}
	}
	return true
}

type orNode []node

func (n orNode) match(d *Document) bool {
	for _, k := range n {
		if k.match(d) {
			return true
		}
	}
	return false
}

type notNode struct{ n node }

func (n notNode) match(d *Document) bool { return !n.n.match(d) }

// step is one step of a field path: a member name, which also reaches
// into the objects of an array; a numeric name, which also indexes an
// array; or "$", every element of an array.
type step struct {
	name  string
	index int // -1 unless name is a non-negative decimal integer
}

// condNode is one operator applied to the values at a field path.
type condNode struct {
	path []step
	op   operator
}

func (n *condNode) match(d *Document) bool {
	if ex, ok := n.op.(existOp); ok {
		return bool(ex) == n.resolves(d)
	}
	v, ok := d.field(n.path[0].name)
	if !ok {
		return false
	}
	return walk(v, n.path[1:], func(v *value) bool {
		if n.op.test(v) {
			return true
		}
		if v.k == kindArray {
			for i := range v.arr {
				if n.op.test(&v.arr[i]) {
					return true
				}
			}
		}
		return false
	})
}

// resolves reports whether the path leads to at least one value.
func (n *condNode) resolves(d *Document) bool {
	v, ok := d.field(n.path[0].name)
	if !ok {
		return false
	}
	return walk(v, n.path[1:], func(*value) bool { return true })
}

// walk calls fn with every value the path reaches from v, until fn
// returns true. A name step on an array reaches into the array's objects
// (one level: arrays of arrays are not entered), so every value of the
// payload is visited at most once per path.
func walk(v *value, path []step, fn func(*value) bool) bool {
	if len(path) == 0 {
		return fn(v)
	}
	s := path[0]
	switch v.k {
	case kindObject:
		if c, ok := v.get(s.name); ok {
			return walk(c, path[1:], fn)
		}
	case kindArray:
		switch {
		case s.index >= 0:
			if s.index < len(v.arr) {
				return walk(&v.arr[s.index], path[1:], fn)
			}
		case s.name == "$":
			for i := range v.arr {
				if walk(&v.arr[i], path[1:], fn) {
					return true
				}
			}
		default:
			for i := range v.arr {
				if e := &v.arr[i]; e.k == kindObject {
					if c, ok := e.get(s.name); ok && walk(c, path[1:], fn) {
						return true
					}
				}
			}
		}
	}
	return false
}

// operator tests one value.
type operator interface {
	test(v *value) bool
}

// eqOp is $eq: the same JSON value.
type eqOp struct{ want value }

func (o *eqOp) test(v *value) bool { return equal(v, &o.want) }

// cmpOp is $gt, $gte, $lt and $lte against a number or a string.
type cmpOp struct {
	want    value
	at      time.Time // when want is an RFC 3339 timestamp
	hasTime bool
	accept  func(c int) bool
}

func (o *cmpOp) test(v *value) bool {
	if v.k != o.want.k {
		return false
	}
	if v.k == kindNumber {
		return o.accept(compareNumbers(v.s, o.want.s))
	}
	if o.hasTime {
		if t, ok := timestamp(v.s); ok {
			return o.accept(t.Compare(o.at))
		}
	}
	return o.accept(strings.Compare(v.s, o.want.s))
}

// inOp is $in with an array: equal to one of the elements.
type inOp struct {
	strs   map[string]struct{}
	others []value
}

func (o *inOp) test(v *value) bool {
	if v.k == kindString && o.strs != nil {
		_, ok := o.strs[v.s]
		return ok
	}
	for i := range o.others {
		if equal(v, &o.others[i]) {
			return true
		}
	}
	return false
}

// containsOp is $in with a string: a string that contains it.
type containsOp string

func (o containsOp) test(v *value) bool { return v.k == kindString && strings.Contains(v.s, string(o)) }

// affixOp is $startsWith and $endsWith: a string with one of the affixes.
type affixOp struct {
	affixes []string
	suffix  bool
}

func (o *affixOp) test(v *value) bool {
	if v.k != kindString {
		return false
	}
	for _, a := range o.affixes {
		if o.suffix && strings.HasSuffix(v.s, a) || !o.suffix && strings.HasPrefix(v.s, a) {
			return true
		}
	}
	return false
}

// regexOp is $regex: a string in which the RE2 expression matches.
type regexOp struct{ re *regexp.Regexp }

func (o regexOp) test(v *value) bool { return v.k == kindString && o.re.MatchString(v.s) }

// existOp is $exist; condNode evaluates it on the path itself.
type existOp bool

func (existOp) test(*value) bool { return false }

// parseStep reads one step of a dotted field path.
func parseStep(name string) step {
	s := step{name: name, index: -1}
	if n, err := strconv.Atoi(name); err == nil && n >= 0 && strconv.Itoa(n) == name {
		s.index = n
	}
	return s
}
