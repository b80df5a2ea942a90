package webhook

import (
	"bytes"
	"sync"
	"time"
)

// bufPool holds the buffers of request and response bodies.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuf keeps oversized buffers out of the pool.
const maxPooledBuf = 1 << 20

func putBuf(b *bytes.Buffer) {
	if b.Cap() <= maxPooledBuf {
		b.Reset()
		bufPool.Put(b)
	}
}

// appendEnvelope writes the Standard Webhooks envelope
// {"type","timestamp","data"} of ev to b: the default body of a request.
func appendEnvelope(b *bytes.Buffer, ev *Event) {
	b.WriteByte('{')
	appendEnvelopeFields(b, ev)
}

// appendEnvelopeFields writes the envelope fields "type", "timestamp" and
// "data" of ev to b, and the closing brace.
func appendEnvelopeFields(b *bytes.Buffer, ev *Event) {
	b.WriteString(`"type":`)
	writeJSONString(b, ev.Type)
	b.WriteString(`,"timestamp":"`)
	b.Write(ev.Time.UTC().AppendFormat(b.AvailableBuffer(), time.RFC3339Nano))
	b.WriteString(`","data":`)
	b.Write(ev.Payload)
	b.WriteByte('}')
}

// writeJSONString writes s as a JSON string literal.
func writeJSONString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < 0x80 {
			continue
		}
		if c >= 0x80 {
			continue // UTF-8 passes through; json.Valid payloads and validated types only
		}
		b.WriteString(s[start:i])
		switch c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		}
		start = i + 1
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}
