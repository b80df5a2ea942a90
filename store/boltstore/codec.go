package boltstore

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"time"

	webhook "github.com/hooklet/webhook"
)

// Records are stored in a compact binary form of their own: a version byte,
// then the fields in a fixed order as varints, length-prefixed strings and
// times. Slices, maps and byte strings keep the difference between nil and
// empty. Secrets are written field by field, never through a type's own
// marshalling, so a change to how webhook.Secret prints cannot change what
// is stored.

const recordVersion = 1

// errBadRecord reports a stored record that cannot be decoded.
var errBadRecord = errors.New("malformed record")

type encoder struct{ b []byte }

func (e *encoder) byte(v byte)       { e.b = append(e.b, v) }
func (e *encoder) uvarint(v uint64)  { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) varint(v int64)    { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) int(v int)         { e.varint(int64(v)) }
func (e *encoder) float64(v float64) { e.b = binary.BigEndian.AppendUint64(e.b, math.Float64bits(v)) }

func (e *encoder) bool(v bool) {
	if v {
		e.byte(1)
	} else {
		e.byte(0)
	}
}

func (e *encoder) string(s string) {
	e.uvarint(uint64(len(s)))
	e.b = append(e.b, s...)
}

// bytes writes b, keeping nil apart from empty.
func (e *encoder) bytes(b []byte) {
	if b == nil {
		e.uvarint(0)
		return
	}
	e.uvarint(uint64(len(b)) + 1)
	e.b = append(e.b, b...)
}

// strings writes a slice of strings, keeping nil apart from empty.
func (e *encoder) strings(ss []string) {
	if ss == nil {
		e.uvarint(0)
		return
	}
	e.uvarint(uint64(len(ss)) + 1)
	for _, s := range ss {
		e.string(s)
	}
}

// stringMap writes a map in key order, keeping nil apart from empty.
func (e *encoder) stringMap(m map[string]string) {
	if m == nil {
		e.uvarint(0)
		return
	}
	e.uvarint(uint64(len(m)) + 1)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		e.string(k)
		e.string(m[k])
	}
}

func (e *encoder) time(t time.Time) {
	if t.IsZero() {
		e.byte(0)
		return
	}
	e.byte(1)
	e.varint(t.Unix())
	e.uvarint(uint64(t.Nanosecond()))
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errBadRecord
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int() int { return int(d.varint()) }

func (d *decoder) float64() float64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := math.Float64frombits(binary.BigEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}

func (d *decoder) bool() bool { return d.byte() != 0 }

// take returns the next n bytes, still pointing into the source.
func (d *decoder) take(n uint64) []byte {
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string { return string(d.take(d.uvarint())) }

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n == 0 || d.err != nil {
		return nil
	}
	return append([]byte{}, d.take(n-1)...)
}

// count reads the length of a nil-preserving collection: -1 for nil.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b))+1 { // every element takes at least one byte
		d.fail()
		return -1
	}
	return int(n) - 1
}

func (d *decoder) strings() []string {
	n := d.count()
	if n < 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = d.string()
	}
	return ss
}

// skipStrings passes over what strings reads.
func (d *decoder) skipStrings() {
	for range max(d.count(), 0) {
		d.take(d.uvarint())
	}
}

func (d *decoder) stringMap() map[string]string {
	n := d.count()
	if n < 0 {
		return nil
	}
	m := make(map[string]string, n)
	for range n {
		k := d.string()
		m[k] = d.string()
	}
	return m
}

