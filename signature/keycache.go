package signature

import (
	"sync"
	"sync/atomic"
)

// keyCacheMax bounds the number of parsed keys kept in memory.
const keyCacheMax = 4096

// keys caches parsed keys by their text, so the signing and verifying hot
// paths never decode a key or repeat an HMAC key schedule.
var keys keyCache

// keyCache is a bounded map from key text to *Key. When full, it evicts an
// arbitrary entry; an evicted key is simply parsed again.
type keyCache struct {
	m sync.Map // string -> *Key
	n atomic.Int64
}

func (c *keyCache) get(s string) (*Key, error) {
	if v, ok := c.m.Load(s); ok {
		return v.(*Key), nil
	}
	k, err := parseKey(s)
	if err != nil {
		return nil, err
	}
	if c.n.Load() >= keyCacheMax {
		c.m.Range(func(key, _ any) bool {
			if _, loaded := c.m.LoadAndDelete(key); loaded {
				c.n.Add(-1)
			}
			return false
		})
	}
	if v, loaded := c.m.LoadOrStore(s, k); loaded {
		return v.(*Key), nil
	}
	c.n.Add(1)
	return k, nil
}
