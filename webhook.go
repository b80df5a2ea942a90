package webhook

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Defaults of [Config].
const (
	MaxPayloadBytesDefault      = 256 << 10
	RequestTimeoutDefault       = 15 * time.Second
	MaxResponseBodyBytesDefault = 64 << 10
	WorkersDefault              = 64
	EndpointConcurrencyDefault  = 16
	LeaseDurationDefault        = time.Minute
	LeaseBatchSizeDefault       = 256
	MaxEmitBatchDefault         = 1024
	UserAgentDefault            = "Hooklet/1"
	DisableAfterDefault         = 5 * 24 * time.Hour
)

// Limits of [Config].
const (
	MaxPayloadBytesMax = 16 << 20
	LeaseDurationMin   = time.Second
)

// Config configures a [Dispatcher]. Only Store is required; every other
// field has a documented default that its zero value selects.
type Config struct {
	// Store keeps endpoints, events, deliveries and attempts. Required: the
	// embedded default is boltstore.Open(path, nil).
	Store Store

	// Signer signs every request. Defaults to [StandardSigner].
	Signer Signer

	// Transformer compiles endpoint templates. Defaults to the jsonnet
	// Transformer with default options; see [NewJsonnetTransformer].
	Transformer Transformer

	// Transport sends the requests. Defaults to a shared transport tuned
	// for many concurrent deliveries, whose dialer refuses loopback,
	// private, link-local and metadata addresses unless
	// AllowPrivateNetworks is set. A Transport given here is used as is:
	// the host is then responsible for what it may reach. Redirects are
	// never followed.
	Transport http.RoundTripper

	// AllowPrivateNetworks lets the default Transport reach loopback,
	// private and link-local addresses. Tests and examples that deliver to
	// a local receiver set it; production services rarely should.
	//
	// Without it, the dial guard refuses every address that is not public
	// unicast: loopback, private, link-local (cloud metadata included),
	// carrier-grade NAT, reserved and documentation ranges, multicast, and
	// the IPv6 forms that reach an IPv4 address (IPv4-mapped, -compatible
	// and -translated, Teredo, NAT64 with the local-use prefix
	// 64:ff9b:1::/48; NAT64 64:ff9b::/96 and 6to4 are allowed when the
	// IPv4 address they carry is public). No option re-allows one range:
	// this one allows them all. [Dispatcher.PutEndpoint] refuses a URL
	// whose host is a literal address of these ranges, and a delivery the
	// guard refuses fails at once, with [ClassBlocked], without retries.
	// Neither applies to a Transport the host supplies.
	AllowPrivateNetworks bool

	// Retry is the retry policy of endpoints that have none of their own.
	// Its zero value is the default policy; see [RetryPolicy].
	Retry RetryPolicy

	// MaxPayloadBytes caps the size of an event's payload. Defaults to
	// [MaxPayloadBytesDefault] (256 KiB), at most [MaxPayloadBytesMax].
	MaxPayloadBytes int

	// RequestTimeout bounds one attempt, from dial to the end of the
	// response body read. Defaults to [RequestTimeoutDefault] (15 s).
	RequestTimeout time.Duration

	// MaxResponseBodyBytes caps how much of a response body is read and
	// kept in the attempt record. Defaults to
	// [MaxResponseBodyBytesDefault] (64 KiB).
	MaxResponseBodyBytes int

	// Workers caps the requests in flight across all endpoints. Defaults
	// to [WorkersDefault] (64).
	Workers int

	// EndpointConcurrency caps the requests in flight to one endpoint,
	// unless the endpoint sets MaxConcurrency. Defaults to
	// [EndpointConcurrencyDefault] (16).
	EndpointConcurrency int

	// LeaseDuration is how long a leased delivery stays with this
	// Dispatcher before another may take it; held leases are extended
	// while their work goes on. Defaults to [LeaseDurationDefault] (1 min),
	// at least [LeaseDurationMin].
	LeaseDuration time.Duration

	// LeaseBatchSize caps the deliveries leased in one store call.
	// Defaults to [LeaseBatchSizeDefault] (256).
	LeaseBatchSize int

	// MaxEmitBatch caps how many events concurrent Emit calls coalesce
	// into one store transaction: no caller's events are added once a
	// transaction holds this many (one EmitBatch is never split, so a
	// larger one is written alone). Defaults to [MaxEmitBatchDefault]
	// (1024).
	MaxEmitBatch int

	// Owner names this Dispatcher in leases and in the retention lock (see
	// [Locker]). Defaults to the host name,
	// process ID and a random suffix; it must differ between Dispatchers
	// that share a store.
	Owner string

	// UserAgent is sent with every request. Defaults to
	// [UserAgentDefault].
	UserAgent string

	// Logger receives operational messages: store errors, disabled
	// endpoints, deliveries that failed for good and, at Debug, every
	// attempt, with stable keys (delivery_id, endpoint_id, event_type,
	// attempt, error); see the package doc. Defaults to [slog.Default].
	// Nothing logged carries a secret or a payload.
	Logger *slog.Logger

	// Breaker configures the circuit breaker of every endpoint: on by
	// default; see [BreakerPolicy].
	Breaker BreakerPolicy

	// Hooks tell the host of attempts, failed deliveries, disabled and
	// enabled endpoints and circuits opening and closing; see [Hooks].
	// Defaults to none.
	Hooks Hooks

	// DisableAfter disables an endpoint whose attempts have all failed for
	// this long, counted from the first failure after its last success.
	// That instant is kept in the store ([Endpoint.FailingSince]), so a
	// restart or another replica goes on counting. Defaults to
	// [DisableAfterDefault] (5 days); a negative value never disables for
	// failures.
	DisableAfter time.Duration

	// OnEndpointDisabled is called after Hooklet disables an endpoint (on
	// 410 Gone, or after DisableAfter of failures), with the endpoint as
	// stored, when Hooks.OnEndpointDisabled is nil. It runs as the hooks
	// do (see [Hooks]). Defaults to nil: nobody is told.
	//
	// Deprecated: Use Hooks.OnEndpointDisabled.
	OnEndpointDisabled func(ctx context.Context, ep Endpoint)

	// MeterProvider receives Hooklet's metrics (docs/observability.md
	// lists them). Defaults to the global provider, otel.GetMeterProvider,
	// which records nothing until the host sets one. Hooklet uses only
	// the OpenTelemetry API: the host brings the SDK and its exporter.
	MeterProvider metric.MeterProvider

	// MetricsEndpointAttribute adds the endpoint ID (hooklet.endpoint.id)
	// to the attempt and delivery metrics. Each endpoint then has series
	// of its own, so set it only when endpoints are few. Defaults to
	// false.
	MetricsEndpointAttribute bool

	// TracerProvider makes the span of every attempt, which continues and
	// links to the trace of the Emit call that stored the event. Defaults
	// to the global provider, otel.GetTracerProvider. Whatever the
	// provider, every request carries the trace context (traceparent,
	// tracestate) of its attempt, or of the emitter.
	TracerProvider trace.TracerProvider

	// Retention is how long finished deliveries (and their attempts and
	// events) are kept after their last update: a started Dispatcher
	// prunes older ones every [RetentionInterval], in bounded batches.
	// When the store is a [Locker] (the stores of this module all are),
	// one Dispatcher sharing it prunes at a time. Defaults to
	// [RetentionDefault] (30 days); a negative value disables pruning.
	Retention time.Duration

	// RetentionFailed is how long failed deliveries are kept, when
	// pruning runs. Defaults to [RetentionFailedDefault] (90 days); a
	// negative value keeps them until they are replayed or pruned by hand.
	RetentionFailed time.Duration

	// CallbackURL is the absolute http or https URL at which the host
	// mounts [Dispatcher.CallbackHandler], for receivers that report back
	// ([Endpoint.AckTimeout]): each request to such an endpoint carries
	// CallbackURL + "/" + a per-attempt token. It has no query or
	// fragment. Defaults to none: endpoints cannot set AckTimeout.
	CallbackURL string

	// Test holds knobs for tests. Production code leaves it zero.
	Test TestConfig
}

