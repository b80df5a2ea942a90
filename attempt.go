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
	// callbacks mints the callback URLs of endpoints with an AckTimeout;
	// nil without Config.CallbackURL.
	callbacks *callbacks
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
	if w := out.WaitEnded; w != nil {
		at.hooks.attempt(AttemptInfo{EndpointID: l.Delivery.EndpointID, EventID: l.Event.ID, State: out.State,
			Attempt: Attempt{DeliveryID: l.Delivery.ID, Number: l.Delivery.Attempts,
				StatusCode: l.Delivery.LastStatusCode, ErrorClass: w.Class, Error: w.Error}})
	}
	if out.State == StateFailed {
		dl := l.Delivery
		dl.State = StateFailed
		dl.Attempts += len(out.Attempts)
		dl.NextAttemptAt = time.Time{}
		dl.AwaitingReport = false
		if n := len(out.Attempts); n > 0 {
			last := out.Attempts[n-1]
			dl.LastStatusCode, dl.LastError = last.StatusCode, last.Error
		}
		if w := out.WaitEnded; w != nil {
			dl.LastError = w.Error
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
	if l.Delivery.AwaitingReport {
		if !ok {
			st = nil
		}
		return at.waitEnded(l, st, start), rep, false
	}
	switch {
	case !ok:
		return fail(ClassEndpointDisabled, "endpoint deleted")
	case st.ep.Disabled:
		return fail(ClassEndpointDisabled, "endpoint disabled")
	}

	body := bufPool.Get().(*bytes.Buffer)
	defer putBuf(body)
	// An endpoint whose receivers report back gets a callback URL of its
	// own in every try, and a body rendered with it.
	ack := st.ep.AckTimeout > 0 && at.callbacks != nil
	var callbackURL string
	var tokenHash []byte
	contentType := jsonContentType
	// render writes the body for the next try; it reports what to return
	// when it ends the attempt instead.
	render := func() (done bool, o Outcome, release bool) {
		body.Reset()
		if ack {
			callbackURL, tokenHash = at.callbacks.mint(l.Delivery.ID)
		}
		if st.tmpl == nil {
			appendEnvelope(body, &l.Event)
			return false, out, false
		}
		rstart := at.clock.Now()
		r, rendered, err := at.renders.render(ctx, st.tmpl, &RenderInput{Event: &l.Event, Endpoint: &st.ep, CallbackURL: callbackURL})
		if rendered { // a shared rendering is counted once
			at.tel.rendered(ctx, at.clock.Now().Sub(rstart), err, r.Skip)
		}
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return true, out, true
			}
			if len(out.Attempts) > 0 {
				// A quick try's rendering failed: the tries made stand.
				return true, out, false
			}
			o, _, _ := fail(ClassTemplate, err.Error())
			return true, o, false
		case r.Skip:
			if len(out.Attempts) > 0 {
				return true, out, false
			}
			out.State = StateSkipped
			return true, out, false
		}
		body.Write(r.Body)
		contentType = r.ContentType
		return false, out, false
	}
	if done, o, rel := render(); done {
		return o, rep, rel
	}

	// The quick stage runs in the first attempt of the schedule.
	quick := st.retry.Quick.on() && l.Delivery.Attempts == l.Delivery.ScheduleStart
	for try := 1; ; try++ {
		status, retryAfter, err := at.sender.send(ctx, st, l, body.Bytes(), contentType, callbackURL, a.StartedAt, &a)
		end := at.clock.Now()
		a.Duration = end.Sub(a.StartedAt)
		if err != nil && ctx.Err() != nil {
			if len(out.Attempts) == 0 {
				return out, rep, true
			}
			// The quick tries made so far stand; the last one is cut.
			break
		}
		rep.tries = append(rep.tries, st.tried(&a, status, retryAfter, err, end))
		out.Attempts = append(out.Attempts, a)
		var v verdict
		out.State, out.NextAttemptAt, v = st.retry.next(a.Number-l.Delivery.ScheduleStart, status, retryAfter, end)
		if a.ErrorClass == ClassInternal || a.ErrorClass == ClassBlocked {
			// Neither changes by waiting: a blocked address stays blocked
			// until the host allows private networks.
			out.State, out.NextAttemptAt = StateFailed, time.Time{}
		}
		if ack && status == http.StatusAccepted && out.State == StateSucceeded {
			// Accepted: the delivery awaits the receiver's report.
			out.State, out.NextAttemptAt, out.AwaitTokenHash = StatePending, end.Add(st.ep.AckTimeout), tokenHash
		}
		at.observe(&st.ep, v, status, a.StartedAt)
		if !quick || out.State != StatePending || !at.quickAgain(ctx, st, l.Delivery.EndpointID, try, status, retryAfter, start) {
			break
		}
		a = Attempt{DeliveryID: l.Delivery.ID, Number: a.Number + 1, StartedAt: at.clock.Now()}
		if ack {
			// A new try, a new token: the body may carry it.
			if done, o, rel := render(); done {
				return o, rep, rel
			}
		}
	}
	return out, rep, false
}

// tried completes a, the try that ended at end answered with status and
// retryAfter or failed with err, and returns what the lane learns from it.
func (st *endpointState) tried(a *Attempt, status int, retryAfter time.Duration, err error, end time.Time) tryResult {
	if err != nil {
		var msg string
		a.ErrorClass, msg = classify(err)
		a.Error = cleanText(msg)
	}
	a.StatusCode = status
	return tryResult{
		end:        end,
		duration:   a.Duration,
		timeout:    a.ErrorClass == ClassTimeout,
		failed:     breakerFailure(status, a.ErrorClass),
		retryAfter: min(retryAfter, st.retry.MaxRetryAfter),
	}
}

// quickAgain reports whether the try number try of an attempt that began at
// since, answered with status and retryAfter and left pending, is followed
// at once by another: the quick stage has tries left, the answer allows
// one, the pause keeps within the stage's GiveUpAfter, and the attempter
// slept the pause and got a quick try of endpointID.
func (at *attempter) quickAgain(ctx context.Context, st *endpointState, endpointID string, try, status int, retryAfter time.Duration, since time.Time) bool {
	if try >= st.retry.Quick.Tries || !quickRetryable(status, retryAfter) {
		return false
	}
	pause := st.retry.Quick.pause(try, rand.Float64())
	if at.clock.Now().Add(pause).Sub(since) > st.retry.Quick.GiveUpAfter {
		return false
	}
	return at.sleep(ctx, pause) && at.quickTry(endpointID)
}

// waitEnded ends the wait of a delivery leased while it awaited its
// receiver's report: the wait ran out, so the attempt that awaited fails
// with ClassAckTimeout and the retry policy decides what follows. Nothing
// is sent.
func (at *attempter) waitEnded(l *Lease, st *endpointState, now time.Time) Outcome {
	out := Outcome{Lease: LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token}}
	msg := "no report within the endpoint's ack timeout"
	if st != nil && st.ep.AckTimeout > 0 {
		msg = "no report within " + st.ep.AckTimeout.String()
	}
	out.WaitEnded = &AttemptFailure{Class: ClassAckTimeout, Error: msg}
	out.State = StateFailed
	if st != nil && !st.ep.Disabled {
		out.State, out.NextAttemptAt, _ = st.retry.next(l.Delivery.Attempts-l.Delivery.ScheduleStart, 0, 0, now)
	}
	return out
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
