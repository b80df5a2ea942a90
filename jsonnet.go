package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jsonnet "github.com/google/go-jsonnet"
	"github.com/google/go-jsonnet/ast"
)

// Defaults and limits of the jsonnet [Transformer].
const (
	// JsonnetTimeoutDefault bounds one render when [JsonnetOptions.Timeout]
	// is zero.
	JsonnetTimeoutDefault = time.Second
	// JsonnetMaxOutputBytesDefault caps a rendered body when
	// [JsonnetOptions.MaxOutputBytes] is zero.
	JsonnetMaxOutputBytesDefault = 1 << 20
	// JsonnetMaxStackDefault caps the depth of jsonnet calls when
	// [JsonnetOptions.MaxStack] is zero.
	JsonnetMaxStackDefault = 500
	// JsonnetMaxStackLimit is the largest [JsonnetOptions.MaxStack]: deeper
	// jsonnet recursion could exhaust the goroutine's stack, which Go cannot
	// recover from.
	JsonnetMaxStackLimit = 10000
	// JsonnetMaxTemplateBytes caps the size of a template's source.
	JsonnetMaxTemplateBytes = 64 << 10
	// jsonnetCacheSize bounds the compiled templates a transformer keeps.
	jsonnetCacheSize = 1024
)

// Content types of rendered bodies.
const (
	contentTypeJSON = "application/json"
	contentTypeText = "text/plain; charset=utf-8"
)

// JsonnetOptions configures [NewJsonnetTransformer]. The zero value is
// ready to use.
type JsonnetOptions struct {
	// Timeout bounds one render, measured in wall time. A template version
	// whose render exceeds it is disabled: every later Render of it fails at
	// once, until the endpoint is saved with a changed template. Defaults to
	// [JsonnetTimeoutDefault].
	Timeout time.Duration
	// MaxOutputBytes caps a rendered body. It also caps, in elements, every
	// string and array that a + or a std function which builds values in
	// one step (std.range, std.makeArray, std.repeat, std.join, std.format
	// widths, ...) creates. Defaults to [JsonnetMaxOutputBytesDefault].
	MaxOutputBytes int
	// MaxStack caps the depth of nested jsonnet calls, at most
	// [JsonnetMaxStackLimit] (larger values are lowered to it). Defaults to
	// [JsonnetMaxStackDefault].
	MaxStack int
}

func (o JsonnetOptions) withDefaults() JsonnetOptions {
	if o.Timeout <= 0 {
		o.Timeout = JsonnetTimeoutDefault
	}
	if o.MaxOutputBytes <= 0 {
		o.MaxOutputBytes = JsonnetMaxOutputBytesDefault
	}
	if o.MaxStack <= 0 {
		o.MaxStack = JsonnetMaxStackDefault
	}
	o.MaxStack = min(o.MaxStack, JsonnetMaxStackLimit)
	return o
}

