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
	Attributes  string // JSON object of strings
	Payload     string // JSON
	Settings    string // JSON
	EndpointID  string
	EndpointURL string
}

// args lays out the top-level arguments of the program, in the order of
// tlaNames.
func (in Input) args() [9]string {
	a := [9]string{in.ID, in.Type, in.Time, in.Tenant, in.Attributes, in.Payload, in.Settings, in.EndpointID, in.EndpointURL}
	if a[4] == "" {
		a[4] = "{}"
	}
	if a[5] == "" {
		a[5] = "null"
	}
	if a[6] == "" {
		a[6] = "{}"
	}
	return a
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

// Evaluate runs the program for one input. It returns within the
// sandbox's Timeout: with the output, with an *[Error] (the template
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

// compile parses, checks and instruments src and splices it into the
// prelude.
func compile(src, prelude string) (ast.Node, error) {
	user, err := gojsonnet.SnippetToAST(templateFile, src)
	if err != nil {
		return nil, staticError(err)
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
	return prog, nil
}
