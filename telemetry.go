package webhook

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// telemetry is what the attempter reports to: the metrics and the spans of
// attempts and renders.
type telemetry struct {
	metrics *metrics
	tracing *tracing
}

// startAttempt starts the span of an attempt at l; see tracing.start.
func (t *telemetry) startAttempt(ctx context.Context, l *Lease) (context.Context, trace.Span) {
	return t.tracing.start(ctx, l)
}

// endAttempt records what became of an attempt at l and ends its span. A
// released attempt (cut short, nothing recorded) counts nowhere.
func (t *telemetry) endAttempt(ctx context.Context, span trace.Span, l *Lease, out *Outcome, release bool) {
	t.tracing.end(span, out)
	if release {
		return
	}
	for i := range out.Attempts {
		a := &out.Attempts[i]
		t.metrics.attempt(ctx, l.Delivery.EndpointID, a, a.StatusCode < 200 || a.StatusCode > 299)
	}
	if out.State.Finished() {
		t.metrics.finish(ctx, l.Delivery.EndpointID, out.State)
	}
}

// rendered records a template render that took d and ended in err, or in
// a skip.
func (t *telemetry) rendered(ctx context.Context, d time.Duration, err error, skip bool) {
	result := 0
	switch {
	case err != nil:
		result = 2
	case skip:
		result = 1
	}
	t.metrics.render(ctx, d, result)
}
