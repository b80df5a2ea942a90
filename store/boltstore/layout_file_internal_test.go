package boltstore

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/storetest"
)

// The files in testdata/layout-v1.* are a store written with indexes
// version 1 (a global state index and a list of every delivery per
// endpoint, both since retired; see indexesKey) and what the public API
// read from it when it was written. Every later layout must open such a
// file, migrate it once, read back the same records and deliver what it
// left pending. They were written by the code of that version, at commit
// 88897b1; rewriting them with later code would test nothing:
//
//	HOOKLET_WRITE_LAYOUT_FILE=1 go test -run TestWriteLayoutFile ./store/boltstore
const (
	layoutFileDB   = "testdata/layout-v1.db"
	layoutFileJSON = "testdata/layout-v1.json"
)

// layoutSecret is the secret of the layout file's endpoint ep_a.
const layoutSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// layoutT0 is the instant every record of the layout file is written at.
var layoutT0 = time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)

// layoutDump is what the public API reads from a store: every record and
// the ID lists that each listing index returns.
type layoutDump struct {
	Endpoints          []webhook.Endpoint
	TenantEndpoints    []string
	Events             []webhook.Event
	Deliveries         []webhook.Delivery
	Attempts           map[string][]webhook.Attempt
	ByState            map[webhook.DeliveryState][]string
	ByEndpoint         map[string][]string
	ByEndpointAndState map[string][]string
	ByEvent            map[string][]string
	ByType             map[string][]string
}