// TestConfig holds the [Config] knobs that exist for tests.
type TestConfig struct {
	// Clock replaces the system clock for every timing of the Dispatcher.
	Clock Clock
}

// withDefaults returns a copy of c with every zero field set to its
// default.
func (c Config) withDefaults() Config {
	c.Signer = cmp.Or[Signer](c.Signer, StandardSigner{})
	if c.Transformer == nil {
		c.Transformer = NewJsonnetTransformer(JsonnetOptions{})
	}
	c.MaxPayloadBytes = cmp.Or(c.MaxPayloadBytes, MaxPayloadBytesDefault)
	c.RequestTimeout = cmp.Or(c.RequestTimeout, RequestTimeoutDefault)
	c.MaxResponseBodyBytes = cmp.Or(c.MaxResponseBodyBytes, MaxResponseBodyBytesDefault)
	c.Workers = cmp.Or(c.Workers, WorkersDefault)
	c.EndpointConcurrency = cmp.Or(c.EndpointConcurrency, EndpointConcurrencyDefault)
	c.LeaseDuration = cmp.Or(c.LeaseDuration, LeaseDurationDefault)
	c.LeaseBatchSize = cmp.Or(c.LeaseBatchSize, LeaseBatchSizeDefault)
	c.MaxEmitBatch = cmp.Or(c.MaxEmitBatch, MaxEmitBatchDefault)
	c.UserAgent = cmp.Or(c.UserAgent, UserAgentDefault)
	c.DisableAfter = cmp.Or(c.DisableAfter, DisableAfterDefault)
	c.Retention = cmp.Or(c.Retention, RetentionDefault)
	c.RetentionFailed = cmp.Or(c.RetentionFailed, RetentionFailedDefault)
	if c.MeterProvider == nil {
		c.MeterProvider = otel.GetMeterProvider()
	}
	if c.TracerProvider == nil {
		c.TracerProvider = otel.GetTracerProvider()
	}
	if c.Owner == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		c.Owner = fmt.Sprintf("%s-%d-%s", cmp.Or(host, "host"), os.Getpid(), hex.EncodeToString(b[:]))
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Test.Clock == nil {
		c.Test.Clock = systemClock{}
	}
	if c.Hooks.OnEndpointDisabled == nil {
		c.Hooks.OnEndpointDisabled = c.OnEndpointDisabled
	}
	c.Breaker = c.Breaker.withDefaults()
	return c
}

