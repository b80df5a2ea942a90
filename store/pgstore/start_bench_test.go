package pgstore_test

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/internal/benchtest"
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
	var d *webhook.Dispatcher
	benchtest.Loop(b, func() {
		var err error
		if st, err = pgstore.New(ctx, pool, &pgstore.Options{Schema: schema}); err != nil {
			b.Fatal(err)
		}
		if d, err = webhook.New(webhook.Config{Store: st}); err != nil {
			b.Fatal(err)
		}
		if err := d.Start(ctx); err != nil {
			b.Fatal(err)
		}
	}, func() {
		if err := d.Close(ctx); err != nil {
			b.Fatal(err)
		}
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
	})
	b.ReportMetric(float64(n), "endpoints")
}
