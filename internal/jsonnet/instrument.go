package jsonnet

import (
	"fmt"
	"strings"

	"github.com/google/go-jsonnet/ast"
)

// This file rewrites the desugared, analysed AST of a template. go-jsonnet
// captures a closure's environment from each node's free variables, so
// every rewrite that introduces a variable also adds it to the free
// variables of the nodes above it.

// children returns pointers to the child slots of a desugared node, so
// that a rewrite can replace a child. nil slots are left out.
func children(n ast.Node) ([]*ast.Node, error) {
	var out []*ast.Node
	add := func(p *ast.Node) {
		if *p != nil {
			out = append(out, p)
		}
	}
	switch n := n.(type) {
	case *ast.Apply:
		add(&n.Target)
		for i := range n.Arguments.Positional {
			add(&n.Arguments.Positional[i].Expr)
		}
		for i := range n.Arguments.Named {
			add(&n.Arguments.Named[i].Arg)
		}
	case *ast.Array:
		for i := range n.Elements {
			add(&n.Elements[i].Expr)
		}
	case *ast.Binary:
		add(&n.Left)
		add(&n.Right)
	case *ast.Unary:
		add(&n.Expr)
	case *ast.Conditional:
		add(&n.Cond)
		add(&n.BranchTrue)
		add(&n.BranchFalse)
	case *ast.DesugaredObject:
		for i := range n.Asserts {
			add(&n.Asserts[i])
		}
		for i := range n.Fields {
			add(&n.Fields[i].Name)
			add(&n.Fields[i].Body)
		}
		for i := range n.Locals {
			add(&n.Locals[i].Body)
		}
	case *ast.Error:
		add(&n.Expr)
	case *ast.Function:
		for i := range n.Parameters {
			add(&n.Parameters[i].DefaultArg)
		}
		add(&n.Body)
	case *ast.Index:
		add(&n.Target)
		add(&n.Index)
	case *ast.Local:
		for i := range n.Binds {
			add(&n.Binds[i].Body)
		}
		add(&n.Body)
	case *ast.SuperIndex:
		add(&n.Index)
	case *ast.InSuper:
		add(&n.Index)
	case *ast.Import, *ast.ImportStr, *ast.ImportBin, *ast.LiteralBoolean, *ast.LiteralNull,
		*ast.LiteralNumber, *ast.LiteralString, *ast.Self, *ast.Var, *ast.Dollar:
	default:
		return nil, fmt.Errorf("jsonnet: unexpected node %T", n)
	}
	return out, nil
}

// bound returns the names a node binds for its children.
func bound(n ast.Node) []ast.Identifier {
	var ids []ast.Identifier
	switch n := n.(type) {
	case *ast.Local:
		for _, b := range n.Binds {
			ids = append(ids, b.Variable)
		}
	case *ast.Function:
		for _, p := range n.Parameters {
			ids = append(ids, p.Name)
		}
	case *ast.DesugaredObject:
		for _, b := range n.Locals {
			ids = append(ids, b.Variable)
		}
	}
	return ids
}

// bindingLocs returns the names a node binds with their locations, for the
// reserved-name check.
func bindingLocs(n ast.Node) map[ast.Identifier]ast.LocationRange {
	m := map[ast.Identifier]ast.LocationRange{}
	switch n := n.(type) {
	case *ast.Local:
		for _, b := range n.Binds {
			m[b.Variable] = b.LocRange
		}
	case *ast.Function:
		for _, p := range n.Parameters {
			m[p.Name] = p.LocRange
		}
	case *ast.DesugaredObject:
		for _, b := range n.Locals {
			m[b.Variable] = b.LocRange
		}
	}
	return m
}

// varSet is a small set of the variables a rewrite introduced.
type varSet map[ast.Identifier]struct{}

