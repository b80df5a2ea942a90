package webhook

import (
	"bytes"
	"context"
	"time"
)

// attempter makes one attempt at a leased delivery: it finds the endpoint,
// renders the body, has the sender send it, and turns the answer into the
// delivery's next state under the endpoint's retry policy. It reports
// every verdict.
type attempter struct {
	clock  Clock
	sender *sender
	// lookup returns the endpoint a delivery goes to, false when it is
	// gone, or an error when that is not known; see registry.lookup.
	lookup func(ctx context.Context, id string) (*endpointState, bool, error)
	// observe is told the verdict on every answer; see
	// endpointHealth.observe.
	observe func(ep *Endpoint, v verdict, status int, start time.Time)
	// tel gets the metrics and span of every attempt.
	tel *telemetry
}

// attempt makes one attempt at a leased delivery and returns its outcome.
// It reports release when ctx was cancelled (Close ran out of patience):
// the lease is then given back without recording anything.
func (at *attempter) attempt(ctx context.Context, l *Lease) (out Outcome, release bool) {
	ctx, span := at.tel.startAttempt(ctx, l)
	defer func() { at.tel.endAttempt(ctx, span, l, &out, release) }()
	out.Lease = LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token}
	st, ok, err := at.lookup(ctx, l.Delivery.EndpointID)
	if err != nil {
		// Not known to be deleted: give it back for a later try.
		return out, true
	}
	start := at.clock.Now()
	a := Attempt{DeliveryID: l.Delivery.ID, Number: l.Delivery.Attempts + 1, StartedAt: start}
	fail := func(class ErrorClass, msg string) (Outcome, bool) {
		a.ErrorClass, a.Error = class, cleanText(msg)
		out.Attempts = []Attempt{a}
		out.State = StateFailed
		return out, false
	}
	switch {
	case !ok:
		return fail(ClassEndpointDisabled, "endpoint deleted")
	case st.ep.Disabled:
		return fail(ClassEndpointDisabled, "endpoint disabled")
	}

	body := bufPool.Get().(*bytes.Buffer)
	defer putBuf(body)
	contentType := "application/json"
	if st.tmpl != nil {
		rstart := at.clock.Now()
		r, err := st.tmpl.Render(ctx, &RenderInput{Event: &l.Event, Endpoint: &st.ep})
		at.tel.rendered(ctx, at.clock.Now().Sub(rstart), err, r.Skip)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return out, true
			}
			return fail(ClassTemplate, err.Error())
		case r.Skip:
			out.State = StateSkipped
			return out, false
		}
		body.Write(r.Body)
		contentType = r.ContentType
	} else {
		appendEnvelope(body, &l.Event)
	}

	status, retryAfter, err := at.sender.send(ctx, st, l, body.Bytes(), contentType, start, &a)
	a.Duration = at.clock.Now().Sub(start)
	if err != nil {
		if ctx.Err() != nil {
			return out, true
		}
		var msg string
		a.ErrorClass, msg = classify(err)
		a.Error = cleanText(msg)
	}
	a.StatusCode = status
	out.Attempts = []Attempt{a}
	var v verdict
	out.State, out.NextAttemptAt, v = st.retry.next(a.Number-l.Delivery.ScheduleStart, status, retryAfter, at.clock.Now())
	if a.ErrorClass == ClassInternal || a.ErrorClass == ClassBlocked {
		// Neither changes by waiting: a blocked address stays blocked
		// until the host allows private networks.
		out.State, out.NextAttemptAt = StateFailed, time.Time{}
	}
	at.observe(&st.ep, v, status, start)
	return out, false
}
