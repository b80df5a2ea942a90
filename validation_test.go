package webhook_test

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/boltstore"
	"github.com/hooklet/webhook/store/memstore"
)

// hostileBytes are the byte classes every field is tested with.
var hostileBytes = []struct{ name, s string }{
	{"NUL", "\x00"},
	{"CR", "\r"},
	{"LF", "\n"},
	{"SOH", "\x01"},
	{"DEL", "\x7f"},
	{"InvalidUTF8", "\xff"},
	{"Overlong", "\xc0\xaf"},      // "/" in two bytes
	{"Surrogate", "\xed\xa0\x80"}, // U+D800 encoded
}

// validationStores are the stores the validation tables run against: a
// field is refused before any store sees it, and what is accepted comes
// back byte for byte from each.
var validationStores = []struct {
	name string
	open func(t *testing.T) webhook.Store
}{
	{"memstore", func(t *testing.T) webhook.Store {
		st := memstore.New()
		t.Cleanup(func() { require.NoError(t, st.Close()) })
		return st
	}},
	{"boltstore", func(t *testing.T) webhook.Store {
		st, err := boltstore.Open(filepath.Join(t.TempDir(), "hooklet.db"), nil)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, st.Close()) })
		return st
	}},
}

// validEndpoint is the endpoint each case of the endpoint table alters.
func validEndpoint() webhook.Endpoint {
	return webhook.Endpoint{
		ID: "ep_1", URL: "https://hooks.example.com/in",
		Secrets: []webhook.Secret{{Key: testSecret}},
	}
}

// requireCleanError checks that an error text can go to any log: valid
// UTF-8 without control characters, whatever the input carried.
func requireCleanError(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	require.True(t, utf8.ValidString(msg), "error text is not UTF-8: %q", msg)
	for _, r := range msg {
		require.False(t, r < 0x20 || r == 0x7f, "error text carries a control character: %q", msg)
	}
}

// requireInvalid checks that err rejects field (or an element of it) as
// kind.
func requireInvalid(t *testing.T, err error, kind error, field string) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, kind)
	var ve *webhook.ValidationError
	require.True(t, errors.As(err, &ve), "not a *ValidationError: %v", err)
	require.True(t, strings.HasPrefix(ve.Field, field), "field %q, want %q: %v", ve.Field, field, err)
	requireCleanError(t, err)
}

