package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/memstore"
	"github.com/hooklet/webhook/webhooktest"
)

// routingBundle is a Dispatcher that is not started: Emit stores the
// deliveries of each event and nothing is sent, so a test reads who
// would receive what.
type routingBundle struct {
	d   *webhook.Dispatcher
	ctx context.Context
}

func setupRouting(t *testing.T) *routingBundle {
	t.Helper()
	st := memstore.New()
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	d := newDispatcher(t, webhook.Config{Store: st, Test: webhook.TestConfig{Clock: webhooktest.NewClock(epoch)}})
	return &routingBundle{d: d, ctx: context.Background()}
}

// put saves an endpoint that takes the events its patterns, tenant and
// filter let through.
func (b *routingBundle) put(t *testing.T, id, tenant string, types []string, filter string) {
	t.Helper()
	ep := webhook.Endpoint{ID: id, Tenant: tenant, URL: "https://example.com/" + id, EventTypes: types, Secrets: []webhook.Secret{{Key: testSecret}}}
	if filter != "" {
		ep.Filter = json.RawMessage(filter)
	}
	require.NoError(t, b.d.PutEndpoint(b.ctx, ep))
}

// receivers emits ev and returns the IDs of the endpoints it was fanned
// out to, sorted.
func (b *routingBundle) receivers(t *testing.T, ev webhook.Event) []string {
	t.Helper()
	require.NoError(t, b.d.EmitBatch(b.ctx, []webhook.Event{ev}))
	page, err := b.d.Deliveries(b.ctx, &webhook.ListDeliveriesParams{EventID: ev.ID, Limit: 1000})
	require.NoError(t, err)
	out := []string{}
	for _, dl := range page.Items {
		out = append(out, dl.EndpointID)
	}
	slices.Sort(out)
	return out
}

func TestPutEndpointFilter(t *testing.T) {
	t.Parallel()
	t.Run("RefusesBadFilterAndKeepsStored", func(t *testing.T) {
		t.Parallel()
		b := setupRouting(t)
		good := `{"data.amount": {"$gte": 100}}`
		b.put(t, "ep", "", nil, good)
		bad := []struct{ filter, path, reason string }{
			{`{"data.amount": {"$gte": true}}`, `$["data.amount"].$gte`, "wants a number or a string"},
			{`{"data.a": {"$like": "x"}}`, `$["data.a"].$like`, "unknown operator $like"},
			{`{"$or": [{"data.a": {"$regex": "a(b"}}]}`, `$.$or[0]["data.a"].$regex`, "does not compile"},
			{`{"data.a":`, `$`, "not valid JSON"},
		}
		for _, c := range bad {
			err := b.d.PutEndpoint(b.ctx, webhook.Endpoint{ID: "ep", URL: "https://example.com/x", Filter: json.RawMessage(c.filter),
				Secrets: []webhook.Secret{{Key: testSecret}}})
			require.ErrorIs(t, err, webhook.ErrInvalidEndpoint)
			var fe *webhook.FilterError
			require.ErrorAs(t, err, &fe, c.filter)
			require.Equal(t, c.path, fe.Path)
			require.Contains(t, err.Error(), c.reason)
		}
		var fe *webhook.FilterError
		require.True(t, errors.As(b.d.PutEndpoint(b.ctx, webhook.Endpoint{ID: "ep", URL: "https://example.com/x",
			Filter: json.RawMessage(`{"data.a": {"$regex": "("}}`), Secrets: []webhook.Secret{{Key: testSecret}}}), &fe))
		require.NotNil(t, fe.Err, "the regexp cause is kept")
		stored, err := b.d.Endpoint(b.ctx, "ep")
		require.NoError(t, err)
		require.JSONEq(t, good, string(stored.Filter))
		require.Equal(t, "https://example.com/ep", stored.URL)
	})
	t.Run("RoundTripsAndClones", func(t *testing.T) {
		t.Parallel()
		b := setupRouting(t)
		f := json.RawMessage(`{ "data.x" : 1 }`)
		ep := webhook.Endpoint{ID: "ep", URL: "https://example.com/x", Filter: f, Secrets: []webhook.Secret{{Key: testSecret}}}
		require.NoError(t, b.d.PutEndpoint(b.ctx, ep))
		f[3] = 'X' // the caller's bytes are not shared
		stored, err := b.d.Endpoint(b.ctx, "ep")
		require.NoError(t, err)
		require.Equal(t, `{ "data.x" : 1 }`, string(stored.Filter))
		require.Equal(t, "ep", b.receivers(t, webhook.Event{ID: "e1", Type: "t", Payload: json.RawMessage(`{"x":1}`)})[0])
	})
	t.Run("EmptyFilterLetsEverythingThrough", func(t *testing.T) {
		t.Parallel()
		b := setupRouting(t)
		b.put(t, "ep_null", "", nil, `null`)
		b.put(t, "ep_empty", "", nil, ` {} `)
		b.put(t, "ep_none", "", nil, ``)
		require.Equal(t, []string{"ep_empty", "ep_none", "ep_null"},
			b.receivers(t, webhook.Event{ID: "e1", Type: "a", Payload: json.RawMessage(`1`)}))
	})
}

