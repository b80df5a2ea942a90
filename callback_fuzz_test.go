package webhook_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/memstore"
	"github.com/hooklet/webhook/webhooktest"
)

// FuzzCallbackHandler posts arbitrary bodies to arbitrary callback paths,
// some naming the delivery that awaits a report: the handler never
// panics, answers with a client error, and changes nothing, since no
// input carries the one token the delivery awaits.
func FuzzCallbackHandler(f *testing.F) {
	ms := memstore.New()
	st := &signalStore{Store: ms, outcomes: make(chan webhook.Outcome, 100), enqueues: make(chan int, 100)}
	d, err := webhook.New(webhook.Config{Store: &reportingStore{signalStore: st, Reporter: ms},
		CallbackURL: callbackBase, AllowPrivateNetworks: true,
		Test: webhook.TestConfig{Clock: webhooktest.NewClock(epoch)}})
	if err != nil {
		f.Fatal(err)
	}
	rc := httptest.NewServer(http.HandlerFunc(accepted))
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := d.Close(ctx); err != nil {
			f.Error(err)
		}
		rc.Close()
		if err := ms.Close(); err != nil {
			f.Error(err)
		}
	})
	ctx := context.Background()
	if err := d.Start(ctx); err != nil {
		f.Fatal(err)
	}
	if err := d.PutEndpoint(ctx, webhook.Endpoint{ID: "ep", URL: rc.URL, Unsigned: true, AckTimeout: time.Hour}); err != nil {
		f.Fatal(err)
	}
	evs := []webhook.Event{{ID: "evt_fuzz", Type: "a", Payload: []byte(`{}`)}}
	if err := d.EmitBatch(ctx, evs); err != nil {
		f.Fatal(err)
	}
	select {
	case <-st.outcomes:
	case <-time.After(waitTimeout):
		f.Fatal("no outcome in time")
	}
	page, err := d.Deliveries(ctx, &webhook.ListDeliveriesParams{EventID: "evt_fuzz"})
	if err != nil || len(page.Items) != 1 || !page.Items[0].AwaitingReport {
		f.Fatalf("the delivery does not await a report: %v %+v", err, page.Items)
	}
	want := page.Items[0]
	handler := d.CallbackHandler()

	// The seeds in testdata/fuzz/FuzzCallbackHandler name the delivery by
	// its placeholder "{id}".
	f.Fuzz(func(t *testing.T, path string, body []byte) {
		path = string(bytes.ReplaceAll([]byte(path), []byte("{id}"), []byte(want.ID)))
		req, err := http.NewRequest(http.MethodPost, callbackBase+"/"+path, bytes.NewReader(body))
		if err != nil {
			return // not a URL a client could send
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("path %q body %q: answered %d", path, body, rec.Code)
		}
		got, err := d.Delivery(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("path %q body %q changed the delivery: %+v", path, body, got)
		}
		reps, err := d.Reports(ctx, &webhook.ListReportsParams{DeliveryID: want.ID})
		if err != nil || len(reps.Items) != 0 {
			t.Fatalf("path %q body %q recorded a report: %v %+v", path, body, err, reps.Items)
		}
	})
}
