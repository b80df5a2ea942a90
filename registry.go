package webhook

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// endpointState is an endpoint as the engine uses it: validated, its
// template compiled and its policy resolved. It is immutable once
// published in the registry.
type endpointState struct {
	ep          Endpoint
	tmpl        Template // nil without a template
	retry       RetryPolicy
	concurrency int
}

// endpointSet is an immutable snapshot of all endpoints.
type endpointSet struct {
	byID map[string]*endpointState
	all  []*endpointState // in ID order
}

// fanOut makes one pending delivery, due at now, for every endpoint that
// matches ev.
func (s *endpointSet) fanOut(ev *Event, now time.Time) []Delivery {
	var out []Delivery
	for _, st := range s.all {
		if !st.ep.matches(ev) {
			continue
		}
		out = append(out, Delivery{
			ID:            ids.next("dlv_", now),
			EventID:       ev.ID,
			EndpointID:    st.ep.ID,
			State:         StatePending,
			NextAttemptAt: now,
			CreatedAt:     now,
			UpdatedAt:     now,
		})
	}
	return out
}

// endpointCompiler resolves an endpoint into the state the engine uses.
type endpointCompiler struct {
	transformer Transformer
	retry       RetryPolicy // the policy of endpoints without their own
	concurrency int         // the cap of endpoints without their own
}

// compile resolves ep, compiling its template. Errors wrap
// ErrInvalidEndpoint.
func (c *endpointCompiler) compile(ep Endpoint) (*endpointState, error) {
	st := c.resolve(ep)
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
	st := &endpointState{ep: ep, retry: c.retry.withDefaults(), concurrency: c.concurrency}
	if ep.Retry != nil {
		st.retry = ep.Retry.withDefaults()
	}
	if ep.MaxConcurrency > 0 {
		st.concurrency = ep.MaxConcurrency
	}
	return st
}

// registry caches the store's endpoints in memory, so that fan-out and
// delivery read no endpoint from the store, and is the one place that
// writes endpoints to the store. Readers get lock-free snapshots. Every
// write (a save, a disable, a reload) holds mu from the store call to the
// publication of the new snapshot, so the registry never publishes an
// endpoint older than the one stored by this process.
type registry struct {
	store    Store
	clock    Clock
	log      *slog.Logger
	compiler endpointCompiler

	mu     sync.Mutex
	loaded atomic.Bool // set once, under mu; read without it
	set    atomic.Pointer[endpointSet]
}

func newRegistry(store Store, clock Clock, log *slog.Logger, compiler endpointCompiler) *registry {
	r := &registry{store: store, clock: clock, log: log, compiler: compiler}
	r.set.Store(&endpointSet{byID: map[string]*endpointState{}})
	return r
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

func (r *registry) reloadLocked(ctx context.Context) error {
	byID := map[string]*endpointState{}
	p := &ListEndpointsParams{Limit: 1000}
	for {
		page, err := r.store.ListEndpoints(ctx, p)
		if err != nil {
			return err
		}
		for _, ep := range page.Items {
			byID[ep.ID] = r.compileStored(ep)
		}
		if page.Next == "" {
			break
		}
		p.Cursor = page.Next
	}
	r.publish(byID)
	return nil
}

// compileStored compiles an endpoint read from the store. One stored
// before a change of Transformer may no longer compile: it is kept, so
// that its deliveries fail visibly instead of vanishing.
func (r *registry) compileStored(ep Endpoint) *endpointState {
	st, err := r.compiler.compile(ep)
	if err != nil {
		r.log.Warn("webhook: stored endpoint no longer compiles", "endpoint", ep.ID, "error", err)
		st = r.compiler.resolve(ep)
		st.tmpl = brokenTemplate{err}
	}
	return st
}

// snapshot returns the current endpoints, loading them on first use.
func (r *registry) snapshot(ctx context.Context) (*endpointSet, error) {
	if err := r.load(ctx); err != nil {
		return nil, err
	}
	return r.set.Load(), nil
}

func (r *registry) get(id string) (*endpointState, bool) {
	st, ok := r.set.Load().byID[id]
	return st, ok
}

// lookup returns the endpoint a delivery goes to. One the registry does
// not know was created by another process after the last load, or
// deleted: lookup reloads once to tell. An error means neither is known.
func (r *registry) lookup(ctx context.Context, id string) (*endpointState, bool, error) {
	if st, ok := r.get(id); ok {
		return st, true, nil
	}
	if err := r.reload(ctx); err != nil {
		r.log.Warn("webhook: reloading endpoints", "error", err)
		return nil, false, err
	}
	st, ok := r.get(id)
	return st, ok, nil
}

// concurrencyOf returns the concurrency cap of an endpoint.
func (r *registry) concurrencyOf(id string) int {
	if st, ok := r.get(id); ok {
		return st.concurrency
	}
	return r.compiler.concurrency
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
func (r *registry) save(ctx context.Context, ep Endpoint) error {
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
	st.ep.CreatedAt = version(r.clock.Now(), time.Time{})
	if old, ok := r.get(ep.ID); ok {
		st.ep.CreatedAt, prev = old.ep.CreatedAt, old.ep.UpdatedAt
	}
	st.ep.UpdatedAt = version(r.clock.Now(), prev)
	if err := r.store.PutEndpoint(ctx, &PutEndpointParams{Endpoint: st.ep}); err != nil {
		return err
	}
	r.putLocked(st)
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

func (r *registry) putLocked(st *endpointState) {
	byID := maps.Clone(r.set.Load().byID)
	byID[st.ep.ID] = st
	r.publish(byID)
}

func (r *registry) removeLocked(id string) {
	byID := maps.Clone(r.set.Load().byID)
	delete(byID, id)
	r.publish(byID)
}

// publish installs a new snapshot built from byID. Called with mu held.
func (r *registry) publish(byID map[string]*endpointState) {
	all := slices.SortedFunc(maps.Values(byID), func(a, b *endpointState) int {
		return strings.Compare(a.ep.ID, b.ep.ID)
	})
	r.set.Store(&endpointSet{byID: byID, all: all})
}

// brokenTemplate stands in for a stored template that no longer compiles.
type brokenTemplate struct{ err error }

func (t brokenTemplate) Render(context.Context, *RenderInput) (Rendered, error) {
	return Rendered{}, t.err
}