func TestFilterFanOut(t *testing.T) {
	t.Parallel()
	b := setupRouting(t)
	b.put(t, "ep_big", "", []string{"order.*"}, `{"data.amount": {"$gte": 1000}}`)
	b.put(t, "ep_gold", "acme", nil, `{"data.customer.tier": {"$in": ["gold", "platinum"]}}`)
	b.put(t, "ep_api", "acme", []string{"order.paid"}, `{"attributes.source": "api", "tenant": "acme"}`)
	b.put(t, "ep_all", "", nil, "")
	b.put(t, "ep_other", "globex", nil, `{"data.amount": {"$gte": 0}}`)
	order := func(id, tenant string, amount int, tier, source string) webhook.Event {
		return webhook.Event{ID: id, Type: "order.paid", Tenant: tenant,
			Attributes: map[string]string{"source": source},
			Payload:    json.RawMessage(fmt.Sprintf(`{"amount": %d, "customer": {"tier": %q}}`, amount, tier))}
	}
	tests := []struct {
		ev   webhook.Event
		want []string
	}{
		// A tenant's event reaches that tenant's endpoints, filtered.
		{order("e1", "acme", 5000, "gold", "api"), []string{"ep_api", "ep_gold"}},
		{order("e2", "acme", 10, "silver", "api"), []string{"ep_api"}},
		{order("e3", "acme", 10, "silver", "batch"), []string{}},
		{order("e4", "globex", 5000, "gold", "api"), []string{"ep_other"}},
		// Without a tenant an event reaches every tenant's endpoints; the
		// filters still apply ("tenant" is then absent).
		{order("e5", "", 5000, "platinum", "api"), []string{"ep_all", "ep_big", "ep_gold", "ep_other"}},
		{order("e6", "", 10, "silver", "api"), []string{"ep_all", "ep_other"}},
		// A payload without the fields a filter reads does not match it.
		{webhook.Event{ID: "e7", Type: "customer.created", Tenant: "acme", Payload: json.RawMessage(`[1, 2]`)}, []string{}},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, b.receivers(t, tt.ev), tt.ev.ID)
	}
}

// axwayTrigger is one trigger of an Axway Amplify resource hook, matched
// as Axway matches it: each field equal, or "*"; the scope, when given,
// equal field by field; the event type one of Types.
type axwayTrigger struct {
	Group, Kind, Name string
	ScopeKind         string // "" when the trigger has no scope
	ScopeName         string
	Types             []string
}

type axwayResource struct {
	group, kind, name, scopeKind, scopeName string
}

func (tr axwayTrigger) matches(r axwayResource, action string) bool {
	field := func(want, got string) bool { return want == "*" || want == got }
	if !field(tr.Group, r.group) || !field(tr.Kind, r.kind) || !field(tr.Name, r.name) {
		return false
	}
	if tr.ScopeKind != "" && (!field(tr.ScopeKind, r.scopeKind) || !field(tr.ScopeName, r.scopeName)) {
		return false
	}
	return slices.Contains(tr.Types, action)
}

