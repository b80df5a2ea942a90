package webhook

import (
	"context"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// telemetry is what the attempter reports to: the metrics, spans and log
// lines of attempts and renders.
type telemetry struct {
	metrics *metrics
	tracing *tracing
	log     *slog.Logger
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
	debug := t.log.Enabled(ctx, slog.LevelDebug)
	for i := range out.Attempts {
		a := &out.Attempts[i]
		t.metrics.attempt(ctx, l.Delivery.EndpointID, a)
		if debug {
			t.log.LogAttrs(ctx, slog.LevelDebug, "webhook: attempt", append(logAttrs(l, a),
				slog.Int("status_code", a.StatusCode), slog.Duration("duration", a.Duration),
				slog.String("state", string(out.State)))...)
		}
	}
	if out.State.Finished() {
		t.metrics.finish(ctx, l.Delivery.EndpointID, out.State)
	}
	if out.State == StateFailed && len(out.Attempts) > 0 {
		a := &out.Attempts[len(out.Attempts)-1]
		t.log.LogAttrs(ctx, slog.LevelInfo, "webhook: delivery failed for good",
			append(logAttrs(l, a), slog.Int("status_code", a.StatusCode))...)
	}
}

// logAttrs are the stable keys of a log line about attempt a at l. The
// error text of an attempt never carries a secret or the URL.
func logAttrs(l *Lease, a *Attempt) []slog.Attr {
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs,
		slog.String("delivery_id", l.Delivery.ID),
		slog.String("endpoint_id", l.Delivery.EndpointID),
		slog.String("event_type", l.Event.Type),
		slog.Int("attempt", a.Number))
	if a.ErrorClass != ClassNone || a.Error != "" {
		attrs = append(attrs, slog.String("error_class", string(a.ErrorClass)), slog.String("error", a.Error))
	}
	return attrs
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
