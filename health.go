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
// host. Disabling runs on its own goroutine, so attempts never wait on it.
type endpointHealth struct {
	log *slog.Logger
	// disableAfter is Config.DisableAfter; negative never disables for
	// failures.
	disableAfter time.Duration
	// disable writes the failed version of an endpoint disabled and reports
	// whether it did; see registry.disable.
	disable func(ctx context.Context, failed *Endpoint, reason string) (Endpoint, bool, error)
	// onDisabled is Config.OnEndpointDisabled, or nil.
	onDisabled func(ctx context.Context, ep Endpoint)

	wg sync.WaitGroup // running disables

	mu sync.Mutex
	// failingSince is when each failing endpoint's run of failed attempts
	// began; see failingTooLong.
	failingSince map[string]time.Time
}

func newEndpointHealth(log *slog.Logger, disableAfter time.Duration,
	disable func(context.Context, *Endpoint, string) (Endpoint, bool, error),
	onDisabled func(context.Context, Endpoint),
) *endpointHealth {
	return &endpointHealth{
		log: log, disableAfter: disableAfter, disable: disable, onDisabled: onDisabled,
		failingSince: map[string]time.Time{},
	}
}

// observe takes the verdict of an attempt on ep that started at start.
func (h *endpointHealth) observe(ep *Endpoint, v verdict, status int, start time.Time) {
	switch {
	case v == verdictFailAndDisable:
		h.disableAsync(ep, fmt.Sprintf("%d %s", status, http.StatusText(status)))
	case h.failingTooLong(ep.ID, v == verdictSuccess, start):
		h.disableAsync(ep, fmt.Sprintf("no successful delivery for %v", h.disableAfter))
	}
}

// failingTooLong tracks, per endpoint, when the current run of failed
// attempts began, and reports whether it has lasted disableAfter. The run
// is kept in memory: a restart, or another replica, starts counting anew,
// which can only postpone the disabling.
func (h *endpointHealth) failingTooLong(endpointID string, success bool, now time.Time) bool {
	if h.disableAfter < 0 {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if success {
		delete(h.failingSince, endpointID)
		return false
	}
	since, ok := h.failingSince[endpointID]
	if !ok {
		h.failingSince[endpointID] = now
		return false
	}
	if now.Sub(since) < h.disableAfter {
		return false
	}
	delete(h.failingSince, endpointID)
	return true
}

// disableAsync disables the version of the endpoint that failed, and tells
// the host. If the endpoint has changed since (a fixed URL, say), the
// change stands and nothing is disabled.
func (h *endpointHealth) disableAsync(failed *Endpoint, reason string) {
	failedCopy := *failed
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
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
		if h.onDisabled != nil {
			h.onDisabled(ctx, ep)
		}
	}()
}

// wait waits until every disable under way has finished.
func (h *endpointHealth) wait() { h.wg.Wait() }
