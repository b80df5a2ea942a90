package webhook_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/webhooktest"
)

// newMeter returns a meter provider whose measurements the reader
// collects on demand.
func newMeter(t *testing.T) (*sdkmetric.MeterProvider, *sdkmetric.ManualReader) {
	t.Helper()
	rd := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(rd))
	t.Cleanup(func() { require.NoError(t, mp.Shutdown(context.Background())) })
	return mp, rd
}

// collected is one collection of Hooklet's metrics, by name.
type collected map[string]metricdata.Metrics

func collect(t *testing.T, rd *sdkmetric.ManualReader) collected {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, rd.Collect(context.Background(), &rm))
	c := collected{}
	for _, sm := range rm.ScopeMetrics {
		require.Equal(t, "github.com/hooklet/webhook", sm.Scope.Name)
		for _, m := range sm.Metrics {
			c[m.Name] = m
		}
	}
	return c
}

// attrs renders an attribute set as key=value pairs for comparison.
func attrs(s attribute.Set) map[string]string {
	m := map[string]string{}
	for _, kv := range s.ToSlice() {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

// sum returns the value of an int64 counter's series with exactly the
// attributes want.
func (c collected) sum(t *testing.T, name string, want map[string]string) int64 {
	t.Helper()
	m, ok := c[name]
	require.True(t, ok, "metric %s not reported", name)
	data, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "metric %s is a %T", name, m.Data)
	require.True(t, data.IsMonotonic)
	for _, dp := range data.DataPoints {
		if got := attrs(dp.Attributes); len(got) == len(want) && (len(want) == 0 || equalMaps(got, want)) {
			return dp.Value
		}
	}
	return 0
}

// histCount returns how many values a histogram's series with exactly the
// attributes want recorded, and their sum.
func histCount[N int64 | float64](t *testing.T, c collected, name string, want map[string]string) (uint64, N) {
	t.Helper()
	m, ok := c[name]
	require.True(t, ok, "metric %s not reported", name)
	data, ok := m.Data.(metricdata.Histogram[N])
	require.True(t, ok, "metric %s is a %T", name, m.Data)
	for _, dp := range data.DataPoints {
		if got := attrs(dp.Attributes); len(got) == len(want) && (len(want) == 0 || equalMaps(got, want)) {
			return dp.Count, dp.Sum
		}
	}
	return 0, 0
}

func equalMaps(a, b map[string]string) bool {
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return len(a) == len(b)
}

// The instruments count events, commits, attempts by status and error
// class, finished deliveries by state and template renders, and the queue
// gauges answer from the store.
func TestMetrics(t *testing.T) {
	t.Parallel()
	mp, rd := newMeter(t)
	b := setup(t, webhook.Config{MeterProvider: mp, Retention: -1})
	ok := newReceiver(t, nil)
	flaky := newReceiver(t, statusSequence(http.StatusServiceUnavailable))
	b.addEndpoint(t, "ok", ok.URL, func(ep *webhook.Endpoint) { ep.EventTypes = []string{"a"} })
	b.addEndpoint(t, "flaky", flaky.URL, func(ep *webhook.Endpoint) { ep.EventTypes = []string{"b"} })
	b.addEndpoint(t, "tmpl", ok.URL, func(ep *webhook.Endpoint) {
		ep.EventTypes = []string{"c"}
		ep.Template = `null` // skips every event
	})
	require.NoError(t, b.d.EmitBatch(b.ctx, []webhook.Event{
		{Type: "a", Payload: json.RawMessage(`1`)},
		{Type: "b", Payload: json.RawMessage(`2`)},
	}))
	b.emit(t, "c")
	outcomes := map[webhook.DeliveryState]int{}
	for range 3 {
		outcomes[b.nextOutcome(t).State]++
	}
	require.Equal(t, map[webhook.DeliveryState]int{webhook.StateSucceeded: 1, webhook.StatePending: 1, webhook.StateSkipped: 1}, outcomes)

	c := collect(t, rd)
	require.Equal(t, int64(3), c.sum(t, webhook.MetricEventsEmitted, nil))
	n, total := histCount[int64](t, c, webhook.MetricCommitEvents, nil)
	require.Equal(t, uint64(2), n, "two store writes")
	require.Equal(t, int64(3), total)
	n, _ = histCount[float64](t, c, webhook.MetricEmitDuration, nil)
	require.Equal(t, uint64(2), n, "two Emit calls")

	require.Equal(t, int64(1), c.sum(t, webhook.MetricAttempts, map[string]string{"hooklet.attempt.status_class": "2xx"}))
	require.Equal(t, int64(1), c.sum(t, webhook.MetricAttempts, map[string]string{"hooklet.attempt.status_class": "5xx", "error.type": "5xx"}))
	n, _ = histCount[float64](t, c, webhook.MetricAttemptDuration, map[string]string{"hooklet.attempt.status_class": "2xx"})
	require.Equal(t, uint64(1), n)
	require.Equal(t, int64(1), c.sum(t, webhook.MetricDeliveriesFinished, map[string]string{"hooklet.delivery.state": "succeeded"}))
	require.Equal(t, int64(1), c.sum(t, webhook.MetricDeliveriesFinished, map[string]string{"hooklet.delivery.state": "skipped"}))
	require.Equal(t, int64(0), c.sum(t, webhook.MetricDeliveriesFinished, map[string]string{"hooklet.delivery.state": "failed"}))
	require.Equal(t, int64(1), c.sum(t, webhook.MetricTemplatesRendered, map[string]string{"hooklet.template.result": "skip"}))
	n, _ = histCount[float64](t, c, webhook.MetricTemplateDuration, map[string]string{"hooklet.template.result": "skip"})
	require.Equal(t, uint64(1), n)

	// The 503 waits for its retry: one delayed delivery, nothing due.
	depth := gauge[int64](t, c, webhook.MetricQueueDepth)
	require.Equal(t, map[string]int64{"delayed": 1, "due": 0}, depth)
	require.Equal(t, map[string]float64{"": 0}, gauge[float64](t, c, webhook.MetricQueueLag))
}

// The queue gauges count due deliveries, and the lag is how long the
// oldest due one has waited; a Dispatcher that is not started delivers
// nothing, so the queue stands still.
func TestMetricsQueueLag(t *testing.T) {
	t.Parallel()
	mp, rd := newMeter(t)
	st := newSignalStore(t)
	clk := webhooktest.NewClock(epoch)
	d := newDispatcher(t, webhook.Config{Store: st, Test: webhook.TestConfig{Clock: clk}, MeterProvider: mp})
	ctx := context.Background()
	require.NoError(t, d.PutEndpoint(ctx, webhook.Endpoint{ID: "ep", URL: "https://hooks.example.com/", Secrets: []webhook.Secret{{Key: testSecret}}}))
	require.NoError(t, d.Emit(ctx, webhook.Event{Type: "a", Payload: json.RawMessage(`1`)}))
	clk.Advance(time.Second)
	require.NoError(t, d.Emit(ctx, webhook.Event{Type: "a", Payload: json.RawMessage(`2`)}))
	clk.Advance(2 * time.Second)

	c := collect(t, rd)
	require.Equal(t, map[string]int64{"delayed": 0, "due": 2}, gauge[int64](t, c, webhook.MetricQueueDepth))
	require.Equal(t, map[string]float64{"": 3}, gauge[float64](t, c, webhook.MetricQueueLag))
}

// gauge returns a gauge's values by their hooklet.queue.state attribute.
func gauge[N int64 | float64](t *testing.T, c collected, name string) map[string]N {
	t.Helper()
	m, ok := c[name]
	require.True(t, ok, "metric %s not reported", name)
	data, ok := m.Data.(metricdata.Gauge[N])
	require.True(t, ok, "metric %s is a %T", name, m.Data)
	out := map[string]N{}
	for _, dp := range data.DataPoints {
		v, _ := dp.Attributes.Value(webhook.AttrQueueState)
		out[v.AsString()] = dp.Value
	}
	return out
}

// With MetricsEndpointAttribute the attempt and delivery series carry the
// endpoint ID; a failure without an answer carries its error class.
func TestMetricsEndpointAttribute(t *testing.T) {
	t.Parallel()
	mp, rd := newMeter(t)
	b := setup(t, webhook.Config{MeterProvider: mp, MetricsEndpointAttribute: true, Retention: -1,
		Retry: webhook.RetryPolicy{Schedule: []time.Duration{}}})
	b.addEndpoint(t, "down", "http://127.0.0.1:1/")
	b.emit(t, "a")
	require.Equal(t, webhook.StateFailed, b.nextOutcome(t).State)

	c := collect(t, rd)
	require.Equal(t, int64(1), c.sum(t, webhook.MetricAttempts, map[string]string{
		"hooklet.attempt.status_class": "none", "error.type": "connection", "hooklet.endpoint.id": "down"}))
	require.Equal(t, int64(1), c.sum(t, webhook.MetricDeliveriesFinished, map[string]string{
		"hooklet.delivery.state": "failed", "hooklet.endpoint.id": "down"}))
}

// QueueStats passes through to the memstore under s, so that the queue
// gauges are reported.
func (s *signalStore) QueueStats(ctx context.Context, p *webhook.QueueStatsParams) (webhook.QueueStats, error) {
	return s.Store.(webhook.QueueStatser).QueueStats(ctx, p)
}

// The lanes paused counter counts, at each collection, the lanes whose
// circuit is open, that wait out a Retry-After, or that are slow (an
// attempt in flight for longer than a quarter of RequestTimeout), each
// under its reason; a lane that answers well is not counted.
func TestMetricsLanesPaused(t *testing.T) {
	t.Parallel()
	mp, rd := newMeter(t)
	b := setup(t, webhook.Config{MeterProvider: mp, Retention: -1,
		Breaker: webhook.BreakerPolicy{Failures: 2}, Retry: webhook.RetryPolicy{Jitter: -1}})
	paused := func() map[string]int64 {
		t.Helper()
		m, ok := collect(t, rd)[webhook.MetricLanesPaused]
		require.True(t, ok, "lanes paused not reported")
		data, ok := m.Data.(metricdata.Sum[int64])
		require.True(t, ok, "lanes paused is a %T", m.Data)
		require.False(t, data.IsMonotonic)
		out := map[string]int64{}
		for _, dp := range data.DataPoints {
			v, _ := dp.Attributes.Value(webhook.AttrPauseReason)
			out[v.AsString()] = dp.Value
		}
		return out
	}
	require.Equal(t, map[string]int64{"circuit_open": 0, "retry_after": 0, "slow": 0}, paused())

	ok := newReceiver(t, nil)
	b.addEndpoint(t, "ok", ok.URL, func(ep *webhook.Endpoint) { ep.EventTypes = []string{"ok"} })
	b.emit(t, "ok")
	require.Equal(t, webhook.StateSucceeded, b.nextOutcome(t).State)

	limited := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "60")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	b.addEndpoint(t, "limited", limited.URL, func(ep *webhook.Endpoint) { ep.EventTypes = []string{"limited"} })
	b.emit(t, "limited")
	require.Equal(t, webhook.StatePending, b.nextOutcome(t).State)
	require.Equal(t, map[string]int64{"circuit_open": 0, "retry_after": 1, "slow": 0}, paused())

	down := newReceiver(t, statusSequence(500, 500))
	b.addEndpoint(t, "down", down.URL, func(ep *webhook.Endpoint) { ep.EventTypes = []string{"down"} })
	b.emit(t, "down")
	b.emit(t, "down")
	require.Equal(t, webhook.StatePending, b.nextOutcome(t).State)
	require.Equal(t, webhook.StatePending, b.nextOutcome(t).State)
	require.Equal(t, map[string]int64{"circuit_open": 1, "retry_after": 1, "slow": 0}, paused())

	release := make(chan struct{})
	hangs := newReceiver(t, func(http.ResponseWriter, *http.Request) { <-release })
	t.Cleanup(func() { close(release) }) // before the receiver closes
	b.addEndpoint(t, "hangs", hangs.URL, func(ep *webhook.Endpoint) { ep.EventTypes = []string{"hangs"} })
	b.emit(t, "hangs")
	hangs.next(t)
	require.Equal(t, map[string]int64{"circuit_open": 1, "retry_after": 1, "slow": 0}, paused(), "not slow yet")
	b.clock.Advance(webhook.RequestTimeoutDefault / 4)
	require.Equal(t, map[string]int64{"circuit_open": 1, "retry_after": 1, "slow": 1}, paused())
}
