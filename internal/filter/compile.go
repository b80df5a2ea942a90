package filter

import (
	"fmt"
	"regexp"
	"strings"
)

// Limits on a filter document.
const (
	// MaxBytes caps the size of a filter document.
	MaxBytes = 64 << 10
	// MaxDepth caps how deeply a filter document nests objects and arrays.
	MaxDepth = 32
	// MaxNodes caps the number of values in a filter document.
	MaxNodes = 1024
)

// Empty reports whether src holds no filter: nothing, only white space,
// null or {}. An empty filter matches every event.
func Empty(src []byte) bool {
	s := strings.Trim(string(src), " \t\r\n")
	if s == "" || s == "null" {
		return true
	}
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return false
	}
	return strings.Trim(s[1:len(s)-1], " \t\r\n") == ""
}

// Compile compiles a filter document. An empty one (see [Empty]) yields a
// nil *Program, which matches every event. A filter that does not compile
// yields an [*Error] locating the first fault in document order.
func Compile(src []byte) (*Program, error) {
	if Empty(src) {
		return nil, nil
	}
	var root *jsonPath
	if len(src) > MaxBytes {
		return nil, root.fail(fmt.Sprintf("longer than %d bytes", MaxBytes))
	}
	doc, err := parse(src, MaxDepth+1)
	if err != nil {
		return nil, root.fail(fmt.Sprintf("is not valid JSON nested at most %d deep", MaxDepth))
	}
	if doc.k != kindObject {
		return nil, root.fail("must be a JSON object")
	}
	c := compiler{}
	n, err := c.object(root, nil, &doc, 0)
	if err != nil {
		return nil, err
	}
	return &Program{root: n, usesData: c.usesData, nodes: c.nodes}, nil
}

type compiler struct {
	nodes    int
	usesData bool
}

// count charges one value of the document to the node budget.
func (c *compiler) count(at *jsonPath) error {
	c.nodes++
	if c.nodes > MaxNodes {
		return at.fail(fmt.Sprintf("the filter has more than %d values", MaxNodes))
	}
	return nil
}

// object compiles a filter object whose field names are relative to the
// field path prefix (nil at the top). Its members must all match.
func (c *compiler) object(at *jsonPath, prefix []step, v *value, depth int) (node, error) {
	if depth > MaxDepth {
		return nil, at.fail(fmt.Sprintf("nested deeper than %d", MaxDepth))
	}
	if err := c.count(at); err != nil {
		return nil, err
	}
	var all andNode
	for i := range v.obj {
		m := &v.obj[i]
		mat := at.child(m.key)
		var (
			n   node
			err error
		)
		switch {
		case m.key == "$and" || m.key == "$or":
			n, err = c.logical(mat, prefix, m.key, &m.val, depth)
		case m.key == "$not":
			if m.val.k != kindObject {
				return nil, mat.fail("$not wants an object")
			}
			var inner node
			inner, err = c.object(mat, prefix, &m.val, depth+1)
			n = notNode{inner}
		case strings.HasPrefix(m.key, "$"):
			if prefix == nil {
				if _, known := operators[m.key]; known {
					return nil, mat.fail(m.key + " applies to a field; put it under a field name")
				}
				return nil, mat.fail("unknown operator " + m.key)
			}
			n, err = c.operator(mat, prefix, m.key, &m.val, depth)
		default:
			n, err = c.field(mat, prefix, m.key, &m.val, depth)
		}
		if err != nil {
			return nil, err
		}
		all = append(all, n)
	}
	if len(all) == 1 {
		return all[0], nil
	}
	return all, nil
}

