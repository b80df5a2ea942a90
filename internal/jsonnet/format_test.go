package jsonnet

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFormatMaxWidth(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{
		"": 0, "abc": 0, "%d": 0, "%%": 0, "%5d": 5, "%-12s %3d": 12, "%.7f": 7, "%08.3f": 8,
		"%(name)20s": 20, "%*d": -1, "%.*f": -1, "%99999999999999d": 1<<30 + 0, "50%": 0,
	} {
		got := formatMaxWidth(in)
		if in == "%99999999999999d" {
			require.GreaterOrEqual(t, got, 1<<30, in)
			continue
		}
		require.Equal(t, want, got, in)
	}
}