// TestAxwayResourceHooks reproduces the three resource hooks of Axway's
// documentation as endpoint filters, and checks that each endpoint gets
// exactly the events Axway's triggers select, over every combination of
// resource, scope and action.
func TestAxwayResourceHooks(t *testing.T) {
	t.Parallel()
	b := setupRouting(t)
	all := []string{"created", "updated", "deleted"}
	hooks := []struct {
		id       string
		triggers []axwayTrigger
		filter   string
	}{
		{
			"ep_revisions_in_prod",
			[]axwayTrigger{{"management", "APIServiceRevision", "*", "Environment", "prod", all}},
			`{"attributes.group": "management", "attributes.kind": "APIServiceRevision",
			  "attributes.scope_kind": "Environment", "attributes.scope_name": "prod"}`,
		},
		{
			"ep_environments",
			[]axwayTrigger{{"management", "Environment", "*", "", "", all}},
			`{"attributes.group": "management", "attributes.kind": "Environment"}`,
		},
		{
			"ep_prod_and_contents",
			[]axwayTrigger{
				{"management", "Environment", "prod", "", "", all},
				{"management", "*", "*", "Environment", "prod", all},
			},
			`{"attributes.group": "management", "$or": [
			  {"attributes.kind": "Environment", "attributes.name": "prod"},
			  {"attributes.scope_kind": "Environment", "attributes.scope_name": "prod"}]}`,
		},
	}
	// Axway's trigger types are the event types.
	for _, h := range hooks {
		b.put(t, h.id, "", []string{"resource.created", "resource.updated", "resource.deleted"}, h.filter)
	}
	var resources []axwayResource
	for _, env := range []string{"prod", "staging"} {
		resources = append(resources, axwayResource{"management", "Environment", env, "", ""})
		for _, kind := range []string{"APIService", "APIServiceRevision", "APIServiceInstance"} {
			resources = append(resources, axwayResource{"management", kind, "petstore", "Environment", env})
		}
		resources = append(resources, axwayResource{"catalog", "Product", env + "-product", "Environment", env})
	}
	resources = append(resources, axwayResource{"management", "APIServiceRevision", "orphan", "Mesh", "prod"})
	n := 0
	for _, r := range resources {
		for _, action := range append(all, "subresource_updated") {
			n++
			attrs := map[string]string{"group": r.group, "kind": r.kind, "name": r.name, "action": action}
			if r.scopeKind != "" {
				attrs["scope_kind"], attrs["scope_name"] = r.scopeKind, r.scopeName
			}
			ev := webhook.Event{ID: fmt.Sprintf("evt_%03d", n), Type: "resource." + action, Attributes: attrs,
				Payload: json.RawMessage(fmt.Sprintf(`{"metadata": {"id": "%d"}, "name": %q}`, n, r.name))}
			want := []string{}
			for _, h := range hooks {
				if slices.ContainsFunc(h.triggers, func(tr axwayTrigger) bool { return tr.matches(r, action) }) {
					want = append(want, h.id)
				}
			}
			slices.Sort(want)
			require.Equal(t, want, b.receivers(t, ev), "%+v %s", r, action)
		}
	}
}

