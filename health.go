package webhook

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// endpointHealth watches the outcome of every attempt and disables an
// endpoint that answers 410 Gone or has failed for too long, then tells the
// host. It keeps the start of each endpoint's failing run in the store
// ([Endpoint.FailingSince]), written only when a run begins or ends.
// Writes run on their own goroutines, so attempts never wait on them.
type endpointHealth struct {
	log *slog.Logger
	// disableAfter is Config.DisableAfter; negative never disables for
	// failures.
	disableAfter time.Duration
	// disable writes the failed version of an endpoint disabled and reports
	// whether it did; see registry.disable.
	disable func(ctx context.Context, failed *Endpoint, reason string) (Endpoint, bool, error)
	// markFailing stores when an endpoint's failing run began, or that it
	// ended (zero); see registry.markFailing.
	markFailing func(ctx context.Context, id string, since time.Time) error
	// onDisabled tells the host; see hookRunner.endpointDisabled.
	onDisabled func(ep Endpoint)

	wg sync.WaitGroup // running writes

	mu sync.Mutex
	// marking holds, per endpoint, the FailingSince being written.
	marking map[string]time.Time
	// disabling holds the endpoints being disabled.
	disabling map[string]bool
}

func newEndpointHealth(log *slog.Logger, disableAfter time.Duration,
	disable func(context.Context, *Endpoint, string) (Endpoint, bool, error),
	markFailing func(context.Context, string, time.Time) error,
	onDisabled func(Endpoint),
) *endpointHealth {
	return &endpointHealth{
		log: log, disableAfter: disableAfter, disable: disable, markFailing: markFailing, onDisabled: onDisabled,
		marking: map[string]time.Time{}, disabling: map[string]bool{},
	}
}

// observe takes the verdict of an attempt on ep that started at start.
func (h *endpointHealth) observe(ep *Endpoint, v verdict, status int, start time.Time) {
	switch {
	case v == verdictFailAndDisable:
		h.disableAsync(ep, fmt.Sprintf("%d %s", status, http.StatusText(status)))
	case h.failingTooLong(ep, v == verdictSuccess, start):
		h.disableAsync(ep, fmt.Sprintf("no successful delivery for %v", h.disableAfter))
	}
}

// failingTooLong keeps the endpoint's failing run, and reports whether it
// has lasted disableAfter. The run's start is ep.FailingSince, as stored,
// or the one being written.
func (h *endpointHealth) failingTooLong(ep *Endpoint, success bool, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	writing, isWriting := h.marking[ep.ID]
	if success {
		failing := !ep.FailingSince.IsZero() || (isWriting && !writing.IsZero())
		if failing && !(isWriting && writing.IsZero()) {
			h.markAsync(ep.ID, time.Time{})
		}
		return false
	}
	since := ep.FailingSince
	if since.IsZero() {
		if !isWriting || writing.IsZero() {
			h.markAsync(ep.ID, now)
			return false
		}
		since = writing
	}
	return h.disableAfter >= 0 && now.Sub(since) >= h.disableAfter
}

// markAsync writes the start of an endpoint's failing run (zero: its end).
// Called with mu held.
func (h *endpointHealth) markAsync(id string, since time.Time) {
	h.marking[id] = since
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := h.markFailing(ctx, id, since); err != nil {
			h.log.Warn("webhook: recording endpoint health", "endpoint_id", id, "error", err)
		}
		h.mu.Lock()
		if cur, ok := h.marking[id]; ok && cur.Equal(since) {
			delete(h.marking, id)
		}
		h.mu.Unlock()
	}()
}

// disableAsync disables the version of the endpoint that failed, and tells
// the host. If the endpoint has changed since (a fixed URL, say), the
// change stands and nothing is disabled.
func (h *endpointHealth) disableAsync(failed *Endpoint, reason string) {
	h.mu.Lock()
	if h.disabling[failed.ID] {
		h.mu.Unlock()
		return
	}
	h.disabling[failed.ID] = true
	h.mu.Unlock()
	failedCopy := *failed
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer func() {
			h.mu.Lock()
			delete(h.disabling, failedCopy.ID)
			h.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		ep, ok, err := h.disable(ctx, &failedCopy, reason)
		if err != nil {
			h.log.Warn("webhook: disabling endpoint", "endpoint_id", failedCopy.ID, "error", err)
			return
		}
		if !ok {
			return
		}
		h.log.Warn("webhook: endpoint disabled", "endpoint_id", ep.ID, "reason", reason)
		h.onDisabled(ep)
	}()
}

// wait waits until every write under way has finished.
func (h *endpointHealth) wait() { h.wg.Wait() }