// TestWriteLayoutFile writes the layout file and its dump. It runs only
// when asked (see layoutFileDB).
func TestWriteLayoutFile(t *testing.T) {
	if os.Getenv("HOOKLET_WRITE_LAYOUT_FILE") == "" {
		t.Skip("set HOOKLET_WRITE_LAYOUT_FILE=1 to rewrite " + layoutFileDB)
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hooklet.db")
	s, err := Open(path, nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	writeLayoutRecords(t, s)

	// The file is copied while a lease is held, as a crash would leave it.
	ls, err := s.Lease(ctx, &webhook.LeaseParams{Owner: "dead", Now: layoutT0.Add(10 * time.Second), Until: layoutT0.Add(time.Hour), Limit: 1, ExcludeEndpoints: []string{"ep_a", "ep_b"}})
	require.NoError(t, err)
	require.Len(t, ls, 1)
	require.Equal(t, "dlv_05", ls[0].Delivery.ID)
	if err := os.Remove(layoutFileDB); !os.IsNotExist(err) {
		require.NoError(t, err)
	}
	require.NoError(t, s.db.View(func(tx *bolt.Tx) error { return tx.CopyFile(layoutFileDB, 0o644) }))

	b, err := json.MarshalIndent(dumpLayout(t, s), "", "\t")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(layoutFileJSON, append(b, '\n'), 0o644))
}

// writeLayoutRecords fills s with endpoints, events, and deliveries in
// every state, with their attempts and an ordered sequence.
func writeLayoutRecords(t *testing.T, s *Store) {
	ctx := context.Background()
	at := func(d time.Duration) time.Time { return layoutT0.Add(d) }
	eps := []webhook.Endpoint{
		{ID: "ep_a", Tenant: "acme", URL: "https://a.example.com/hooks", EventTypes: []string{"invoice.*"},
			Headers: map[string]string{"X-Team": "billing"}, Secrets: []webhook.Secret{{Key: layoutSecret}},
			Settings: json.RawMessage(`{"region":"eu"}`), CreatedAt: at(0), UpdatedAt: at(0)},
		{ID: "ep_b", Tenant: "acme", URL: "https://b.example.com/hooks", Ordered: true, RateLimit: 5, RateBurst: 1,
			Retry: &webhook.RetryPolicy{Schedule: []time.Duration{time.Second, time.Minute}, Jitter: 0.2}, CreatedAt: at(0), UpdatedAt: at(0)},
		{ID: "ep_c", URL: "https://c.example.com/hooks", Template: `{ id: "x" }`, Filter: json.RawMessage(`{"data.amount":{"$gte":1}}`),
			CreatedAt: at(0), UpdatedAt: at(0)},
	}
	for _, ep := range eps {
		require.NoError(t, s.PutEndpoint(ctx, &webhook.PutEndpointParams{Endpoint: ep}))
	}
	ev := func(id, typ, key string) webhook.Event {
		e := storetest.NewEvent(id, at(-time.Minute))
		e.Type, e.OrderingKey = typ, key
		return e
	}
	dl := func(id, evID, ep string) webhook.Delivery { return storetest.NewDelivery(id, evID, ep, at(0), at(0)) }
	ordered := func(d webhook.Delivery, key string) webhook.Delivery {
		d.Ordered, d.OrderingKey = true, key
		return d
	}
	items := []webhook.EnqueueItem{
		storetest.NewItem(ev("evt_01", "invoice.paid", ""), dl("dlv_01", "evt_01", "ep_a")),
		storetest.NewItem(ev("evt_02", "invoice.paid", ""), dl("dlv_02", "evt_02", "ep_a")),
		storetest.NewItem(ev("evt_03", "invoice.voided", ""), dl("dlv_03", "evt_03", "ep_a")),
		storetest.NewItem(ev("evt_04", "invoice.paid", ""), dl("dlv_04", "evt_04", "ep_a")),
		storetest.NewItem(ev("evt_05", "user.created", ""), dl("dlv_05", "evt_05", "ep_c")),
		storetest.NewItem(ev("evt_06", "invoice.paid", ""), dl("dlv_06", "evt_06", "ep_c"), dl("dlv_06b", "evt_06", "ep_a")),
		storetest.NewItem(ev("evt_07", "invoice.paid", "k1"), ordered(dl("dlv_07", "evt_07", "ep_b"), "k1")),
		storetest.NewItem(ev("evt_08", "invoice.paid", "k1"), ordered(dl("dlv_08", "evt_08", "ep_b"), "k1")),
		storetest.NewItem(ev("evt_09", "invoice.paid", "k1"), ordered(dl("dlv_09", "evt_09", "ep_b"), "k1")),
		storetest.NewItem(ev("evt_10", "invoice.paid", "k2"), ordered(dl("dlv_10", "evt_10", "ep_b"), "k2")),
		storetest.NewItem(ev("evt_11", "invoice.paid", ""), dl("dlv_11", "evt_11", "ep_a")),
		storetest.NewItem(ev("evt_12", "invoice.paid", "")),
	}
	require.NoError(t, s.Enqueue(ctx, &webhook.EnqueueParams{Items: items, Now: at(0)}))

	attempt := func(code int, msg string) webhook.Attempt {
		a := webhook.Attempt{StartedAt: at(time.Second), Duration: 3 * time.Millisecond, StatusCode: code, Error: msg}
		if code >= 500 {
			a.ErrorClass, a.ResponseBody = webhook.ErrorClass("status"), []byte(`{"error":"busy"}`)
		}
		return a
	}
	outcome := map[string]webhook.Outcome{
		"dlv_01": {Attempts: []webhook.Attempt{attempt(200, "")}, State: webhook.StateSucceeded},
		"dlv_02": {Attempts: []webhook.Attempt{attempt(500, "status 500"), attempt(502, "status 502")}, State: webhook.StateFailed},
		"dlv_03": {State: webhook.StateSkipped},
		"dlv_04": {Attempts: []webhook.Attempt{attempt(503, "status 503")}, State: webhook.StatePending, NextAttemptAt: at(time.Hour)},
		"dlv_07": {Attempts: []webhook.Attempt{attempt(204, "")}, State: webhook.StateSucceeded},
		"dlv_11": {Attempts: []webhook.Attempt{attempt(500, "status 500")}, State: webhook.StateFailed},
	}
	ls, err := s.Lease(ctx, &webhook.LeaseParams{Owner: "w", Now: at(0), Until: at(time.Minute), Limit: 100})
	require.NoError(t, err)
	var p webhook.CompleteParams
	var release webhook.ReleaseParams
	for _, l := range ls {
		ref := webhook.LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token}
		o, ok := outcome[l.Delivery.ID]
		if !ok {
			release.Leases = append(release.Leases, ref)
			continue
		}
		o.Lease = ref
		p.Outcomes = append(p.Outcomes, o)
		delete(outcome, l.Delivery.ID)
	}
	require.Empty(t, outcome, "every outcome found its lease")
	p.Now = at(2 * time.Second)
	res, err := s.Complete(ctx, &p)
	require.NoError(t, err)
	require.Empty(t, res.Stale)
	release.Now = at(2 * time.Second)
	require.NoError(t, s.Release(ctx, &release))

	// dlv_08 heads k1 now: one failed attempt, due again at once.
	ls, err = s.Lease(ctx, &webhook.LeaseParams{Owner: "w", Now: at(3 * time.Second), Until: at(time.Minute), Limit: 100, ExcludeEndpoints: []string{"ep_a", "ep_c"}})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"dlv_08", "dlv_10"}, leasedIDs(ls))
	var p2 webhook.CompleteParams
	for _, l := range ls {
		o := webhook.Outcome{Lease: webhook.LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token}, State: webhook.StatePending, NextAttemptAt: at(4 * time.Second)}
		if l.Delivery.ID == "dlv_08" {
			o.Attempts = []webhook.Attempt{attempt(0, "connection refused")}
		}
		p2.Outcomes = append(p2.Outcomes, o)
	}
	p2.Now = at(4 * time.Second)
	_, err = s.Complete(ctx, &p2)
	require.NoError(t, err)
	// A failed delivery redelivered with a fresh schedule.
	require.NoError(t, s.Redeliver(ctx, &webhook.RedeliverParams{DeliveryID: "dlv_11", Now: at(5 * time.Second), FreshSchedule: true}))
}

