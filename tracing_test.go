package webhook_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/webhooktest"
)

// newTracer returns a tracer provider whose ended spans the recorder
// keeps.
func newTracer(t *testing.T) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { require.NoError(t, tp.Shutdown(context.Background())) })
	return tp, rec
}

// spanAttrs returns a span's attributes as a map.
func spanAttrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// The trace context of the emitting span is stored with the event, so an
// attempt made by another Dispatcher after a restart continues that trace
// and links to the emitting span, and the receiver sees the producer's
// trace ID in traceparent.
func TestTraceContextAcrossRestart(t *testing.T) {
	t.Parallel()
	st := newSignalStore(t)
	clk := webhooktest.NewClock(epoch)
	rc := newReceiver(t, nil)
	hostTP, _ := newTracer(t)

	// The first process emits inside a span and stops before delivering.
	d1 := newDispatcher(t, webhook.Config{Store: st, Test: webhook.TestConfig{Clock: clk}, AllowPrivateNetworks: true,
		TracerProvider: hostTP, Retention: -1})
	ctx := context.Background()
	require.NoError(t, d1.PutEndpoint(ctx, webhook.Endpoint{ID: "ep", URL: rc.URL, Secrets: []webhook.Secret{{Key: testSecret}}}))
	ctx, emitSpan := hostTP.Tracer("host").Start(ctx, "checkout")
	evs := []webhook.Event{{Type: "invoice.paid", Payload: json.RawMessage(`{}`)}}
	require.NoError(t, d1.EmitBatch(ctx, evs))
	emitSpan.End()
	require.NoError(t, d1.Close(context.Background()))
	emitted := emitSpan.SpanContext()

	stored, err := st.GetEvent(context.Background(), &webhook.GetEventParams{ID: evs[0].ID})
	require.NoError(t, err)
	require.Equal(t, evs[0].TraceParent, stored.TraceParent)
	require.Contains(t, stored.TraceParent, emitted.TraceID().String())

	// Another process, with a tracer of its own, delivers it.
	tp, spans := newTracer(t)
	d2 := newDispatcher(t, webhook.Config{Store: st, Test: webhook.TestConfig{Clock: clk}, AllowPrivateNetworks: true,
		TracerProvider: tp, Retention: -1})
	require.NoError(t, d2.Start(context.Background()))
	req := rc.next(t)
	require.Equal(t, webhook.StateSucceeded, st.nextOutcome(t).State)

	got := propagation.TraceContext{}.Extract(context.Background(), propagation.HeaderCarrier(req.Header))
	rsc := trace.SpanContextFromContext(got)
	require.True(t, rsc.IsValid(), "traceparent %q", req.Header.Get("traceparent"))
	require.Equal(t, emitted.TraceID(), rsc.TraceID(), "the receiver sees the producer's trace")

	ended := spans.Ended()
	require.Len(t, ended, 1)
	s := ended[0]
	require.Equal(t, webhook.SpanAttempt, s.Name())
	require.Equal(t, trace.SpanKindClient, s.SpanKind())
	require.Equal(t, emitted.TraceID(), s.SpanContext().TraceID())
	require.Equal(t, emitted.SpanID(), s.Parent().SpanID(), "continues the emitting span")
	require.Equal(t, s.SpanContext().SpanID(), rsc.SpanID(), "the request carries the attempt's span")
	require.Len(t, s.Links(), 1)
	require.Equal(t, emitted.TraceID(), s.Links()[0].SpanContext.TraceID())
	require.Equal(t, emitted.SpanID(), s.Links()[0].SpanContext.SpanID())

	a := spanAttrs(s)
	require.Equal(t, "ep", a[webhook.AttrEndpointID].AsString())
	require.Equal(t, evs[0].ID, a[webhook.AttrEventID].AsString())
	require.Equal(t, "invoice.paid", a[webhook.AttrEventType].AsString())
	require.NotEmpty(t, a[webhook.AttrDeliveryID].AsString())
	require.Equal(t, int64(1), a[webhook.AttrAttemptNumber].AsInt64())
	require.Equal(t, int64(http.StatusOK), a[webhook.AttrHTTPStatusCode].AsInt64())
	require.Equal(t, "succeeded", a[webhook.AttrDeliveryState].AsString())
	require.NotContains(t, a, webhook.AttrErrorType)
}

// A failed attempt's span carries error.type and an error status; an
// event emitted without a span starts a trace of its own, and its request
// carries that trace.
func TestAttemptSpanOfFailure(t *testing.T) {
	t.Parallel()
	tp, spans := newTracer(t)
	b := setup(t, webhook.Config{TracerProvider: tp, Retention: -1})
	rc := newReceiver(t, statusSequence(http.StatusServiceUnavailable))
	b.addEndpoint(t, "ep", rc.URL)
	ev := b.emit(t, "a")
	require.Empty(t, ev.TraceParent)
	req := rc.next(t)
	require.Equal(t, webhook.StatePending, b.nextOutcome(t).State)

	ended := spans.Ended()
	require.Len(t, ended, 1)
	s := ended[0]
	require.False(t, s.Parent().IsValid())
	require.Empty(t, s.Links())
	a := spanAttrs(s)
	require.Equal(t, "503", a[webhook.AttrErrorType].AsString())
	require.Equal(t, "pending", a[webhook.AttrDeliveryState].AsString())
	require.Equal(t, "Error", s.Status().Code.String())
	rsc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), propagation.HeaderCarrier(req.Header)))
	require.Equal(t, s.SpanContext().TraceID(), rsc.TraceID())
}

// An event that names its trace context keeps it; Emit fills only events
// that have none.
func TestEmitKeepsGivenTraceContext(t *testing.T) {
	t.Parallel()
	tp, _ := newTracer(t)
	b := setup(t, webhook.Config{Retention: -1})
	const given = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	ctx, span := tp.Tracer("host").Start(context.Background(), "op")
	defer span.End()
	evs := []webhook.Event{
		{Type: "a", Payload: json.RawMessage(`1`), TraceParent: given},
		{Type: "a", Payload: json.RawMessage(`2`)},
	}
	require.NoError(t, b.d.EmitBatch(ctx, evs))
	require.Equal(t, given, evs[0].TraceParent)
	require.Contains(t, evs[1].TraceParent, span.SpanContext().TraceID().String())

	err := b.d.Emit(ctx, webhook.Event{Type: "a", Payload: json.RawMessage(`1`), TraceParent: "bad\nvalue"})
	require.ErrorIs(t, err, webhook.ErrInvalidEvent)
}

// The JSON form of an event carries its trace context.
func TestEventJSONTraceContext(t *testing.T) {
	t.Parallel()
	ev := webhook.Event{ID: "evt_1", Type: "a", Payload: json.RawMessage(`{}`),
		TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", TraceState: "k=v"}
	b, err := json.Marshal(ev)
	require.NoError(t, err)
	require.Contains(t, string(b), `"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","tracestate":"k=v"`)
	var got webhook.Event
	require.NoError(t, json.Unmarshal(b, &got))
	require.Equal(t, ev, got)

	b, err = json.Marshal(webhook.Event{ID: "evt_2", Type: "a"})
	require.NoError(t, err)
	require.NotContains(t, string(b), "trace")
}