// NewJsonnetTransformer returns the jsonnet [Transformer]: endpoint
// templates written in jsonnet (https://jsonnet.org) that reshape the event.
//
// A template imports the helper library as "hooklet.libsonnet" (or, for
// templates written for Lytics, "lytemplates.libsonnet"); no other import is
// allowed. Its output decides the request: an object or array is sent as
// JSON (application/json), a string is sent as is with the endpoint's
// ContentType, and null skips the delivery.
//
// # Sandbox
//
// go-jsonnet cannot be interrupted, so a render is bounded cooperatively:
//
//   - The template is rewritten when compiled: every function it defines
//     (including the functions comprehensions desugar to) first checks a
//     cancellation flag, and every + goes through a check of the length of
//     its result. The functions of std that build a large value in one step
//     (range, makeArray, repeat, join, flattenArrays, strReplace, and the
//     field widths of format and %) are replaced by versions that refuse a
//     result longer than MaxOutputBytes elements; std's own functions call
//     the guarded versions too. std.native and std.extVar are unavailable.
//   - Each render evaluates on a pooled evaluator goroutine that owns a
//     VM. The caller waits at most Timeout; then the flag is raised, the
//     template version is disabled, and Render returns a *[TemplateError].
//     The evaluation stops at its next function call or + and its
//     evaluator returns to the pool.
//   - MaxStack bounds recursion, and the output is capped at
//     MaxOutputBytes.
//
// Limits of this design, stated plainly: work that std does internally
// between two checks is not interruptible, and the size guards bound each
// value, not the sum; so a template can still use up to about
// MaxOutputBytes² elements of memory in one step (for example, manifesting
// an array of MaxOutputBytes references to one string of MaxOutputBytes
// characters) before the output cap refuses the result, and CPU for as long
// as that step takes (std work on inputs at the default limit can take
// seconds). A host that renders templates from untrusted authors and cannot
// afford that should keep MaxOutputBytes small. Until an abandoned
// evaluation reaches its next check, it keeps its goroutine and memory;
// disabling the template version ensures each version leaves at most one
// such evaluation per concurrent render. Timeout is wall time, so on a
// machine starved of CPU a slow but legitimate template can exceed it and
// be disabled: keep it far above the renders you expect.
//
// The Transformer and its Templates are safe for concurrent use. Compile
// caches compiled templates by source text, so endpoints that share a
// template share its compiled form and its disabled state.
func NewJsonnetTransformer(opts JsonnetOptions) Transformer {
	opts = opts.withDefaults()
	tr := &jsonnetTransformer{
		opts:    opts,
		prelude: preludeSource(opts.MaxOutputBytes),
		cache:   make(map[string]*jsonnetTemplate),
	}
	return tr
}

type jsonnetTransformer struct {
	opts    JsonnetOptions
	prelude string

	mu    sync.Mutex
	cache map[string]*jsonnetTemplate
	idle  []*evaluator // LIFO, so that the busiest evaluators stay warm
}

// An evaluator is a goroutine that owns a VM and runs one evaluation at a
// time. Evaluators are pooled rather than started per render because a
// jsonnet evaluation grows its goroutine's stack to tens of KiB, and
// growing a fresh stack each time costs more than the rest of a render's
// overhead. An evaluator idle for evaluatorIdle ends.
type evaluator struct {
	tr    *jsonnetTransformer
	vm    *jsonnet.VM
	jobs  chan *evalJob
	state *evalState // of the running job; only the evaluator touches it
}

// evaluatorIdle is how long an idle evaluator waits for work before it
// ends; maxIdleEvaluators bounds the idle pool.
const (
	evaluatorIdle     = 100 * time.Millisecond
	maxIdleEvaluators = 256
)

// evalJob is one evaluation handed to an evaluator.
type evalJob struct {
	t     *jsonnetTemplate
	args  [9]string
	state evalState
	done  chan evalResult // buffered: the evaluator never blocks on it
}

// evalState is shared by one evaluation and the Render waiting for it.
type evalState struct {
	cancelled atomic.Bool
}

var errEvalCancelled = errors.New("evaluation cancelled")

// evaluator returns an idle evaluator or starts one.
func (tr *jsonnetTransformer) evaluator() *evaluator {
	tr.mu.Lock()
	if n := len(tr.idle); n > 0 {
		e := tr.idle[n-1]
		tr.idle[n-1] = nil
		tr.idle = tr.idle[:n-1]
		tr.mu.Unlock()
		return e
	}
	tr.mu.Unlock()
	e := tr.newEvaluator()
	go e.loop()
	return e
}