func (c *Config) validate() error {
	switch {
	case c.Store == nil:
		return invalidConfig("Store", "is required (for example boltstore.Open(path, nil))")
	case c.MaxPayloadBytes < 0 || c.MaxPayloadBytes > MaxPayloadBytesMax:
		return invalidConfig("MaxPayloadBytes", fmt.Sprintf("must be between 1 and %d", MaxPayloadBytesMax))
	case c.RequestTimeout < 0:
		return invalidConfig("RequestTimeout", "must not be negative")
	case c.MaxResponseBodyBytes < 0:
		return invalidConfig("MaxResponseBodyBytes", "must not be negative")
	case c.Workers < 0:
		return invalidConfig("Workers", "must not be negative")
	case c.EndpointConcurrency < 0:
		return invalidConfig("EndpointConcurrency", "must not be negative")
	case c.LeaseDuration < LeaseDurationMin:
		return invalidConfig("LeaseDuration", fmt.Sprintf("must be at least %v", LeaseDurationMin))
	case c.LeaseBatchSize < 0:
		return invalidConfig("LeaseBatchSize", "must not be negative")
	case c.MaxEmitBatch < 0:
		return invalidConfig("MaxEmitBatch", "must not be negative")
	}
	if err := c.Retry.validate(); err != nil {
		return invalidConfig("Retry", err.Error())
	}
	if c.CallbackURL != "" {
		if reason := checkCallbackURL(c.CallbackURL); reason != "" {
			return invalidConfig("CallbackURL", reason)
		}
		if _, ok := c.Store.(Reporter); !ok {
			return invalidConfig("CallbackURL", "is set but the store keeps no reports (it is not a webhook.Reporter)")
		}
	}
	if err := c.Breaker.validate(); err != nil {
		return invalidConfig("Breaker", err.Error())
	}
	return nil
}

// Dispatcher stores events, fans them out to endpoints and delivers them.
// Create one with [New]; all its methods are safe for concurrent use.
//
// Emit works as soon as New returns; deliveries are sent once
// [Dispatcher.Start] has been called. [Dispatcher.Close] stops both.
type Dispatcher struct {
	cfg   Config
	store Store
	clock Clock
	// ownTransport is the default transport, closed by Close; nil when the
	// host supplied one.
	ownTransport *http.Transport

	registry  *registry
	health    *endpointHealth
	hooks     *hookRunner
	committer *committer
	engine    *deliveryEngine
	metrics   *metrics
	pruner    *pruner    // nil when Retention is negative
	callbacks *callbacks // nil without Config.CallbackURL

	mu      sync.Mutex // orders Start and Close
	started bool
	closed  atomic.Bool // read by every Emit without taking mu
}

