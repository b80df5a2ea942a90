package jsonnet

import (
	"github.com/google/go-jsonnet/ast"
)

// The fast path renders a template that stays inside a subset of jsonnet
// (see fastcompile.go) without go-jsonnet: the template is compiled into Go
// closures over the event, evaluated on the caller's goroutine. Whenever it
// meets an error or anything it is not sure to do exactly as go-jsonnet,
// it gives up and the sandbox evaluates the template, so that the result,
// or the error with its position, is always go-jsonnet's.

// fastLimits bounds what a fast evaluation may do so that go-jsonnet,
// evaluating the same template with the sandbox's stack, would not run out
// of stack where the fast path succeeds: a call nests at most one frame of
// go-jsonnet for each place of the template that go-jsonnet evaluates
// lazily, and manifesting nests about two frames for each level of the
// value. Half of the stack is left for the calls, half for manifesting.
func fastLimits(maxStack, sites int) (maxCalls, manifestDepth int) {
	half := maxStack / 2
	maxCalls = half/(sites+2) - 1
	manifestDepth = (half - sites - 10) / 2
	return max(maxCalls, 0), manifestDepth
}

// evaluateFast evaluates p's fast program for in. ok is false when the
// fast path gave up and the sandbox must evaluate.
func (p *Program) evaluateFast(in *Input) (out Output, ok bool) {
	defer func() {
		// A bug of the fast path must not take the host down: the
		// sandbox still renders.
		if r := recover(); r != nil {
			out, ok = Output{}, false
		}
	}()
	c := fastCtx{
		in:            in,
		limit:         p.sb.opts.MaxOutputBytes,
		budget:        fastStepBudget,
		maxCalls:      p.maxCalls,
		manifestDepth: p.manifestDepth,
	}
	v, err := p.fast.root(&c, nil)
	if err != nil {
		return Output{}, false
	}
	switch v := v.(type) {
	case nil:
		return Output{Kind: KindNull}, true
	case string:
		if len(v) > c.limit {
			return Output{}, false
		}
		return Output{Kind: KindString, Body: []byte(v)}, true
	}
	body, err := c.manifestJSON(v, 256)
	if err != nil || len(body) > c.limit {
		return Output{}, false
	}
	return Output{Kind: KindJSON, Body: body}, true
}

// readsEndpoint reports whether a template's desugared AST may read the
// endpoint or its settings from the helper library: it does unless every
// use of the library reads one of its fields by name, and none of those
// is settings or endpoint.
func readsEndpoint(node ast.Node) bool {
	return libUse(node, map[ast.Identifier]bool{})
}

func isLibImport(n ast.Node) bool {
	imp, ok := n.(*ast.Import)
	return ok && (imp.File.Value == libHooklet || imp.File.Value == libLytics)
}

// libUse walks node; lib holds the names in scope and whether each is
// bound to the helper library.
func libUse(node ast.Node, lib map[ast.Identifier]bool) bool {
	switch n := node.(type) {
	case *ast.Index:
		if lit, ok := n.Index.(*ast.LiteralString); ok {
			if v, isVar := n.Target.(*ast.Var); (isVar && lib[v.Id]) || isLibImport(n.Target) {
				return lit.Value == "settings" || lit.Value == "endpoint"
			}
		}
	case *ast.Var:
		return lib[n.Id]
	case *ast.Import:
		return isLibImport(n)
	}
	inner := lib
	if ids := bound(node); len(ids) > 0 {
		inner = make(map[ast.Identifier]bool, len(lib)+len(ids))
		for k, v := range lib {
			inner[k] = v
		}
		for _, id := range ids {
			inner[id] = false
		}
		var binds ast.LocalBinds
		switch n := node.(type) {
		case *ast.Local:
			binds = n.Binds
		case *ast.DesugaredObject:
			binds = n.Locals
		}
		for _, b := range binds {
			if isLibImport(b.Body) {
				inner[b.Variable] = true
			}
		}
	}
	kids, err := children(node)
	if err != nil {
		return true
	}
	for _, k := range kids {
		scope := inner
		if obj, ok := node.(*ast.DesugaredObject); ok {
			// Field names are outside the object's locals.
			for _, f := range obj.Fields {
				if *k == f.Name {
					scope = lib
				}
			}
		}
		if isLibImport(*k) && isBindBody(node, *k) {
			continue // binding the library is not a use of it
		}
		if libUse(*k, scope) {
			return true
		}
	}
	return false
}

// isBindBody reports whether k is the body of a local of node.
func isBindBody(node, k ast.Node) bool {
	var binds ast.LocalBinds
	switch n := node.(type) {
	case *ast.Local:
		binds = n.Binds
	case *ast.DesugaredObject:
		binds = n.Locals
	}
	for _, b := range binds {
		if b.Body == k {
			return true
		}
	}
	return false
}
