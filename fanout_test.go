package webhook

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

type fanoutCase struct {
	id, tenant string
	patterns   []string
}

// bruteMatch is the definition the index must agree with: Endpoint.matches
// tried on every endpoint.
func bruteMatch(eps map[string]fanoutCase, tenant, typ string) []string {
	var out []string
	ev := &Event{Tenant: tenant, Type: typ}
	for _, c := range eps {
		ep := Endpoint{ID: c.id, Tenant: c.tenant, EventTypes: c.patterns}
		if ep.matches(ev) {
			out = append(out, c.id)
		}
	}
	slices.Sort(out)
	return out
}

func TestFanoutIndexMatch(t *testing.T) {
	t.Parallel()
	x := newFanoutIndex[string]()
	for _, c := range []fanoutCase{
		{"ep_all", "", nil},
		{"ep_star", "t1", []string{"*"}},
		{"ep_inv", "t1", []string{"invoice.*"}},
		{"ep_paid", "t1", []string{"invoice.paid", "invoice.*", "invoice.paid"}},
		{"ep_line", "t2", []string{"invoice.line.*"}},
		{"ep_exact_t2", "t2", []string{"invoice.paid"}},
		{"ep_dotdot", "", []string{"a..*"}},
	} {
		x.put(c.id, c.tenant, c.patterns, c.id)
	}
	tests := []struct {
		tenant, typ string
		want        []string
	}{
		{"t1", "invoice.paid", []string{"ep_inv", "ep_paid", "ep_star"}},
		{"t1", "invoice", []string{"ep_star"}},
		{"t1", "invoice.", []string{"ep_star"}},
		{"t1", "invoice.line.added", []string{"ep_inv", "ep_paid", "ep_star"}},
		{"t2", "invoice.line.added", []string{"ep_line"}},
		{"t2", "invoice.line", nil},
		{"t2", "invoice.paid", []string{"ep_exact_t2"}},
		{"t3", "invoice.paid", nil},
		{"", "invoice.paid", []string{"ep_all", "ep_exact_t2", "ep_inv", "ep_paid", "ep_star"}},
		{"", "a..b", []string{"ep_all", "ep_dotdot", "ep_star"}},
		{"", "a.b", []string{"ep_all", "ep_star"}},
	}
	for _, tt := range tests {
		t.Run(tt.tenant+"/"+tt.typ, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, x.match(nil, tt.tenant, tt.typ))
		})
	}
}

// TestFanoutIndexAgreesWithScan puts, replaces and removes random
// endpoints and checks every lookup against the definition.
func TestFanoutIndexAgreesWithScan(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	segs := []string{"a", "b", "c", ""}
	randType := func() string {
		n := 1 + r.IntN(3)
		s := segs[r.IntN(len(segs))]
		for range n - 1 {
			s += "." + segs[r.IntN(len(segs))]
		}
		return s
	}
	randPattern := func() string {
		switch r.IntN(6) {
		case 0:
			return "*"
		case 1, 2:
			return randType() + ".*"
		}
		return randType()
	}
	tenants := []string{"", "t1", "t2", "t3"}
	x := newFanoutIndex[string]()
	eps := map[string]fanoutCase{}
	for i := range 5000 {
		id := fmt.Sprintf("ep_%02d", r.IntN(60))
		if r.IntN(4) == 0 {
			x.remove(id)
			delete(eps, id)
		} else {
			c := fanoutCase{id: id, tenant: tenants[r.IntN(len(tenants))]}
			for range r.IntN(4) {
				c.patterns = append(c.patterns, randPattern())
			}
			x.put(c.id, c.tenant, c.patterns, c.id)
			eps[id] = c
		}
		tenant, typ := tenants[r.IntN(len(tenants))], randType()
		require.Equal(t, bruteMatch(eps, tenant, typ), x.match(nil, tenant, typ), "step %d: tenant %q type %q", i, tenant, typ)
		require.Equal(t, len(eps), x.len())
	}
}

func TestFanoutIndexRemoveReleases(t *testing.T) {
	t.Parallel()
	x := newFanoutIndex[int]()
	x.put("a", "t1", []string{"x.y.*", "x.*", "q"}, 1)
	x.put("b", "t2", nil, 2)
	x.put("c", "t1", []string{"x.y.z.*"}, 3)
	v, ok := x.get("c")
	require.True(t, ok)
	require.Equal(t, 3, v)
	x.put("a", "t2", []string{"q"}, 4) // moves to another tenant
	require.Equal(t, []int{4, 2}, x.match(nil, "t2", "q"))
	require.Empty(t, x.match(nil, "t1", "x.y.w"))
	for _, id := range []string{"a", "b", "c", "missing"} {
		x.remove(id)
	}
	require.Zero(t, x.len())
	require.Empty(t, x.tenants)
	require.Zero(t, x.all.size)
	require.Nil(t, x.all.every)
	require.Empty(t, x.all.exact)
	require.Empty(t, x.all.prefix.children)
	_, ok = x.get("c")
	require.False(t, ok)
}
