package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestRun runs the example against the private cluster.
func TestRun(t *testing.T) {
	t.Parallel()
	require.NoError(t, run(pgtest.ConnString(t), pgtest.NewSchema(t), 200, false))
}
