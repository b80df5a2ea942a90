package jsonnet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	gojsonnet "github.com/google/go-jsonnet"
	"github.com/google/go-jsonnet/ast"
)

// Program is a compiled, instrumented template. It is safe for concurrent
// use.
type Program struct {
	sb   *Sandbox
	node ast.Node // instrumented program; read-only once compiled

	fast          *fastProgram // nil when the template is outside the fast path's subset
	fastReason    string       // why fast is nil
	maxCalls      int          // fast path limits, see fastLimits
	manifestDepth int
	readsEndpoint bool

	disabled atomic.Pointer[Error]
	running  sync.WaitGroup // evaluations in flight, including abandoned ones
}

// Input is what a template sees of one event and its endpoint. The JSON
// fields hold JSON text; empty means an empty object (Attributes,
// Settings) or null (Payload).
type Input struct {
	ID          string
	Type        string
	Time        string // RFC 3339, or empty
	Tenant      string
	Attributes  string            // JSON object of strings
	AttrMap     map[string]string // the attributes, when Attributes is empty; read-only
	Payload     string            // JSON
	Settings    string            // JSON
	EndpointID  string
	EndpointURL string
	// CallbackURL is the attempt's callback URL, the library's
	// callback_url; empty makes it null.
	CallbackURL string
}

// args lays out the top-level arguments of the program, in the order of
// tlaNames.
func (in Input) args() [10]string {
	a := [10]string{in.ID, in.Type, in.Time, in.Tenant, in.attributesJSON(), in.Payload, in.Settings, in.EndpointID, in.EndpointURL, in.CallbackURL}
	if a[5] == "" {
		a[5] = "null"
	}
	if a[6] == "" {
		a[6] = "{}"
	}
	return a
}

// attributesJSON returns the attributes as a JSON object.
func (in *Input) attributesJSON() string {
	if in.Attributes != "" {
		return in.Attributes
	}
	if len(in.AttrMap) > 0 {
		if b, err := json.Marshal(in.AttrMap); err == nil {
			return string(b)
		}
	}
	return "{}"
}

// Kind is the kind of value a template evaluated to.
type Kind int

// Kinds of [Output].
const (
	// KindNull is null: the template chose not to send the event.
	KindNull Kind = iota
	// KindJSON is an object, array, number or boolean, as compact JSON.
	KindJSON
	// KindString is a string, as its bytes.
	KindString
)

// Output is the value of one evaluation.
type Output struct {
	Kind Kind
	Body []byte // empty for KindNull
}

// Evaluate runs the program for one input: on the fast path, on the
// caller's goroutine, when the template is inside its subset and the fast
// path can finish this input; in the sandbox otherwise. It returns within
// the sandbox's Timeout: with the output, with an *[Error] (the template
// failed, timed out, or was disabled by an earlier timeout), or with ctx's
// error when ctx ends first, which says nothing about the template.
//
// A timeout disables the program: every later Evaluate fails at once.
func (p *Program) Evaluate(ctx context.Context, in Input) (Output, error) {
	if e := p.disabled.Load(); e != nil {
		return Output{}, e
	}
	if err := ctx.Err(); err != nil {
		return Output{}, err
	}
	if p.fast != nil {
		if out, ok := p.evaluateFast(&in); ok {
			return out, nil
		}
	}
	return p.evaluateSandbox(ctx, in)
}

// evaluateSandbox runs the program on an evaluator of the sandbox.
func (p *Program) evaluateSandbox(ctx context.Context, in Input) (Output, error) {
	j := &evalJob{p: p, args: in.args(), done: make(chan evalResult, 1)}
	st := &j.state
	p.running.Add(1)
	p.sb.evaluator().jobs <- j

	timer := timerPool.Get().(*time.Timer)
	timer.Reset(p.sb.opts.Timeout)
	defer func() {
		timer.Stop()
		timerPool.Put(timer)
	}()
	select {
	case r := <-j.done:
		return p.result(r)
	case <-timer.C:
		st.cancelled.Store(true)
		e := &Error{Message: fmt.Sprintf("evaluation exceeded the time limit of %v; the template is disabled until it is changed", p.sb.opts.Timeout)}
		p.disabled.CompareAndSwap(nil, e)
		return Output{}, p.disabled.Load()
	case <-ctx.Done():
		st.cancelled.Store(true)
		return Output{}, ctx.Err()
	}
}

var timerPool = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

// Wait blocks until every evaluation of p, including those Evaluate gave
// up on, has returned.
func (p *Program) Wait() { p.running.Wait() }

func (p *Program) result(r evalResult) (Output, error) {
	if r.err != nil {
		return Output{}, runtimeError(r.err)
	}
	limit := p.sb.opts.MaxOutputBytes
	// The VM manifests the value as indented JSON.
	out := r.out
	var o Output
	switch {
	case out == "null":
		return Output{Kind: KindNull}, nil
	case len(out) > 0 && out[0] == '"':
		if len(out) > limit*6+2 {
			// Even unquoted it cannot fit.
			return Output{}, outputTooLarge(len(out), limit)
		}
		var s string
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			return Output{}, &Error{Message: "internal error: output string: " + err.Error()}
		}
		o = Output{Kind: KindString, Body: []byte(s)}
	default:
		buf := bytes.NewBuffer(make([]byte, 0, len(out)))
		if err := json.Compact(buf, []byte(out)); err != nil {
			return Output{}, &Error{Message: "internal error: output JSON: " + err.Error()}
		}
		o = Output{Kind: KindJSON, Body: buf.Bytes()}
	}
	if len(o.Body) > limit {
		return Output{}, outputTooLarge(len(o.Body), limit)
	}
	return o, nil
}

// FastPath reports whether p renders on the fast path, and when it does
// not, the first construct outside the fast path's subset. A fast program
// still falls back to the sandbox for an evaluation that fails or that the
// fast path cannot finish exactly as go-jsonnet would.
func (p *Program) FastPath() (fast bool, reason string) {
	return p.fast != nil, p.fastReason
}

// ReadsEndpoint reports whether the template may read its endpoint (the
// helper library's endpoint or settings). When it does not, its output
// depends only on the event: deliveries of one event to endpoints sharing
// the template can share one rendering.
func (p *Program) ReadsEndpoint() bool { return p.readsEndpoint }

// compile parses, checks and instruments src and splices it into the
// prelude; it also compiles src for the fast path when it can.
func compile(src, prelude string, maxStack int) (*Program, error) {
	user, err := gojsonnet.SnippetToAST(templateFile, src)
	if err != nil {
		return nil, staticError(err)
	}
	p := &Program{readsEndpoint: readsEndpoint(user)}
	// The fast path compiles the AST before instrument rewrites it; it
	// keeps no reference to the nodes.
	p.fast, p.fastReason = compileFast(src, user)
	if p.fast != nil {
		p.maxCalls, p.manifestDepth = fastLimits(maxStack, p.fast.sites)
		if p.manifestDepth < 1 {
			p.fast, p.fastReason = nil, "the template is too large for the stack limit"
		}
	}
	if _, err := instrument(&user); err != nil {
		return nil, err
	}
	prog, err := gojsonnet.SnippetToAST(preludeFile, prelude)
	if err != nil {
		return nil, fmt.Errorf("jsonnet prelude: %w", err) // a bug, not the template's
	}
	found, err := splice(prog, user)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errors.New("jsonnet prelude has no template slot")
	}
	p.node = prog
	return p, nil
}
