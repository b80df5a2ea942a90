package webhook

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hooklet/webhook/internal/filter"
)

// endpointState is an endpoint as the engine uses it: validated, its
// template and filter compiled and its policy resolved. It is immutable
// once published in the registry.
type endpointState struct {
	ep          Endpoint
	tmpl        Template        // nil without a template
	filter      *filter.Program // nil without a filter
	retry       RetryPolicy
	concurrency int
	lane        laneConfig
	// badFilter is set on a stored endpoint whose filter no longer
	// compiles: it receives nothing until it is saved again.
	badFilter bool
	// secrets are redacted from recorded response bodies; see secretsOf.
	secrets [][]byte
	// headers are ep.Headers as every request carries them; see
	// headersOf.
	headers []headerValue
}

// endpointCompiler resolves an endpoint into the state the engine uses.
type endpointCompiler struct {
	transformer Transformer
	retry       RetryPolicy // the policy of endpoints without their own
	concurrency int         // the cap of endpoints without their own
	maxPayload  int         // Config.MaxPayloadBytes, for batch defaults
}

// compile resolves ep, compiling its template and its filter. Errors wrap
// ErrInvalidEndpoint; a filter's is a *FilterError.
func (c *endpointCompiler) compile(ep Endpoint) (*endpointState, error) {
	st := c.resolve(ep)
	prog, err := compileFilter(ep.Filter)
	if err != nil {
		return nil, err
	}
	st.filter = prog
	if ep.Template == "" {
		return st, nil
	}
	tmpl, err := c.transformer.Compile(ep.Template)
	if err != nil {
		return nil, invalidEndpoint("Template", "does not compile", err)
	}
	st.tmpl = tmpl
	return st, nil
}

// resolve returns ep's state without its template.
func (c *endpointCompiler) resolve(ep Endpoint) *endpointState {
	st := &endpointState{ep: ep, retry: c.retry.withDefaults(), concurrency: c.concurrency, secrets: secretsOf(&ep), headers: headersOf(ep.Headers)}
	if ep.Retry != nil {
		st.retry = ep.Retry.withDefaults()
	}
	if ep.MaxConcurrency > 0 {
		st.concurrency = ep.MaxConcurrency
	}
	st.lane = laneConfig{concurrency: st.concurrency}
	if ep.RateLimit > 0 {
		st.lane.rate, st.lane.burst = ep.RateLimit, cmp.Or(ep.RateBurst, 1)
	}
	st.lane.batch = ep.Batch.withDefaults(c.maxPayload)
	return st
}

// registry caches the store's endpoints in memory, so that fan-out and
// delivery read no endpoint from the store, and is the one place that
// writes endpoints to the store. Every write (a save, a disable, a reload)
// holds mu from the store call to the publication of the new state, so
// the registry never publishes an endpoint older than the one stored by
// this process.
//
// Published states live in byID and, when enabled, in a fan-out index by
// tenant and type pattern, both guarded by rw: readers share it for a map
// lookup or an index walk, writers hold it for one entry's update (a
// reload builds its maps aside and swaps them in). So a change costs the
// same with ten endpoints or a million, and Emit's cost depends on the
// endpoints an event may reach, not on how many exist.
type registry struct {
	store    Store
	clock    Clock
	log      *slog.Logger
	compiler endpointCompiler
	// enabled is told of every save that enables a disabled endpoint.
	enabled func(ep Endpoint)

	mu     sync.Mutex
	loaded atomic.Bool // set once, under mu; read without it

	rw    sync.RWMutex
	byID  map[string]*endpointState
	index *fanoutIndex[*endpointState] // enabled endpoints only
}

func newRegistry(store Store, clock Clock, log *slog.Logger, compiler endpointCompiler, enabled func(Endpoint)) *registry {
	return &registry{store: store, clock: clock, log: log, compiler: compiler, enabled: enabled,
		byID: map[string]*endpointState{}, index: newFanoutIndex[*endpointState]()}
}

