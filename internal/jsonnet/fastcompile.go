package jsonnet

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/google/go-jsonnet/ast"
)

// This file compiles the desugared AST of a template into Go closures over
// the event, when the template stays inside the fast path's subset: no
// self, super or $, no object asserts, no imports but the helper library,
// no bitwise operators, and only the std functions of fastStd. The helper
// library is resolved when compiled: a template may only read its fields
// (event.data, event.get(...), ...), not use it as a value.
//
// The compiled program evaluates eagerly and gives up (errFallback) on the
// first error, on anything it cannot be sure to do as go-jsonnet does, and
// when it runs out of its step budget; the sandbox then evaluates the
// template. Eager evaluation agrees with jsonnet's lazy one whenever both
// succeed, as the subset has no side effects.

// fastExpr evaluates one node in a frame.
type fastExpr func(c *fastCtx, f *fastFrame) (any, error)

// fastFrame holds the variables one local, function call or object binds.
type fastFrame struct {
	vars []any
	up   *fastFrame
}

// unset marks a variable whose value is not computed yet: reading it
// gives up.
type unset struct{}

// fastFunc is a function of the template; fastClosure is its value.
type fastFunc struct {
	params   []ast.Identifier
	defaults []fastExpr // nil where the parameter has no default
	body     fastExpr
}

type fastClosure struct {
	fn  *fastFunc
	env *fastFrame
}

// bindKind says what a name refers to when compiled.
type bindKind int

const (
	bindSlot bindKind = iota // a variable of a frame
	bindStd                  // std, which the template may only index
	bindLib                  // the helper library
)

type fastBinding struct {
	kind bindKind
	idx  int
}

// fastScope is the compile-time view of one frame.
type fastScope struct {
	names map[ast.Identifier]fastBinding
	up    *fastScope
}

// unsupported is panicked by the compiler with the reason a template is
// not in the subset.
type unsupported string

// fastCompiler compiles one template.
type fastCompiler struct {
	sites         int  // places that jsonnet evaluates lazily, each a potential stack frame
	readsEndpoint bool // the template reads the endpoint or its settings
}

// fastProgram is a template compiled for the fast path.
type fastProgram struct {
	root  fastExpr
	sites int
}

// compileFast compiles the desugared AST of a template. It returns nil and
// the reason when the template is outside the subset.
func compileFast(src string, node ast.Node) (prog *fastProgram, reason string) {
	if !utf8.ValidString(src) {
		return nil, "the template is not valid UTF-8"
	}
	fc := &fastCompiler{}
	defer func() {
		if r := recover(); r != nil {
			u, ok := r.(unsupported)
			if !ok {
				panic(r)
			}
			prog, reason = nil, string(u)
		}
	}()
	root := &fastScope{names: map[ast.Identifier]fastBinding{
		"std": {kind: bindStd}, "$std": {kind: bindStd},
	}}
	e := fc.expr(node, root)
	return &fastProgram{root: e, sites: fc.sites}, ""
}

func unsupportedf(node ast.Node, format string, args ...any) unsupported {
	msg := fmt.Sprintf(format, args...)
	if loc := node.Loc(); loc != nil && loc.IsSet() {
		msg = fmt.Sprintf("%d:%d: %s", loc.Begin.Line, loc.Begin.Column, msg)
	}
	return unsupported(msg)
}

// lookup resolves a name to its binding and the number of frames up.
func (s *fastScope) lookup(id ast.Identifier) (fastBinding, int, bool) {
	hops := 0
	for sc := s; sc != nil; sc = sc.up {
		if b, ok := sc.names[id]; ok {
			return b, hops, true
		}
		if sc.up != nil {
			hops++
		}
	}
	return fastBinding{}, 0, false
}

// isLib reports whether node is the helper library: an import of it, or
// a variable bound to one.
func isLib(node ast.Node, s *fastScope) bool {
	switch n := node.(type) {
	case *ast.Import:
		return n.File.Value == libHooklet || n.File.Value == libLytics
	case *ast.Var:
		b, _, ok := s.lookup(n.Id)
		return ok && b.kind == bindLib
	}
	return false
}