// logical compiles $and and $or: an array of filter objects.
func (c *compiler) logical(at *jsonPath, prefix []step, op string, v *value, depth int) (node, error) {
	if v.k != kindArray {
		return nil, at.fail(op + " wants an array of filters")
	}
	if err := c.count(at); err != nil {
		return nil, err
	}
	kids := make([]node, 0, len(v.arr))
	for i := range v.arr {
		el := at.element(i)
		if v.arr[i].k != kindObject {
			return nil, el.fail(op + " wants an array of filters")
		}
		n, err := c.object(el, prefix, &v.arr[i], depth+2)
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
	if op == "$and" {
		return andNode(kids), nil
	}
	return orNode(kids), nil
}

// field compiles the member name: v of a filter object below prefix. The
// name is a dotted path; an object value holds operators on that path and
// filters on paths below it, any other value is an equality.
func (c *compiler) field(at *jsonPath, prefix []step, name string, v *value, depth int) (node, error) {
	path := make([]step, len(prefix), len(prefix)+strings.Count(name, ".")+1)
	copy(path, prefix)
	for s := range strings.SplitSeq(name, ".") {
		if s == "" {
			return nil, at.fail("field path has an empty step")
		}
		path = append(path, parseStep(s))
	}
	if path[0].name == "data" {
		c.usesData = true
	}
	if v.k == kindObject && len(v.obj) > 0 {
		return c.object(at, path, v, depth+1)
	}
	want, err := c.operand(at, v, depth+1)
	if err != nil {
		return nil, err
	}
	return &condNode{path: path, op: &eqOp{want}}, nil
}

// operators lists the operators that apply to a field.
var operators = map[string]bool{
	"$eq": true, "$neq": true, "$gt": true, "$gte": true, "$lt": true, "$lte": true,
	"$in": true, "$nin": true, "$exist": true, "$startsWith": true, "$endsWith": true,
	"$regex": true,
}

// operator compiles one operator applied to the field path.
func (c *compiler) operator(at *jsonPath, path []step, op string, v *value, depth int) (node, error) {
	if !operators[op] {
		return nil, at.fail("unknown operator " + op)
	}
	cond := func(o operator) node { return &condNode{path: path, op: o} }
	switch op {
	case "$eq", "$neq":
		want, err := c.operand(at, v, depth+1)
		if err != nil {
			return nil, err
		}
		if op == "$neq" {
			return notNode{cond(&eqOp{want})}, nil
		}
		return cond(&eqOp{want}), nil
	case "$gt", "$gte", "$lt", "$lte":
		if err := c.count(at); err != nil {
			return nil, err
		}
		if v.k != kindNumber && v.k != kindString {
			return nil, at.fail(op + " wants a number or a string")
		}
		o := &cmpOp{want: *v, accept: comparisons[op]}
		if v.k == kindString {
			o.at, o.hasTime = timestamp(v.s)
		}
		return cond(o), nil
	case "$in", "$nin":
		var o operator
		switch v.k {
		case kindString:
			if err := c.count(at); err != nil {
				return nil, err
			}
			o = containsOp(v.s)
		case kindArray:
			in, err := c.set(at, v, depth+1)
			if err != nil {
				return nil, err
			}
			o = in
		default:
			return nil, at.fail(op + " wants an array or a string")
		}
		if op == "$nin" {
			return notNode{cond(o)}, nil
		}
		return cond(o), nil
	case "$startsWith", "$endsWith":
		affixes, err := c.strings(at, op, v)
		if err != nil {
			return nil, err
		}
		return cond(&affixOp{affixes: affixes, suffix: op == "$endsWith"}), nil
	case "$regex":
		if err := c.count(at); err != nil {
			return nil, err
		}
		if v.k != kindString {
			return nil, at.fail("$regex wants a string")
		}
		re, err := regexp.Compile(v.s)
		if err != nil {
			return nil, at.failErr("$regex does not compile", err)
		}
		return cond(regexOp{re}), nil
	}
	// $exist
	if err := c.count(at); err != nil {
		return nil, err
	}
	if v.k != kindBool {
		return nil, at.fail("$exist wants true or false")
	}
	return cond(existOp(v.b)), nil
}

var comparisons = map[string]func(int) bool{
	"$gt":  func(c int) bool { return c > 0 },
	"$gte": func(c int) bool { return c >= 0 },
	"$lt":  func(c int) bool { return c < 0 },
	"$lte": func(c int) bool { return c <= 0 },
}

// operand checks a value compared for equality, charges it to the node
// budget and drops the earlier of repeated object keys, as a payload
// lookup would.
func (c *compiler) operand(at *jsonPath, v *value, depth int) (value, error) {
	if depth > MaxDepth {
		return value{}, at.fail(fmt.Sprintf("nested deeper than %d", MaxDepth))
	}
	if err := c.count(at); err != nil {
		return value{}, err
	}
	switch v.k {
	case kindArray:
		out := value{k: kindArray, arr: make([]value, len(v.arr))}
		for i := range v.arr {
			el, err := c.operand(at.element(i), &v.arr[i], depth+1)
			if err != nil {
				return value{}, err
			}
			out.arr[i] = el
		}
		return out, nil
	case kindObject:
		out := value{k: kindObject, obj: make([]member, 0, len(v.obj))}
		for i := range v.obj {
			m := &v.obj[i]
			if last, _ := v.get(m.key); last != &m.val {
				continue
			}
			el, err := c.operand(at.child(m.key), &m.val, depth+1)
			if err != nil {
				return value{}, err
			}
			out.obj = append(out.obj, member{m.key, el})
		}
		return out, nil
	}
	return *v, nil
}

// set compiles the array operand of $in.
func (c *compiler) set(at *jsonPath, v *value, depth int) (*inOp, error) {
	all, err := c.operand(at, v, depth)
	if err != nil {
		return nil, err
	}
	o := &inOp{}
	for _, el := range all.arr {
		if el.k == kindString {
			if o.strs == nil {
				o.strs = map[string]struct{}{}
			}
			o.strs[el.s] = struct{}{}
			continue
		}
		o.others = append(o.others, el)
	}
	return o, nil
}

// strings reads the operand of $startsWith and $endsWith: a string or a
// non-empty array of strings.
func (c *compiler) strings(at *jsonPath, op string, v *value) ([]string, error) {
	if err := c.count(at); err != nil {
		return nil, err
	}
	switch v.k {
	case kindString:
		return []string{v.s}, nil
	case kindArray:
		if len(v.arr) == 0 {
			return nil, at.fail(op + " wants a string or a non-empty array of strings")
		}
		out := make([]string, len(v.arr))
		for i := range v.arr {
			el := at.element(i)
			if err := c.count(el); err != nil {
				return nil, err
			}
			if v.arr[i].k != kindString {
				return nil, el.fail(op + " wants a string or a non-empty array of strings")
			}
			out[i] = v.arr[i].s
		}
		return out, nil
	}
	return nil, at.fail(op + " wants a string or a non-empty array of strings")
}
