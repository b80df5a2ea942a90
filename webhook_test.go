package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/memstore"
)

func TestNew(t *testing.T) {
	t.Parallel()

	t.Run("RequiresStore", func(t *testing.T) {
		t.Parallel()
		_, err := webhook.New(webhook.Config{})
		require.ErrorIs(t, err, webhook.ErrInvalidConfig)
		var ve *webhook.ValidationError
		require.ErrorAs(t, err, &ve)
		require.Equal(t, "Store", ve.Field)
	})

	t.Run("OnlyStoreIsEnough", func(t *testing.T) {
		t.Parallel()
		st := memstore.New()
		d, err := webhook.New(webhook.Config{Store: st})
		require.NoError(t, err)
		require.NoError(t, d.Close(context.Background()))
	})

	t.Run("RejectsBadValues", func(t *testing.T) {
		t.Parallel()
		for field, cfg := range map[string]webhook.Config{
			"MaxPayloadBytes": {MaxPayloadBytes: webhook.MaxPayloadBytesMax + 1},
			"RequestTimeout":  {RequestTimeout: -1},
			"Workers":         {Workers: -1},
			"LeaseDuration":   {LeaseDuration: 10},
			"Retry":           {Retry: webhook.RetryPolicy{Jitter: 2}},
		} {
			cfg.Store = memstore.New()
			_, err := webhook.New(cfg)
			require.ErrorIs(t, err, webhook.ErrInvalidConfig, field)
			var ve *webhook.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, field, ve.Field)
		}
	})
}