// New returns a Dispatcher for cfg. It does no I/O; endpoints are loaded
// from the store on first use.
func New(cfg Config) (*Dispatcher, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	d := &Dispatcher{
		cfg:   cfg,
		store: cfg.Store,
		clock: cfg.Test.Clock,
	}
	m, err := newMetrics(cfg.MeterProvider, cfg.MetricsEndpointAttribute)
	if err != nil {
		return nil, fmt.Errorf("webhook: metrics: %w", err)
	}
	d.metrics = m
	if qs, ok := cfg.Store.(QueueStatser); ok {
		if err := m.observeQueue(cfg.MeterProvider, qs, cfg.Test.Clock); err != nil {
			m.close()
			return nil, fmt.Errorf("webhook: metrics: %w", err)
		}
	}
	rt := cfg.Transport
	if rt == nil {
		d.ownTransport = newTransport(cfg.AllowPrivateNetworks, cfg.Workers)
		rt = d.ownTransport
	}
	client := &http.Client{
		Transport:     rt,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	d.hooks = newHookRunner(cfg.Hooks, cfg.Logger)
	d.registry = newRegistry(cfg.Store, cfg.Test.Clock, cfg.Logger, endpointCompiler{
		transformer: cfg.Transformer, retry: cfg.Retry, concurrency: cfg.EndpointConcurrency,
		maxPayload: cfg.MaxPayloadBytes,
	}, d.hooks.endpointEnabled)
	d.health = newEndpointHealth(cfg.Logger, cfg.DisableAfter, d.registry.disable, d.registry.markFailing, d.hooks.endpointDisabled)
	at := &attempter{
		clock: cfg.Test.Clock,
		sender: &sender{
			client: client, signer: cfg.Signer, userAgent: cfg.UserAgent,
			timeout: cfg.RequestTimeout, maxResponseBody: cfg.MaxResponseBodyBytes,
		},
		hooks:   d.hooks,
		lookup:  d.registry.lookup,
		observe: d.health.observe,
		tel:     &telemetry{metrics: m, tracing: newTracing(cfg.TracerProvider), log: cfg.Logger},
		renders: newRenderCache(),
	}
	d.engine = newDeliveryEngine(cfg.Store, cfg.Test.Clock, cfg.Logger, engineLimits{
		owner: cfg.Owner, workers: cfg.Workers,
		leaseBatchSize: cfg.LeaseBatchSize, leaseDuration: cfg.LeaseDuration,
		slowAfter: cfg.RequestTimeout / 4, breaker: cfg.Breaker,
	}, d.registry.laneConfigOf, at.attempt, d.registry.reload, d.hooks)
	at.quickTry = d.engine.quickTryAllowed
	if err := m.observeLanes(cfg.MeterProvider, d.engine.pausedLanes); err != nil {
		m.close()
		return nil, fmt.Errorf("webhook: metrics: %w", err)
	}
	if cfg.CallbackURL != "" {
		rep, _ := cfg.Store.(Reporter) // validate made sure
		d.callbacks = &callbacks{
			base: strings.TrimRight(cfg.CallbackURL, "/"), store: cfg.Store, rep: rep,
			clock: cfg.Test.Clock, log: cfg.Logger, lookup: d.registry.lookup, hooks: d.hooks, metrics: m, wake: d.engine.wake,
		}
		at.callbacks = d.callbacks
		d.engine.afterRecorded = d.callbacks.recorded
	}
	d.engine.attemptBatch = at.attemptBatch
	d.committer = newCommitter(cfg.Store, cfg.Test.Clock, cfg.MaxEmitBatch, d.engine.wake, m)
	if cfg.Retention > 0 {
		d.pruner = newPruner(cfg.Store, cfg.Owner, cfg.Test.Clock, cfg.Logger, m, cfg.Retention, cfg.RetentionFailed)
	}
	return d, nil
}

// Start starts the delivery engine in the background and returns. It loads
// the endpoints first, bounded by ctx. The engine runs until
// [Dispatcher.Close]. Calling Start again returns [ErrAlreadyStarted];
// after Close it returns [ErrClosed].
func (d *Dispatcher) Start(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed.Load() {
		return ErrClosed
	}
	if d.started {
		return ErrAlreadyStarted
	}
	if err := d.registry.load(ctx); err != nil {
		return err
	}
	d.started = true
	d.engine.start()
	if d.pruner != nil {
		d.pruner.start()
	}
	return nil
}

// Close stops the Dispatcher: Emit returns [ErrClosed] from then on, events
// already accepted are committed, no new delivery is leased, and in-flight
// deliveries are given until ctx is done to finish; those still running
// then are cancelled and their leases released, so another Dispatcher (or
// the next start) delivers them. Queued hook calls also run until ctx is
// done; a hook still running then is abandoned (see [Hooks]). Close does
// not close the Store. It is safe to call more than once.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.mu.Lock()
	if d.closed.Swap(true) {
		d.mu.Unlock()
		return nil
	}
	started := d.started
	d.mu.Unlock()

	err := d.committer.close(ctx)
	if started {
		if d.pruner != nil {
			d.pruner.stop()
		}
		err = cmp.Or(d.engine.stop(ctx), err)
	} else {
		d.engine.cancelRun()
	}
	d.health.wait()
	d.hooks.close(ctx)
	if d.ownTransport != nil {
		d.ownTransport.CloseIdleConnections()
	}
	d.metrics.close()
	return err
}

