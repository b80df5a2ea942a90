package pgstore_test

import (
	"context"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/internal/pgtest"
	"github.com/hooklet/webhook/store/pgstore"
)

// BenchmarkStart measures the start of a Dispatcher over a PostgreSQL store
// of 1,000,000 endpoints (100,000 tenants), each with two type patterns and
// a secret: pgstore.New, webhook.New and Start, which loads every endpoint
// into the registry. The endpoints are written with one INSERT ... SELECT,
// not through the store; set HOOKLET_BENCH_ENDPOINTS to use fewer.
//
//	go test -run '^$' -bench Start -benchtime 3x ./store/pgstore/
func BenchmarkStart(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("HOOKLET_BENCH_ENDPOINTS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	pool := pgtest.Pool(b, pgtest.ConnString(b), 4)
	schema := pgtest.NewSchema(b)
	st, err := pgstore.New(ctx, pool, &pgstore.Options{Schema: schema})
	if err != nil {
		b.Fatal(err)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	q := `INSERT INTO ` + pgx.Identifier{schema}.Sanitize() + `.endpoints
		(id, tenant, url, event_types, secret_keys, secret_expires, created_at, updated_at)
	SELECT 'ep_' || lpad(i::text, 7, '0'), 'tenant_' || (i % 100000), 'https://example.com/hooks/' || i,
		ARRAY['invoice.*', 'customer.created'], ARRAY['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
		ARRAY['-infinity'::timestamptz], now(), now()
	FROM generate_series(1, $1::int) AS i`
	if _, err := pool.Exec(ctx, q, n); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "ANALYZE "+pgx.Identifier{schema}.Sanitize()+".endpoints"); err != nil {
		b.Fatal(err)
	}
	var cpu time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := cpuTime()
		st, err := pgstore.New(ctx, pool, &pgstore.Options{Schema: schema})
		if err != nil {
			b.Fatal(err)
		}
		d, err := webhook.New(webhook.Config{Store: st})
		if err != nil {
			b.Fatal(err)
		}
		if err := d.Start(ctx); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - start
		b.StopTimer()
		if err := d.Close(ctx); err != nil {
			b.Fatal(err)
		}
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(n), "endpoints")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
}

// cpuTime is the CPU time of this process so far, which other processes on
// a loaded machine disturb far less than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