func TestEndpointValidationHostileBytes(t *testing.T) {
	t.Parallel()
	fields := []struct {
		field  string
		set    func(ep *webhook.Endpoint, s string)
		allows string // hostile classes the field accepts, space-separated
	}{
		{"ID", func(ep *webhook.Endpoint, s string) { ep.ID = "ep" + s }, ""},
		{"Tenant", func(ep *webhook.Endpoint, s string) { ep.Tenant = "acme" + s }, ""},
		{"URL", func(ep *webhook.Endpoint, s string) { ep.URL = "https://hooks.example.com/in" + s }, ""},
		{"URL", func(ep *webhook.Endpoint, s string) { ep.URL = "https://hooks.example.com/in?q=" + s }, ""},
		{"Description", func(ep *webhook.Endpoint, s string) { ep.Description = "line" + s + "more" }, "CR LF"},
		{"EventTypes", func(ep *webhook.Endpoint, s string) { ep.EventTypes = []string{"invoice" + s + ".*"} }, ""},
		{"Template", func(ep *webhook.Endpoint, s string) { ep.Template = "// note" + s + "\n{ a: 1 }" }, "CR LF"},
		{"Template", func(ep *webhook.Endpoint, s string) { ep.Template = `{ a: "` + s + `" }` }, "CR LF"},
		{"ContentType", func(ep *webhook.Endpoint, s string) { ep.ContentType = "text/plain; x=" + s }, ""},
		{"Settings", func(ep *webhook.Endpoint, s string) { ep.Settings = json.RawMessage(`{"s":"` + s + `"}`) }, "DEL"},
		{"Headers", func(ep *webhook.Endpoint, s string) { ep.Headers = map[string]string{"Authorization": "Bearer " + s} }, ""},
		{"Headers", func(ep *webhook.Endpoint, s string) { ep.Headers = map[string]string{"X-A" + s: "v"} }, ""},
		{"Secrets", func(ep *webhook.Endpoint, s string) { ep.Secrets[0].Key = testSecret + s }, ""},
		{"Signature", func(ep *webhook.Endpoint, s string) {
			ep.Signature = webhook.SignatureScheme{Kind: webhook.SignatureHMACHex, Header: "X-Sig" + s, Prefix: "sha256="}
		}, ""},
		{"Signature", func(ep *webhook.Endpoint, s string) {
			ep.Signature = webhook.SignatureScheme{Kind: webhook.SignatureHMACHex, Header: "X-Sig", Prefix: "sha256=" + s}
		}, ""},
		{"DisabledReason", func(ep *webhook.Endpoint, s string) { ep.Disabled, ep.DisabledReason = true, "gone"+s }, ""},
	}
	for _, store := range validationStores {
		t.Run(store.name, func(t *testing.T) {
			t.Parallel()
			d := newDispatcher(t, webhook.Config{Store: store.open(t)})
			ctx := t.Context()
			for i, f := range fields {
				for _, hb := range hostileBytes {
					ep := validEndpoint()
					ep.ID = "ep_" + hb.name + "_" + string(rune('a'+i))
					f.set(&ep, hb.s)
					err := d.PutEndpoint(ctx, ep)
					if strings.Contains(" "+f.allows+" ", " "+hb.name+" ") {
						require.NoError(t, err, "%s with %s", f.field, hb.name)
						got, err := d.Endpoint(ctx, ep.ID)
						require.NoError(t, err)
						ep.CreatedAt, ep.UpdatedAt = got.CreatedAt, got.UpdatedAt
						require.Equal(t, ep, got, "%s with %s is stored byte for byte", f.field, hb.name)
						continue
					}
					require.Error(t, err, "%s with %s", f.field, hb.name)
					requireInvalid(t, err, webhook.ErrInvalidEndpoint, f.field)
					_, err = d.Endpoint(ctx, ep.ID)
					require.ErrorIs(t, err, webhook.ErrNotFound, "%s with %s was stored", f.field, hb.name)
				}
			}
		})
	}
}