// load reads every endpoint from the store unless that was done before.
func (r *registry) load(ctx context.Context) error {
	if r.loaded.Load() {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.loadLocked(ctx)
}

func (r *registry) loadLocked(ctx context.Context) error {
	if r.loaded.Load() {
		return nil
	}
	if err := r.reloadLocked(ctx); err != nil {
		return err
	}
	r.loaded.Store(true)
	return nil
}

// reload reads every endpoint from the store again.
func (r *registry) reload(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reloadLocked(ctx)
}

// reloadLocked reads every endpoint and publishes them all at once. An
// endpoint whose stored version (UpdatedAt) is the one already published
// keeps its compiled state: a reload after a change elsewhere compiles
// only what changed.
func (r *registry) reloadLocked(ctx context.Context) error {
	r.rw.RLock()
	prev := r.byID
	r.rw.RUnlock()
	byID := make(map[string]*endpointState, len(prev))
	index := newFanoutIndex[*endpointState]()
	p := &ListEndpointsParams{Limit: PageLimitMax}
	for {
		page, err := r.store.ListEndpoints(ctx, p)
		if err != nil {
			return err
		}
		for _, ep := range page.Items {
			st, ok := prev[ep.ID]
			if !ok || !st.ep.UpdatedAt.Equal(ep.UpdatedAt) || st.ep.Disabled != ep.Disabled {
				st = r.compileStored(ep)
			}
			byID[ep.ID] = st
			if !ep.Disabled {
				index.put(ep.ID, ep.Tenant, ep.EventTypes, st)
			}
		}
		if page.Next == "" {
			break
		}
		p.Cursor = page.Next
	}
	r.rw.Lock()
	r.byID, r.index = byID, index
	r.rw.Unlock()
	return nil
}

// compileStored compiles an endpoint read from the store. One stored
// before a change of Transformer may no longer compile: it is kept, so
// that its deliveries fail visibly instead of vanishing. One whose filter
// no longer compiles (a limit lowered since it was saved) receives
// nothing, and says so in the log, until it is saved again.
func (r *registry) compileStored(ep Endpoint) *endpointState {
	st, err := r.compiler.compile(ep)
	if err == nil {
		return st
	}
	r.log.Warn("webhook: stored endpoint no longer compiles", "endpoint_id", ep.ID, "error", err)
	st = r.compiler.resolve(ep)
	if st.filter, err = compileFilter(ep.Filter); err != nil {
		st.badFilter = true
	}
	if ep.Template != "" {
		if st.tmpl, err = r.compiler.transformer.Compile(ep.Template); err != nil {
			st.tmpl = brokenTemplate{invalidEndpoint("Template", "does not compile", err)}
		}
	}
	return st
}

// fanOut makes one pending delivery, due at now, for every endpoint that
// takes ev: enabled, of ev's tenant (of any tenant when ev has none), with
// a pattern matching its type and a filter, if any, matching it. The
// candidates come from the index; the payload is parsed once, and only if
// a candidate's filter reads it. Each delivery carries ev's ordering key
// and whether its endpoint is ordered now, so the store keeps the mode the
// event was emitted under. The endpoints must have been loaded.
func (r *registry) fanOut(ev *Event, now time.Time) []Delivery {
	r.rw.RLock()
	candidates := r.index.match(nil, ev.Tenant, ev.Type)
	r.rw.RUnlock()
	var (
		out []Delivery
		doc *filter.Document
	)
	for _, st := range candidates {
		if st.badFilter {
			continue
		}
		if st.filter != nil {
			if doc == nil {
				doc = filterDocument(ev)
			}
			if !st.filter.Match(doc) {
				continue
			}
		}
		out = append(out, Delivery{
			ID:            ids.next("dlv_", now),
			EventID:       ev.ID,
			EndpointID:    st.ep.ID,
			OrderingKey:   ev.OrderingKey,
			Ordered:       st.ep.Ordered,
			State:         StatePending,
			NextAttemptAt: now,
			CreatedAt:     now,
			UpdatedAt:     now,
		})
	}
	return out
}

func (r *registry) get(id string) (*endpointState, bool) {
	r.rw.RLock()
	st, ok := r.byID[id]
	r.rw.RUnlock()
	return st, ok
}

// lookup returns the endpoint a delivery goes to. One the registry does
// not know was created by another process after the last load, or
// deleted: lookup reads that one endpoint from the store to tell. An
// error means neither is known.
func (r *registry) lookup(ctx context.Context, id string) (*endpointState, bool, error) {
	if st, ok := r.get(id); ok {
		return st, true, nil
	}
	r.mu.Lock()
	err := r.refreshLocked(ctx, id)
	r.mu.Unlock()
	if err != nil {
		r.log.Warn("webhook: reading an endpoint", "endpoint_id", id, "error", err)
		return nil, false, err
	}
	st, ok := r.get(id)
	return st, ok, nil
}

// laneConfigOf returns the lane settings of an endpoint.
func (r *registry) laneConfigOf(id string) laneConfig {
	if st, ok := r.get(id); ok {
		return st.lane
	}
	return laneConfig{concurrency: r.compiler.concurrency}
}

// version returns the UpdatedAt of a new version of an endpoint: now, to
// the microsecond every store keeps, and always after the version it
// replaces, so that a conditional write tells the two apart.
func version(now, prev time.Time) time.Time {
	v := now.UTC().Truncate(time.Microsecond)
	if !prev.IsZero() && !v.After(prev) {
		v = prev.Add(time.Microsecond)
	}
	return v
}

// save creates or replaces an endpoint: it compiles ep, stamps it, stores
// it and publishes it. ep must be validated. Saves, disables and reloads
// are serialised, so the registry ends with what the store holds.
//
// With ifUpdatedAt set, the write is conditional (see
// [PutEndpointParams.IfUpdatedAt]): it fails with ErrConflict when the
// stored version is not that one.
func (r *registry) save(ctx context.Context, ep Endpoint, ifUpdatedAt time.Time) error {
	st, err := r.compiler.compile(ep) // a template may take a while: not under mu
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.loadLocked(ctx); err != nil {
		return err
	}
	var prev time.Time
	wasDisabled := false
	st.ep.CreatedAt = version(r.clock.Now(), time.Time{})
	if old, ok := r.get(ep.ID); ok {
		st.ep.CreatedAt, prev = old.ep.CreatedAt, old.ep.UpdatedAt
		wasDisabled = old.ep.Disabled
	}
	if ifUpdatedAt.After(prev) {
		prev = ifUpdatedAt
	}
	st.ep.UpdatedAt = version(r.clock.Now(), prev)
	enabled := wasDisabled && !st.ep.Disabled
	if enabled {
		// A new chance: the failing run that disabled it is over.
		st.ep.FailingSince = time.Time{}
	}
	if err := r.store.PutEndpoint(ctx, &PutEndpointParams{Endpoint: st.ep, IfUpdatedAt: ifUpdatedAt}); err != nil {
		return err
	}
	r.putLocked(st)
	if enabled && r.enabled != nil {
		r.enabled(st.ep)
	}
	return nil
}

// disable writes the version of an endpoint that failed disabled, with
// reason, and reports whether it did. When the endpoint has changed since
// that version (here or in another process) it writes nothing: the
// change stands, and the registry takes the stored version.
func (r *registry) disable(ctx context.Context, failed *Endpoint, reason string) (Endpoint, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ep, err := r.store.GetEndpoint(ctx, &GetEndpointParams{ID: failed.ID})
	switch {
	case errors.Is(err, ErrNotFound):
		return Endpoint{}, false, nil
	case err != nil:
		return Endpoint{}, false, err
	case ep.Disabled || !ep.UpdatedAt.Equal(failed.UpdatedAt):
		return Endpoint{}, false, nil
	}
	ep.Disabled, ep.DisabledReason = true, reason
	ep.UpdatedAt = version(r.clock.Now(), failed.UpdatedAt)
	st := r.compiler.resolve(ep)
	if cur, ok := r.get(ep.ID); ok && cur.ep.UpdatedAt.Equal(failed.UpdatedAt) {
		st.tmpl = cur.tmpl // the template is unchanged
	} else if st, err = r.compiler.compile(ep); err != nil {
		return Endpoint{}, false, err
	}
	err = r.store.PutEndpoint(ctx, &PutEndpointParams{Endpoint: ep, IfUpdatedAt: failed.UpdatedAt})
	if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
		return Endpoint{}, false, r.refreshLocked(ctx, ep.ID)
	}
	if err != nil {
		return Endpoint{}, false, err
	}
	r.putLocked(st)
	return ep, true, nil
}

