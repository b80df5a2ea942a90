package webhook

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Hooks are optional funcs the host gives in [Config.Hooks] to hear of
// what the engine does. Every field may be nil.
//
// Hooks run one at a time, in the order of the events, on one goroutine of
// their own, fed by a queue of [HookQueueSize] calls: a hook never delays
// a delivery. When the queue is full, calls are dropped and counted (see
// [Dispatcher.DroppedHooks]) and a warning is logged, so a hook that
// blocks loses calls but does not wedge the engine. A hook that panics is
// recovered and logged; the next one runs. The ctx a hook gets is
// cancelled when [Dispatcher.Close] gives up waiting: a hook still running
// then is abandoned.
type Hooks struct {
	// OnAttempt is called after every attempt at a delivery, quick tries
	// included, and again when the wait of an attempt answered 202
	// Accepted ends ([Endpoint.AckTimeout]): with the attempt as it is
	// then recorded, when a report or the timeout ends it.
	OnAttempt func(ctx context.Context, info AttemptInfo)
	// OnDeliveryFailed is called when a delivery ends failed for good (its
	// attempts ran out, or a failure retrying cannot fix), with the
	// delivery as it is then recorded.
	OnDeliveryFailed func(ctx context.Context, dl Delivery)
	// OnEndpointDisabled is called after Hooklet disables an endpoint (on
	// 410 Gone, or after [Config.DisableAfter] of failures), with the
	// endpoint as stored.
	OnEndpointDisabled func(ctx context.Context, ep Endpoint)
	// OnEndpointEnabled is called after [Dispatcher.PutEndpoint] enables
	// an endpoint that was disabled, with the endpoint as stored.
	OnEndpointEnabled func(ctx context.Context, ep Endpoint)
	// OnCircuitOpen is called when an endpoint's circuit opens (see
	// [BreakerPolicy]): its deliveries wait until until, then one probes.
	OnCircuitOpen func(ctx context.Context, endpointID string, until time.Time)
	// OnCircuitClose is called when an attempt succeeds on an endpoint
	// whose circuit was open, which closes it.
	OnCircuitClose func(ctx context.Context, endpointID string)
}

// AttemptInfo describes one attempt, for [Hooks.OnAttempt].
type AttemptInfo struct {
	EndpointID string
	EventID    string
	Attempt    Attempt
	// State is the delivery's state after this attempt: pending while it
	// will be tried again.
	State DeliveryState
}

// HookQueueSize is how many hook calls wait for the hook goroutine before
// further calls are dropped.
const HookQueueSize = 1024

// hookRunner runs hook calls on one goroutine, started on first use, from
// a bounded queue.
type hookRunner struct {
	hooks   Hooks
	log     *slog.Logger
	dropped atomic.Uint64

	ctx    context.Context // given to hooks; cancelled when Close gives up
	cancel context.CancelFunc

	mu      sync.Mutex
	started bool
	closed  bool
	queue   chan func(context.Context)
	done    chan struct{}
}

func newHookRunner(hooks Hooks, log *slog.Logger) *hookRunner {
	ctx, cancel := context.WithCancel(context.Background())
	return &hookRunner{
		hooks: hooks, log: log, ctx: ctx, cancel: cancel,
		queue: make(chan func(context.Context), HookQueueSize),
		done:  make(chan struct{}),
	}
}

// run queues a call of a hook. It never blocks: when the queue is full, or
// the runner closed, the call is dropped.
func (h *hookRunner) run(name string, call func(context.Context)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	if !h.started {
		h.started = true
		go h.loop()
	}
	select {
	case h.queue <- call:
	default:
		if n := h.dropped.Add(1); n&(n-1) == 0 { // 1, 2, 4, 8, ...: the log stays quiet
			h.log.Warn("webhook: hook queue full, call dropped", "hook", name, "dropped", n)
		}
	}
}

func (h *hookRunner) loop() {
	defer close(h.done)
	for call := range h.queue {
		h.call(call)
	}
}

func (h *hookRunner) call(call func(context.Context)) {
	defer func() {
		if v := recover(); v != nil {
			h.log.Error("webhook: hook panicked", "panic", v)
		}
	}()
	call(h.ctx)
}

// close runs the queued calls until ctx ends, then abandons them and any
// hook still running, whose ctx it cancels. Calls queued after close are
// dropped.
func (h *hookRunner) close(ctx context.Context) {
	h.mu.Lock()
	started := h.started
	if !h.closed {
		h.closed = true
		close(h.queue)
	}
	h.mu.Unlock()
	if started {
		select {
		case <-h.done:
		case <-ctx.Done():
		}
	}
	h.cancel()
}

func (h *hookRunner) attempt(info AttemptInfo) {
	if f := h.hooks.OnAttempt; f != nil {
		info.Attempt = info.Attempt.Clone()
		h.run("OnAttempt", func(ctx context.Context) { f(ctx, info) })
	}
}

func (h *hookRunner) deliveryFailed(dl Delivery) {
	if f := h.hooks.OnDeliveryFailed; f != nil {
		h.run("OnDeliveryFailed", func(ctx context.Context) { f(ctx, dl) })
	}
}

func (h *hookRunner) endpointDisabled(ep Endpoint) {
	if f := h.hooks.OnEndpointDisabled; f != nil {
		ep = ep.Clone()
		h.run("OnEndpointDisabled", func(ctx context.Context) { f(ctx, ep) })
	}
}

func (h *hookRunner) endpointEnabled(ep Endpoint) {
	if f := h.hooks.OnEndpointEnabled; f != nil {
		ep = ep.Clone()
		h.run("OnEndpointEnabled", func(ctx context.Context) { f(ctx, ep) })
	}
}

func (h *hookRunner) circuitOpen(endpointID string, until time.Time) {
	if f := h.hooks.OnCircuitOpen; f != nil {
		h.run("OnCircuitOpen", func(ctx context.Context) { f(ctx, endpointID, until) })
	}
}

func (h *hookRunner) circuitClose(endpointID string) {
	if f := h.hooks.OnCircuitClose; f != nil {
		h.run("OnCircuitClose", func(ctx context.Context) { f(ctx, endpointID) })
	}
}
