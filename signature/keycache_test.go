package signature

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKeyCacheBounded(t *testing.T) {
	t.Parallel()
	var c keyCache
	for range keyCacheMax + 50 {
		_, err := c.get(NewSecret())
		require.NoError(t, err)
	}
	require.LessOrEqual(t, c.n.Load(), int64(keyCacheMax))
	n := 0
	c.m.Range(func(_, _ any) bool { n++; return true })
	require.Equal(t, int(c.n.Load()), n)
}
