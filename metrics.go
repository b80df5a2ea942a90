package webhook

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// instrumentationName names the meter and the tracer of Hooklet.
const instrumentationName = "github.com/hooklet/webhook"

// Metric names, all under hooklet.; the README's Observability section
// describes each, with its unit and attributes.
const (
	MetricEventsEmitted      = "hooklet.events.emitted"
	MetricEmitDuration       = "hooklet.emit.duration"
	MetricCommitEvents       = "hooklet.commit.events"
	MetricDeliveriesFinished = "hooklet.deliveries.finished"
	MetricAttempts           = "hooklet.attempts"
	MetricAttemptDuration    = "hooklet.attempt.duration"
	MetricTemplatesRendered  = "hooklet.templates.rendered"
	MetricTemplateDuration   = "hooklet.template.duration"
	MetricQueueDepth         = "hooklet.queue.depth"
	MetricQueueLag           = "hooklet.queue.lag"
	MetricDeliveriesPruned   = "hooklet.deliveries.pruned"
	MetricLanesPaused        = "hooklet.lanes.paused"
)

const (
	metricUnitSeconds = "s"
	// queueStatsTimeout bounds the store query behind the queue gauges.
	queueStatsTimeout = 5 * time.Second
)

// Attribute keys of Hooklet's metrics and spans.
const (
	// AttrDeliveryState is a finished delivery's state: succeeded, failed
	// or skipped.
	AttrDeliveryState = attribute.Key("hooklet.delivery.state")
	// AttrEndpointID is the endpoint's ID: on spans always, on metrics only
	// with [Config.MetricsEndpointAttribute].
	AttrEndpointID = attribute.Key("hooklet.endpoint.id")
	// AttrStatusClass is the class of an attempt's HTTP status: 2xx, 3xx,
	// 4xx, 5xx, or none when no answer came.
	AttrStatusClass = attribute.Key("hooklet.attempt.status_class")
	// AttrErrorType is the [ErrorClass] of an attempt that got no answer,
	// or the status code of an answer that failed it (as in the
	// OpenTelemetry HTTP conventions); absent on success.
	AttrErrorType = attribute.Key("error.type")
	// AttrQueueState splits the queue depth into due and delayed
	// deliveries.
	AttrQueueState = attribute.Key("hooklet.queue.state")
	// AttrTemplateResult is a render's result: ok, skip or error.
	AttrTemplateResult = attribute.Key("hooklet.template.result")
	// AttrPauseReason is why a lane holds its deliveries back:
	// circuit_open, retry_after or slow; see [MetricLanesPaused].
	AttrPauseReason = attribute.Key("hooklet.lane.pause_reason")
)

// Status classes of attempts, the first index of metrics.attemptOpts.
var statusClasses = [...]string{"none", "2xx", "3xx", "4xx", "5xx", "other"}

func statusClass(status int) int {
	switch {
	case status == 0:
		return 0
	case status >= 200 && status < 600:
		return status/100 - 1
	default:
		return len(statusClasses) - 1
	}
}

// Error classes in the order of the second index of metrics.attemptOpts.
var errorClasses = [...]ErrorClass{ClassNone, ClassTimeout, ClassConnection, ClassBlocked,
	ClassTemplate, ClassEndpointDisabled, ClassInternal}

func errorClassIndex(c ErrorClass) int {
	for i, x := range errorClasses {
		if x == c {
			return i
		}
	}
	return len(errorClasses) - 1 // unknown: internal
}

// measureOpts are the options of one attribute set, made once so that
// recording allocates nothing.
type measureOpts struct {
	rec []metric.RecordOption
	obs []metric.ObserveOption
}

func newMeasureOpts(kvs ...attribute.KeyValue) *measureOpts {
	o := metric.WithAttributeSet(attribute.NewSet(kvs...))
	return &measureOpts{rec: []metric.RecordOption{o}, obs: []metric.ObserveOption{o}}
}