// Emit stores ev and one delivery for every enabled endpoint that matches
// it, and returns once they are durable in the store. Concurrent calls are
// coalesced into one store write. An event whose ID is already stored is
// accepted without adding anything.
//
// An invalid event yields an error wrapping [ErrInvalidEvent] and nothing
// is stored. If ctx ends first, Emit returns ctx's error and the event may
// or may not have been stored; emitting it again with the same ID is safe.
func (d *Dispatcher) Emit(ctx context.Context, ev Event) error {
	return d.EmitBatch(ctx, []Event{ev})
}

// EmitBatch is [Dispatcher.Emit] for many events, stored in one write. It
// fills the ID, Time and trace context (from ctx) of each event that has
// none, in place. When one event is invalid nothing is stored, and the
// error names its index.
func (d *Dispatcher) EmitBatch(ctx context.Context, events []Event) error {
	start := d.clock.Now()
	items, err := d.prepare(ctx, events)
	if err == nil {
		err = d.committer.submit(ctx, items)
	}
	d.metrics.emit(ctx, start, d.clock.Now(), err)
	return err
}

// EmitTx is [Dispatcher.EmitBatch] inside a transaction the host holds, for
// stores that implement [TxEnqueuer] (the PostgreSQL store takes a pgx.Tx or a *sql.Tx of pgx's stdlib driver):
// the events exist if and only if tx commits. It fills the ID and Time of
// each event that has none, in place, as EmitBatch does.
//
// Deliveries start after the commit. A store that is also a [Notifier]
// tells the engine of the commit. With any other store the engine cannot
// know when the host commits, so after EmitTx it looks for due deliveries
// every few milliseconds, backing off to once a second, for ten minutes
// after the last EmitTx; an event whose transaction commits later than that
// is delivered at the engine's next wake-up (the next Emit, a retry that
// comes due, or a restart).
func (d *Dispatcher) EmitTx(ctx context.Context, tx any, events []Event) error {
	txs, ok := d.store.(TxEnqueuer)
	if !ok {
		return fmt.Errorf("%w: the store does not support host transactions", ErrInvalidTx)
	}
	items, err := d.prepare(ctx, events)
	if err != nil || len(items) == 0 {
		return err
	}
	if err := txs.EnqueueTx(ctx, tx, &EnqueueParams{Items: items, Now: d.clock.Now()}); err != nil {
		return err
	}
	if _, ok := d.store.(Notifier); !ok {
		d.engine.txEmitted()
	}
	return nil
}

// prepare validates events, fills their defaults and fans them out.
func (d *Dispatcher) prepare(ctx context.Context, events []Event) ([]EnqueueItem, error) {
	if d.isClosed() {
		return nil, ErrClosed
	}
	if len(events) == 0 {
		return nil, nil
	}
	now := d.clock.Now()
	traceFrom(ctx, events)
	for i := range events {
		if err := events[i].validate(now, d.cfg.MaxPayloadBytes); err != nil {
			if len(events) > 1 {
				return nil, fmt.Errorf("events[%d]: %w", i, err)
			}
			return nil, err
		}
	}
	if err := d.registry.load(ctx); err != nil {
		return nil, err
	}
	items := make([]EnqueueItem, len(events))
	for i := range events {
		items[i] = EnqueueItem{Event: events[i], Deliveries: d.registry.fanOut(&events[i], now)}
	}
	return items, nil
}

func (d *Dispatcher) isClosed() bool { return d.closed.Load() }

