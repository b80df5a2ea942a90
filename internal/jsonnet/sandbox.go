// Package jsonnet is the sandbox in which endpoint templates run: it
// compiles a jsonnet template into an instrumented program and evaluates
// it for one event, bounded in time, stack depth and size.
//
// go-jsonnet cannot be interrupted, so an evaluation is bounded
// cooperatively. The template is rewritten when compiled: every function
// it defines first checks a cancellation flag, and every + goes through a
// check of the length of its result; the functions of std that build a
// large value in one step are replaced by guarded versions (see
// preludeSource). Each evaluation runs on a pooled evaluator goroutine
// that owns a VM; the caller waits at most the timeout, then raises the
// flag and disables the program.
//
// A template inside the fast path's subset is also compiled into Go
// closures (fast.go); Evaluate tries those first and leaves to the
// sandbox every evaluation the fast path gives up on.
package jsonnet

import (
	"fmt"
	"sync"
	"time"
)

// cacheSize bounds the compiled programs a sandbox keeps.
const cacheSize = 1024

// Options are the limits of a [Sandbox]. Every field must be positive.
type Options struct {
	// Timeout bounds one evaluation, in wall time.
	Timeout time.Duration
	// MaxOutputBytes caps the output, and, in elements, every string and
	// array that a + or a guarded std function creates.
	MaxOutputBytes int
	// MaxTemplateBytes caps the size of a template's source.
	MaxTemplateBytes int
	// MaxStack caps the depth of nested calls, counted as go-jsonnet
	// counts them (a function call, or the evaluation of a lazily bound
	// value, is one level) but without the frames of the sandbox's own
	// guards: a template that go-jsonnet evaluates with MaxStack
	// evaluates here too. As the guards cannot be told apart from the
	// template's own frames, the VM is given twice MaxStack frames, so a
	// template that uses no guarded operation may recurse up to twice as
	// deep as in go-jsonnet.
	MaxStack int
}

// Sandbox compiles templates and evaluates them. It is safe for concurrent
// use.
type Sandbox struct {
	opts    Options
	prelude string

	mu    sync.Mutex
	cache map[string]*Program
	idle  []*evaluator // LIFO, so that the busiest evaluators stay warm
}

// New returns a sandbox with the limits of opts.
func New(opts Options) *Sandbox {
	return &Sandbox{
		opts:    opts,
		prelude: preludeSource(opts.MaxOutputBytes),
		cache:   make(map[string]*Program),
	}
}

// Compile parses, checks and instruments a template. It returns an *[Error]
// with the line and column of the first problem: a template larger than
// MaxTemplateBytes, a syntax error, an unknown variable, an import other
// than the helper library, or an identifier starting with the reserved
// prefix "__hooklet".
//
// Compile caches programs by source text: the same text gives the same
// *Program, with its disabled state, as long as it stays cached; a
// disabled program is never evicted.
func (s *Sandbox) Compile(src string) (*Program, error) {
	if len(src) > s.opts.MaxTemplateBytes {
		return nil, &Error{Message: fmt.Sprintf("template of %d bytes exceeds the limit of %d", len(src), s.opts.MaxTemplateBytes)}
	}
	s.mu.Lock()
	p, ok := s.cache[src]
	s.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := compile(src, s.prelude, s.opts.MaxStack)
	if err != nil {
		return nil, err
	}
	p.sb = s
	s.mu.Lock()
	defer s.mu.Unlock()
	if cached, ok := s.cache[src]; ok {
		return cached, nil
	}
	if len(s.cache) >= cacheSize {
		// Evict an arbitrary entry, but keep disabled programs: a new
		// compile of one must stay disabled.
		for k, v := range s.cache {
			if v.disabled.Load() == nil {
				delete(s.cache, k)
				break
			}
		}
	}
	s.cache[src] = p
	return p, nil
}

// evaluator returns an idle evaluator or starts one.
func (s *Sandbox) evaluator() *evaluator {
	s.mu.Lock()
	if n := len(s.idle); n > 0 {
		e := s.idle[n-1]
		s.idle[n-1] = nil
		s.idle = s.idle[:n-1]
		s.mu.Unlock()
		return e
	}
	s.mu.Unlock()
	e := newEvaluator(s)
	go e.loop()
	return e
}

// release returns e to the idle pool; it reports false when the pool is
// full and e should end.
func (s *Sandbox) release(e *evaluator) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.idle) >= maxIdleEvaluators {
		return false
	}
	s.idle = append(s.idle, e)
	return true
}

// retire takes e out of the idle pool; it reports false when e was not
// there, because it was just handed a job.
func (s *Sandbox) retire(e *evaluator) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.idle {
		if x == e {
			s.idle = append(s.idle[:i], s.idle[i+1:]...)
			return true
		}
	}
	return false
}