// metrics holds Hooklet's instruments. Every method is safe for
// concurrent use. On the delivery path a count costs one atomic add: the
// counters are kept here and reported by observable counters at each
// collection, with attribute sets made in advance; only the duration
// histograms are recorded as measurements happen.
type metrics struct {
	emitDuration metric.Float64Histogram
	commitEvents metric.Int64Histogram
	attemptDur   metric.Float64Histogram
	renderDur    metric.Float64Histogram

	// The counts of the observable counters.
	emitted  atomic.Int64
	pruned   atomic.Int64
	attempts [len(statusClasses)][len(errorClasses) + 1]atomic.Int64 // see attemptIndex
	finished [len(finishedStates)]atomic.Int64
	rendered [3]atomic.Int64 // by render result

	none       *measureOpts
	emitFailed *measureOpts
	// attemptOpts by status class and error class (see attemptIndex),
	// finishedOpts by finishedStates index, renderOpts by result.
	attemptOpts  [len(statusClasses)][len(errorClasses) + 1]*measureOpts
	finishedOpts [len(finishedStates)]*measureOpts
	renderOpts   [3]*measureOpts

	// byEndpoint holds the series that carry the endpoint ID, by
	// endpointKey, when endpointAttr is set; the attempt and finished
	// counts then live there instead.
	endpointAttr bool
	byEndpoint   sync.Map

	regs []metric.Registration // the callbacks of the observable instruments
}

// finishedStates are the final states, in the order of metrics.finished.
var finishedStates = [...]DeliveryState{StateSucceeded, StateFailed, StateSkipped}

type endpointKey struct {
	endpointID string
	kind       uint8 // 0: attempt, 1: finished
	a, b       uint8
}

// endpointSeries is one series of a counter that carries an endpoint ID.
type endpointSeries struct {
	opts *measureOpts
	n    atomic.Int64
}