func isStd(node ast.Node, s *fastScope) bool {
	v, ok := node.(*ast.Var)
	if !ok {
		return false
	}
	b, _, found := s.lookup(v.Id)
	return found && b.kind == bindStd
}

// literalIndex returns the field name of target.name, or false.
func literalIndex(node ast.Node) (target ast.Node, name string, ok bool) {
	ix, ok := node.(*ast.Index)
	if !ok {
		return nil, "", false
	}
	lit, ok := ix.Index.(*ast.LiteralString)
	if !ok {
		return nil, "", false
	}
	return ix.Target, lit.Value, true
}

func (fc *fastCompiler) expr(node ast.Node, s *fastScope) fastExpr {
	switch n := node.(type) {
	case *ast.LiteralNull:
		return func(*fastCtx, *fastFrame) (any, error) { return nil, nil }
	case *ast.LiteralBoolean:
		v := n.Value
		return func(*fastCtx, *fastFrame) (any, error) { return v, nil }
	case *ast.LiteralNumber:
		f, err := strconv.ParseFloat(n.OriginalString, 64)
		if err != nil {
			panic(unsupportedf(n, "number %s", n.OriginalString))
		}
		var v any = f
		return func(*fastCtx, *fastFrame) (any, error) { return v, nil }
	case *ast.LiteralString:
		if !utf8.ValidString(n.Value) {
			panic(unsupportedf(n, "string literal with invalid UTF-8"))
		}
		var v any = n.Value
		return func(*fastCtx, *fastFrame) (any, error) { return v, nil }
	case *ast.Var:
		return fc.variable(n, s)
	case *ast.Array:
		return fc.array(n, s)
	case *ast.DesugaredObject:
		return fc.object(n, s)
	case *ast.Local:
		return fc.local(n, s)
	case *ast.Conditional:
		cond, yes, no := fc.expr(n.Cond, s), fc.expr(n.BranchTrue, s), fc.expr(n.BranchFalse, s)
		return func(c *fastCtx, f *fastFrame) (any, error) {
			v, err := cond(c, f)
			if err != nil {
				return nil, err
			}
			b, ok := v.(bool)
			if !ok {
				return nil, errFallback
			}
			if b {
				return yes(c, f)
			}
			return no(c, f)
		}
	case *ast.Binary:
		return fc.binary(n, s)
	case *ast.Unary:
		return fc.unary(n, s)
	case *ast.Index:
		return fc.index(n, s)
	case *ast.Apply:
		return fc.apply(n, s)
	case *ast.Function:
		fn := fc.function(n, s)
		return func(_ *fastCtx, f *fastFrame) (any, error) { return &fastClosure{fn: fn, env: f}, nil }
	case *ast.Error:
		fc.expr(n.Expr, s)
		return func(*fastCtx, *fastFrame) (any, error) { return nil, errFallback }
	case *ast.Import:
		panic(unsupportedf(n, "the helper library used as a value"))
	case *ast.Self, *ast.SuperIndex, *ast.InSuper:
		panic(unsupportedf(n, "self and super"))
	}
	panic(unsupportedf(node, "%T", node))
}

func (fc *fastCompiler) variable(n *ast.Var, s *fastScope) fastExpr {
	b, hops, ok := s.lookup(n.Id)
	if !ok {
		panic(unsupportedf(n, "variable %s", n.Id))
	}
	switch b.kind {
	case bindStd:
		panic(unsupportedf(n, "std used as a value"))
	case bindLib:
		panic(unsupportedf(n, "the helper library used as a value"))
	}
	idx := b.idx
	return func(_ *fastCtx, f *fastFrame) (any, error) {
		for range hops {
			f = f.up
		}
		v := f.vars[idx]
		if _, ok := v.(unset); ok {
			return nil, errFallback
		}
		return v, nil
	}
}

