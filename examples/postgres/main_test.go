package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hooklet/webhook/internal/pgtest"
	"github.com/hooklet/webhook/store/pgstore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestRun runs the example against the private cluster.
func TestRun(t *testing.T) {
	t.Parallel()
	require.NoError(t, run(config{dsn: pgtest.ConnString(t), schema: pgtest.NewSchema(t), events: 200}))
}

// TestRunThroughBouncer runs the example behind PgBouncer in transaction
// pooling mode, as its doc comment shows, with a direct listener
// connection and with polling.
func TestRunThroughBouncer(t *testing.T) {
	t.Parallel()
	direct := pgtest.ConnString(t)
	dsn := pgtest.NewBouncer(t, direct).ConnString() + "&default_query_exec_mode=cache_describe"
	for name, opts := range map[string]pgstore.Options{
		"Listener": {ListenerConnString: direct},
		"Poll":     {PollInterval: 100 * time.Millisecond},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.NoError(t, run(config{dsn: dsn, schema: pgtest.NewSchema(t), events: 200, store: opts}))
		})
	}
}