// instrument rewrites a template's AST in place: imports of the helper
// library become a reference to it, other imports are refused; every
// function body first calls the cancellation check; every + goes through
// the length guard; the desugarer's $std refers to the guarded std. It
// returns the variables the rewrites introduced below *p.
func instrument(p *ast.Node) (varSet, error) {
	n := *p
	for id, loc := range bindingLocs(n) {
		if strings.HasPrefix(string(id), reservedPrefix) {
			if !loc.IsSet() {
				loc = *n.Loc()
			}
			return nil, &Error{Line: loc.Begin.Line, Column: loc.Begin.Column,
				Message: fmt.Sprintf("identifier %q uses the reserved prefix %q", id, reservedPrefix)}
		}
	}
	kids, err := children(n)
	if err != nil {
		return nil, err
	}
	used := varSet{}
	for _, k := range kids {
		u, err := instrument(k)
		if err != nil {
			return nil, err
		}
		for id := range u {
			used[id] = struct{}{}
		}
	}
	loc := *n.Loc()
	switch n := n.(type) {
	case *ast.Import:
		if f := n.File.Value; f != libHooklet && f != libLytics {
			return nil, &Error{Line: loc.Begin.Line, Column: loc.Begin.Column,
				Message: fmt.Sprintf("import %q is not allowed; only %q and %q can be imported", f, libHooklet, libLytics)}
		}
		used[varLib] = struct{}{}
		*p = &ast.Var{NodeBase: ast.NewNodeBase(loc, nil, nil), Id: varLib}
	case *ast.ImportStr:
		return nil, &Error{Line: loc.Begin.Line, Column: loc.Begin.Column,
			Message: fmt.Sprintf("importstr %q is not allowed", n.File.Value)}
	case *ast.ImportBin:
		return nil, &Error{Line: loc.Begin.Line, Column: loc.Begin.Column,
			Message: fmt.Sprintf("importbin %q is not allowed", n.File.Value)}
	case *ast.Var:
		if n.Id == "$std" {
			n.Id = varStd
			used[varStd] = struct{}{}
		}
	case *ast.Function:
		used[varTick] = struct{}{}
		tick := &ast.Apply{Target: &ast.Var{Id: varTick}}
		tick.Target.SetFreeVariables(ast.Identifiers{varTick})
		tick.SetFreeVariables(ast.Identifiers{varTick})
		body := n.Body
		cond := &ast.Conditional{
			NodeBase:    ast.NewNodeBase(*body.Loc(), nil, nil),
			Cond:        tick,
			BranchTrue:  body,
			BranchFalse: &ast.LiteralNull{},
		}
		cond.SetFreeVariables(withVars(body.FreeVariables(), varSet{varTick: {}}))
		n.Body = cond
	case *ast.Binary:
		if n.Op == ast.BopPlus {
			// a + b becomes __hooklet_fit(a + b) tailstrict. The sum is
			// evaluated as the argument, before the check's own frame is
			// pushed, so a recursion through a + b nests one frame (the
			// argument's) instead of the check's whole body.
			n.SetFreeVariables(withVars(n.FreeVariables(), used))
			used[varFit] = struct{}{}
			target := &ast.Var{Id: varFit}
			target.SetFreeVariables(ast.Identifiers{varFit})
			apply := &ast.Apply{
				NodeBase:   ast.NewNodeBase(loc, nil, nil),
				Target:     target,
				Arguments:  ast.Arguments{Positional: []ast.CommaSeparatedExpr{{Expr: n}}},
				TailStrict: true,
			}
			*p = apply
		}
	}
	// The free variables of the (possibly replaced) node: its own, with
	// $std renamed, plus those the rewrites introduced below it. A
	// template cannot bind an introduced name, so none is bound here.
	(*p).SetFreeVariables(withVars(n.FreeVariables(), used))
	return used, nil
}

// withVars returns ids with $std replaced by the guarded std and the
// variables of add appended.
func withVars(ids ast.Identifiers, add varSet) ast.Identifiers {
	out := make(ast.Identifiers, 0, len(ids)+len(add))
	seen := map[ast.Identifier]bool{}
	for _, id := range ids {
		if id == "$std" {
			id = varStd
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	for id := range add {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// splice places the template's AST as the body of the prelude's
// __hooklet_out binding and adds the template's free variables to the
// prelude nodes above it, less the names those nodes bind. It reports
// whether the slot was found.
func splice(prog, user ast.Node) (bool, error) {
	need := varSet{}
	for _, id := range user.FreeVariables() {
		need[id] = struct{}{}
	}
	found, _, err := spliceAt(prog, user, need)
	return found, err
}

func spliceAt(n, user ast.Node, need varSet) (bool, varSet, error) {
	var below varSet
	found := false
	if l, ok := n.(*ast.Local); ok {
		for i := range l.Binds {
			if l.Binds[i].Variable == varBody {
				l.Binds[i].Body = user
				found, below = true, need
			}
		}
	}
	if !found {
		kids, err := children(n)
		if err != nil {
			return false, nil, err
		}
		for _, k := range kids {
			f, b, err := spliceAt(*k, user, need)
			if err != nil {
				return false, nil, err
			}
			if f {
				found, below = true, b
				break
			}
		}
	}
	if !found {
		return false, nil, nil
	}
	up := varSet{}
	for id := range below {
		up[id] = struct{}{}
	}
	for _, id := range bound(n) {
		delete(up, id)
	}
	ids := n.FreeVariables()
	have := map[ast.Identifier]bool{}
	for _, id := range ids {
		have[id] = true
	}
	out := append(ast.Identifiers(nil), ids...)
	for id := range up {
		if !have[id] {
			out = append(out, id)
		}
	}
	n.SetFreeVariables(out)
	return true, up, nil
}