// DroppedHooks returns how many hook calls were dropped because the hook
// queue was full (see [Hooks]).
func (d *Dispatcher) DroppedHooks() uint64 { return d.hooks.dropped.Load() }

// PutEndpoint creates or replaces an endpoint. It is validated first (and
// its template compiled): an invalid endpoint yields an error wrapping
// [ErrInvalidEndpoint] and the stored endpoint is left unchanged. Events
// emitted after PutEndpoint returns are fanned out to the new version.
func (d *Dispatcher) PutEndpoint(ctx context.Context, ep Endpoint) error {
	if d.isClosed() {
		return ErrClosed
	}
	ep = ep.Clone()
	if err := ep.validate(d.endpointCheck()); err != nil {
		return err
	}
	return d.registry.save(ctx, ep, time.Time{})
}

// endpointCheck returns what validating an endpoint depends on now.
func (d *Dispatcher) endpointCheck() endpointCheck {
	_, standard := d.cfg.Signer.(StandardSigner)
	return endpointCheck{
		now:           d.clock.Now(),
		refusePrivate: d.ownTransport != nil && !d.cfg.AllowPrivateNetworks,
		customSigner:  !standard,
		callbacks:     d.callbacks != nil,
		maxPayload:    d.cfg.MaxPayloadBytes,
		batcher:       isBatcher(d.store),
	}
}

// DeleteEndpoint removes an endpoint. Its pending deliveries end failed.
// A missing endpoint yields [ErrNotFound].
func (d *Dispatcher) DeleteEndpoint(ctx context.Context, id string) error {
	if d.isClosed() {
		return ErrClosed
	}
	return d.registry.delete(ctx, id)
}

// Endpoint returns the endpoint with the given ID, or [ErrNotFound].
func (d *Dispatcher) Endpoint(ctx context.Context, id string) (Endpoint, error) {
	return d.store.GetEndpoint(ctx, &GetEndpointParams{ID: id})
}

// Endpoints lists endpoints in ID order, a page at a time; p may be nil.
// With p.Tenant set it lists that tenant's endpoints only, which every
// store reads through an index of its own, not by scanning them all.
func (d *Dispatcher) Endpoints(ctx context.Context, p *ListEndpointsParams) (Page[Endpoint], error) {
	return d.store.ListEndpoints(ctx, cmp.Or(p, &ListEndpointsParams{}))
}

// Event returns a stored event, or [ErrNotFound].
func (d *Dispatcher) Event(ctx context.Context, id string) (Event, error) {
	return d.store.GetEvent(ctx, &GetEventParams{ID: id})
}

// Delivery returns a delivery with its state and attempt count, or
// [ErrNotFound].
func (d *Dispatcher) Delivery(ctx context.Context, id string) (Delivery, error) {
	return d.store.GetDelivery(ctx, &GetDeliveryParams{ID: id})
}

// Deliveries lists deliveries in ID order, filtered by p, a page at a
// time; p may be nil.
func (d *Dispatcher) Deliveries(ctx context.Context, p *ListDeliveriesParams) (Page[Delivery], error) {
	return d.store.ListDeliveries(ctx, cmp.Or(p, &ListDeliveriesParams{}))
}

// Attempts lists the attempts of the delivery p.DeliveryID in the order
// they were made, a page at a time; a missing delivery yields
// [ErrNotFound].
func (d *Dispatcher) Attempts(ctx context.Context, p *ListAttemptsParams) (Page[Attempt], error) {
	return d.store.ListAttempts(ctx, cmp.Or(p, &ListAttemptsParams{}))
}

// Redeliver sends a finished delivery again (a replay): it becomes pending
// and due now, keeping its attempt history. A pending delivery is left as
// it is; a missing one yields [ErrNotFound].
func (d *Dispatcher) Redeliver(ctx context.Context, deliveryID string) error {
	if d.isClosed() {
		return ErrClosed
	}
	if err := d.store.Redeliver(ctx, &RedeliverParams{DeliveryID: deliveryID, Now: d.clock.Now()}); err != nil {
		return err
	}
	d.engine.wake()
	return nil
}

// Prune deletes finished deliveries, failed ones included, their attempts
// and their events once they are older than age, in bounded batches, as
// the background pruning of [Config.Retention] does. It returns how many
// deliveries it deleted.
func (d *Dispatcher) Prune(ctx context.Context, age time.Duration) (int, error) {
	return pruneAll(ctx, d.store, &PruneParams{Before: d.clock.Now().Add(-age), Limit: pruneBatch}, d.metrics, nil)
}