func TestEndpointValidationValues(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		set   func(ep *webhook.Endpoint)
		field string // "" when the endpoint is valid
	}{
		{"Port99999", func(ep *webhook.Endpoint) { ep.URL = "https://hooks.example.com:99999/in" }, "URL"},
		{"Port65536", func(ep *webhook.Endpoint) { ep.URL = "https://hooks.example.com:65536/in" }, "URL"},
		{"Port0", func(ep *webhook.Endpoint) { ep.URL = "https://hooks.example.com:0/in" }, "URL"},
		{"PortLeadingZeros", func(ep *webhook.Endpoint) { ep.URL = "https://hooks.example.com:000443/in" }, ""},
		{"PortNonNumeric", func(ep *webhook.Endpoint) { ep.URL = "https://hooks.example.com:https/in" }, "URL"},
		{"Port65535", func(ep *webhook.Endpoint) { ep.URL = "https://hooks.example.com:65535/in" }, ""},
		{"PortEmpty", func(ep *webhook.Endpoint) { ep.URL = "https://hooks.example.com:/in" }, ""},
		{"URLUnicodePath", func(ep *webhook.Endpoint) { ep.URL = "https://hooks.example.com/é" }, ""},
		{"ContentTypeNotMedia", func(ep *webhook.Endpoint) { ep.ContentType = "plain" }, "ContentType"},
		{"ContentTypeCRLF", func(ep *webhook.Endpoint) { ep.ContentType = "text/plain\r\nX-Injected: 1" }, "ContentType"},
		{"ContentTypeValid", func(ep *webhook.Endpoint) { ep.ContentType = "application/x-ndjson; charset=utf-8" }, ""},
		{"HeaderValueTab", func(ep *webhook.Endpoint) { ep.Headers = map[string]string{"X-A": "a\tb"} }, ""},
		{"HeaderValueUnicode", func(ep *webhook.Endpoint) { ep.Headers = map[string]string{"X-A": "café ✓"} }, ""},
		{"HeaderValueSOH", func(ep *webhook.Endpoint) { ep.Headers = map[string]string{"X-A": "a\x01b"} }, "Headers"},
		{"HeaderValueDEL", func(ep *webhook.Endpoint) { ep.Headers = map[string]string{"X-A": "a\x7fb"} }, "Headers"},
		{"SecretTrailingNewline", func(ep *webhook.Endpoint) { ep.Secrets[0].Key = testSecret + "\n" }, "Secrets"},
		{"SecretTrailingCRLF", func(ep *webhook.Endpoint) { ep.Secrets[0].Key = testSecret + "\r\n" }, "Secrets"},
		{"SecretLeadingSpace", func(ep *webhook.Endpoint) { ep.Secrets[0].Key = " " + testSecret }, "Secrets"},
		{"SecretInnerNewline", func(ep *webhook.Endpoint) { ep.Secrets[0].Key = testSecret[:20] + "\n" + testSecret[20:] }, "Secrets"},
		{"SettingsEscapedNUL", func(ep *webhook.Endpoint) { ep.Settings = json.RawMessage(`{"s":"\u0000"}`) }, ""},
		{"SettingsNotJSON", func(ep *webhook.Endpoint) { ep.Settings = json.RawMessage(`{"s":`) }, "Settings"},
		{"DescriptionUnicode", func(ep *webhook.Endpoint) { ep.Description = "billing — prod ✓\n\tsecond line" }, ""},
	}
	d := newDispatcher(t, webhook.Config{Store: newSignalStore(t)})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ep := validEndpoint()
			ep.ID = "ep_" + c.name
			c.set(&ep)
			err := d.PutEndpoint(t.Context(), ep)
			if c.field == "" {
				require.NoError(t, err)
				return
			}
			requireInvalid(t, err, webhook.ErrInvalidEndpoint, c.field)
		})
	}
}

func TestEventValidationHostileBytes(t *testing.T) {
	t.Parallel()
	fields := []struct {
		field  string
		set    func(ev *webhook.Event, s string)
		allows string
	}{
		{"ID", func(ev *webhook.Event, s string) { ev.ID = "evt" + s }, ""},
		{"Type", func(ev *webhook.Event, s string) { ev.Type = "invoice" + s + ".paid" }, ""},
		{"Tenant", func(ev *webhook.Event, s string) { ev.Tenant = "acme" + s }, ""},
		{"Attributes", func(ev *webhook.Event, s string) { ev.Attributes = map[string]string{"k" + s: "v"} }, ""},
		// Values are free text: controls other than NUL are kept.
		{"Attributes", func(ev *webhook.Event, s string) { ev.Attributes = map[string]string{"k": "v" + s} }, "CR LF SOH DEL"},
		// A JSON string may hold DEL as is; the other controls must be
		// escaped, and the text must be UTF-8 (RFC 8259 8.1).
		{"Payload", func(ev *webhook.Event, s string) { ev.Payload = json.RawMessage(`{"s":"` + s + `"}`) }, "DEL"},
		{"Payload", func(ev *webhook.Event, s string) { ev.Payload = json.RawMessage(`{"k` + s + `":1}`) }, "DEL"},
	}
	for _, store := range validationStores {
		t.Run(store.name, func(t *testing.T) {
			t.Parallel()
			d := newDispatcher(t, webhook.Config{Store: store.open(t)})
			ctx := t.Context()
			for i, f := range fields {
				for _, hb := range hostileBytes {
					ev := webhook.Event{Type: "invoice.paid", Payload: json.RawMessage(`{"n":1}`), Time: epoch}
					f.set(&ev, hb.s)
					if f.field != "ID" {
						ev.ID = "evt_" + hb.name + "_" + string(rune('a'+i))
					}
					err := d.Emit(ctx, ev)
					if strings.Contains(" "+f.allows+" ", " "+hb.name+" ") {
						require.NoError(t, err, "%s with %s", f.field, hb.name)
						got, err := d.Event(ctx, ev.ID)
						require.NoError(t, err)
						require.Equal(t, ev, got, "%s with %s is stored byte for byte", f.field, hb.name)
						continue
					}
					require.Error(t, err, "%s with %s", f.field, hb.name)
					requireInvalid(t, err, webhook.ErrInvalidEvent, f.field)
				}
			}
		})
	}
}

