package pgtest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"
)

var shared struct {
	once    sync.Once
	cluster *Cluster
	url     string
	err     error
}

// Main runs the tests of a package that uses the shared cluster, stops the
// cluster, checks for leaked goroutines (with goleak and opts), and exits.
// Call it from TestMain.
func Main(m *testing.M, opts ...goleak.Option) {
	code := m.Run()
	stopShared()
	if code == 0 {
		if err := goleak.Find(opts...); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

func stopShared() {
	if shared.cluster != nil {
		shared.cluster.Destroy()
	}
}

// ConnString returns the connection string of the shared database: the
// private cluster, started on first use, or HOOKLET_TEST_DATABASE_URL. It
// fails the test when neither is available.
func ConnString(t testing.TB) string {
	t.Helper()
	shared.once.Do(func() {
		if url := os.Getenv(EnvDatabaseURL); url != "" {
			shared.url = url
			return
		}
		shared.cluster, shared.err = StartCluster()
		if shared.err == nil {
			shared.url = shared.cluster.ConnString()
		}
	})
	if shared.err != nil {
		t.Fatalf("%v", shared.err)
	}
	return shared.url
}

// NewCluster starts a private cluster of the test's own, destroyed at
// cleanup, for tests that stop or restart the server. It fails the test when
// the binaries are missing, except that outside CI (CI=true) a run pointed
// at HOOKLET_TEST_DATABASE_URL skips it.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	if os.Getenv(EnvDatabaseURL) != "" && os.Getenv("CI") != "true" {
		if _, err := findBinaries(); err != nil {
			t.Skipf("this test stops and starts a server of its own: %v", err)
		}
	}
	c, err := StartCluster()
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(c.Destroy)
	return c
}

// Pool returns a pool on connString with at most maxConns connections,
// closed at cleanup.
func Pool(t testing.TB, connString string, maxConns int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		t.Fatalf("pgtest: parse connection string: %v", err)
	}
	cfg.MaxConns = maxConns
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

var schemaSeq atomic.Int64

// NewSchema returns the name of a schema no other test uses, on the shared
// database, and drops it at cleanup. The schema itself is not created: the
// store under test creates it.
func NewSchema(t testing.TB) string {
	t.Helper()
	url := ConnString(t)
	name := fmt.Sprintf("t%d_%d", os.Getpid(), schemaSeq.Add(1))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Errorf("pgtest: drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", name, err)
		}
	})
	return name
}
