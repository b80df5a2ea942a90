package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
)

// batchResult is what became of a batch unit: the outcomes to record, the
// leases to give back unattempted, the members a batch could not hold (to
// gather again) and those another owner took.
type batchResult struct {
	outcomes []Outcome
	release  []LeaseRef
	back     []Lease
	lost     []LeaseRef
	rep      attemptReport
	// lineEst is the average line of the body sent; 0 when none was.
	lineEst int
}

// formFunc records a batch in the store; see [Batcher.FormBatch].
type formFunc func(ctx context.Context, id string, refs []LeaseRef) (stale []LeaseRef, err error)

// errBatchLine refuses a rendered body that cannot be one NDJSON line.
var errBatchLine = errors.New("a batched event must render as JSON or as text without a line break")

// attemptBatch makes one attempt at a batch unit: it renders each member
// into a line (a member whose template skips it or fails ends at once,
// out of the batch), cuts the batch at maxBytes unless the store holds it
// already, records it with form before the first request, then signs and
// sends the NDJSON body as one request (again, in the quick stage) and
// gives every member the attempts and the outcome. When ctx is cancelled
// before a request was made, the members are given back.
func (at *attempter) attemptBatch(ctx context.Context, u *batchUnit, maxBytes int, form formFunc) (res batchResult) {
	lead := &u.leases[0]
	st, ok, err := at.lookup(ctx, lead.Delivery.EndpointID)
	if err != nil {
		res.release = u.refs()
		return res
	}
	start := at.clock.Now()
	if !ok {
		st = nil
	}
	// Members whose wait for a receiver's report ended (leased back at
	// its end): that ends their attempt; nothing is sent for them.
	leases := u.leases[:0:0]
	for i := range u.leases {
		if l := &u.leases[i]; l.Delivery.AwaitingReport {
			out := at.waitEnded(l, st, start)
			at.report(l, &out)
			res.outcomes = append(res.outcomes, out)
		} else {
			leases = append(leases, *l)
		}
	}
	if len(leases) == 0 {
		return res
	}
	u = &batchUnit{id: u.id, formed: u.formed, leases: leases}
	switch {
	case st == nil:
		at.failMembers(&res, u.leases, start, ClassEndpointDisabled, "endpoint deleted")
		return res
	case st.ep.Disabled:
		at.failMembers(&res, u.leases, start, ClassEndpointDisabled, "endpoint disabled")
		return res
	}
	// An endpoint whose receivers report back gets one callback URL per
	// batch attempt (its quick tries share it), for the lead: a report
	// on it reaches every member.
	var callbackURL string
	var tokenHash []byte
	if st.ep.AckTimeout > 0 && at.callbacks != nil {
		callbackURL, tokenHash = at.callbacks.mint(u.leases[0].Delivery.ID)
	}

	body := bufPool.Get().(*bytes.Buffer)
	defer putBuf(body)
	members := make([]*Lease, 0, len(u.leases))
	for i := range u.leases {
		l := &u.leases[i]
		mark := body.Len()
		skip, err := at.appendLine(ctx, body, st, l, callbackURL)
		switch {
		case err != nil && ctx.Err() != nil:
			res.release = append(res.release, refsOf(u.leases[i:])...)
			res.release = append(res.release, refsOfPtr(members)...)
			return res
		case err != nil:
			body.Truncate(mark)
			at.failMembers(&res, u.leases[i:i+1], at.clock.Now(), ClassTemplate, err.Error())
			continue
		case skip:
			res.outcomes = append(res.outcomes, Outcome{Lease: refOf(l), State: StateSkipped})
			continue
		}
		if !u.formed && len(members) > 0 && body.Len() > maxBytes {
			body.Truncate(mark)
			res.back = u.leases[i:]
			break
		}
		members = append(members, l)
	}
	if len(members) == 0 {
		return res
	}
	res.lineEst = body.Len() / len(members)
	if !u.formed {
		stale, err := form(ctx, u.id, refsOfPtr(members))
		switch {
		case err != nil:
			// Not recorded: nothing is sent; the members come back.
			res.release = append(res.release, refsOfPtr(members)...)
			return res
		case len(stale) > 0:
			res.lost = stale
			res.release = append(res.release, without(refsOfPtr(members), stale)...)
			return res
		}
	}
	at.sendBatch(ctx, &res, st, u.id, members, body.Bytes(), callbackURL, tokenHash)
	return res
}

