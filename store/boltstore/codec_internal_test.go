package boltstore

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/hooklet/webhook"
)

// TestCodecCoversEveryField fails when a record type gains a field that the
// codec does not store, so that no field is silently dropped.
func TestCodecCoversEveryField(t *testing.T) {
	t.Parallel()
	stored := map[reflect.Type][]string{
		reflect.TypeFor[webhook.Endpoint](): {"ID", "Tenant", "URL", "Description", "EventTypes", "Template",
			"ContentType", "Settings", "Headers", "Secrets", "Disabled", "DisabledReason", "MaxConcurrency",
			"Retry", "CreatedAt", "UpdatedAt", "Signature", "Unsigned", "Ordered", "Filter", "RateLimit",
			"RateBurst", "FailingSince", "AckTimeout", "Batch"},
		reflect.TypeFor[webhook.Secret]():          {"Key", "ExpiresAt"},
		reflect.TypeFor[webhook.SignatureScheme](): {"Kind", "Header", "Prefix"},
		reflect.TypeFor[webhook.RetryPolicy]():     {"Schedule", "Jitter", "MaxRetryAfter", "StopOnClientError", "Quick"},
		reflect.TypeFor[webhook.QuickRetry]():      {"Tries", "Initial", "Max", "Jitter", "GiveUpAfter"},
		reflect.TypeFor[webhook.BatchPolicy]():     {"MaxEvents", "MaxBytes", "MaxWait"},
		reflect.TypeFor[webhook.Event](): {"ID", "Type", "Tenant", "OrderingKey", "Time", "Payload", "Attributes",
			"TraceParent", "TraceState"},
		reflect.TypeFor[webhook.Delivery](): {"ID", "EventID", "EndpointID", "State", "Attempts", "NextAttemptAt",
			"LastStatusCode", "LastError", "CreatedAt", "UpdatedAt", "OrderingKey", "Ordered", "ScheduleStart", "AwaitingReport", "BatchID"},
		reflect.TypeFor[webhook.Report](): {"DeliveryID", "Number", "Attempt", "Status", "Message", "Progress", "ReceivedAt"},
		reflect.TypeFor[webhook.Attempt](): {"DeliveryID", "Number", "StartedAt", "Duration", "StatusCode",
			"ErrorClass", "Error", "ResponseBody", "ResponseTruncated"},
	}
	for typ, fields := range stored {
		for i := range typ.NumField() {
			name := typ.Field(i).Name
			require.True(t, slices.Contains(fields, name),
				"%s.%s is not stored by the boltstore codec: add it to codec.go, after the fields already there, read only when the record has more bytes", typ.Name(), name)
		}
	}
}

