package admin

import (
	"context"
	"time"

	webhook "github.com/hooklet/webhook"
)

// Bounds of a health computation.
const (
	// healthMaxDeliveries caps the deliveries read for one window.
	healthMaxDeliveries = 1000
	// healthMaxAttempts caps the attempts read for one window.
	healthMaxAttempts = 3000
)

// deliveryIDPrefix starts every delivery ID the Dispatcher makes; with the
// ULID that follows, IDs sort by creation time.
const deliveryIDPrefix = "dlv_"

// healthWindow is the attempts of one endpoint over a span of time.
type healthWindow struct {
	// Attempts counts the attempts made.
	Attempts int `json:"attempts"`
	// Succeeded counts those answered with a 2xx status.
	Succeeded int `json:"succeeded"`
	// Failed counts the others.
	Failed int `json:"failed"`
	// SuccessRate is Succeeded/Attempts, from 0 to 1; null without
	// attempts.
	SuccessRate *float64 `json:"success_rate"`
}

// endpointHealth summarises the recent deliveries to one endpoint.
type endpointHealth struct {
	EndpointID string `json:"endpoint_id"`
	// Day covers the attempts of the deliveries created in the last 24
	// hours; Hour those of them started in the last hour.
	Hour healthWindow `json:"hour"`
	Day  healthWindow `json:"day"`
	// LastSuccessAt and LastFailureAt are the starts of the latest
	// successful and failed attempts in the day; null when none.
	LastSuccessAt *time.Time `json:"last_success_at"`
	LastFailureAt *time.Time `json:"last_failure_at"`
	// LastError is the error of the latest failed attempt in the day.
	LastError string `json:"last_error,omitempty"`
	// Pending counts the endpoint's deliveries of the day that wait for
	// an attempt; Failed those that failed for good.
	Pending int `json:"pending"`
	Failed  int `json:"failed"`
	// Complete is false when the day had more deliveries or attempts than
	// one health computation reads: the figures then cover the oldest of
	// them, and the hour those read from the hour's own start.
	Complete bool `json:"complete"`
}

// health computes an endpoint's health from its deliveries created in the
// last day and their attempts, reading at most healthMaxDeliveries
// deliveries and healthMaxAttempts attempts per window.
func (s *scope) health(ctx context.Context, endpointID string, now time.Time) (endpointHealth, error) {
	if _, err := s.endpoint(ctx, endpointID); err != nil {
		return endpointHealth{}, err
	}
	h := endpointHealth{EndpointID: endpointID, Complete: true}
	day, err := s.scanWindow(ctx, endpointID, now.Add(-24*time.Hour), now, true)
	if err != nil {
		return endpointHealth{}, err
	}
	h.Day, h.Hour = day.window, day.hour
	h.Pending, h.Failed = day.pending, day.failed
	h.LastSuccessAt, h.LastFailureAt, h.LastError = day.lastSuccess, day.lastFailure, day.lastError
	if day.truncated {
		h.Complete = false
		hour, err := s.scanWindow(ctx, endpointID, now.Add(-time.Hour), now, false)
		if err != nil {
			return endpointHealth{}, err
		}
		h.Hour = hour.window
		if hour.lastSuccess != nil {
			h.LastSuccessAt = hour.lastSuccess
		}
		if hour.lastFailure != nil {
			h.LastFailureAt, h.LastError = hour.lastFailure, hour.lastError
		}
	}
	return h, nil
}

// windowScan is what scanWindow read.
type windowScan struct {
	window, hour             healthWindow
	pending, failed          int
	lastSuccess, lastFailure *time.Time
	lastError                string
	truncated                bool
}

// scanWindow reads the deliveries of an endpoint created at or after from
// and their attempts. With hourToo it also counts the attempts started in
// the hour before now.
func (s *scope) scanWindow(ctx context.Context, endpointID string, from, now time.Time, hourToo bool) (windowScan, error) {
	var ws windowScan
	hourFrom := now.Add(-time.Hour)
	p := &webhook.ListDeliveriesParams{EndpointID: endpointID, Cursor: deliveryCursorAt(from), Limit: 200}
	deliveries, attempts := 0, 0
	for {
		page, err := s.d.Deliveries(ctx, p)
		if err != nil {
			return ws, err
		}
		for _, dl := range page.Items {
			if deliveries == healthMaxDeliveries || attempts+dl.Attempts > healthMaxAttempts {
				ws.truncated = true
				ws.window.finish()
				ws.hour.finish()
				return ws, nil
			}
			deliveries++
			switch dl.State {
			case webhook.StatePending:
				ws.pending++
			case webhook.StateFailed:
				ws.failed++
			}
			if dl.Attempts == 0 {
				continue
			}
			n, err := s.scanAttempts(ctx, dl.ID, &ws, hourToo, hourFrom)
			if err != nil {
				return ws, err
			}
			attempts += n
		}
		if page.Next == "" {
			break
		}
		p.Cursor = page.Next
	}
	ws.window.finish()
	ws.hour.finish()
	return ws, nil
}