// TestAmplitudeEventFilter reproduces Amplitude's "send events" filter:
// by event type, and by a property of the event.
func TestAmplitudeEventFilter(t *testing.T) {
	t.Parallel()
	b := setupRouting(t)
	b.put(t, "ep_purchases_pro", "", []string{"Purchase Completed", "Plan Upgraded"},
		`{"data.event_properties.plan": {"$in": ["pro", "enterprise"]}}`)
	b.put(t, "ep_eu_signups", "", nil,
		`{"data.event_type": "Sign Up", "data.event_properties.country": {"$in": ["DE", "FR"]}, "data.user_properties.beta": {"$neq": true}}`)
	event := func(id, typ, props, userProps string) webhook.Event {
		return webhook.Event{ID: id, Type: typ, Payload: json.RawMessage(fmt.Sprintf(
			`{"event_type": %q, "user_id": "u1", "event_properties": %s, "user_properties": %s}`, typ, props, userProps))}
	}
	tests := []struct {
		ev   webhook.Event
		want []string
	}{
		{event("e1", "Purchase Completed", `{"plan": "pro", "price": 49}`, `{}`), []string{"ep_purchases_pro"}},
		{event("e2", "Purchase Completed", `{"plan": "free"}`, `{}`), []string{}},
		{event("e3", "Plan Upgraded", `{"plan": "enterprise"}`, `{}`), []string{"ep_purchases_pro"}},
		{event("e4", "Page Viewed", `{"plan": "pro"}`, `{}`), []string{}},
		{event("e5", "Sign Up", `{"country": "DE"}`, `{"beta": false}`), []string{"ep_eu_signups"}},
		{event("e6", "Sign Up", `{"country": "DE"}`, `{"beta": true}`), []string{}},
		{event("e7", "Sign Up", `{"country": "US"}`, `{}`), []string{}},
		{event("e8", "Sign Up", `{"country": "FR"}`, `{}`), []string{"ep_eu_signups"}},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, b.receivers(t, tt.ev), tt.ev.ID)
	}
}

func TestEndpointsByTenant(t *testing.T) {
	t.Parallel()
	b := setupRouting(t)
	for i := range 9 {
		b.put(t, fmt.Sprintf("ep_%d", i), []string{"acme", "globex", ""}[i%3], nil, "")
	}
	var got []string
	p := &webhook.ListEndpointsParams{Tenant: "acme", Limit: 2}
	for {
		page, err := b.d.Endpoints(b.ctx, p)
		require.NoError(t, err)
		for _, ep := range page.Items {
			require.Equal(t, "acme", ep.Tenant)
			got = append(got, ep.ID)
		}
		if page.Next == "" {
			break
		}
		p.Cursor = page.Next
	}
	require.Equal(t, []string{"ep_0", "ep_3", "ep_6"}, got)
}

// TestFanOutWhileEndpointsChange emits from several goroutines while
// endpoints are saved, disabled and deleted; run with -race it checks that
// fan-out reads the index safely, and at the end the index agrees with the
// endpoints as saved.
func TestFanOutWhileEndpointsChange(t *testing.T) {
	t.Parallel()
	b := setupRouting(t)
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Go(func() {
			for i := range 50 {
				ev := webhook.Event{ID: fmt.Sprintf("evt_%d_%d", g, i), Type: "order.paid", Tenant: "acme",
					Payload: json.RawMessage(`{"amount": 5}`)}
				require.NoError(t, b.d.Emit(b.ctx, ev))
			}
		})
	}
	for i := range 60 {
		id := fmt.Sprintf("ep_%d", i%7)
		switch i % 3 {
		case 0, 1:
			ep := webhook.Endpoint{ID: id, Tenant: []string{"acme", "globex"}[i%2], URL: "https://example.com/" + id,
				EventTypes: []string{"order.*"}, Filter: json.RawMessage(`{"data.amount": {"$gt": 1}}`),
				Disabled: i%5 == 0, Secrets: []webhook.Secret{{Key: testSecret}}}
			require.NoError(t, b.d.PutEndpoint(b.ctx, ep))
		case 2:
			err := b.d.DeleteEndpoint(b.ctx, id)
			require.True(t, err == nil || errors.Is(err, webhook.ErrNotFound), err)
		}
	}
	wg.Wait()
	want := []string{}
	page, err := b.d.Endpoints(b.ctx, &webhook.ListEndpointsParams{Tenant: "acme"})
	require.NoError(t, err)
	for _, ep := range page.Items {
		if !ep.Disabled {
			want = append(want, ep.ID)
		}
	}
	require.NotEmpty(t, want)
	require.Equal(t, want, b.receivers(t, webhook.Event{ID: "evt_last", Type: "order.paid", Tenant: "acme",
		Payload: json.RawMessage(`{"amount": 5}`)}))
}
