package pgstore

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/internal/pgtest"
)

// planNode is one node of EXPLAIN (ANALYZE, FORMAT JSON).
type planNode struct {
	NodeType     string     `json:"Node Type"`
	RelationName string     `json:"Relation Name"`
	Loops        int        `json:"Actual Loops"`
	IndexCond    string     `json:"Index Cond"`
	RecheckCond  string     `json:"Recheck Cond"`
	Filter       string     `json:"Filter"`
	JoinRemoved  int        `json:"Rows Removed by Join Filter"`
	Plans        []planNode `json:"Plans"`
}

// walk calls f on n and every node below it.
func (n *planNode) walk(f func(*planNode)) {
	f(n)
	for i := range n.Plans {
		n.Plans[i].walk(f)
	}
}

// TestBatchPlansLinear runs Lease, ExtendLeases, Release, FormBatch and
// Complete over a batch of n deliveries through EXPLAIN ANALYZE (rolled
// back) on tables that have no statistics yet, as a fresh schema has, and
// checks that none
// does work quadratic in the batch: no join filter discards more rows than
// the batch holds (a nested loop over two lists of the batch), and no node
// that runs more than once holds the batch's array in its condition (an
// array index condition is sorted on every rescan), and none costs enough
// for PostgreSQL to compile it (JIT, over 100 ms a call).
func TestBatchPlansLinear(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := pgtest.ConnString(t)
	pool := pgtest.Pool(t, url, 4)
	s, err := New(ctx, pool, &Options{Schema: pgtest.NewSchema(t)})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })

	const n = 400
	now := time.Now().UTC()
	items := make([]webhook.EnqueueItem, n)
	for i := range items {
		id := fmt.Sprintf("%04d", i)
		items[i] = webhook.EnqueueItem{
			Event:      webhook.Event{ID: "evt_" + id, Type: "t", Time: now, Payload: []byte(`{}`)},
			Deliveries: []webhook.Delivery{{ID: "dlv_" + id, EndpointID: "ep", NextAttemptAt: now}},
		}
	}
	require.NoError(t, s.Enqueue(ctx, &webhook.EnqueueParams{Items: items, Now: now}))

	explain := func(name, sql string, args ...any) {
		t.Helper()
		tx, err := pool.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		var out []byte
		require.NoError(t, tx.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+sql, args...).Scan(&out), name)
		var plans []struct {
			Plan planNode        `json:"Plan"`
			JIT  json.RawMessage `json:"JIT"`
		}
		require.NoError(t, json.Unmarshal(out, &plans), name)
		require.Len(t, plans, 1)
		require.Nil(t, plans[0].JIT, "%s: the plan's cost makes PostgreSQL compile it on every call:\n%s", name, out)
		plans[0].Plan.walk(func(p *planNode) {
			require.LessOrEqual(t, p.JoinRemoved, n, "%s: %s on %s discards %d rows by join filter:\n%s",
				name, p.NodeType, p.RelationName, p.JoinRemoved, out)
			if p.Loops > 1 {
				for _, cond := range []string{p.IndexCond, p.RecheckCond, p.Filter} {
					require.NotContains(t, cond, "ANY ($", "%s: %s on %s runs %d times with the batch's array in %q:\n%s",
						name, p.NodeType, p.RelationName, p.Loops, cond, out)
				}
			}
		})
	}

	until := now.Add(time.Minute)
	explain("lease", s.q.lease, now, "o", until, n, []string{})
	ls, err := s.Lease(ctx, &webhook.LeaseParams{Owner: "o", Now: now, Until: until, Limit: n})
	require.NoError(t, err)
	require.Len(t, ls, n)
	ids, tokens := make([]string, n), make([]string, n)
	for i, l := range ls {
		ids[i], tokens[i] = l.Delivery.ID, l.Token
	}
	explain("extend", s.q.extend, ids, tokens, until)
	explain("release", s.q.release, ids, tokens, now, s.channel)
	explain("form batch", s.q.formBatch, ids, tokens, "batch_1", until)

	outcomes := make([]webhook.Outcome, n)
	for i, l := range ls {
		outcomes[i] = webhook.Outcome{Lease: webhook.LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token}, State: webhook.StateSucceeded,
			Attempts: []webhook.Attempt{{StartedAt: now, Duration: time.Millisecond, StatusCode: 204}}}
	}
	args, _ := completeArgs(&webhook.CompleteParams{Outcomes: outcomes, Now: now})
	explain("complete", s.q.complete, args...)

	// The plans were for real: every outcome is held.
	res, err := s.Complete(ctx, &webhook.CompleteParams{Outcomes: outcomes, Now: now})
	require.NoError(t, err)
	require.Empty(t, res.Stale)
}