func (e *evaluator) loop() {
	idle := time.NewTimer(evaluatorIdle)
	defer idle.Stop()
	for {
		select {
		case j := <-e.jobs:
			e.run(j)
			e.tr.mu.Lock()
			if len(e.tr.idle) >= maxIdleEvaluators {
				e.tr.mu.Unlock()
				return
			}
			e.tr.idle = append(e.tr.idle, e)
			e.tr.mu.Unlock()
			idle.Reset(evaluatorIdle)
		case <-idle.C:
			e.tr.mu.Lock()
			for i, x := range e.tr.idle {
				if x == e {
					e.tr.idle = append(e.tr.idle[:i], e.tr.idle[i+1:]...)
					e.tr.mu.Unlock()
					return
				}
			}
			// Taken from the pool as the timer fired: a job is coming.
			e.tr.mu.Unlock()
			idle.Reset(evaluatorIdle)
		}
	}
}

// run evaluates one job and reports its result.
func (e *evaluator) run(j *evalJob) {
	defer j.t.running.Done()
	e.state = &j.state
	for i, name := range tlaNames {
		e.vm.TLAVar(name, j.args[i])
	}
	out, err := e.vm.Evaluate(j.t.node)
	e.vm.TLAReset() // an idle evaluator keeps no event
	e.state = nil
	j.done <- evalResult{out: out, err: err}
}

// tlaNames are the names of the program's top-level arguments, in the
// order of renderArgs.
var tlaNames = [9]string{tlaID, tlaType, tlaTime, tlaTenant, tlaAttributes, tlaPayload, tlaSettings, tlaEndpointID, tlaEndpointURL}

func (tr *jsonnetTransformer) newEvaluator() *evaluator {
	v := &evaluator{tr: tr, vm: jsonnet.MakeVM(), jobs: make(chan *evalJob, 1)}
	v.vm.MaxStack = tr.opts.MaxStack
	v.vm.OutputNewline = false
	v.vm.Importer(refusingImporter{})
	v.vm.SetTraceOut(io.Discard)
	v.vm.NativeFunction(&jsonnet.NativeFunction{
		Name: nativeTick,
		Func: func([]any) (any, error) {
			if st := v.state; st != nil && st.cancelled.Load() {
				return nil, errEvalCancelled
			}
			return true, nil
		},
	})
	v.vm.NativeFunction(&jsonnet.NativeFunction{
		Name:   nativeFormatMax,
		Params: ast.Identifiers{"format"},
		Func: func(args []any) (any, error) {
			s, _ := args[0].(string)
			return float64(formatMaxWidth(s)), nil
		},
	})
	return v
}

// refusingImporter refuses every import. Compile resolves the helper
// library itself and refuses other imports, so it is never reached; it is
// there so that no path leads to the file system.
type refusingImporter struct{}

func (refusingImporter) Import(importedFrom, importedPath string) (jsonnet.Contents, string, error) {
	return jsonnet.Contents{}, "", fmt.Errorf("import %q is not allowed", importedPath)
}

// Compile parses, checks and instruments a template. It returns a
// *[TemplateError] with the line and column of the first problem: a syntax
// error, an unknown variable, an import other than the helper library, or
// an identifier starting with the reserved prefix "__hooklet".
func (tr *jsonnetTransformer) Compile(src string) (Template, error) {
	if len(src) > JsonnetMaxTemplateBytes {
		return nil, &TemplateError{Message: fmt.Sprintf("template of %d bytes exceeds the limit of %d", len(src), JsonnetMaxTemplateBytes)}
	}
	tr.mu.Lock()
	t, ok := tr.cache[src]
	tr.mu.Unlock()
	if ok {
		return t, nil
	}
	node, err := tr.compile(src)
	if err != nil {
		return nil, err
	}
	t = &jsonnetTemplate{tr: tr, node: node}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if cached, ok := tr.cache[src]; ok {
		return cached, nil
	}
	if len(tr.cache) >= jsonnetCacheSize {
		// Evict an arbitrary entry, but keep disabled versions: a new
		// compile of one must stay disabled.
		for k, v := range tr.cache {
			if v.disabled.Load() == nil {
				delete(tr.cache, k)
				break
			}
		}
	}
	tr.cache[src] = t
	return t, nil
}