// sendBatch sends a recorded batch, with its quick tries, and gives each
// member the attempts and the state they lead to. The retry schedule is
// the one of the member with the fewest attempts in its schedule, so that
// no member's schedule ends early.
func (at *attempter) sendBatch(ctx context.Context, res *batchResult, st *endpointState, id string, members []*Lease, body []byte, callbackURL string, tokenHash []byte) {
	sched := members[0]
	for _, m := range members[1:] {
		if m.Delivery.Attempts-m.Delivery.ScheduleStart < sched.Delivery.Attempts-sched.Delivery.ScheduleStart {
			sched = m
		}
	}
	// The request is the batch's: signed with its ID.
	req := &Lease{Delivery: sched.Delivery, Event: Event{ID: id}}
	quick := st.retry.Quick.on() && sched.Delivery.Attempts == sched.Delivery.ScheduleStart
	var (
		tries []Attempt
		state DeliveryState
		next  time.Time
		await []byte
	)
	first := at.clock.Now()
	for try := 1; ; try++ {
		a := Attempt{StartedAt: at.clock.Now()}
		status, retryAfter, err := at.sender.send(ctx, st, req, body, BatchContentType, callbackURL, a.StartedAt, &a)
		end := at.clock.Now()
		a.Duration = end.Sub(a.StartedAt)
		if err != nil && ctx.Err() != nil {
			if len(tries) == 0 {
				res.release = append(res.release, refsOfPtr(members)...)
				return
			}
			break
		}
		res.rep.tries = append(res.rep.tries, st.tried(&a, status, retryAfter, err, end))
		tries = append(tries, a)
		var v verdict
		n := sched.Delivery.Attempts + try
		state, next, v = st.retry.next(n-sched.Delivery.ScheduleStart, status, retryAfter, end)
		if a.ErrorClass == ClassInternal || a.ErrorClass == ClassBlocked {
			state, next = StateFailed, time.Time{}
		}
		if callbackURL != "" && status == http.StatusAccepted && state == StateSucceeded {
			// Accepted: every member awaits the receiver's report.
			state, next, await = StatePending, end.Add(st.ep.AckTimeout), tokenHash
		}
		at.observe(&st.ep, v, status, a.StartedAt)
		if !quick || state != StatePending || !at.quickAgain(ctx, st, sched.Delivery.EndpointID, try, status, retryAfter, first) {
			break
		}
	}
	for _, m := range members {
		out := Outcome{Lease: refOf(m), State: state, NextAttemptAt: next, AwaitTokenHash: await, Attempts: make([]Attempt, len(tries))}
		for k, a := range tries {
			a.DeliveryID, a.Number = m.Delivery.ID, m.Delivery.Attempts+1+k
			out.Attempts[k] = a
		}
		at.report(m, &out)
		res.outcomes = append(res.outcomes, out)
	}
}

// failMembers ends leases failed with one attempt of class and msg.
func (at *attempter) failMembers(res *batchResult, leases []Lease, start time.Time, class ErrorClass, msg string) {
	for i := range leases {
		l := &leases[i]
		out := Outcome{Lease: refOf(l), State: StateFailed, Attempts: []Attempt{{
			DeliveryID: l.Delivery.ID, Number: l.Delivery.Attempts + 1, StartedAt: start,
			ErrorClass: class, Error: cleanText(msg),
		}}}
		at.report(l, &out)
		res.outcomes = append(res.outcomes, out)
	}
}

// report tells the hooks of a member's attempts and, when it failed for
// good, of the failure.
func (at *attempter) report(l *Lease, out *Outcome) {
	for i, a := range out.Attempts {
		state := StatePending
		if i == len(out.Attempts)-1 {
			state = out.State
		}
		at.hooks.attempt(AttemptInfo{EndpointID: l.Delivery.EndpointID, EventID: l.Event.ID, Attempt: a, State: state})
	}
	if out.State != StateFailed {
		return
	}
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

// appendLine appends l's line to a batch body: the template's output
// (JSON made compact), or the envelope with the event's ID. It reports
// skip when the template leaves the event out.
func (at *attempter) appendLine(ctx context.Context, b *bytes.Buffer, st *endpointState, l *Lease, callbackURL string) (skip bool, err error) {
	if st.tmpl == nil {
		appendBatchEnvelope(b, &l.Event)
		b.WriteByte('\n')
		return false, nil
	}
	rstart := at.clock.Now()
	r, rendered, err := at.renders.render(ctx, st.tmpl, &RenderInput{Event: &l.Event, Endpoint: &st.ep, CallbackURL: callbackURL})
	if rendered {
		at.tel.rendered(ctx, at.clock.Now().Sub(rstart), err, r.Skip)
	}
	switch {
	case err != nil:
		return false, err
	case r.Skip:
		return true, nil
	case isJSONType(r.ContentType):
		if err := json.Compact(b, r.Body); err != nil {
			return false, errBatchLine
		}
	case bytes.ContainsAny(r.Body, "\r\n"):
		return false, errBatchLine
	default:
		b.Write(r.Body)
	}
	b.WriteByte('\n')
	return false, nil
}

// isJSONType reports whether a media type is JSON.
func isJSONType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(strings.ToLower(mt))
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// appendBatchEnvelope writes the envelope of ev with its ID,
// {"id","type","timestamp","data"}: a line of a batch body.
func appendBatchEnvelope(b *bytes.Buffer, ev *Event) {
	b.WriteString(`{"id":`)
	writeJSONString(b, ev.ID)
	b.WriteByte(',')
	appendEnvelopeFields(b, ev)
}

func refOf(l *Lease) LeaseRef { return LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token} }

func refsOf(ls []Lease) []LeaseRef {
	refs := make([]LeaseRef, len(ls))
	for i := range ls {
		refs[i] = refOf(&ls[i])
	}
	return refs
}

func refsOfPtr(ls []*Lease) []LeaseRef {
	refs := make([]LeaseRef, len(ls))
	for i, l := range ls {
		refs[i] = refOf(l)
	}
	return refs
}

// without returns refs less those of the deliveries in drop.
func without(refs, drop []LeaseRef) []LeaseRef {
	gone := make(map[string]bool, len(drop))
	for _, r := range drop {
		gone[r.DeliveryID] = true
	}
	out := refs[:0:0]
	for _, r := range refs {
		if !gone[r.DeliveryID] {
			out = append(out, r)
		}
	}
	return out
}