// scanAttempts counts one delivery's attempts into ws.
func (s *scope) scanAttempts(ctx context.Context, deliveryID string, ws *windowScan, hourToo bool, hourFrom time.Time) (int, error) {
	p := &webhook.ListAttemptsParams{DeliveryID: deliveryID, Limit: 100}
	n := 0
	for {
		page, err := s.d.Attempts(ctx, p)
		if err != nil {
			return n, notFound(err)
		}
		for _, a := range page.Items {
			n++
			ok := a.StatusCode >= 200 && a.StatusCode < 300
			ws.window.add(ok)
			if hourToo && !a.StartedAt.Before(hourFrom) {
				ws.hour.add(ok)
			}
			at := a.StartedAt
			if ok && (ws.lastSuccess == nil || at.After(*ws.lastSuccess)) {
				ws.lastSuccess = &at
			}
			if !ok && (ws.lastFailure == nil || at.After(*ws.lastFailure)) {
				ws.lastFailure = &at
				ws.lastError = a.Error
			}
		}
		if page.Next == "" {
			return n, nil
		}
		p.Cursor = page.Next
	}
}

func (w *healthWindow) add(ok bool) {
	w.Attempts++
	if ok {
		w.Succeeded++
	} else {
		w.Failed++
	}
}

func (w *healthWindow) finish() {
	if w.Attempts > 0 {
		r := float64(w.Succeeded) / float64(w.Attempts)
		w.SuccessRate = &r
	}
}

// deliveryCursorAt returns a delivery listing cursor that sorts before
// every delivery created at or after t: the ID prefix and the ULID of t
// with a zero random part.
func deliveryCursorAt(t time.Time) string {
	const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	ms := uint64(max(t.UnixMilli(), 0))
	var out [26]byte
	// The 128-bit ULID is the 48-bit time then 80 zero bits; 26 base32
	// characters carry 130 bits, the first one the top 3.
	hi, lo := ms<<16, uint64(0)
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return deliveryIDPrefix + string(out[:])
}

// glanceMaxDeliveries caps the deliveries read for one endpoint's glance.
const glanceMaxDeliveries = 200

// glance is an endpoint's health at a glance: the states of its
// deliveries created in the last day, reading at most
// glanceMaxDeliveries.
type glance struct {
	Succeeded, Failed, Pending, Skipped int
	// More reports that the day had more deliveries than were read.
	More bool
}

// Total counts the deliveries read.
func (g glance) Total() int { return g.Succeeded + g.Failed + g.Pending + g.Skipped }

// SuccessPercent is the share of finished, sent deliveries that
// succeeded, from 0 to 100; -1 when none finished.
func (g glance) SuccessPercent() int {
	if g.Succeeded+g.Failed == 0 {
		return -1
	}
	return g.Succeeded * 100 / (g.Succeeded + g.Failed)
}

// glance computes an endpoint's [glance]; the endpoint is in scope.
func (s *scope) glance(ctx context.Context, endpointID string, now time.Time) (glance, error) {
	var g glance
	page, err := s.d.Deliveries(ctx, &webhook.ListDeliveriesParams{
		EndpointID: endpointID, Cursor: deliveryCursorAt(now.Add(-24 * time.Hour)), Limit: glanceMaxDeliveries})
	if err != nil {
		return g, err
	}
	for _, dl := range page.Items {
		switch dl.State {
		case webhook.StateSucceeded:
			g.Succeeded++
		case webhook.StateFailed:
			g.Failed++
		case webhook.StatePending:
			g.Pending++
		case webhook.StateSkipped:
			g.Skipped++
		}
	}
	g.More = page.Next != ""
	return g, nil
}