// markFailing stores when an endpoint's failing run began, or, with a zero
// since, that it ended. A run already begun keeps its start. It writes the
// stored version conditionally: when another write wins, it gives up, and
// the next attempt's verdict tries again.
func (r *registry) markFailing(ctx context.Context, id string, since time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	ep, err := r.store.GetEndpoint(ctx, &GetEndpointParams{ID: id})
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return err
	case since.IsZero() == ep.FailingSince.IsZero():
		// Already so, here or by another process: publish what is stored.
		if cur, ok := r.get(id); !ok || !cur.ep.UpdatedAt.Equal(ep.UpdatedAt) {
			r.putLocked(r.compileStored(ep))
		}
		return nil
	}
	prev := ep.UpdatedAt
	ep.FailingSince = since.UTC().Truncate(time.Microsecond)
	ep.UpdatedAt = version(r.clock.Now(), prev)
	var st *endpointState
	if cur, ok := r.get(id); ok && cur.ep.UpdatedAt.Equal(prev) {
		// The template and the filter are unchanged.
		st = r.compiler.resolve(ep)
		st.tmpl, st.filter, st.badFilter = cur.tmpl, cur.filter, cur.badFilter
	} else {
		st = r.compileStored(ep)
	}
	err = r.store.PutEndpoint(ctx, &PutEndpointParams{Endpoint: ep, IfUpdatedAt: prev})
	if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
		return r.refreshLocked(ctx, id)
	}
	if err != nil {
		return err
	}
	st.ep = ep
	r.putLocked(st)
	return nil
}