func (tr *jsonnetTransformer) compile(src string) (ast.Node, error) {
	user, err := jsonnet.SnippetToAST(templateFile, src)
	if err != nil {
		return nil, staticTemplateError(err)
	}
	if _, err := instrument(&user); err != nil {
		return nil, err
	}
	prog, err := jsonnet.SnippetToAST(preludeFile, tr.prelude)
	if err != nil {
		return nil, fmt.Errorf("webhook: jsonnet prelude: %w", err) // a bug, not the template's
	}
	found, err := splice(prog, user)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errors.New("webhook: jsonnet prelude has no template slot")
	}
	return prog, nil
}

// staticTemplateError converts a go-jsonnet parse or static analysis error.
func staticTemplateError(err error) *TemplateError {
	var located interface{ Loc() ast.LocationRange }
	if errors.As(err, &located) {
		loc := located.Loc()
		msg := err.Error()
		if loc.IsSet() {
			// go-jsonnet's message is "<file>:<range> <msg>".
			if _, rest, ok := strings.Cut(msg, loc.String()+" "); ok {
				msg = rest
			}
		}
		return &TemplateError{Line: loc.Begin.Line, Column: loc.Begin.Column, Message: firstLine(msg)}
	}
	return &TemplateError{Message: firstLine(err.Error())}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// jsonnetTemplate is a compiled template version.
type jsonnetTemplate struct {
	tr   *jsonnetTransformer
	node ast.Node // instrumented program; read-only once compiled

	disabled atomic.Pointer[TemplateError]
	running  sync.WaitGroup // evaluations in flight, including abandoned ones
}

type evalResult struct {
	out string
	err error
}

// Render evaluates the template for one delivery. It returns within the
// transformer's Timeout: with the rendering, with a *[TemplateError] (the
// template failed, timed out, or was disabled by an earlier timeout), or
// with ctx's error when ctx ends first, which says nothing about the
// template.
func (t *jsonnetTemplate) Render(ctx context.Context, in *RenderInput) (Rendered, error) {
	if e := t.disabled.Load(); e != nil {
		return Rendered{}, e
	}
	if err := ctx.Err(); err != nil {
		return Rendered{}, err
	}
	j := &evalJob{t: t, args: renderArgs(in), done: make(chan evalResult, 1)}
	st := &j.state
	t.running.Add(1)
	t.tr.evaluator().jobs <- j

	timer := timerPool.Get().(*time.Timer)
	timer.Reset(t.tr.opts.Timeout)
	defer func() {
		timer.Stop()
		timerPool.Put(timer)
	}()
	select {
	case r := <-j.done:
		return t.result(r, in)
	case <-timer.C:
		st.cancelled.Store(true)
		e := &TemplateError{Message: fmt.Sprintf("evaluation exceeded the time limit of %v; the template is disabled until it is changed", t.tr.opts.Timeout)}
		t.disabled.CompareAndSwap(nil, e)
		return Rendered{}, t.disabled.Load()
	case <-ctx.Done():
		st.cancelled.Store(true)
		return Rendered{}, ctx.Err()
	}
}

var timerPool = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

// wait blocks until every evaluation of t, including those Render gave up
// on, has returned. Tests use it so that no goroutine outlives them.
func (t *jsonnetTemplate) wait() { t.running.Wait() }

// renderArgs lays out the top-level arguments of the program, in the order
// of tlaNames.
func renderArgs(in *RenderInput) [9]string {
	var a [9]string
	a[4], a[5], a[6] = "{}", "null", "{}"
	if ev := in.Event; ev != nil {
		a[0], a[1], a[3] = ev.ID, ev.Type, ev.Tenant
		if !ev.Time.IsZero() {
			a[2] = ev.Time.UTC().Format(time.RFC3339Nano)
		}
		if len(ev.Attributes) > 0 {
			if b, err := json.Marshal(ev.Attributes); err == nil {
				a[4] = string(b)
			}
		}
		if len(ev.Payload) > 0 {
			a[5] = string(ev.Payload)
		}
	}
	if ep := in.Endpoint; ep != nil {
		if len(ep.Settings) > 0 {
			a[6] = string(ep.Settings)
		}
		a[7], a[8] = ep.ID, ep.URL
	}
	return a
}

func (t *jsonnetTemplate) result(r evalResult, in *RenderInput) (Rendered, error) {
	if r.err != nil {
		return Rendered{}, runtimeTemplateError(r.err)
	}
	// The VM manifests the value as indented JSON.
	out := r.out
	var body []byte
	var ct string
	switch {
	case out == "null":
		return Rendered{Skip: true}, nil
	case len(out) > 0 && out[0] == '"':
		if len(out) > t.tr.opts.MaxOutputBytes*6+2 {
			// Even unquoted it cannot fit.
			return Rendered{}, outputTooLarge(len(out), t.tr.opts.MaxOutputBytes)
		}
		var s string
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			return Rendered{}, &TemplateError{Message: "internal error: output string: " + err.Error()}
		}
		body, ct = []byte(s), contentTypeText
		if in.Endpoint != nil && in.Endpoint.ContentType != "" {
			ct = in.Endpoint.ContentType
		}
	default:
		buf := bytes.NewBuffer(make([]byte, 0, len(out)))
		if err := json.Compact(buf, []byte(out)); err != nil {
			return Rendered{}, &TemplateError{Message: "internal error: output JSON: " + err.Error()}
		}
		body, ct = buf.Bytes(), contentTypeJSON
	}
	if len(body) > t.tr.opts.MaxOutputBytes {
		return Rendered{}, outputTooLarge(len(body), t.tr.opts.MaxOutputBytes)
	}
	return Rendered{Body: body, ContentType: ct}, nil
}

