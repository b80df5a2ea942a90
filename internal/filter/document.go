package filter

import (
	"slices"
	"strings"
	"time"
)

// Document is the event a filter is evaluated against, seen as the JSON
// object
//
//	{"id", "type", "tenant", "time", "attributes": {...}, "data": <payload>}
//
// tenant is absent when empty; time is an RFC 3339 string in UTC;
// attributes is an object of strings, present even when empty; data is
// the payload, parsed on first use and at most once, and absent if it
// does not parse. A Document is not safe for concurrent use: evaluate it
// from one goroutine, or call [Document.Prepare] first.
type Document struct {
	ID         string
	Type       string
	Tenant     string
	Time       time.Time
	Attributes map[string]string
	Data       []byte

	built bool
	top   [5]member // id, type, tenant, time, attributes
	data  value
	state dataState
}

type dataState uint8

const (
	dataUnparsed dataState = iota
	dataParsed
	dataInvalid
)

// Prepare decodes everything a filter may read, so that the Document can
// then be evaluated from several goroutines at once.
func (d *Document) Prepare() {
	d.build()
	d.payload()
}

// Parsed reports whether the payload has been parsed.
func (d *Document) Parsed() bool { return d.state != dataUnparsed }

func (d *Document) build() {
	if d.built {
		return
	}
	d.built = true
	d.top[0] = member{"id", value{k: kindString, s: d.ID}}
	d.top[1] = member{"type", value{k: kindString, s: d.Type}}
	d.top[2] = member{"tenant", value{k: kindString, s: d.Tenant}}
	d.top[3] = member{"time", value{k: kindString, s: d.Time.UTC().Format(time.RFC3339Nano)}}
	attrs := value{k: kindObject, obj: make([]member, 0, len(d.Attributes))}
	for k, v := range d.Attributes {
		attrs.obj = append(attrs.obj, member{k, value{k: kindString, s: v}})
	}
	// Sorted, so that evaluation does not depend on map order.
	slices.SortFunc(attrs.obj, func(a, b member) int { return strings.Compare(a.key, b.key) })
	d.top[4] = member{"attributes", attrs}
}

func (d *Document) payload() (*value, bool) {
	switch d.state {
	case dataUnparsed:
		v, err := parse(d.Data, maxParseDepth)
		if err != nil {
			d.state = dataInvalid
			return nil, false
		}
		d.data, d.state = v, dataParsed
	case dataInvalid:
		return nil, false
	}
	return &d.data, true
}

// field returns the top-level member named key.
func (d *Document) field(key string) (*value, bool) {
	switch key {
	case "data":
		return d.payload()
	case "tenant":
		if d.Tenant == "" {
			return nil, false
		}
	}
	d.build()
	for i := range d.top {
		if d.top[i].key == key {
			return &d.top[i].val, true
		}
	}
	return nil, false
}