// refreshLocked publishes the stored version of one endpoint, or its
// absence.
func (r *registry) refreshLocked(ctx context.Context, id string) error {
	ep, err := r.store.GetEndpoint(ctx, &GetEndpointParams{ID: id})
	switch {
	case errors.Is(err, ErrNotFound):
		r.removeLocked(id)
		return nil
	case err != nil:
		return err
	}
	r.putLocked(r.compileStored(ep))
	return nil
}

// delete removes an endpoint from the store and the registry.
func (r *registry) delete(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.store.DeleteEndpoint(ctx, &DeleteEndpointParams{ID: id}); err != nil {
		return err
	}
	r.removeLocked(id)
	return nil
}

// putLocked publishes st. Called with mu held.
func (r *registry) putLocked(st *endpointState) {
	r.rw.Lock()
	defer r.rw.Unlock()
	r.byID[st.ep.ID] = st
	if st.ep.Disabled {
		r.index.remove(st.ep.ID)
		return
	}
	r.index.put(st.ep.ID, st.ep.Tenant, st.ep.EventTypes, st)
}

// removeLocked unpublishes an endpoint. Called with mu held.
func (r *registry) removeLocked(id string) {
	r.rw.Lock()
	defer r.rw.Unlock()
	delete(r.byID, id)
	r.index.remove(id)
}

// brokenTemplate stands in for a stored template that no longer compiles.
type brokenTemplate struct{ err error }

func (t brokenTemplate) Render(context.Context, *RenderInput) (Rendered, error) {
	return Rendered{}, t.err
}
