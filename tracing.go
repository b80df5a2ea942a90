package webhook

import (
	"context"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// SpanAttempt is the name of the span of one delivery attempt.
const SpanAttempt = "hooklet.attempt"

// Attribute keys of the attempt span, beside [AttrEndpointID],
// [AttrDeliveryState] and [AttrErrorType].
const (
	AttrDeliveryID     = attribute.Key("hooklet.delivery.id")
	AttrEventID        = attribute.Key("hooklet.event.id")
	AttrEventType      = attribute.Key("hooklet.event.type")
	AttrAttemptNumber  = attribute.Key("hooklet.attempt.number")
	AttrHTTPStatusCode = attribute.Key("http.response.status_code")
	AttrHTTPMethod     = attribute.Key("http.request.method")
)

// Header names of the W3C trace context.
const (
	headerTraceParent = "traceparent"
	headerTraceState  = "tracestate"
)

// traceContext is the W3C TraceContext propagator: the format of the
// stored trace context and of the headers every request carries,
// whatever propagator the host has set globally.
var traceContext propagation.TraceContext

// eventCarrier reads and writes an event's trace context fields as the
// traceparent and tracestate headers.
type eventCarrier struct{ ev *Event }

func (c eventCarrier) Get(key string) string {
	switch key {
	case headerTraceParent:
		return c.ev.TraceParent
	case headerTraceState:
		return c.ev.TraceState
	}
	return ""
}

func (c eventCarrier) Set(key, value string) {
	switch key {
	case headerTraceParent:
		c.ev.TraceParent = value
	case headerTraceState:
		c.ev.TraceState = value
	}
}

func (c eventCarrier) Keys() []string { return []string{headerTraceParent, headerTraceState} }

// traceFrom fills the trace context of events that carry none from the
// span in ctx. It does nothing when ctx holds no valid span context.
func traceFrom(ctx context.Context, events []Event) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	var tmpl Event
	traceContext.Inject(ctx, eventCarrier{&tmpl})
	for i := range events {
		if events[i].TraceParent == "" && events[i].TraceState == "" {
			events[i].TraceParent, events[i].TraceState = tmpl.TraceParent, tmpl.TraceState
		}
	}
}

// injectTrace writes the trace context of ctx into h; nothing when ctx
// holds no valid span context.
func injectTrace(ctx context.Context, h http.Header) {
	traceContext.Inject(ctx, propagation.HeaderCarrier(h))
}

// tracing makes the span of every attempt.
type tracing struct {
	tracer trace.Tracer
}

func newTracing(tp trace.TracerProvider) *tracing {
	return &tracing{tracer: tp.Tracer(instrumentationName)}
}

// start starts the span of an attempt at l. The span continues the trace
// of the span that emitted the event (its parent is the stored context,
// so the receiver, which gets the span's context as traceparent, sees the
// producer's trace) and links to it, as the OpenTelemetry messaging
// conventions do for a message processed apart from its producer. An
// event without a trace context starts a new trace.
func (t *tracing) start(ctx context.Context, l *Lease) (context.Context, trace.Span) {
	var opts [2]trace.SpanStartOption
	opts[0] = trace.WithSpanKind(trace.SpanKindClient)
	n := 1
	if l.Event.TraceParent != "" {
		ctx = traceContext.Extract(ctx, eventCarrier{&l.Event})
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			opts[1] = trace.WithLinks(trace.Link{SpanContext: sc})
			n = 2
		}
	}
	ctx, span := t.tracer.Start(ctx, SpanAttempt, opts[:n]...)
	if span.IsRecording() {
		span.SetAttributes(
			AttrDeliveryID.String(l.Delivery.ID),
			AttrEventID.String(l.Event.ID),
			AttrEventType.String(l.Event.Type),
			AttrEndpointID.String(l.Delivery.EndpointID),
			AttrAttemptNumber.Int(l.Delivery.Attempts+1),
			AttrHTTPMethod.String(http.MethodPost),
		)
	}
	return ctx, span
}

// end ends the span of an attempt with its outcome; out has no attempt
// when the attempt was cut short and its lease released.
func (t *tracing) end(span trace.Span, out *Outcome) {
	if !span.IsRecording() || (len(out.Attempts) == 0 && out.State != StateSkipped) {
		span.End()
		return
	}
	// One SetAttributes call for all of them: each call grows the span's
	// attributes.
	var attrs [3]attribute.KeyValue
	attrs[0] = AttrDeliveryState.String(string(out.State))
	n := 1
	if len(out.Attempts) > 0 {
		a := &out.Attempts[len(out.Attempts)-1]
		if a.StatusCode != 0 {
			attrs[n] = AttrHTTPStatusCode.Int(a.StatusCode)
			n++
		}
		switch {
		case a.ErrorClass != ClassNone:
			attrs[n] = AttrErrorType.String(string(a.ErrorClass))
			n++
			span.SetStatus(codes.Error, a.Error)
		case a.StatusCode < 200 || a.StatusCode > 299:
			attrs[n] = AttrErrorType.String(strconv.Itoa(a.StatusCode))
			n++
			span.SetStatus(codes.Error, "")
		}
	}
	span.SetAttributes(attrs[:n]...)
	span.End()
}
