package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestModes runs every mode briefly, so the load test cannot rot.
func TestModes(t *testing.T) {
	t.Parallel()
	*n, *dur, *warmup, *rate, *emitters, *workers, *poolSize = 300, 300*time.Millisecond, 100*time.Millisecond, 200, 8, 16, 8
	*stageLog = true // the latency mode splits its figure into stages too
	url := pgtest.ConnString(t)
	rc, err := startReceiver()
	require.NoError(t, err)
	t.Cleanup(rc.close)
	require.NoError(t, runMode("emit", 1, url, rc))
	for _, mode := range []string{"drain", "stream", "latency"} {
		for k := 1; k <= 2; k++ {
			require.NoError(t, runMode(mode, k, url, rc), "%s with %d", mode, k)
		}
	}
}