func outputTooLarge(n, limit int) *TemplateError {
	return &TemplateError{Message: fmt.Sprintf("output of %d bytes exceeds the limit of %d", n, limit)}
}

// runtimeTemplateError converts an evaluation error, locating it at the
// innermost stack frame inside the template.
func runtimeTemplateError(err error) *TemplateError {
	var rt jsonnet.RuntimeError
	if !errors.As(err, &rt) {
		// go-jsonnet reports a recovered panic as a plain error with a
		// stack; keep only its first line.
		return &TemplateError{Message: "internal error: " + firstLine(err.Error())}
	}
	te := &TemplateError{Message: strings.TrimSuffix(strings.TrimSpace(rt.Msg), ".")}
	if te.Message == errEvalCancelled.Error() {
		te.Message = "evaluation cancelled"
	}
	for _, f := range rt.StackTrace {
		if f.Loc.FileName == templateFile && f.Loc.Begin.Line > 0 {
			te.Line, te.Column = f.Loc.Begin.Line, f.Loc.Begin.Column
			break
		}
	}
	return te
}

// formatMaxWidth returns the largest field width or precision written in a
// jsonnet format string, or -1 when one is taken from the values ("*").
func formatMaxWidth(s string) int {
	maxW := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		i++
		if i < len(s) && s[i] == '(' {
			for i < len(s) && s[i] != ')' {
				i++
			}
			i++
		}
		for i < len(s) && strings.IndexByte("#0- +", s[i]) >= 0 {
			i++
		}
		for part := 0; part < 2; part++ {
			if i < len(s) && s[i] == '*' {
				return -1
			}
			n := 0
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				if n < 1<<30 {
					n = n*10 + int(s[i]-'0')
				}
				i++
			}
			maxW = max(maxW, n)
			if part == 0 && i < len(s) && s[i] == '.' {
				i++
				continue
			}
			break
		}
	}
	return maxW
}
