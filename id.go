package webhook

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"
)

// Identifiers are ULID-shaped: 48 bits of milliseconds then 80 bits of
// randomness, in Crockford base32, behind a type prefix. Within one
// millisecond the random part increases monotonically, so IDs made by one
// process sort in creation order and cursors over them are stable.

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// idGen makes monotonic ULID-shaped identifiers.
type idGen struct {
	mu     sync.Mutex
	lastMS uint64
	hi     uint16 // top 16 of the 80 random bits
	lo     uint64 // low 64 of the 80 random bits
}

var ids idGen

// next returns prefix followed by a 26-character ULID for time t.
func (g *idGen) next(prefix string, t time.Time) string {
	ms := uint64(t.UnixMilli())
	g.mu.Lock()
	if ms <= g.lastMS {
		ms = g.lastMS
		g.lo++
		if g.lo == 0 {
			g.hi++
		}
	} else {
		var b [10]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
		g.lastMS = ms
		g.hi = binary.BigEndian.Uint16(b[:2]) & 0x7fff // leave room to increment
		g.lo = binary.BigEndian.Uint64(b[2:])
	}
	hi, lo := g.hi, g.lo
	g.mu.Unlock()

	var raw [16]byte
	raw[0] = byte(ms >> 40)
	raw[1] = byte(ms >> 32)
	raw[2] = byte(ms >> 24)
	raw[3] = byte(ms >> 16)
	raw[4] = byte(ms >> 8)
	raw[5] = byte(ms)
	binary.BigEndian.PutUint16(raw[6:8], hi)
	binary.BigEndian.PutUint64(raw[8:], lo)

	out := make([]byte, len(prefix)+26)
	copy(out, prefix)
	encodeULID(out[len(prefix):], raw)
	return string(out)
}

// encodeULID writes the 128-bit value as 26 Crockford base32 characters.
func encodeULID(dst []byte, v [16]byte) {
	hi := binary.BigEndian.Uint64(v[:8])
	lo := binary.BigEndian.Uint64(v[8:])
	// 26 chars * 5 bits = 130 bits; the first char carries the top 3 bits.
	for i := 25; i >= 0; i-- {
		dst[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
}
