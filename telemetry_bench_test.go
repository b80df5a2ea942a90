package webhook

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/hooklet/webhook/internal/benchtest"
)

// BenchmarkAttemptTelemetry measures what one attempt costs in telemetry:
// its metrics (attempt counter, duration histogram, finished counter), its
// span and the log level check, with no-op providers and with the SDK.
// cpu-ns/op, the process's CPU time per attempt, is the steadier figure
// on a loaded machine.
func BenchmarkAttemptTelemetry(b *testing.B) {
	l := &Lease{
		Delivery: Delivery{ID: "dlv_01", EndpointID: "ep_1", Attempts: 0},
		Event:    Event{ID: "evt_01", Type: "invoice.paid"},
	}
	a := Attempt{DeliveryID: "dlv_01", Number: 1, StartedAt: time.Now(), Duration: 3 * time.Millisecond, StatusCode: http.StatusOK}
	quiet := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	sdkMeter := func(b *testing.B) *sdkmetric.MeterProvider {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
		return mp
	}
	run := func(b *testing.B, tel *telemetry) {
		b.ReportAllocs()
		ctx := context.Background()
		out := Outcome{Attempts: []Attempt{a}, State: StateSucceeded}
		cpu := benchtest.CPUTime()
		for b.Loop() {
			actx, span := tel.startAttempt(ctx, l)
			tel.endAttempt(actx, span, l, &out, false)
		}
		benchtest.ReportCPU(b, cpu)
	}
	b.Run("Noop", func(b *testing.B) {
		m, err := newMetrics(metricnoop.NewMeterProvider(), false)
		if err != nil {
			b.Fatal(err)
		}
		run(b, &telemetry{metrics: m, tracing: newTracing(tracenoop.NewTracerProvider()), log: quiet})
	})
	b.Run("GlobalUnset", func(b *testing.B) {
		// The default: the global providers before the host sets any.
		m, err := newMetrics(otel.GetMeterProvider(), false)
		if err != nil {
			b.Fatal(err)
		}
		run(b, &telemetry{metrics: m, tracing: newTracing(otel.GetTracerProvider()), log: quiet})
	})
	b.Run("SDKMetrics", func(b *testing.B) {
		m, err := newMetrics(sdkMeter(b), false)
		if err != nil {
			b.Fatal(err)
		}
		run(b, &telemetry{metrics: m, tracing: newTracing(tracenoop.NewTracerProvider()), log: quiet})
	})
	b.Run("SDKMetricsEndpointAttribute", func(b *testing.B) {
		m, err := newMetrics(sdkMeter(b), true)
		if err != nil {
			b.Fatal(err)
		}
		run(b, &telemetry{metrics: m, tracing: newTracing(tracenoop.NewTracerProvider()), log: quiet})
	})
	b.Run("SDKMetricsAndSpan", func(b *testing.B) {
		m, err := newMetrics(sdkMeter(b), false)
		if err != nil {
			b.Fatal(err)
		}
		tp := sdktrace.NewTracerProvider() // sampled, no exporter
		b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		run(b, &telemetry{metrics: m, tracing: newTracing(tp), log: quiet})
	})
}