func TestCodecRoundTrip(t *testing.T) {
	t.Parallel()
	ts := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.UTC)
	ep := webhook.Endpoint{
		ID: "ep", Tenant: "t", URL: "https://x", Description: "d", EventTypes: []string{},
		Template: "tpl", ContentType: "text/plain", Settings: []byte(`{}`), Headers: map[string]string{},
		Secrets: []webhook.Secret{{Key: "whsec_k", ExpiresAt: ts}}, Disabled: true, DisabledReason: "410 Gone",
		MaxConcurrency: 3, Retry: &webhook.RetryPolicy{Jitter: -1, MaxRetryAfter: time.Minute,
			Quick: webhook.QuickRetry{Tries: 3, Initial: time.Millisecond, Max: time.Second, Jitter: 0.5, GiveUpAfter: 4 * time.Second}},
		RateLimit: 12.5, RateBurst: 4, FailingSince: ts.Add(-2 * time.Hour),
		CreatedAt: ts, UpdatedAt: ts.Add(-time.Hour),
		Signature:  webhook.SignatureScheme{Kind: webhook.SignatureHMACHex, Header: "X-Sig", Prefix: "sha256="},
		Unsigned:   true,
		Ordered:    true,
		Filter:     []byte(`{"data.a":1}`),
		AckTimeout: 15 * time.Minute,
		Batch:      webhook.BatchPolicy{MaxEvents: 500, MaxBytes: 1 << 20, MaxWait: 1500 * time.Millisecond},
	}
	got, err := decodeEndpoint("ep", encodeEndpoint(nil, &ep))
	require.NoError(t, err)
	require.Equal(t, ep, got)

	d := webhook.Delivery{ID: "dlv", EventID: "evt", EndpointID: "ep", State: "custom", Attempts: 2,
		NextAttemptAt: ts, LastStatusCode: 503, LastError: "boom", CreatedAt: ts, UpdatedAt: ts}
	gotD, err := decodeDelivery("dlv", encodeDelivery(nil, &d))
	require.NoError(t, err)
	require.Equal(t, d, gotD)
	d.OrderingKey, d.Ordered = "customer_42", true
	gotD, err = decodeDelivery("dlv", encodeDelivery(nil, &d))
	require.NoError(t, err)
	require.Equal(t, d, gotD)
	d.OrderingKey, d.Ordered, d.ScheduleStart = "", false, 8
	gotD, err = decodeDelivery("dlv", encodeDelivery(nil, &d))
	require.NoError(t, err)
	require.Equal(t, d, gotD)
	d.ScheduleStart, d.AwaitingReport = 0, true
	gotD, err = decodeDelivery("dlv", encodeDelivery(nil, &d))
	require.NoError(t, err)
	require.Equal(t, d, gotD)
	d.AwaitingReport, d.BatchID = false, "batch_1"
	gotD, err = decodeDelivery("dlv", encodeDelivery(nil, &d))
	require.NoError(t, err)
	require.Equal(t, d, gotD)
	// A record written before batches ends after the awaiting flag.
	d.BatchID = ""
	old := encodeDelivery(nil, &webhook.Delivery{EventID: "evt", EndpointID: "ep", State: webhook.StatePending, AwaitingReport: true})
	gotD, err = decodeDelivery("dlv", old)
	require.NoError(t, err)
	require.Empty(t, gotD.BatchID)
	require.True(t, gotD.AwaitingReport)

	rep := webhook.Report{DeliveryID: "dlv", Number: 3, Attempt: 2, Status: webhook.ReportRunning,
		Message: "half", Progress: 0.5, ReceivedAt: ts}
	gotR, err := decodeReport("dlv", 3, encodeReport(nil, &rep))
	require.NoError(t, err)
	require.Equal(t, rep, gotR)

	ev := webhook.Event{ID: "evt", Type: "invoice.paid", Tenant: "t", OrderingKey: "customer_42", Time: ts,
		Payload: []byte(`{}`), Attributes: map[string]string{"a": "b"}}
	gotE, err := decodeEvent("evt", encodeEvent(nil, &ev, ts, []string{"dlv"}))
	require.NoError(t, err)
	require.Equal(t, ev, gotE.Event)

	a := webhook.Attempt{DeliveryID: "dlv", Number: 4, StartedAt: ts, Duration: time.Second, StatusCode: 0,
		ErrorClass: webhook.ClassTimeout, Error: "timeout", ResponseBody: []byte{}, ResponseTruncated: true}
	gotA, err := decodeAttempt("dlv", 4, encodeAttempt(nil, &a))
	require.NoError(t, err)
	require.Equal(t, a, gotA)

	// Truncated records are errors, never panics; the exceptions are a
	// record cut right before the signature scheme, the unsigned flag, the
	// ordered flag, the filter, the lane controls, the ack timeout or the batch policy, which is how records
	// written before those fields existed look.
	full := encodeEndpoint(nil, &ep)
	var lane encoder
	lane.float64(ep.RateLimit)
	lane.int(ep.RateBurst)
	lane.time(ep.FailingSince)
	q := ep.Retry.Quick
	lane.int(q.Tries)
	lane.varint(int64(q.Initial))
	lane.varint(int64(q.Max))
	lane.float64(q.Jitter)
	lane.varint(int64(q.GiveUpAfter))
	var ack encoder
	ack.varint(int64(ep.AckTimeout))
	var batch encoder
	batch.int(ep.Batch.MaxEvents)
	batch.int(ep.Batch.MaxBytes)
	batch.varint(int64(ep.Batch.MaxWait))
	beforeBatch := len(full) - len(batch.b)
	beforeAck := beforeBatch - len(ack.b)
	beforeLanes := beforeAck - len(lane.b)
	sig := ep.Signature
	beforeFilter := beforeLanes - (1 + len(ep.Filter))
	beforeOrdered := beforeFilter - 1
	beforeUnsigned := beforeOrdered - 1
	beforeSignature := beforeUnsigned - (3 + len(sig.Kind) + len(sig.Header) + len(sig.Prefix))
	for i := range full {
		got, err := decodeEndpoint("ep", full[:i])
		switch i {
		case beforeSignature:
			require.NoError(t, err)
			require.Zero(t, got.Signature)
			require.False(t, got.Unsigned)
			require.Nil(t, got.Filter)
			continue
		case beforeUnsigned:
			require.NoError(t, err)
			require.Equal(t, sig, got.Signature)
			require.False(t, got.Unsigned)
			continue
		case beforeOrdered:
			require.NoError(t, err)
			require.True(t, got.Unsigned)
			require.False(t, got.Ordered)
			require.Nil(t, got.Filter)
			continue
		case beforeFilter:
			require.NoError(t, err)
			require.True(t, got.Ordered)
			require.Nil(t, got.Filter)
			continue
		case beforeLanes:
			require.NoError(t, err)
			require.Equal(t, ep.Filter, got.Filter)
			require.Zero(t, got.RateLimit)
			require.Zero(t, got.FailingSince)
			require.Zero(t, got.Retry.Quick)
			continue
		case beforeAck:
			require.NoError(t, err)
			require.Equal(t, ep.RateLimit, got.RateLimit)
			require.Zero(t, got.AckTimeout)
			continue
		case beforeBatch:
			require.NoError(t, err)
			require.Equal(t, ep.AckTimeout, got.AckTimeout)
			require.Zero(t, got.Batch)
			continue
		}
		require.Error(t, err)
	}
}
