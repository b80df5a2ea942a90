package webhook

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http"
	"time"
)

// attempter makes one attempt at a leased delivery: it finds the endpoint,
// renders the body, has the sender send it (again, in the quick stage of
// the endpoint's retry policy), and turns the answer into the delivery's
// next state under that policy. It reports every verdict.
type attempter struct {
	clock  Clock
	sender *sender
	hooks  *hookRunner
	// lookup returns the endpoint a delivery goes to, false when it is
	// gone, or an error when that is not known; see registry.lookup.
	lookup func(ctx context.Context, id string) (*endpointState, bool, error)
	// observe is told the verdict on every answer; see
	// endpointHealth.observe.
	observe func(ep *Endpoint, v verdict, status int, start time.Time)
	// quickTry reports whether the endpoint's lane lets a quick try go
	// now; see deliveryEngine.quickTryAllowed.
	quickTry func(endpointID string) bool
	// tel gets the metrics and span of every attempt.
	tel *telemetry
	// renders shares one rendering among the deliveries of an event.
	renders *renderCache
}

// attempt makes one attempt at a leased delivery, with its quick tries,
// and returns its outcome and what the lane learns from it. It reports
// release when ctx was cancelled (Close ran out of patience) before any
// try was made: the lease is then given back without recording anything.
func (at *attempter) attempt(ctx context.Context, l *Lease) (out Outcome, rep attemptReport, release bool) {
	ctx, span := at.tel.startAttempt(ctx, l)
	defer func() { at.tel.endAttempt(ctx, span, l, &out, release) }()
	out, rep, release = at.run(ctx, l)
	if release {
		return out, rep, true
	}
	for i, a := range out.Attempts {
		state := StatePending
		if i == len(out.Attempts)-1 {
			state = out.State
		}
		at.hooks.attempt(AttemptInfo{EndpointID: l.Delivery.EndpointID, EventID: l.Event.ID, Attempt: a, State: state})
	}
	if out.State == StateFailed {
		dl := l.Delivery
		dl.State = StateFailed
		dl.Attempts += len(out.Attempts)
		dl.NextAttemptAt = time.Time{}
		if n := len(out.Attempts); n > 0 {
			last := out.Attempts[n-1]
			dl.LastStatusCode, dl.LastError = last.StatusCode, last.Error
		}
		dl.UpdatedAt = at.clock.Now()
		at.hooks.deliveryFailed(dl)
	}
	return out, rep, false
}

func (at *attempter) run(ctx context.Context, l *Lease) (out Outcome, rep attemptReport, release bool) {
	out.Lease = LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token}
	st, ok, err := at.lookup(ctx, l.Delivery.EndpointID)
	if err != nil {
		// Not known to be deleted: give it back for a later try.
		return out, rep, true
	}
	start := at.clock.Now()
	a := Attempt{DeliveryID: l.Delivery.ID, Number: l.Delivery.Attempts + 1, StartedAt: start}
	fail := func(class ErrorClass, msg string) (Outcome, attemptReport, bool) {
		a.ErrorClass, a.Error = class, cleanText(msg)
		out.Attempts = []Attempt{a}
		out.State = StateFailed
		return out, rep, false
	}
	switch {
	case !ok:
		return fail(ClassEndpointDisabled, "endpoint deleted")
	case st.ep.Disabled:
		return fail(ClassEndpointDisabled, "endpoint disabled")
	}

	body := bufPool.Get().(*bytes.Buffer)
	defer putBuf(body)
	contentType := jsonContentType
	if st.tmpl != nil {
		rstart := at.clock.Now()
		r, rendered, err := at.renders.render(ctx, st.tmpl, &RenderInput{Event: &l.Event, Endpoint: &st.ep})
		if rendered { // a shared rendering is counted once
			at.tel.rendered(ctx, at.clock.Now().Sub(rstart), err, r.Skip)
		}
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return out, rep, true
			}
			return fail(ClassTemplate, err.Error())
		case r.Skip:
			out.State = StateSkipped
			return out, rep, false
		}
		body.Write(r.Body)
		contentType = r.ContentType
	} else {
		appendEnvelope(body, &l.Event)
	}

	// The quick stage runs in the first attempt of the schedule.
	quick := st.retry.Quick.on() && l.Delivery.Attempts == l.Delivery.ScheduleStart
	for try := 1; ; try++ {
		status, retryAfter, err := at.sender.send(ctx, st, l, body.Bytes(), contentType, a.StartedAt, &a)
		end := at.clock.Now()
		a.Duration = end.Sub(a.StartedAt)
		if err != nil {
			if ctx.Err() != nil {
				if len(out.Attempts) == 0 {
					return out, rep, true
				}
				// The quick tries made so far stand; the last one is cut.
				break
			}
			var msg string
			a.ErrorClass, msg = classify(err)
			a.Error = cleanText(msg)
		}
		a.StatusCode = status
		out.Attempts = append(out.Attempts, a)
		rep.tries = append(rep.tries, tryResult{
			end:        end,
			duration:   a.Duration,
			timeout:    a.ErrorClass == ClassTimeout,
			failed:     breakerFailure(status, a.ErrorClass),
			retryAfter: min(retryAfter, st.retry.MaxRetryAfter),
		})
		var v verdict
		out.State, out.NextAttemptAt, v = st.retry.next(a.Number-l.Delivery.ScheduleStart, status, retryAfter, end)
		if a.ErrorClass == ClassInternal || a.ErrorClass == ClassBlocked {
			// Neither changes by waiting: a blocked address stays blocked
			// until the host allows private networks.
			out.State, out.NextAttemptAt = StateFailed, time.Time{}
		}
		at.observe(&st.ep, v, status, a.StartedAt)
		if !quick || out.State != StatePending || try >= st.retry.Quick.Tries || !quickRetryable(status, retryAfter) {
			break
		}
		pause := st.retry.Quick.pause(try, rand.Float64())
		if at.clock.Now().Add(pause).Sub(start) > st.retry.Quick.GiveUpAfter {
			break
		}
		if !at.sleep(ctx, pause) || !at.quickTry(l.Delivery.EndpointID) {
			break
		}
		a = Attempt{DeliveryID: l.Delivery.ID, Number: a.Number + 1, StartedAt: at.clock.Now()}
	}
	return out, rep, false
}

// sleep waits d on the clock, and reports false if ctx ended first.
func (at *attempter) sleep(ctx context.Context, d time.Duration) bool {
	t := at.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-ctx.Done():
		return false
	}
}

// breakerFailure reports whether an attempt counts as a failure for the
// circuit breaker: no answer, 408, 429 or 5xx.
func breakerFailure(status int, class ErrorClass) bool {
	switch {
	case status == 0:
		return class != ClassInternal && class != ClassBlocked
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests, status >= 500:
		return true
	}
	return false
}