// newMetrics makes the instruments of mp. It fails only when the
// provider refuses an instrument.
func newMetrics(mp metric.MeterProvider, endpointAttr bool) (*metrics, error) {
	m := mp.Meter(instrumentationName)
	x := &metrics{endpointAttr: endpointAttr, none: newMeasureOpts()}
	var (
		errs                                          [9]error
		emitted, finished, attempts, rendered, pruned metric.Int64ObservableCounter
	)
	emitted, errs[0] = m.Int64ObservableCounter(MetricEventsEmitted, metric.WithUnit("{event}"),
		metric.WithDescription("Events accepted by Emit and durable in the store."))
	x.emitDuration, errs[1] = m.Float64Histogram(MetricEmitDuration, metric.WithUnit(metricUnitSeconds),
		metric.WithDescription("Time from an Emit call until its events are durable, or it fails."),
		metric.WithExplicitBucketBoundaries(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
	x.commitEvents, errs[2] = m.Int64Histogram(MetricCommitEvents, metric.WithUnit("{event}"),
		metric.WithDescription("Events written by one group-commit store write."),
		metric.WithExplicitBucketBoundaries(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096))
	finished, errs[3] = m.Int64ObservableCounter(MetricDeliveriesFinished, metric.WithUnit("{delivery}"),
		metric.WithDescription("Deliveries that reached a final state."))
	attempts, errs[4] = m.Int64ObservableCounter(MetricAttempts, metric.WithUnit("{attempt}"),
		metric.WithDescription("Delivery attempts made."))
	x.attemptDur, errs[5] = m.Float64Histogram(MetricAttemptDuration, metric.WithUnit(metricUnitSeconds),
		metric.WithDescription("Duration of one attempt, from signing to the end of the response read."),
		metric.WithExplicitBucketBoundaries(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
	rendered, errs[6] = m.Int64ObservableCounter(MetricTemplatesRendered, metric.WithUnit("{render}"),
		metric.WithDescription("Endpoint templates rendered."))
	x.renderDur, errs[7] = m.Float64Histogram(MetricTemplateDuration, metric.WithUnit(metricUnitSeconds),
		metric.WithDescription("Duration of one template render."),
		metric.WithExplicitBucketBoundaries(0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 1))
	pruned, errs[8] = m.Int64ObservableCounter(MetricDeliveriesPruned, metric.WithUnit("{delivery}"),
		metric.WithDescription("Finished deliveries deleted by retention."))
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	x.emitFailed = newMeasureOpts(AttrErrorType.String("_OTHER"))
	for s := range x.attemptOpts {
		for e := range x.attemptOpts[s] {
			x.attemptOpts[s][e] = newMeasureOpts(attemptAttrs(s, e)...)
		}
	}
	for i, st := range finishedStates {
		x.finishedOpts[i] = newMeasureOpts(AttrDeliveryState.String(string(st)))
	}
	for i, r := range []string{"ok", "skip", "error"} {
		kvs := []attribute.KeyValue{AttrTemplateResult.String(r)}
		if r == "error" {
			kvs = append(kvs, AttrErrorType.String(string(ClassTemplate)))
		}
		x.renderOpts[i] = newMeasureOpts(kvs...)
	}
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		count := func(inst metric.Int64Observable, n int64, mo *measureOpts) {
			if n > 0 { // a series appears with its first count, as a synchronous counter's does
				o.ObserveInt64(inst, n, mo.obs...)
			}
		}
		count(emitted, x.emitted.Load(), x.none)
		count(pruned, x.pruned.Load(), x.none)
		for i := range x.rendered {
			count(rendered, x.rendered[i].Load(), x.renderOpts[i])
		}
		for s := range x.attempts {
			for e := range x.attempts[s] {
				count(attempts, x.attempts[s][e].Load(), x.attemptOpts[s][e])
			}
		}
		for i := range x.finished {
			count(finished, x.finished[i].Load(), x.finishedOpts[i])
		}
		x.byEndpoint.Range(func(k, v any) bool {
			inst := attempts
			if k.(endpointKey).kind == 1 {
				inst = finished
			}
			es := v.(*endpointSeries)
			count(inst, es.n.Load(), es.opts)
			return true
		})
		return nil
	}, emitted, finished, attempts, rendered, pruned)
	if err != nil {
		return nil, err
	}
	x.regs = append(x.regs, reg)
	return x, nil
}

// failedAnswer is the error index of an attempt whose answer failed it:
// error.type is then the status class, a bounded stand-in for the status
// code.
const failedAnswer = len(errorClasses)

// attemptIndex returns the indexes into metrics.attemptOpts of attempt a.
func attemptIndex(a *Attempt) (s, e int) {
	s, e = statusClass(a.StatusCode), errorClassIndex(a.ErrorClass)
	if e == 0 && (a.StatusCode < 200 || a.StatusCode > 299) {
		e = failedAnswer
	}
	return s, e
}

// attemptAttrs are the attributes of an attempt in status class s with
// error index e (see attemptIndex).
func attemptAttrs(s, e int, extra ...attribute.KeyValue) []attribute.KeyValue {
	kvs := append([]attribute.KeyValue{AttrStatusClass.String(statusClasses[s])}, extra...)
	switch {
	case e == failedAnswer:
		kvs = append(kvs, AttrErrorType.String(statusClasses[s]))
	case e != 0:
		kvs = append(kvs, AttrErrorType.String(string(errorClasses[e])))
	}
	return kvs
}

// observeQueue registers the queue depth and lag gauges, answered by qs
// at every collection.
func (x *metrics) observeQueue(mp metric.MeterProvider, qs QueueStatser, clock Clock) error {
	m := mp.Meter(instrumentationName)
	depth, err := m.Int64ObservableGauge(MetricQueueDepth, metric.WithUnit("{delivery}"),
		metric.WithDescription("Pending deliveries, due now or delayed to a later attempt."))
	if err != nil {
		return err
	}
	lag, err := m.Float64ObservableGauge(MetricQueueLag, metric.WithUnit(metricUnitSeconds),
		metric.WithDescription("How long the oldest due delivery has waited for its attempt; 0 when none is due."))
	if err != nil {
		return err
	}
	due := metric.WithAttributeSet(attribute.NewSet(AttrQueueState.String("due")))
	delayed := metric.WithAttributeSet(attribute.NewSet(AttrQueueState.String("delayed")))
	reg, err := m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, queueStatsTimeout)
		defer cancel()
		now := clock.Now()
		st, err := qs.QueueStats(ctx, &QueueStatsParams{Now: now})
		if err != nil {
			return err
		}
		o.ObserveInt64(depth, st.Due, due)
		o.ObserveInt64(depth, st.Delayed, delayed)
		var l float64
		if !st.OldestDue.IsZero() {
			l = max(0, now.Sub(st.OldestDue).Seconds())
		}
		o.ObserveFloat64(lag, l)
		return nil
	}, depth, lag)
	if err != nil {
		return err
	}
	x.regs = append(x.regs, reg)
	return nil
}