func (d *decoder) time() time.Time {
	if d.byte() == 0 {
		return time.Time{}
	}
	sec := d.varint()
	nsec := d.uvarint()
	if nsec >= 1e9 {
		d.fail()
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (d *decoder) version() {
	if d.byte() != recordVersion {
		d.fail()
	}
}

// more reports whether bytes remain: fields added to a record later are
// read only when they do, so records written before keep decoding.
func (d *decoder) more() bool { return d.err == nil && len(d.b) > 0 }

// done reports the decoding error, if any.
func (d *decoder) done() error { return d.err }

// Delivery states as stored; unknown states are stored by name.
var stateCodes = map[webhook.DeliveryState]byte{
	webhook.StatePending:   1,
	webhook.StateSucceeded: 2,
	webhook.StateFailed:    3,
	webhook.StateSkipped:   4,
}

var stateNames = [...]webhook.DeliveryState{
	1: webhook.StatePending,
	2: webhook.StateSucceeded,
	3: webhook.StateFailed,
	4: webhook.StateSkipped,
}

// encodeDelivery encodes everything of d but its ID, which is the key.
func encodeDelivery(buf []byte, d *webhook.Delivery) []byte {
	if buf == nil {
		buf = make([]byte, 0, 64+len(d.EventID)+len(d.EndpointID)+len(d.LastError))
	}
	e := encoder{b: buf}
	e.byte(recordVersion)
	e.string(d.EventID)
	e.string(d.EndpointID)
	if c, ok := stateCodes[d.State]; ok {
		e.byte(c)
	} else {
		e.byte(0)
		e.string(string(d.State))
	}
	e.int(d.Attempts)
	e.time(d.NextAttemptAt)
	e.int(d.LastStatusCode)
	e.string(d.LastError)
	e.time(d.CreatedAt)
	e.time(d.UpdatedAt)
	// Optional fields, in the order they were added: each is written when
	// it or a later one is set.
	awaiting := d.AwaitingReport
	later := awaiting || d.BatchID != ""
	if d.Ordered || d.OrderingKey != "" || d.ScheduleStart != 0 || later {
		e.string(d.OrderingKey)
		e.bool(d.Ordered)
	}
	if d.ScheduleStart != 0 || later {
		e.int(d.ScheduleStart)
	}
	if later {
		e.bool(d.AwaitingReport)
	}
	if d.BatchID != "" {
		e.string(d.BatchID)
	}
	return e.b
}

func decodeDelivery(id string, b []byte) (webhook.Delivery, error) {
	d := decoder{b: b}
	d.version()
	dl := webhook.Delivery{ID: id}
	dl.EventID = d.string()
	dl.EndpointID = d.string()
	if c := d.byte(); c == 0 {
		dl.State = webhook.DeliveryState(d.string())
	} else if int(c) < len(stateNames) {
		dl.State = stateNames[c]
	} else {
		d.fail()
	}
	dl.Attempts = d.int()
	dl.NextAttemptAt = d.time()
	dl.LastStatusCode = d.int()
	dl.LastError = d.string()
	dl.CreatedAt = d.time()
	dl.UpdatedAt = d.time()
	if d.more() { // absent from unkeyed deliveries and older records
		dl.OrderingKey = d.string()
		dl.Ordered = d.bool()
	}
	if d.more() { // absent until a redelivery restarts the schedule
		dl.ScheduleStart = d.int()
	}
	if d.more() { // absent unless the delivery awaits a receiver's report
		dl.AwaitingReport = d.bool()
	}
	if d.more() { // absent until the delivery is sent in a batch
		dl.BatchID = d.string()
	}
	return dl, d.done()
}

// eventRecord is an event with the instant it was stored and the IDs of
// its deliveries in ID order.
type eventRecord struct {
	webhook.Event
	StoredAt   time.Time
	Deliveries []string
}

func encodeEvent(buf []byte, ev *webhook.Event, storedAt time.Time, deliveries []string) []byte {
	if buf == nil {
		n := 64 + len(ev.Type) + len(ev.Tenant) + len(ev.OrderingKey) + len(ev.Payload) + len(ev.TraceParent) + len(ev.TraceState)
		for k, v := range ev.Attributes {
			n += 4 + len(k) + len(v)
		}
		for _, id := range deliveries {
			n += 2 + len(id)
		}
		buf = make([]byte, 0, n)
	}
	e := encoder{b: buf}
	e.byte(recordVersion)
	e.string(ev.Type)
	e.string(ev.Tenant)
	e.time(ev.Time)
	e.bytes(ev.Payload)
	e.stringMap(ev.Attributes)
	e.time(storedAt)
	e.strings(deliveries)
	e.string(ev.TraceParent)
	e.string(ev.TraceState)
	if ev.OrderingKey != "" {
		e.string(ev.OrderingKey)
	}
	return e.b
}

func decodeEvent(id string, b []byte) (eventRecord, error) {
	return decodeEventRecord(id, b, true)
}

// decodeEventRecord is decodeEvent; without withDeliveries, the list of
// delivery IDs is skipped, not copied, and Deliveries is nil.
func decodeEventRecord(id string, b []byte, withDeliveries bool) (eventRecord, error) {
	d := decoder{b: b}
	d.version()
	r := eventRecord{Event: webhook.Event{ID: id}}
	r.Type = d.string()
	r.Tenant = d.string()
	r.Time = d.time()
	r.Payload = d.bytes()
	r.Attributes = d.stringMap()
	r.StoredAt = d.time()
	if withDeliveries {
		r.Deliveries = d.strings()
	} else {
		d.skipStrings()
	}
	if d.more() {
		r.TraceParent = d.string()
		r.TraceState = d.string()
	}
	if d.more() { // absent without a key, and from older records
		r.OrderingKey = d.string()
	}
	return r, d.done()
}

func encodeEndpoint(buf []byte, ep *webhook.Endpoint) []byte {
	e := encoder{b: buf}
	e.byte(recordVersion)
	e.string(ep.Tenant)
	e.string(ep.URL)
	e.string(ep.Description)
	e.strings(ep.EventTypes)
	e.string(ep.Template)
	e.string(ep.ContentType)
	e.bytes(ep.Settings)
	e.stringMap(ep.Headers)
	if ep.Secrets == nil {
		e.uvarint(0)
	} else {
		e.uvarint(uint64(len(ep.Secrets)) + 1)
		for _, s := range ep.Secrets {
			e.string(s.Key)
			e.time(s.ExpiresAt)
		}
	}
	e.bool(ep.Disabled)
	e.string(ep.DisabledReason)
	e.int(ep.MaxConcurrency)
	if r := ep.Retry; r == nil {
		e.byte(0)
	} else {
		e.byte(1)
		if r.Schedule == nil {
			e.uvarint(0)
		} else {
			e.uvarint(uint64(len(r.Schedule)) + 1)
			for _, dur := range r.Schedule {
				e.varint(int64(dur))
			}
		}
		e.float64(r.Jitter)
		e.varint(int64(r.MaxRetryAfter))
		e.bool(r.StopOnClientError)
	}
	e.time(ep.CreatedAt)
	e.time(ep.UpdatedAt)
	e.string(string(ep.Signature.Kind))
	e.string(ep.Signature.Header)
	e.string(ep.Signature.Prefix)
	e.bool(ep.Unsigned)
	e.bool(ep.Ordered)
	e.bytes(ep.Filter)
	// Lane controls and health.
	e.float64(ep.RateLimit)
	e.int(ep.RateBurst)
	e.time(ep.FailingSince)
	var quick webhook.QuickRetry
	if ep.Retry != nil {
		quick = ep.Retry.Quick
	}
	e.int(quick.Tries)
	e.varint(int64(quick.Initial))
	e.varint(int64(quick.Max))
	e.float64(quick.Jitter)
	e.varint(int64(quick.GiveUpAfter))
	// Receivers that report back.
	e.varint(int64(ep.AckTimeout))
	// Batching.
	e.int(ep.Batch.MaxEvents)
	e.int(ep.Batch.MaxBytes)
	e.varint(int64(ep.Batch.MaxWait))
	return e.b
}

func decodeEndpoint(id string, b []byte) (webhook.Endpoint, error) {
	d := decoder{b: b}
	d.version()
	ep := webhook.Endpoint{ID: id}
	ep.Tenant = d.string()
	ep.URL = d.string()
	ep.Description = d.string()
	ep.EventTypes = d.strings()
	ep.Template = d.string()
	ep.ContentType = d.string()
	ep.Settings = d.bytes()
	ep.Headers = d.stringMap()
	if n := d.count(); n >= 0 {
		ep.Secrets = make([]webhook.Secret, n)
		for i := range ep.Secrets {
			ep.Secrets[i].Key = d.string()
			ep.Secrets[i].ExpiresAt = d.time()
		}
	}
	ep.Disabled = d.bool()
	ep.DisabledReason = d.string()
	ep.MaxConcurrency = d.int()
	if d.byte() == 1 {
		r := &webhook.RetryPolicy{}
		if n := d.count(); n >= 0 {
			r.Schedule = make([]time.Duration, n)
			for i := range r.Schedule {
				r.Schedule[i] = time.Duration(d.varint())
			}
		}
		r.Jitter = d.float64()
		r.MaxRetryAfter = time.Duration(d.varint())
		r.StopOnClientError = d.bool()
		ep.Retry = r
	}
	ep.CreatedAt = d.time()
	ep.UpdatedAt = d.time()
	if d.more() { // absent from records written before signature schemes
		ep.Signature.Kind = webhook.SignatureKind(d.string())
		ep.Signature.Header = d.string()
		ep.Signature.Prefix = d.string()
	}
	if d.more() { // absent from records written before unsigned endpoints
		ep.Unsigned = d.bool()
	}
	if d.more() { // absent from records written before ordered endpoints
		ep.Ordered = d.bool()
	}
	if d.more() { // absent from records written before filters
		ep.Filter = d.bytes()
	}
	if d.more() { // absent from records written before lane controls
		ep.RateLimit = d.float64()
		ep.RateBurst = d.int()
		ep.FailingSince = d.time()
		var quick webhook.QuickRetry
		quick.Tries = d.int()
		quick.Initial = time.Duration(d.varint())
		quick.Max = time.Duration(d.varint())
		quick.Jitter = d.float64()
		quick.GiveUpAfter = time.Duration(d.varint())
		if ep.Retry != nil {
			ep.Retry.Quick = quick
		}
	}
	if d.more() { // absent from records written before receivers reported back
		ep.AckTimeout = time.Duration(d.varint())
	}
	if d.more() { // absent from records written before batching
		ep.Batch.MaxEvents = d.int()
		ep.Batch.MaxBytes = d.int()
		ep.Batch.MaxWait = time.Duration(d.varint())
	}
	return ep, d.done()
}

// encodeAttempt encodes everything of a but its delivery ID and number,
// which are the key.
func encodeAttempt(buf []byte, a *webhook.Attempt) []byte {
	if buf == nil {
		buf = make([]byte, 0, 48+len(a.ErrorClass)+len(a.Error)+len(a.ResponseBody))
	}
	e := encoder{b: buf}
	e.byte(recordVersion)
	e.time(a.StartedAt)
	e.varint(int64(a.Duration))
	e.int(a.StatusCode)
	e.string(string(a.ErrorClass))
	e.string(a.Error)
	e.bytes(a.ResponseBody)
	e.bool(a.ResponseTruncated)
	return e.b
}

func decodeAttempt(deliveryID string, number int, b []byte) (webhook.Attempt, error) {
	d := decoder{b: b}
	d.version()
	a := webhook.Attempt{DeliveryID: deliveryID, Number: number}
	a.StartedAt = d.time()
	a.Duration = time.Duration(d.varint())
	a.StatusCode = d.int()
	a.ErrorClass = webhook.ErrorClass(d.string())
	a.Error = d.string()
	a.ResponseBody = d.bytes()
	a.ResponseTruncated = d.bool()
	return a, d.done()
}

// leaseRecord is the lease held on a pending delivery.
type leaseRecord struct {
	Until time.Time
	Token string
	Owner string
}

func encodeLease(buf []byte, l *leaseRecord) []byte {
	e := encoder{b: buf}
	e.byte(recordVersion)
	e.time(l.Until)
	e.string(l.Token)
	e.string(l.Owner)
	return e.b
}

func decodeLease(b []byte) (leaseRecord, error) {
	d := decoder{b: b}
	d.version()
	var l leaseRecord
	l.Until = d.time()
	l.Token = d.string()
	l.Owner = d.string()
	return l, d.done()
}

// encodeReport encodes everything of r but its delivery ID and number,
// which are the key.
func encodeReport(buf []byte, r *webhook.Report) []byte {
	e := encoder{b: buf}
	e.byte(recordVersion)
	e.int(r.Attempt)
	e.string(string(r.Status))
	e.string(r.Message)
	e.float64(r.Progress)
	e.time(r.ReceivedAt)
	return e.b
}

func decodeReport(deliveryID string, number int, b []byte) (webhook.Report, error) {
	d := decoder{b: b}
	d.version()
	r := webhook.Report{DeliveryID: deliveryID, Number: number}
	r.Attempt = d.int()
	r.Status = webhook.ReportStatus(d.string())
	r.Message = d.string()
	r.Progress = d.float64()
	r.ReceivedAt = d.time()
	return r, d.done()
}
