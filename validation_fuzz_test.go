package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/memstore"
)

// fuzzDispatcher returns a Dispatcher on a fresh memstore for a fuzz
// target, closed with it.
func fuzzDispatcher(f *testing.F) *webhook.Dispatcher {
	st := memstore.New()
	d, err := webhook.New(webhook.Config{Store: st})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		if err := d.Close(context.Background()); err != nil {
			f.Error(err)
		}
		if err := st.Close(); err != nil {
			f.Error(err)
		}
	})
	return d
}

// checkRefusal fails unless err is of kind and its text is clean.
func checkRefusal(t *testing.T, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error is not %v: %v", kind, err)
	}
	var ve *webhook.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("not a *ValidationError: %v", err)
	}
	msg := err.Error()
	if !utf8.ValidString(msg) {
		t.Fatalf("error text is not UTF-8: %q", msg)
	}
	for _, r := range msg {
		if r < 0x20 || r == 0x7f {
			t.Fatalf("error text carries a control character: %q", msg)
		}
	}
}

// FuzzPutEndpoint saves endpoints built from arbitrary field values: each
// is either stored, and then reads back as given and saves again, or
// refused with ErrInvalidEndpoint, leaving the store as it was. Nothing
// panics.
func FuzzPutEndpoint(f *testing.F) {
	f.Add("ep_1", "", "https://hooks.example.com/in", "", "", "Authorization", "Bearer x", testSecret, []byte(nil), "", "", "", false, false)
	f.Add("ep_2", "acme", "https://hooks.example.com:8443/in?x=1", "billing\nprod", "text/plain; charset=utf-8", "X-A", "a\tb",
		"raw shared secret", []byte(`{"region":"eu"}`), "{ a: 1 }", "X-Sig", "sha256=", true, false)
	f.Add("ep\x00", "t\r\n", "https://hooks.example.com:99999/", "\xff", "text/plain\r\nX: 1", "X-A\n", "v\x01\x7f",
		testSecret+"\n", []byte("{\"s\":\"\xff\"}"), "local x = \x00;", "X\x00", "p\x7f", false, false)
	f.Add("ep_3", "", "http://127.0.0.1/", "", "", "", "", "", []byte(nil), "", "", "", true, true)
	f.Add("ep_5", "", "https://hooks.example.com/", "", "", "", "", "", []byte(nil), "", "", "", false, true)
	f.Add("ep_4", "", "https://[::7f00:1]/", "", "", "", "", "whpk_MCowBQYDK2VwAyEA", []byte(`[]`), "", "", "", false, false)
	d := fuzzDispatcher(f)
	f.Fuzz(func(t *testing.T, id, tenant, rawURL, desc, contentType, hName, hValue, secret string,
		settings []byte, tmpl, sigHeader, sigPrefix string, hmacHex, unsigned bool) {
		ctx := context.Background()
		ep := webhook.Endpoint{ID: id, Tenant: tenant, URL: rawURL, Description: desc, ContentType: contentType,
			Template: tmpl, Unsigned: unsigned}
		if settings != nil {
			ep.Settings = json.RawMessage(settings)
		}
		if hName != "" {
			ep.Headers = map[string]string{hName: hValue}
		}
		if secret != "" {
			ep.Secrets = []webhook.Secret{{Key: secret}}
		}
		if hmacHex {
			ep.Signature = webhook.SignatureScheme{Kind: webhook.SignatureHMACHex, Header: sigHeader, Prefix: sigPrefix}
		}
		before, beforeErr := d.Endpoint(ctx, id)
		err := d.PutEndpoint(ctx, ep)
		after, afterErr := d.Endpoint(ctx, id)
		if err != nil {
			checkRefusal(t, err, webhook.ErrInvalidEndpoint)
			if (beforeErr == nil) != (afterErr == nil) || beforeErr == nil && !before.UpdatedAt.Equal(after.UpdatedAt) {
				t.Fatalf("a refused endpoint changed the store: %v", err)
			}
			return
		}
		if afterErr != nil {
			t.Fatalf("an accepted endpoint does not read back: %v", afterErr)
		}
		ep.CreatedAt, ep.UpdatedAt = after.CreatedAt, after.UpdatedAt
		if !reflect.DeepEqual(ep, after) {
			t.Fatalf("stored endpoint differs:\n%#v\n%#v", ep, after)
		}
		if err := d.PutEndpoint(ctx, after); err != nil {
			t.Fatalf("a stored endpoint does not save again: %v", err)
		}
	})
}

// FuzzEmit emits events built from arbitrary field values: each is either
// stored, as given, with a UTF-8 JSON payload and a time an RFC 3339
// timestamp can carry, or refused with ErrInvalidEvent. Nothing panics.
func FuzzEmit(f *testing.F) {
	f.Add("", "invoice.paid", "", []byte(`{"id":"in_1"}`), int64(0), int64(0), "", "")
	f.Add("evt_1", "a", "acme", []byte(`{"s":"\ud800 ✓"}`), int64(1767323045), int64(5), "corr", "x\ny")
	f.Add("evt\x00", "a\r\n", "t\xff", []byte("{\"s\":\"\xff\"}"), int64(253402300800), int64(0), "k\x01", "v\x00")
	f.Add("evt_2", "a", "", []byte("[\"\xc0\xaf\"]"), int64(-62167219201), int64(0), "", "")
	d := fuzzDispatcher(f)
	f.Fuzz(func(t *testing.T, id, typ, tenant string, payload []byte, sec, nsec int64, attrK, attrV string) {
		ev := webhook.Event{ID: id, Type: typ, Tenant: tenant, Payload: json.RawMessage(payload)}
		if sec != 0 || nsec != 0 {
			ev.Time = time.Unix(sec, nsec).UTC()
		}
		if attrK != "" {
			ev.Attributes = map[string]string{attrK: attrV}
		}
		evs := []webhook.Event{ev}
		err := d.EmitBatch(context.Background(), evs)
		if err != nil {
			checkRefusal(t, err, webhook.ErrInvalidEvent)
			return
		}
		got, err := d.Event(context.Background(), evs[0].ID)
		if err != nil {
			t.Fatalf("an accepted event does not read back: %v", err)
		}
		if !utf8.Valid(got.Payload) || !json.Valid(got.Payload) {
			t.Fatalf("stored payload is not UTF-8 JSON: %q", got.Payload)
		}
		if y := got.Time.UTC().Year(); y < 0 || y > 9999 {
			t.Fatalf("stored time %v has no RFC 3339 form", got.Time)
		}
		if _, err := time.Parse(time.RFC3339Nano, got.Time.Format(time.RFC3339Nano)); err != nil {
			t.Fatalf("stored time %v: %v", got.Time, err)
		}
		if id != "" && got.ID != id {
			t.Fatalf("event ID %q stored as %q", id, got.ID)
		}
	})
}