// observeLanes registers the lanes paused counter, answered by paused at
// every collection.
func (x *metrics) observeLanes(mp metric.MeterProvider, paused func() pausedLanes) error {
	m := mp.Meter(instrumentationName)
	lanes, err := m.Int64ObservableUpDownCounter(MetricLanesPaused, metric.WithUnit("{lane}"),
		metric.WithDescription("Endpoint lanes holding their deliveries back: circuit open, waiting out a Retry-After, or slow."))
	if err != nil {
		return err
	}
	reasons := [3]metric.ObserveOption{}
	for i, r := range []string{"circuit_open", "retry_after", "slow"} {
		reasons[i] = metric.WithAttributeSet(attribute.NewSet(AttrPauseReason.String(r)))
	}
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		p := paused()
		o.ObserveInt64(lanes, p.circuitOpen, reasons[0])
		o.ObserveInt64(lanes, p.retryAfter, reasons[1])
		o.ObserveInt64(lanes, p.slow, reasons[2])
		return nil
	}, lanes)
	if err != nil {
		return err
	}
	x.regs = append(x.regs, reg)
	return nil
}

// close unregisters the callbacks.
func (x *metrics) close() {
	for _, r := range x.regs {
		_ = r.Unregister()
	}
}

// emit records one Emit or EmitBatch call that ran from start to end.
func (x *metrics) emit(ctx context.Context, start, end time.Time, err error) {
	o := x.none
	if err != nil {
		o = x.emitFailed
	}
	x.emitDuration.Record(ctx, end.Sub(start).Seconds(), o.rec...)
}

// commit records one group-commit write of n events, stored or not.
func (x *metrics) commit(n, stored int) {
	x.commitEvents.Record(context.Background(), int64(n), x.none.rec...)
	x.emitted.Add(int64(stored))
}

// attempt records one attempt at a delivery to endpointID.
func (x *metrics) attempt(ctx context.Context, endpointID string, a *Attempt) {
	s, e := attemptIndex(a)
	o := x.attemptOpts[s][e]
	if x.endpointAttr {
		es := x.forEndpoint(endpointKey{endpointID, 0, uint8(s), uint8(e)}, func() []attribute.KeyValue {
			return attemptAttrs(s, e, AttrEndpointID.String(endpointID))
		})
		es.n.Add(1)
		o = es.opts
	} else {
		x.attempts[s][e].Add(1)
	}
	x.attemptDur.Record(ctx, a.Duration.Seconds(), o.rec...)
}

// finish records a delivery to endpointID reaching state; pending is no
// end and is ignored.
func (x *metrics) finish(_ context.Context, endpointID string, state DeliveryState) {
	i := slices.Index(finishedStates[:], state)
	if i < 0 {
		return
	}
	if x.endpointAttr {
		x.forEndpoint(endpointKey{endpointID: endpointID, kind: 1, a: uint8(i)}, func() []attribute.KeyValue {
			return []attribute.KeyValue{AttrDeliveryState.String(string(state)), AttrEndpointID.String(endpointID)}
		}).n.Add(1)
		return
	}
	x.finished[i].Add(1)
}

func (x *metrics) forEndpoint(k endpointKey, attrs func() []attribute.KeyValue) *endpointSeries {
	if es, ok := x.byEndpoint.Load(k); ok {
		return es.(*endpointSeries)
	}
	es, _ := x.byEndpoint.LoadOrStore(k, &endpointSeries{opts: newMeasureOpts(attrs()...)})
	return es.(*endpointSeries)
}

// render records one template render that took d; result is 0 (sent), 1
// (skipped) or 2 (failed).
func (x *metrics) render(ctx context.Context, d time.Duration, result int) {
	x.rendered[result].Add(1)
	x.renderDur.Record(ctx, d.Seconds(), x.renderOpts[result].rec...)
}

// prune records deliveries deleted by retention.
func (x *metrics) prune(n int) {
	x.pruned.Add(int64(n))
}