func leasedIDs(ls []webhook.Lease) []string {
	out := make([]string, 0, len(ls))
	for _, l := range ls {
		out = append(out, l.Delivery.ID)
	}
	return out
}

// listAll pages through a listing.
func listAll[T any](t *testing.T, list func(cursor string) (webhook.Page[T], error)) []T {
	var out []T
	cursor := ""
	for {
		p, err := list(cursor)
		require.NoError(t, err)
		out = append(out, p.Items...)
		if p.Next == "" {
			return out
		}
		cursor = p.Next
	}
}

func listedIDs(t *testing.T, s *Store, p webhook.ListDeliveriesParams) []string {
	ds := listAll(t, func(c string) (webhook.Page[webhook.Delivery], error) {
		p.Cursor, p.Limit = c, 2
		return s.ListDeliveries(context.Background(), &p)
	})
	out := []string{}
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

// dumpLayout reads everything of s through the public API.
func dumpLayout(t *testing.T, s *Store) layoutDump {
	ctx := context.Background()
	var d layoutDump
	d.Endpoints = listAll(t, func(c string) (webhook.Page[webhook.Endpoint], error) {
		return s.ListEndpoints(ctx, &webhook.ListEndpointsParams{Cursor: c, Limit: 2})
	})
	for _, ep := range listAll(t, func(c string) (webhook.Page[webhook.Endpoint], error) {
		return s.ListEndpoints(ctx, &webhook.ListEndpointsParams{Tenant: "acme", Cursor: c, Limit: 1})
	}) {
		d.TenantEndpoints = append(d.TenantEndpoints, ep.ID)
	}
	d.Events = listAll(t, func(c string) (webhook.Page[webhook.Event], error) {
		return s.ListEvents(ctx, &webhook.ListEventsParams{Cursor: c, Limit: 3})
	})
	d.Deliveries = listAll(t, func(c string) (webhook.Page[webhook.Delivery], error) {
		return s.ListDeliveries(ctx, &webhook.ListDeliveriesParams{Cursor: c, Limit: 3})
	})
	d.Attempts = map[string][]webhook.Attempt{}
	d.ByState = map[webhook.DeliveryState][]string{}
	d.ByEndpoint = map[string][]string{}
	d.ByEndpointAndState = map[string][]string{}
	d.ByEvent = map[string][]string{}
	d.ByType = map[string][]string{}
	for _, dl := range d.Deliveries {
		got, err := s.GetDelivery(ctx, &webhook.GetDeliveryParams{ID: dl.ID})
		require.NoError(t, err)
		require.Equal(t, dl, got)
		d.Attempts[dl.ID] = listAll(t, func(c string) (webhook.Page[webhook.Attempt], error) {
			return s.ListAttempts(ctx, &webhook.ListAttemptsParams{DeliveryID: dl.ID, Cursor: c, Limit: 1})
		})
	}
	for _, st := range []webhook.DeliveryState{webhook.StatePending, webhook.StateSucceeded, webhook.StateFailed, webhook.StateSkipped} {
		d.ByState[st] = listedIDs(t, s, webhook.ListDeliveriesParams{State: st})
		for _, ep := range d.Endpoints {
			d.ByEndpointAndState[ep.ID+"/"+string(st)] = listedIDs(t, s, webhook.ListDeliveriesParams{EndpointID: ep.ID, State: st})
		}
	}
	for _, ep := range d.Endpoints {
		d.ByEndpoint[ep.ID] = listedIDs(t, s, webhook.ListDeliveriesParams{EndpointID: ep.ID})
	}
	for _, ev := range d.Events {
		got, err := s.GetEvent(ctx, &webhook.GetEventParams{ID: ev.ID})
		require.NoError(t, err)
		require.Equal(t, ev, got)
		d.ByEvent[ev.ID] = listedIDs(t, s, webhook.ListDeliveriesParams{EventID: ev.ID})
		d.ByType[ev.Type] = listedIDs(t, s, webhook.ListDeliveriesParams{EventType: ev.Type})
	}
	return d
}

// openLayoutFile opens a copy of the layout file.
func openLayoutFile(t *testing.T) (*Store, string) {
	b, err := os.ReadFile(layoutFileDB)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "hooklet.db")
	require.NoError(t, os.WriteFile(path, b, 0o600))
	s, err := Open(path, nil)
	require.NoError(t, err)
	return s, path
}

