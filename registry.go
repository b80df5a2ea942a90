package webhook

import (
	"context"
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

// registry caches the store's endpoints in memory, so that fan-out and
// delivery read no endpoint from the store. Readers get lock-free
// snapshots; writers serialize on mu and publish a new snapshot.
type registry struct {
	d      *Dispatcher
	mu     sync.Mutex
	loaded bool
	set    atomic.Pointer[endpointSet]
}

func newRegistry(d *Dispatcher) *registry {
	r := &registry{d: d}
	r.set.Store(&endpointSet{byID: map[string]*endpointState{}})
	return r
}

// load reads every endpoint from the store unless that was done before.
func (r *registry) load(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.loaded {
		return nil
	}
	if err := r.reloadLocked(ctx); err != nil {
		return err
	}
	r.loaded = true
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
		page, err := r.d.store.ListEndpoints(ctx, p)
		if err != nil {
			return err
		}
		for _, ep := range page.Items {
			st, err := r.compile(ep)
			if err != nil {
				// Stored before a change of Transformer; keep it so its
				// deliveries fail visibly instead of vanishing.
				r.d.log.Warn("webhook: stored endpoint no longer compiles", "endpoint", ep.ID, "error", err)
				st = &endpointState{ep: ep, retry: r.policy(ep), concurrency: r.concurrency(ep), tmpl: brokenTemplate{err}}
			}
			byID[ep.ID] = st
		}
		if page.Next == "" {
			break
		}
		p.Cursor = page.Next
	}
	r.publish(byID)
	return nil
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

func (r *registry) put(st *endpointState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	byID := maps.Clone(r.set.Load().byID)
	byID[st.ep.ID] = st
	r.publish(byID)
}

func (r *registry) remove(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
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

// compile resolves ep into the state the engine uses, compiling its
// template. Errors wrap ErrInvalidEndpoint.
func (r *registry) compile(ep Endpoint) (*endpointState, error) {
	st := &endpointState{ep: ep, retry: r.policy(ep), concurrency: r.concurrency(ep)}
	if ep.Template == "" {
		return st, nil
	}
	tmpl, err := r.d.cfg.Transformer.Compile(ep.Template)
	if err != nil {
		return nil, invalidEndpoint("Template", "does not compile", err)
	}
	st.tmpl = tmpl
	return st, nil
}

func (r *registry) policy(ep Endpoint) RetryPolicy {
	if ep.Retry != nil {
		return ep.Retry.withDefaults()
	}
	return r.d.cfg.Retry.withDefaults()
}

func (r *registry) concurrency(ep Endpoint) int {
	if ep.MaxConcurrency > 0 {
		return ep.MaxConcurrency
	}
	return r.d.cfg.EndpointConcurrency
}

// brokenTemplate stands in for a stored template that no longer compiles.
type brokenTemplate struct{ err error }

func (t brokenTemplate) Render(context.Context, *RenderInput) (Rendered, error) {
	return Rendered{}, t.err
}
