package webhook

import (
	"context"
	"errors"
	"time"

	"github.com/hooklet/webhook/internal/jsonnet"
)

// Defaults and limits of the [JsonnetTransformer].
const (
	// JsonnetTimeoutDefault bounds one render when [JsonnetOptions.Timeout]
	// is zero: one second.
	JsonnetTimeoutDefault = time.Second
	// JsonnetMaxOutputBytesDefault caps a rendered body when
	// [JsonnetOptions.MaxOutputBytes] is zero: 1 MiB.
	JsonnetMaxOutputBytesDefault = 1 << 20
	// JsonnetMaxStackDefault caps the depth of nested jsonnet calls when
	// [JsonnetOptions.MaxStack] is zero: 500.
	JsonnetMaxStackDefault = 500
	// JsonnetMaxStackLimit is the largest [JsonnetOptions.MaxStack]: deeper
	// jsonnet recursion could exhaust the goroutine's stack, which Go cannot
	// recover from.
	JsonnetMaxStackLimit = 10000
	// JsonnetMaxTemplateBytes caps the size of a template's source: 64 KiB.
	JsonnetMaxTemplateBytes = 64 << 10
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
	// [JsonnetTimeoutDefault] (one second).
	Timeout time.Duration
	// MaxOutputBytes caps a rendered body. It also caps, in elements, every
	// string and array that a + or a std function which builds values in
	// one step (std.range, std.makeArray, std.repeat, std.join, std.format
	// widths, ...) creates. Defaults to [JsonnetMaxOutputBytesDefault]
	// (1 MiB).
	MaxOutputBytes int
	// MaxStack caps the depth of nested jsonnet calls, counted as
	// go-jsonnet counts its MaxStack (a function call, or the evaluation
	// of a lazily bound value, is one level), at most
	// [JsonnetMaxStackLimit] (larger values are lowered to it). The
	// sandbox's own checks are not counted: a template that go-jsonnet
	// evaluates with the same MaxStack renders here too, and one that
	// uses no + and no guarded std function may recurse up to twice as
	// deep. Defaults to [JsonnetMaxStackDefault] (500).
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

// JsonnetTransformer is the jsonnet [Transformer], the default of
// [Config.Transformer]: endpoint templates written in jsonnet
// (https://jsonnet.org) that reshape the event. Create one with
// [NewJsonnetTransformer].
//
// A template imports the helper library as "hooklet.libsonnet" (or, for
// templates written for Lytics, "lytemplates.libsonnet"); no other import is
// allowed. Its output decides the request: an object or array is sent as
// JSON (application/json), a string is sent as is with the endpoint's
// ContentType (text/plain when it has none), and null skips the delivery.
// std.thisFile is "template", the name error positions use
// ("template:2:6: ...") whichever endpoint the template belongs to; the
// template reads its endpoint from the helper library (endpoint.id,
// endpoint.url).
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
// # Fast path
//
// A template that stays inside a subset of jsonnet (literals, locals,
// conditionals, field access and indexing, arithmetic and comparisons, +
// of strings, arrays and objects, % and std.format with %s and %d,
// comprehensions, functions, the helper library, and a set of common std
// functions) is compiled, when the endpoint is saved, into Go code over
// the event, and renders without go-jsonnet, on the caller's goroutine,
// byte for byte as go-jsonnet would. A render on which the fast path
// fails, or that would go deeper or work longer than the fast path allows,
// runs in the sandbox, so that errors and their positions are
// go-jsonnet's. [JsonnetTransformer.FastPath] tells whether a template
// takes the fast path, and if not, why.
//
// A JsonnetTransformer and its Templates are safe for concurrent use.
// Compile caches compiled templates by source text, so endpoints that
// share a template share its compiled form and its disabled state.
type JsonnetTransformer struct {
	sb *jsonnet.Sandbox
}

// NewJsonnetTransformer returns a [JsonnetTransformer] with the limits of
// opts; zero fields take their defaults.
func NewJsonnetTransformer(opts JsonnetOptions) *JsonnetTransformer {
	opts = opts.withDefaults()
	return &JsonnetTransformer{sb: jsonnet.New(jsonnet.Options{
		Timeout:          opts.Timeout,
		MaxOutputBytes:   opts.MaxOutputBytes,
		MaxStack:         opts.MaxStack,
		MaxTemplateBytes: JsonnetMaxTemplateBytes,
	})}
}

// Compile parses, checks and instruments a template. It returns a
// *[TemplateError] with the line and column of the first problem: a
// template larger than [JsonnetMaxTemplateBytes], a syntax error, an
// unknown variable, an import other than the helper library, or an
// identifier starting with the reserved prefix "__hooklet".
func (tr *JsonnetTransformer) Compile(src string) (Template, error) {
	p, err := tr.sb.Compile(src)
	if err != nil {
		return nil, templateError(err)
	}
	return (*jsonnetTemplate)(p), nil
}

// FastPath compiles src, as [JsonnetTransformer.Compile] does, and reports
// whether it renders on the fast path: a template that stays inside the
// subset of jsonnet the fast path compiles to Go (see the README's
// Templates section) renders without go-jsonnet, with the same output,
// many times faster. When it does not, reason names the first construct
// outside the subset, with its line and column. A template on the fast
// path still renders in the sandbox an event on which it fails, so that
// the error is go-jsonnet's.
func (tr *JsonnetTransformer) FastPath(src string) (fast bool, reason string, err error) {
	p, err := tr.sb.Compile(src)
	if err != nil {
		return false, "", templateError(err)
	}
	fast, reason = p.FastPath()
	return fast, reason, nil
}

// jsonnetTemplate is a compiled template version: the sandbox's program
// seen as a [Template].
type jsonnetTemplate jsonnet.Program

var _ EndpointReader = (*jsonnetTemplate)(nil)

// ReadsEndpoint reports whether the template reads the helper library's
// endpoint or settings.
func (t *jsonnetTemplate) ReadsEndpoint() bool {
	return (*jsonnet.Program)(t).ReadsEndpoint()
}

// FastPath reports whether the template renders on the fast path, and
// when it does not, why; see [JsonnetTransformer.FastPath].
func (t *jsonnetTemplate) FastPath() (fast bool, reason string) {
	return (*jsonnet.Program)(t).FastPath()
}

// Render evaluates the template for one delivery. It returns within the
// transformer's Timeout: with the rendering, with a *[TemplateError] (the
// template failed, timed out, or was disabled by an earlier timeout), or
// with ctx's error when ctx ends first, which says nothing about the
// template.
func (t *jsonnetTemplate) Render(ctx context.Context, in *RenderInput) (Rendered, error) {
	out, err := (*jsonnet.Program)(t).Evaluate(ctx, renderInput(in))
	if err != nil {
		return Rendered{}, templateError(err)
	}
	switch out.Kind {
	case jsonnet.KindNull:
		return Rendered{Skip: true}, nil
	case jsonnet.KindString:
		ct := contentTypeText
		if in.Endpoint != nil && in.Endpoint.ContentType != "" {
			ct = in.Endpoint.ContentType
		}
		return Rendered{Body: out.Body, ContentType: ct}, nil
	default:
		return Rendered{Body: out.Body, ContentType: contentTypeJSON}, nil
	}
}

// renderInput is what the sandbox sees of in.
func renderInput(in *RenderInput) jsonnet.Input {
	var j jsonnet.Input
	if ev := in.Event; ev != nil {
		j.ID, j.Type, j.Tenant = ev.ID, ev.Type, ev.Tenant
		if !ev.Time.IsZero() {
			j.Time = ev.Time.UTC().Format(time.RFC3339Nano)
		}
		// Marshalled only if the sandbox renders.
		j.AttrMap = ev.Attributes
		j.Payload = string(ev.Payload)
	}
	if ep := in.Endpoint; ep != nil {
		j.Settings = string(ep.Settings)
		j.EndpointID, j.EndpointURL = ep.ID, ep.URL
	}
	j.CallbackURL = in.CallbackURL
	return j
}

// templateError converts the sandbox's *jsonnet.Error to a *TemplateError
// and returns other errors as they are.
func templateError(err error) error {
	var e *jsonnet.Error
	if errors.As(err, &e) {
		return &TemplateError{Line: e.Line, Column: e.Column, Message: e.Message}
	}
	return err
}