// A file of the first layout opens, reads back every record as it was
// written, and delivers everything it left pending, ordered sequences in
// order; opened again, it is not migrated again.
func TestOpenLayoutFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	want, err := os.ReadFile(layoutFileJSON)
	require.NoError(t, err)

	s, path := openLayoutFile(t)
	got, err := json.Marshal(dumpLayout(t, s))
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(got), "the records read back as written")
	require.NoError(t, s.Close())

	s, err = Open(path, nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	requireCurrentIndexes(t, s)
	got, err = json.Marshal(dumpLayout(t, s))
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(got), "opened twice")

	// Secrets are redacted in JSON: compare the key itself.
	ep, err := s.GetEndpoint(ctx, &webhook.GetEndpointParams{ID: "ep_a"})
	require.NoError(t, err)
	require.Equal(t, layoutSecret, ep.Secrets[0].Key)

	var wantPending []string
	var dump struct {
		ByState  map[webhook.DeliveryState][]string
		Attempts map[string][]json.RawMessage
	}
	require.NoError(t, json.Unmarshal(want, &dump))
	wantPending = dump.ByState[webhook.StatePending]
	require.ElementsMatch(t, []string{"dlv_04", "dlv_05", "dlv_06", "dlv_06b", "dlv_08", "dlv_09", "dlv_10", "dlv_11"}, wantPending)

	// Deliver: lease whatever is due, far enough ahead that every retry is
	// due, and record a success, until nothing is pending.
	now := layoutT0.Add(24 * time.Hour)
	var delivered []string
	for round := 0; ; round++ {
		require.Less(t, round, 10)
		ls, err := s.Lease(ctx, &webhook.LeaseParams{Owner: "new", Now: now, Until: now.Add(time.Minute), Limit: 100})
		require.NoError(t, err)
		if len(ls) == 0 {
			break
		}
		var p webhook.CompleteParams
		for _, l := range ls {
			require.Equal(t, webhook.StatePending, l.Delivery.State)
			require.Equal(t, l.Delivery.EventID, l.Event.ID)
			p.Outcomes = append(p.Outcomes, webhook.Outcome{
				Lease:    webhook.LeaseRef{DeliveryID: l.Delivery.ID, Token: l.Token},
				Attempts: []webhook.Attempt{{StartedAt: now, StatusCode: 200}},
				State:    webhook.StateSucceeded,
			})
			delivered = append(delivered, l.Delivery.ID)
		}
		p.Now = now
		res, err := s.Complete(ctx, &p)
		require.NoError(t, err)
		require.Empty(t, res.Stale)
	}
	require.ElementsMatch(t, wantPending, delivered, "every pending delivery is delivered once")
	require.Less(t, slices.Index(delivered, "dlv_08"), slices.Index(delivered, "dlv_09"), "k1 in order")
	require.Empty(t, listedIDs(t, s, webhook.ListDeliveriesParams{State: webhook.StatePending}))
	for _, id := range wantPending {
		d, err := s.GetDelivery(ctx, &webhook.GetDeliveryParams{ID: id})
		require.NoError(t, err)
		require.Equal(t, webhook.StateSucceeded, d.State)
		as := listAll(t, func(c string) (webhook.Page[webhook.Attempt], error) {
			return s.ListAttempts(ctx, &webhook.ListAttemptsParams{DeliveryID: id, Cursor: c})
		})
		require.Len(t, as, len(dump.Attempts[id])+1, id)
		require.Equal(t, d.Attempts, len(as))
		require.Equal(t, 200, as[len(as)-1].StatusCode)
	}
	_, found, err := s.NextDue(ctx, &webhook.NextDueParams{Now: now})
	require.NoError(t, err)
	require.False(t, found)
}

// requireCurrentIndexes checks that s holds the indexes of
// indexesVersion and none of those it retired.
func requireCurrentIndexes(t *testing.T, s *Store) {
	require.NoError(t, s.view(func(tx *bolt.Tx) error {
		require.Equal(t, indexesVersion, string(sp(tx, spaceMeta).Get([]byte(indexesKey))))
		k, _ := sp(tx, spaceStates).Cursor().First()
		require.Nil(t, k, "no global state index")
		eps := indexedEndpoints(tx)
		require.Equal(t, []string{"ep_a", "ep_b", "ep_c"}, eps)
		for _, ep := range eps {
			prefix := endpointPrefix(ep, subDeliveries)
			k, _ := sp(tx, spaceEndpointIndex).Cursor().Seek(prefix)
			require.False(t, hasPrefix(k, prefix), "no delivery list of %s", ep)
		}
		return nil
	}))
}
