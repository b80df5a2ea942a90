package jsonnet

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"

	gojsonnet "github.com/google/go-jsonnet"
	"github.com/google/go-jsonnet/ast"
)

// stackFactor is how many go-jsonnet frames the VM gets for each level of
// Options.MaxStack. A guarded operation (a + of the template, a guarded
// std function) nests at most one frame of the sandbox's for each frame
// that go-jsonnet itself nests, so that a template which go-jsonnet
// evaluates with MaxStack frames evaluates in the sandbox too.
const stackFactor = 2

// evaluatorIdle is how long an idle evaluator waits for work before it
// ends; maxIdleEvaluators bounds the idle pool.
const (
	evaluatorIdle     = 100 * time.Millisecond
	maxIdleEvaluators = 256
)

// An evaluator is a goroutine that owns a VM and runs one evaluation at a
// time. Evaluators are pooled rather than started per evaluation because
// a jsonnet evaluation grows its goroutine's stack to tens of KiB, and
// growing a fresh stack each time costs more than the rest of an
// evaluation's overhead. An evaluator idle for evaluatorIdle ends.
type evaluator struct {
	sb    *Sandbox
	vm    *gojsonnet.VM
	jobs  chan *evalJob
	state *evalState // of the running job; only the evaluator touches it
}

// evalJob is one evaluation handed to an evaluator.
type evalJob struct {
	p     *Program
	args  [10]string
	state evalState
	done  chan evalResult // buffered: the evaluator never blocks on it
}

// evalState is shared by one evaluation and the caller waiting for it.
type evalState struct {
	cancelled atomic.Bool
}

type evalResult struct {
	out string
	err error
}

// tlaNames are the names of the program's top-level arguments, in the
// order of Input.args.
var tlaNames = [10]string{tlaID, tlaType, tlaTime, tlaTenant, tlaAttributes, tlaPayload, tlaSettings, tlaEndpointID, tlaEndpointURL, tlaCallbackURL}

func newEvaluator(sb *Sandbox) *evaluator {
	e := &evaluator{sb: sb, vm: gojsonnet.MakeVM(), jobs: make(chan *evalJob, 1)}
	e.vm.MaxStack = stackFactor * sb.opts.MaxStack
	e.vm.OutputNewline = false
	e.vm.Importer(refusingImporter{})
	e.vm.SetTraceOut(io.Discard)
	e.vm.NativeFunction(&gojsonnet.NativeFunction{
		Name: nativeTick,
		Func: func([]any) (any, error) {
			if st := e.state; st != nil && st.cancelled.Load() {
				return nil, errEvalCancelled
			}
			return true, nil
		},
	})
	e.vm.NativeFunction(&gojsonnet.NativeFunction{
		Name:   nativeFormatMax,
		Params: ast.Identifiers{"format"},
		Func: func(args []any) (any, error) {
			s, _ := args[0].(string)
			return float64(formatMaxWidth(s)), nil
		},
	})
	return e
}

func (e *evaluator) loop() {
	idle := time.NewTimer(evaluatorIdle)
	defer idle.Stop()
	for {
		select {
		case j := <-e.jobs:
			e.run(j)
			if !e.sb.release(e) {
				return
			}
			idle.Reset(evaluatorIdle)
		case <-idle.C:
			if e.sb.retire(e) {
				return
			}
			// Taken from the pool as the timer fired: a job is coming.
			idle.Reset(evaluatorIdle)
		}
	}
}

// run evaluates one job and reports its result.
func (e *evaluator) run(j *evalJob) {
	defer j.p.running.Done()
	e.state = &j.state
	for i, name := range tlaNames {
		e.vm.TLAVar(name, j.args[i])
	}
	out, err := e.vm.Evaluate(j.p.node)
	e.vm.TLAReset() // an idle evaluator keeps no event
	e.state = nil
	j.done <- evalResult{out: out, err: err}
}

// refusingImporter refuses every import. Compile resolves the helper
// library itself and refuses other imports, so it is never reached; it is
// there so that no path leads to the file system.
type refusingImporter struct{}

func (refusingImporter) Import(importedFrom, importedPath string) (gojsonnet.Contents, string, error) {
	return gojsonnet.Contents{}, "", fmt.Errorf("import %q is not allowed", importedPath)
}
