package boltstore

import (
	"bytes"
	"testing"
	"time"

	webhook "github.com/hooklet/webhook"
)

// fuzzRecords returns one encoded record of each kind, the seeds of
// FuzzDecodeRecord beside its committed corpus in testdata/fuzz.
func fuzzRecords() [][]byte {
	ts := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.UTC)
	ep := webhook.Endpoint{
		ID: "ep", Tenant: "t", URL: "https://x", Description: "d", EventTypes: []string{"a.*"},
		Template: "tpl", ContentType: "text/plain", Settings: []byte(`{"k":1}`),
		Headers: map[string]string{"Authorization": "Bearer x"},
		Secrets: []webhook.Secret{{Key: "whsec_k", ExpiresAt: ts}}, Disabled: true, DisabledReason: "410 Gone",
		MaxConcurrency: 3, Retry: &webhook.RetryPolicy{Schedule: []time.Duration{time.Second}, Jitter: 0.5},
		CreatedAt: ts, UpdatedAt: ts,
		Signature: webhook.SignatureScheme{Kind: webhook.SignatureHMACHex, Header: "X-Sig", Prefix: "sha256="},
	}
	ev := webhook.Event{ID: "evt", Type: "a.b", Tenant: "t", Time: ts, Payload: []byte(`{"n":1}`),
		Attributes: map[string]string{"k": "v"}}
	dl := webhook.Delivery{ID: "dlv", EventID: "evt", EndpointID: "ep", State: webhook.StatePending, Attempts: 2,
		NextAttemptAt: ts, LastStatusCode: 503, LastError: "boom", CreatedAt: ts, UpdatedAt: ts}
	custom := dl
	custom.State = "custom"
	at := webhook.Attempt{DeliveryID: "dlv", Number: 1, StartedAt: ts, Duration: time.Second, StatusCode: 500,
		ErrorClass: webhook.ClassTimeout, Error: "timeout", ResponseBody: []byte("x"), ResponseTruncated: true}
	return [][]byte{
		encodeEndpoint(nil, &ep),
		encodeEndpoint(nil, &webhook.Endpoint{ID: "min", URL: "https://x"}),
		encodeEvent(nil, &ev, ts, []string{"dlv_1", "dlv_2"}),
		encodeDelivery(nil, &dl),
		encodeDelivery(nil, &custom),
		encodeAttempt(nil, &at),
		encodeLease(nil, &leaseRecord{Until: ts, Token: "tok", Owner: "me"}),
	}
}

// FuzzDecodeRecord feeds arbitrary bytes to every record decoder: each
// must return a value or an error, never panic, and a value it returns
// must encode to bytes that decode to the same value.
func FuzzDecodeRecord(f *testing.F) {
	for _, b := range fuzzRecords() {
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if ep, err := decodeEndpoint("ep", b); err == nil {
			requireStable(t, "endpoint", encodeEndpoint(nil, &ep), func(b []byte) ([]byte, error) {
				ep, err := decodeEndpoint("ep", b)
				return encodeEndpoint(nil, &ep), err
			})
		}
		if r, err := decodeEvent("evt", b); err == nil {
			requireStable(t, "event", encodeEvent(nil, &r.Event, r.StoredAt, r.Deliveries), func(b []byte) ([]byte, error) {
				r, err := decodeEvent("evt", b)
				return encodeEvent(nil, &r.Event, r.StoredAt, r.Deliveries), err
			})
		}
		if dl, err := decodeDelivery("dlv", b); err == nil {
			requireStable(t, "delivery", encodeDelivery(nil, &dl), func(b []byte) ([]byte, error) {
				dl, err := decodeDelivery("dlv", b)
				return encodeDelivery(nil, &dl), err
			})
		}
		if a, err := decodeAttempt("dlv", 1, b); err == nil {
			requireStable(t, "attempt", encodeAttempt(nil, &a), func(b []byte) ([]byte, error) {
				a, err := decodeAttempt("dlv", 1, b)
				return encodeAttempt(nil, &a), err
			})
		}
		if l, err := decodeLease(b); err == nil {
			requireStable(t, "lease", encodeLease(nil, &l), func(b []byte) ([]byte, error) {
				l, err := decodeLease(b)
				return encodeLease(nil, &l), err
			})
		}
	})
}

// requireStable checks that a record re-encoded from a decoded value
// decodes and re-encodes to the same bytes. Bytes are compared rather than
// values, so a NaN jitter compares equal to itself.
func requireStable(t *testing.T, kind string, enc []byte, roundTrip func([]byte) ([]byte, error)) {
	t.Helper()
	again, err := roundTrip(enc)
	if err != nil {
		t.Fatalf("%s: a re-encoded record does not decode: %v", kind, err)
	}
	if !bytes.Equal(enc, again) {
		t.Fatalf("%s: re-encoding is not stable:\n%x\n%x", kind, enc, again)
	}
}
