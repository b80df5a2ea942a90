package pgstore_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/pgstore"
)

// EmitTx writes the webhook in the host's own transaction: the event and
// its deliveries exist if and only if the transaction commits, and the
// replicas wake at the commit.
func Example_emitTx() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		panic(err)
	}
	defer pool.Close()
	st, err := pgstore.New(ctx, pool, nil)
	if err != nil {
		panic(err)
	}
	defer st.Close()
	d, err := webhook.New(webhook.Config{Store: st})
	if err != nil {
		panic(err)
	}
	defer d.Close(ctx)

	// With pgx:
	tx, err := pool.Begin(ctx)
	if err != nil {
		panic(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `UPDATE orders SET paid = true WHERE id = $1`, "ord_1"); err != nil {
		panic(err)
	}
	err = d.EmitTx(ctx, tx, []webhook.Event{{Type: "order.paid", Payload: json.RawMessage(`{"id":"ord_1"}`)}})
	if err != nil {
		panic(err)
	}
	if err := tx.Commit(ctx); err != nil {
		panic(err)
	}

	// With database/sql over pgx's driver (sqlc, sqlx, GORM and ent hosts):
	var db *sql.DB = stdlib.OpenDBFromPool(pool)
	defer db.Close()
	stx, err := db.BeginTx(ctx, nil)
	if err != nil {
		panic(err)
	}
	defer stx.Rollback()
	err = d.EmitTx(ctx, stx, []webhook.Event{{Type: "order.shipped", Payload: json.RawMessage(`{"id":"ord_1"}`)}})
	if err != nil {
		panic(err)
	}
	if err := stx.Commit(); err != nil {
		panic(err)
	}
}