func TestEventValidationValues(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		set   func(ev *webhook.Event)
		field string
	}{
		{"PayloadInvalidUTF8InString", func(ev *webhook.Event) { ev.Payload = json.RawMessage("{\"s\":\"\xff\"}") }, "Payload"},
		{"PayloadInvalidUTF8InKey", func(ev *webhook.Event) { ev.Payload = json.RawMessage("{\"\xfe\":1}") }, "Payload"},
		{"PayloadOverlongInString", func(ev *webhook.Event) { ev.Payload = json.RawMessage("[\"\xc0\xaf\"]") }, "Payload"},
		{"PayloadEscapedSurrogate", func(ev *webhook.Event) { ev.Payload = json.RawMessage(`{"s":"\ud800"}`) }, ""},
		{"PayloadUnicode", func(ev *webhook.Event) { ev.Payload = json.RawMessage(`{"s":"café ✓ 😀"}`) }, ""},
		{"PayloadEscapedNUL", func(ev *webhook.Event) { ev.Payload = json.RawMessage(`{"s":"\u0000"}`) }, ""},
		{"TimeYear10000", func(ev *webhook.Event) { ev.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "Time"},
		{"TimeYearMinus1", func(ev *webhook.Event) { ev.Time = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) }, "Time"},
		{"TimeYear10000InUTC", func(ev *webhook.Event) {
			ev.Time = time.Date(9999, 12, 31, 23, 0, 0, 0, time.FixedZone("minus5", -5*3600))
		}, "Time"},
		{"TimeYear9999", func(ev *webhook.Event) { ev.Time = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC) }, ""},
		{"TimeYear1", func(ev *webhook.Event) { ev.Time = time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC) }, ""},
	}
	d := newDispatcher(t, webhook.Config{Store: newSignalStore(t)})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ev := webhook.Event{ID: "evt_" + c.name, Type: "invoice.paid", Payload: json.RawMessage(`{"n":1}`)}
			c.set(&ev)
			err := d.Emit(t.Context(), ev)
			if c.field == "" {
				require.NoError(t, err)
				return
			}
			requireInvalid(t, err, webhook.ErrInvalidEvent, c.field)
		})
	}
}

// TestEventEnvelopeIsValid sends events at the edges of what is accepted
// and checks that the receiver gets UTF-8 JSON with an RFC 3339 timestamp.
func TestEventEnvelopeIsValid(t *testing.T) {
	t.Parallel()
	b := setup(t, webhook.Config{})
	rc := newReceiver(t, nil)
	b.addEndpoint(t, "ep", rc.URL)
	for i, ev := range []webhook.Event{
		{Type: "a", Time: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), Payload: json.RawMessage(`{"s":"\ud800 ✓"}`)},
		{Type: "a", Time: time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC), Payload: json.RawMessage(`["` + "\x7f" + `"]`)},
	} {
		require.NoError(t, b.d.Emit(b.ctx, ev), i)
		req := rc.next(t)
		require.True(t, utf8.Valid(req.Body), "%d: %q", i, req.Body)
		var env struct {
			Timestamp string          `json:"timestamp"`
			Data      json.RawMessage `json:"data"`
		}
		require.NoError(t, json.Unmarshal(req.Body, &env), "%d: %q", i, req.Body)
		_, err := time.Parse(time.RFC3339Nano, env.Timestamp)
		require.NoError(t, err, "%d: timestamp %q", i, env.Timestamp)
		b.nextOutcome(t)
	}
}