func TestEmit(t *testing.T) {
	t.Parallel()

	t.Run("RejectsInvalidEventsAndStoresNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, webhook.Config{MaxPayloadBytes: 1024})
		b.addEndpoint(t, "ep", "http://127.0.0.1:1/")
		for name, ev := range map[string]webhook.Event{
			"NoType":     {Payload: json.RawMessage(`{}`)},
			"NoPayload":  {Type: "a"},
			"NotJSON":    {Type: "a", Payload: json.RawMessage(`{"a":`)},
			"Oversized":  {Type: "a", Payload: json.RawMessage(`"` + strings.Repeat("x", 1024) + `"`)},
			"BadUTF8":    {Type: "a\xff", Payload: json.RawMessage(`{}`)},
			"LongType":   {Type: strings.Repeat("t", 300), Payload: json.RawMessage(`{}`)},
			"LongTenant": {Type: "a", Tenant: strings.Repeat("t", 300), Payload: json.RawMessage(`{}`)},
			"NULInType":  {Type: "a\x00b", Payload: json.RawMessage(`{}`)},
			"NewlineID":  {ID: "evt\n1", Type: "a", Payload: json.RawMessage(`{}`)},
			"NULAttr":    {Type: "a", Attributes: map[string]string{"k": "v\x00"}, Payload: json.RawMessage(`{}`)},
		} {
			err := b.d.Emit(b.ctx, ev)
			require.ErrorIs(t, err, webhook.ErrInvalidEvent, name)
		}
		err := b.d.Emit(b.ctx, webhook.Event{Type: "a", Payload: json.RawMessage(`"` + strings.Repeat("x", 2000) + `"`)})
		require.ErrorIs(t, err, webhook.ErrPayloadTooLarge)

		// One bad event in a batch: nothing of the batch is stored.
		err = b.d.EmitBatch(b.ctx, []webhook.Event{
			{ID: "evt_good", Type: "a", Payload: json.RawMessage(`{}`)},
			{Type: "", Payload: json.RawMessage(`{}`)},
		})
		require.ErrorIs(t, err, webhook.ErrInvalidEvent)
		require.ErrorContains(t, err, "events[1]")
		_, err = b.d.Event(b.ctx, "evt_good")
		require.ErrorIs(t, err, webhook.ErrNotFound)
		page, err := b.d.Deliveries(b.ctx, nil)
		require.NoError(t, err)
		require.Empty(t, page.Items)
	})

	t.Run("FillsIDAndTime", func(t *testing.T) {
		t.Parallel()
		b := setup(t, webhook.Config{})
		evs := []webhook.Event{{Type: "a", Payload: json.RawMessage(`{}`)}, {Type: "a", Payload: json.RawMessage(`{}`)}}
		require.NoError(t, b.d.EmitBatch(b.ctx, evs))
		require.True(t, strings.HasPrefix(evs[0].ID, "evt_"))
		require.Less(t, evs[0].ID, evs[1].ID, "IDs sort in emission order")
		require.Equal(t, epoch, evs[0].Time)
		got, err := b.d.Event(b.ctx, evs[1].ID)
		require.NoError(t, err)
		require.Equal(t, "a", got.Type)
		require.JSONEq(t, `{}`, string(got.Payload))
	})

	t.Run("SameIDTwiceAddsNothing", func(t *testing.T) {
		t.Parallel()
		b := setup(t, webhook.Config{})
		b.addEndpoint(t, "ep", "http://127.0.0.1:1/")
		ev := webhook.Event{ID: "evt_dup", Type: "a", Payload: json.RawMessage(`{"v":1}`)}
		require.NoError(t, b.d.Emit(b.ctx, ev))
		ev.Payload = json.RawMessage(`{"v":2}`)
		require.NoError(t, b.d.Emit(b.ctx, ev))
		page, err := b.d.Deliveries(b.ctx, &webhook.ListDeliveriesParams{EventID: "evt_dup"})
		require.NoError(t, err)
		require.Len(t, page.Items, 1)
		got, err := b.d.Event(b.ctx, "evt_dup")
		require.NoError(t, err)
		require.JSONEq(t, `{"v":1}`, string(got.Payload))
	})

	t.Run("FansOutToMatchingEndpoints", func(t *testing.T) {
		t.Parallel()
		b := setup(t, webhook.Config{})
		url := "http://127.0.0.1:1/"
		b.addEndpoint(t, "all", url)
		b.addEndpoint(t, "star", url, func(e *webhook.Endpoint) { e.EventTypes = []string{"*"} })
		b.addEndpoint(t, "invoices", url, func(e *webhook.Endpoint) { e.EventTypes = []string{"invoice.*"} })
		b.addEndpoint(t, "paid", url, func(e *webhook.Endpoint) { e.EventTypes = []string{"invoice.paid"} })
		b.addEndpoint(t, "acme", url, func(e *webhook.Endpoint) { e.Tenant = "acme"; e.EventTypes = []string{"invoice.*"} })
		b.addEndpoint(t, "off", url, func(e *webhook.Endpoint) { e.Disabled = true })

		cases := []struct {
			ev   webhook.Event
			want []string
		}{
			{webhook.Event{Type: "invoice.paid"}, []string{"acme", "all", "invoices", "paid", "star"}},
			{webhook.Event{Type: "invoice.line.added"}, []string{"acme", "all", "invoices", "star"}},
			{webhook.Event{Type: "invoice"}, []string{"all", "star"}},
			{webhook.Event{Type: "invoice.paid", Tenant: "acme"}, []string{"acme"}},
			{webhook.Event{Type: "invoice.paid", Tenant: "other"}, nil},
		}
		for i, c := range cases {
			c.ev.ID = fmt.Sprintf("evt_%d", i)
			c.ev.Payload = json.RawMessage(`{}`)
			require.NoError(t, b.d.Emit(b.ctx, c.ev))
			page, err := b.d.Deliveries(b.ctx, &webhook.ListDeliveriesParams{EventID: c.ev.ID})
			require.NoError(t, err)
			var got []string
			for _, dl := range page.Items {
				got = append(got, dl.EndpointID)
				require.Equal(t, webhook.StatePending, dl.State)
			}
			require.ElementsMatch(t, c.want, got, "event %+v", c.ev)
		}
	})

	t.Run("ConcurrentEmitsShareCommits", func(t *testing.T) {
		t.Parallel()
		// The first write holds the committer until every other caller has
		// queued behind it; they must then share one write.
		ss := newSignalStore(t)
		gs := &gateStore{signalStore: ss, entered: make(chan struct{}), release: make(chan struct{})}
		d := newDispatcher(t, webhook.Config{Store: gs})
		ctx := context.Background()
		const n = 200
		emit := func(i int) error {
			return d.Emit(ctx, webhook.Event{ID: fmt.Sprintf("evt_%04d", i), Type: "a", Payload: json.RawMessage(`{}`)})
		}
		errs := make(chan error, n)
		go func() { errs <- emit(0) }()
		<-gs.entered
		for i := 1; i < n; i++ {
			go func() { errs <- emit(i) }()
		}
		for i := 0; webhook.QueuedEmits(d) < n-1; i++ {
			require.Less(t, i, 10_000_000, "emits never queued")
			runtime.Gosched()
		}
		close(gs.release)
		for range n {
			require.NoError(t, <-errs)
		}
		items, commits := 0, 0
		for items < n {
			items += <-ss.enqueues
			commits++
		}
		require.Equal(t, n, items)
		require.Equal(t, 2, commits, "the callers queued behind the first write share the next one")
		for i := range n {
			_, err := d.Event(ctx, fmt.Sprintf("evt_%04d", i))
			require.NoError(t, err)
		}
	})

	t.Run("AfterCloseIsErrClosed", func(t *testing.T) {
		t.Parallel()
		st := memstore.New()
		d, err := webhook.New(webhook.Config{Store: st})
		require.NoError(t, err)
		require.NoError(t, d.Close(context.Background()))
		err = d.Emit(context.Background(), webhook.Event{Type: "a", Payload: json.RawMessage(`{}`)})
		require.ErrorIs(t, err, webhook.ErrClosed)
		require.ErrorIs(t, d.PutEndpoint(context.Background(), webhook.Endpoint{ID: "x", URL: "https://x.example"}), webhook.ErrClosed)
		require.NoError(t, d.Close(context.Background()), "Close twice")
	})

	t.Run("WithoutStartStoresButDoesNotSend", func(t *testing.T) {
		t.Parallel()
		rc := newReceiver(t, nil)
		st := memstore.New()
		d, err := webhook.New(webhook.Config{Store: st, AllowPrivateNetworks: true})
		require.NoError(t, err)
		ctx := context.Background()
		require.NoError(t, d.PutEndpoint(ctx, webhook.Endpoint{Secrets: []webhook.Secret{{Key: testSecret}}, ID: "ep", URL: rc.URL}))
		require.NoError(t, d.Emit(ctx, webhook.Event{ID: "evt_1", Type: "a", Payload: json.RawMessage(`{}`)}))
		require.NoError(t, d.Close(ctx))
		page, err := d.Deliveries(ctx, nil)
		require.NoError(t, err)
		require.Len(t, page.Items, 1)
		require.Equal(t, webhook.StatePending, page.Items[0].State)
		require.Empty(t, rc.reqs)
	})
}

func TestPutEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t, webhook.Config{})
	good := b.addEndpoint(t, "ep", "https://hooks.example.com/in", func(e *webhook.Endpoint) {
		e.EventTypes = []string{"invoice.*"}
		e.Headers = map[string]string{"Authorization": "Bearer t"}
	})
	bad := map[string]func(*webhook.Endpoint){
		"EmptyID":         func(e *webhook.Endpoint) { e.ID = "" },
		"NoURL":           func(e *webhook.Endpoint) { e.URL = "" },
		"FTP":             func(e *webhook.Endpoint) { e.URL = "ftp://hooks.example.com/" },
		"NoHost":          func(e *webhook.Endpoint) { e.URL = "https:///path" },
		"Relative":        func(e *webhook.Endpoint) { e.URL = "/hooks" },
		"Credentials":     func(e *webhook.Endpoint) { e.URL = "https://u:p@hooks.example.com/" },
		"SecretPrefix":    func(e *webhook.Endpoint) { e.Secrets = []webhook.Secret{{Key: "sec_abc"}} },
		"SecretBase64":    func(e *webhook.Endpoint) { e.Secrets = []webhook.Secret{{Key: "whsec_!!!"}} },
		"SecretShort":     func(e *webhook.Endpoint) { e.Secrets = []webhook.Secret{{Key: "whsec_c2hvcnQ="}} },
		"Pattern":         func(e *webhook.Endpoint) { e.EventTypes = []string{"in*voice"} },
		"ReservedHeader":  func(e *webhook.Endpoint) { e.Headers = map[string]string{"webhook-id": "x"} },
		"HeaderInjection": func(e *webhook.Endpoint) { e.Headers = map[string]string{"X-A": "a\r\nX-B: b"} },
		"Settings":        func(e *webhook.Endpoint) { e.Settings = json.RawMessage(`{`) },
		"Template":        func(e *webhook.Endpoint) { e.Template = "{ a: }" },
	}
	for name, mod := range bad {
		ep := good
		ep.Secrets = append([]webhook.Secret(nil), good.Secrets...)
		mod(&ep)
		err := b.d.PutEndpoint(b.ctx, ep)
		require.ErrorIs(t, err, webhook.ErrInvalidEndpoint, name)
		require.NotContains(t, err.Error(), testSecret[6:], "no secret in errors")
		stored, err := b.d.Endpoint(b.ctx, "ep")
		require.NoError(t, err)
		require.Equal(t, good.URL, stored.URL, name)
		require.Equal(t, good.EventTypes, stored.EventTypes, name)
	}
	err := b.d.PutEndpoint(b.ctx, webhook.Endpoint{ID: "ep", URL: "https://hooks.example.com/", Secrets: []webhook.Secret{{Key: "whsec_x"}}})
	require.ErrorIs(t, err, webhook.ErrInvalidSecret)

	require.NoError(t, b.d.DeleteEndpoint(b.ctx, "ep"))
	_, err = b.d.Endpoint(b.ctx, "ep")
	require.ErrorIs(t, err, webhook.ErrNotFound)
	require.ErrorIs(t, b.d.DeleteEndpoint(b.ctx, "ep"), webhook.ErrNotFound)
}

func TestPutEndpointTemplateErrorHasPosition(t *testing.T) {
	t.Parallel()
	b := setup(t, webhook.Config{})
	err := b.d.PutEndpoint(b.ctx, webhook.Endpoint{Secrets: []webhook.Secret{{Key: testSecret}}, ID: "ep", URL: "https://hooks.example.com/", Template: "{\n  a: ,\n}"})
	require.ErrorIs(t, err, webhook.ErrInvalidEndpoint)
	var te *webhook.TemplateError
	require.ErrorAs(t, err, &te)
	require.Equal(t, 2, te.Line)
	require.Positive(t, te.Column)
	_, err = b.d.Endpoint(b.ctx, "ep")
	require.ErrorIs(t, err, webhook.ErrNotFound, "nothing stored")
}

// gateStore holds its first Enqueue until release is closed.
type gateStore struct {
	*signalStore
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (s *gateStore) Enqueue(ctx context.Context, p *webhook.EnqueueParams) error {
	first := false
	s.once.Do(func() { first = true })
	if first {
		close(s.entered)
		<-s.release
	}
	return s.signalStore.Enqueue(ctx, p)
}