func (fc *fastCompiler) array(n *ast.Array, s *fastScope) fastExpr {
	elems := make([]fastExpr, len(n.Elements))
	for i, e := range n.Elements {
		elems[i] = fc.expr(e.Expr, s)
	}
	fc.sites += len(elems)
	return func(c *fastCtx, f *fastFrame) (any, error) {
		out := make([]any, len(elems))
		for i, e := range elems {
			v, err := e(c, f)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
}

// binds compiles the binds of a local or of an object into scope inner,
// whose frame the returned function fills: functions first, so that they
// can refer to each other and to later binds, then the other values in
// order. A value may not refer to itself or to a later value.
func (fc *fastCompiler) binds(binds ast.LocalBinds, inner *fastScope) func(c *fastCtx, f *fastFrame) error {
	type bind struct {
		idx int
		fn  *fastFunc
		val fastExpr
	}
	for i, b := range binds {
		if _, self := b.Body.(*ast.Self); self && b.Variable == "$" {
			// The desugarer binds $ in the outermost object; a template
			// that uses it is refused where it does.
			continue
		}
		if _, dup := inner.names[b.Variable]; dup {
			panic(unsupportedf(b.Body, "duplicate local %s", b.Variable))
		}
		if imp, ok := b.Body.(*ast.Import); ok && (imp.File.Value == libHooklet || imp.File.Value == libLytics) {
			inner.names[b.Variable] = fastBinding{kind: bindLib}
			continue
		}
		inner.names[b.Variable] = fastBinding{kind: bindSlot, idx: i}
	}
	fc.sites += len(binds)
	var fns, vals []bind
	later := map[ast.Identifier]bool{}
	for _, b := range binds {
		if bd, ok := inner.names[b.Variable]; ok && bd.kind == bindSlot {
			if _, fn := b.Body.(*ast.Function); fn {
				continue
			}
			later[b.Variable] = true
		}
	}
	for i, b := range binds {
		if bd, ok := inner.names[b.Variable]; !ok || bd.kind != bindSlot || bd.idx != i {
			continue
		}
		if fn, ok := b.Body.(*ast.Function); ok {
			fns = append(fns, bind{idx: i, fn: fc.function(fn, inner)})
			continue
		}
		for _, id := range b.Body.FreeVariables() {
			if later[id] {
				panic(unsupportedf(b.Body, "local %s refers to a local bound after it", b.Variable))
			}
		}
		delete(later, b.Variable)
		vals = append(vals, bind{idx: i, val: fc.expr(b.Body, inner)})
	}
	return func(c *fastCtx, f *fastFrame) error {
		for _, b := range vals {
			f.vars[b.idx] = unset{}
		}
		for _, b := range fns {
			f.vars[b.idx] = &fastClosure{fn: b.fn, env: f}
		}
		for _, b := range vals {
			v, err := b.val(c, f)
			if err != nil {
				return err
			}
			f.vars[b.idx] = v
		}
		return nil
	}
}

func (fc *fastCompiler) local(n *ast.Local, s *fastScope) fastExpr {
	inner := &fastScope{names: map[ast.Identifier]fastBinding{}, up: s}
	fill := fc.binds(n.Binds, inner)
	body := fc.expr(n.Body, inner)
	size := len(n.Binds)
	return func(c *fastCtx, f *fastFrame) (any, error) {
		fr := &fastFrame{vars: make([]any, size), up: f}
		if err := fill(c, fr); err != nil {
			return nil, err
		}
		return body(c, fr)
	}
}

func (fc *fastCompiler) object(n *ast.DesugaredObject, s *fastScope) fastExpr {
	if len(n.Asserts) > 0 {
		panic(unsupportedf(n, "object assertions"))
	}
	inner := s
	var fill func(c *fastCtx, f *fastFrame) error
	if len(n.Locals) > 0 {
		inner = &fastScope{names: map[ast.Identifier]fastBinding{}, up: s}
		fill = fc.binds(n.Locals, inner)
	}
	type field struct {
		literal bool
		name    string
		nameOf  fastExpr
		hide    ast.ObjectFieldHide
		plus    bool
		body    fastExpr
	}
	fields := make([]field, len(n.Fields))
	allLiteral := true
	seen := map[string]bool{}
	for i, fl := range n.Fields {
		f := field{hide: fl.Hide, plus: fl.PlusSuper, body: fc.expr(fl.Body, inner)}
		if lit, ok := fl.Name.(*ast.LiteralString); ok && utf8.ValidString(lit.Value) && !seen[lit.Value] {
			f.literal, f.name = true, lit.Value
			seen[lit.Value] = true
		} else {
			f.nameOf = fc.expr(fl.Name, s)
			allLiteral = false
		}
		fields[i] = f
	}
	fc.sites += len(fields)
	// With literal names only, the order of the sorted fields is known.
	var order []int
	if allLiteral {
		order = make([]int, len(fields))
		for i := range order {
			order[i] = i
		}
		sort.Slice(order, func(a, b int) bool { return fields[order[a]].name < fields[order[b]].name })
	}
	nlocals := len(n.Locals)
	return func(c *fastCtx, f *fastFrame) (any, error) {
		fr := f
		if fill != nil {
			fr = &fastFrame{vars: make([]any, nlocals), up: f}
			if err := fill(c, fr); err != nil {
				return nil, err
			}
		}
		o := &fastObject{fields: make([]fastField, 0, len(fields))}
		if allLiteral {
			for _, i := range order {
				fl := &fields[i]
				v, err := fl.body(c, fr)
				if err != nil {
					return nil, err
				}
				o.fields = append(o.fields, fastField{name: fl.name, hide: fl.hide, plus: fl.plus, value: v})
			}
			return o, nil
		}
		for i := range fields {
			fl := &fields[i]
			name := fl.name
			if !fl.literal {
				nv, err := fl.nameOf(c, f)
				if err != nil {
					return nil, err
				}
				if nv == nil {
					continue // a null name omits the field
				}
				ns, ok := nv.(string)
				if !ok {
					return nil, errFallback
				}
				name = ns
			}
			v, err := fl.body(c, fr)
			if err != nil {
				return nil, err
			}
			o.fields = append(o.fields, fastField{name: name, hide: fl.hide, plus: fl.plus, value: v})
		}
		sortFields(o.fields)
		for i := 1; i < len(o.fields); i++ {
			if o.fields[i].name == o.fields[i-1].name {
				return nil, errFallback // duplicate field
			}
		}
		return o, nil
	}
}

func (fc *fastCompiler) function(n *ast.Function, s *fastScope) *fastFunc {
	inner := &fastScope{names: map[ast.Identifier]fastBinding{}, up: s}
	fn := &fastFunc{params: make([]ast.Identifier, len(n.Parameters)), defaults: make([]fastExpr, len(n.Parameters))}
	for i, p := range n.Parameters {
		if _, dup := inner.names[p.Name]; dup {
			panic(unsupportedf(n, "duplicate parameter %s", p.Name))
		}
		fn.params[i] = p.Name
		inner.names[p.Name] = fastBinding{kind: bindSlot, idx: i}
	}
	for i, p := range n.Parameters {
		if p.DefaultArg == nil {
			continue
		}
		for _, id := range p.DefaultArg.FreeVariables() {
			if _, ok := inner.names[id]; ok {
				panic(unsupportedf(p.DefaultArg, "a default argument that refers to a parameter"))
			}
		}
		fn.defaults[i] = fc.expr(p.DefaultArg, inner)
	}
	fc.sites += len(n.Parameters)
	fn.body = fc.expr(n.Body, inner)
	return fn
}

func (fc *fastCompiler) unary(n *ast.Unary, s *fastScope) fastExpr {
	x := fc.expr(n.Expr, s)
	op := n.Op
	switch op {
	case ast.UopNot, ast.UopMinus, ast.UopPlus:
	default:
		panic(unsupportedf(n, "operator %s", op))
	}
	return func(c *fastCtx, f *fastFrame) (any, error) {
		v, err := x(c, f)
		if err != nil {
			return nil, err
		}
		switch op {
		case ast.UopNot:
			if b, ok := v.(bool); ok {
				return !b, nil
			}
		case ast.UopMinus:
			if x, ok := v.(float64); ok {
				return -x, nil
			}
		case ast.UopPlus:
			if x, ok := v.(float64); ok {
				return x, nil
			}
		}
		return nil, errFallback
	}
}

func (fc *fastCompiler) binary(n *ast.Binary, s *fastScope) fastExpr {
	l, r := fc.expr(n.Left, s), fc.expr(n.Right, s)
	op := n.Op
	switch op {
	case ast.BopAnd, ast.BopOr:
		want := op == ast.BopOr // the value of the left side that decides
		return func(c *fastCtx, f *fastFrame) (any, error) {
			v, err := l(c, f)
			if err != nil {
				return nil, err
			}
			b, ok := v.(bool)
			if !ok {
				return nil, errFallback
			}
			if b == want {
				return b, nil
			}
			v, err = r(c, f)
			if err != nil {
				return nil, err
			}
			if _, ok := v.(bool); !ok {
				return nil, errFallback
			}
			return v, nil
		}
	case ast.BopPlus, ast.BopMinus, ast.BopMult, ast.BopDiv,
		ast.BopManifestEqual, ast.BopManifestUnequal,
		ast.BopLess, ast.BopLessEq, ast.BopGreater, ast.BopGreaterEq:
	default:
		panic(unsupportedf(n, "operator %s", op))
	}
	return func(c *fastCtx, f *fastFrame) (any, error) {
		x, err := l(c, f)
		if err != nil {
			return nil, err
		}
		y, err := r(c, f)
		if err != nil {
			return nil, err
		}
		switch op {
		case ast.BopPlus:
			return c.plus(x, y)
		case ast.BopManifestEqual, ast.BopManifestUnequal:
			eq, err := c.equal(x, y)
			if err != nil {
				return nil, err
			}
			return eq == (op == ast.BopManifestEqual), nil
		case ast.BopLess, ast.BopLessEq, ast.BopGreater, ast.BopGreaterEq:
			cmp, err := compare(x, y)
			if err != nil {
				return nil, err
			}
			switch op {
			case ast.BopLess:
				return cmp < 0, nil
			case ast.BopLessEq:
				return cmp <= 0, nil
			case ast.BopGreater:
				return cmp > 0, nil
			}
			return cmp >= 0, nil
		}
		a, ok1 := x.(float64)
		b, ok2 := y.(float64)
		if !ok1 || !ok2 {
			return nil, errFallback
		}
		switch op {
		case ast.BopMinus:
			return checkNumber(a - b)
		case ast.BopMult:
			return checkNumber(a * b)
		}
		if b == 0 {
			return nil, errFallback
		}
		return checkNumber(a / b)
	}
}

func (fc *fastCompiler) index(n *ast.Index, s *fastScope) fastExpr {
	if target, name, ok := literalIndex(n); ok {
		if isLib(target, s) {
			return fc.libField(n, name)
		}
		if isStd(target, s) {
			if name == "thisFile" {
				return func(*fastCtx, *fastFrame) (any, error) { return templateFile, nil }
			}
			panic(unsupportedf(n, "std.%s used as a value", name))
		}
	}
	t, ix := fc.expr(n.Target, s), fc.expr(n.Index, s)
	return func(c *fastCtx, f *fastFrame) (any, error) {
		tv, err := t(c, f)
		if err != nil {
			return nil, err
		}
		iv, err := ix(c, f)
		if err != nil {
			return nil, err
		}
		if s, ok := tv.(string); ok {
			if err := c.spend(1 + len(s)/64); err != nil {
				return nil, err
			}
		}
		return indexValue(tv, iv)
	}
}

// indexValue is target[index]: a field of an object, an element of an
// array, a character of a string. An index into an array or a string is
// truncated to an integer, as go-jsonnet does.
func indexValue(target, index any) (any, error) {
	switch t := target.(type) {
	case map[string]any, *fastObject:
		name, ok := index.(string)
		if !ok {
			return nil, errFallback
		}
		if v, ok := objectIndex(t, name); ok {
			return v, nil
		}
	case []any:
		i, ok := intIndex(index)
		if ok && i >= 0 && i < len(t) {
			return t[i], nil
		}
	case string:
		i, ok := intIndex(index)
		if !ok || i < 0 {
			return nil, errFallback
		}
		for _, r := range t {
			if i == 0 {
				return string(r), nil
			}
			i--
		}
	}
	return nil, errFallback
}

func intIndex(v any) (int, bool) {
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || f <= -1<<31 || f >= 1<<31 {
		return 0, false
	}
	return int(f), true
}

// args compiles the arguments of a call to a built-in function whose
// parameters are params, of which the first required are required.
func (fc *fastCompiler) args(n *ast.Apply, s *fastScope, params []string, required int) []fastExpr {
	out := make([]fastExpr, len(params))
	if len(n.Arguments.Positional) > len(params) {
		panic(unsupportedf(n, "too many arguments"))
	}
	for i, a := range n.Arguments.Positional {
		out[i] = fc.expr(a.Expr, s)
	}
	for _, a := range n.Arguments.Named {
		i := 0
		for i < len(params) && params[i] != string(a.Name) {
			i++
		}
		if i == len(params) || out[i] != nil {
			panic(unsupportedf(n, "argument %s", a.Name))
		}
		out[i] = fc.expr(a.Arg, s)
	}
	for i := range required {
		if out[i] == nil {
			panic(unsupportedf(n, "missing argument %s", params[i]))
		}
	}
	fc.sites += len(n.Arguments.Positional) + len(n.Arguments.Named)
	return out
}

// evalArgs evaluates compiled arguments; a missing optional one is nil.
func evalArgs(c *fastCtx, f *fastFrame, args []fastExpr, out []any) error {
	for i, a := range args {
		if a == nil {
			continue
		}
		v, err := a(c, f)
		if err != nil {
			return err
		}
		out[i] = v
	}
	return nil
}

func (fc *fastCompiler) apply(n *ast.Apply, s *fastScope) fastExpr {
	if target, name, ok := literalIndex(n.Target); ok {
		if isLib(target, s) {
			return fc.libCall(n, s, name)
		}
		if isStd(target, s) {
			return fc.stdCall(n, s, name)
		}
	}
	target := fc.expr(n.Target, s)
	pos := make([]fastExpr, len(n.Arguments.Positional))
	for i, a := range n.Arguments.Positional {
		pos[i] = fc.expr(a.Expr, s)
	}
	names := make([]ast.Identifier, len(n.Arguments.Named))
	named := make([]fastExpr, len(n.Arguments.Named))
	for i, a := range n.Arguments.Named {
		names[i], named[i] = a.Name, fc.expr(a.Arg, s)
	}
	fc.sites += len(pos) + len(named)
	return func(c *fastCtx, f *fastFrame) (any, error) {
		tv, err := target(c, f)
		if err != nil {
			return nil, err
		}
		cl, ok := tv.(*fastClosure)
		if !ok {
			return nil, errFallback
		}
		fn := cl.fn
		if len(pos) > len(fn.params) {
			return nil, errFallback
		}
		fr := &fastFrame{vars: make([]any, len(fn.params)), up: cl.env}
		set := make([]bool, len(fn.params))
		for i, a := range pos {
			v, err := a(c, f)
			if err != nil {
				return nil, err
			}
			fr.vars[i], set[i] = v, true
		}
		for k, a := range named {
			i := 0
			for i < len(fn.params) && fn.params[i] != names[k] {
				i++
			}
			if i == len(fn.params) || set[i] {
				return nil, errFallback
			}
			v, err := a(c, f)
			if err != nil {
				return nil, err
			}
			fr.vars[i], set[i] = v, true
		}
		for i, d := range fn.defaults {
			if set[i] {
				continue
			}
			if d == nil {
				return nil, errFallback
			}
			v, err := d(c, fr)
			if err != nil {
				return nil, err
			}
			fr.vars[i] = v
		}
		return c.call(fn.body, fr)
	}
}

// call evaluates a function body, counting the call against the budget
// and the stack.
func (c *fastCtx) call(body fastExpr, fr *fastFrame) (any, error) {
	if err := c.spend(1); err != nil {
		return nil, err
	}
	if c.calls >= c.maxCalls {
		return nil, errFallback
	}
	c.calls++
	v, err := body(c, fr)
	c.calls--
	return v, err
}

// sortFields sorts fields by name.
func sortFields(fields []fastField) {
	sort.Slice(fields, func(a, b int) bool { return fields[a].name < fields[b].name })
}
