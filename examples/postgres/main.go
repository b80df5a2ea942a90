// Postgres shows replicas sharing one queue: two Dispatchers, each with its
// own connection pool and pgstore.Store as two replicas of a service would
// have, deliver events emitted on either of them to a local receiver that
// verifies every signature. One event is emitted inside a host transaction
// with EmitTx, next to the host's own write, in a pgx transaction, and
// another in a database/sql transaction (pgx's stdlib driver), as hosts on
// sqlc, GORM or ent hold; a third transaction is rolled back and its event
// is never sent.
//
//	HOOKLET_DATABASE_URL=postgres://user@127.0.0.1:5432/db go run ./examples/postgres
//
// Behind PgBouncer in transaction pooling mode, the pools must not prepare
// statements (default_query_exec_mode=cache_describe in the connection
// string), and the replicas hear of each other's work either on a direct
// listener connection (-listener-dsn) or by polling (-poll):
//
//	HOOKLET_DATABASE_URL='postgres://user@127.0.0.1:6432/db?default_query_exec_mode=cache_describe' \
//		go run ./examples/postgres -listener-dsn postgres://user@127.0.0.1:5432/db
//
// The tables live in the schema named by -schema ("hooklet_example" by
// default), which is dropped at the end unless -keep is set.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	webhook "github.com/hooklet/webhook"
	"github.com/hooklet/webhook/store/pgstore"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func main() {
	schema := flag.String("schema", "hooklet_example", "schema for the webhook tables")
	events := flag.Int("events", 200, "events to emit")
	keep := flag.Bool("keep", false, "keep the schema at exit")
	listenerDSN := flag.String("listener-dsn", "", "direct connection string for the listener, behind a transaction pooler")
	poll := flag.Duration("poll", 0, "poll for other replicas' work at this interval instead of listening, behind a transaction pooler")
	flag.Parse()
	dsn := os.Getenv("HOOKLET_DATABASE_URL")
	if dsn == "" {
		log.Fatal("set HOOKLET_DATABASE_URL to a PostgreSQL connection string, e.g. postgres://postgres@127.0.0.1:5432/postgres")
	}
	err := run(config{dsn: dsn, schema: *schema, events: *events, keep: *keep,
		store: pgstore.Options{ListenerConnString: *listenerDSN, PollInterval: *poll}})
	if err != nil {
		log.Fatal(err)
	}
}

// config is what one run of the example does.
type config struct {
	dsn    string
	schema string
	events int
	keep   bool
	store  pgstore.Options // of both replicas; Schema is set from schema
}

func run(cfg config) error {
	dsn, schema, events, keep := cfg.dsn, cfg.schema, cfg.events, cfg.keep
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	recv := &receiver{byReplica: map[string]int{}, seen: map[string]bool{}, done: make(chan struct{})}
	recv.want = events + 2 // and the two emitted in host transactions
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: recv}
	go srv.Serve(ln)
	defer srv.Close()

	// The host's own pool, for its business writes.
	host, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return err
	}
	defer host.Close()
	if !keep {
		defer func() {
			_, err := host.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
			if err != nil {
				log.Printf("drop schema: %v", err)
			}
		}()
	}

	// Two replicas: each its own pool, store and Dispatcher.
	var replicas []*webhook.Dispatcher
	for i := range 2 {
		pool, err := pgxpool.New(ctx, dsn)
		if err != nil {
			return err
		}
		defer pool.Close()
		opts := cfg.store
		opts.Schema = schema
		st, err := pgstore.New(ctx, pool, &opts)
		if err != nil {
			return err
		}
		defer st.Close()
		name := fmt.Sprintf("replica-%d", i+1)
		d, err := webhook.New(webhook.Config{
			Store:                st,
			AllowPrivateNetworks: true, // the receiver is on loopback
			Owner:                name,
			UserAgent:            name, // lets the receiver tell the replicas apart
		})
		if err != nil {
			return err
		}
		defer d.Close(context.Background())
		replicas = append(replicas, d)
	}

	// An endpoint saved on one replica is seen by the other.
	err = replicas[0].PutEndpoint(ctx, webhook.Endpoint{
		ID: "ep_orders", URL: "http://" + ln.Addr().String() + "/hooks",
		EventTypes: []string{"order.*"}, Secrets: []webhook.Secret{{Key: secret}},
	})
	if err != nil {
		return err
	}
	for _, d := range replicas {
		if err := d.Start(ctx); err != nil {
			return err
		}
	}

	// Emit on both replicas, from concurrent goroutines.
	var wg sync.WaitGroup
	errs := make(chan error, events)
	for i := range events {
		wg.Go(func() {
			errs <- replicas[i%2].Emit(ctx, webhook.Event{
				ID: fmt.Sprintf("evt_order_%04d", i), Type: "order.created",
				Payload: json.RawMessage(fmt.Sprintf(`{"order":%d}`, i)),
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}

	// The outbox: the webhook exists if and only if the host's write
	// commits.
	if err := emitInTx(ctx, host, replicas[0], schema, "evt_order_paid", true); err != nil {
		return err
	}
	if err := emitInTx(ctx, host, replicas[0], schema, "evt_order_rolled_back", false); err != nil {
		return err
	}
	// The same on database/sql, over the host's pool.
	db := stdlib.OpenDBFromPool(host)
	defer db.Close()
	if err := emitInSQLTx(ctx, db, replicas[1], schema, "evt_order_shipped"); err != nil {
		return err
	}

	select {
	case <-recv.done:
	case <-ctx.Done():
		return fmt.Errorf("only %d of %d events arrived", recv.count(), recv.want)
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	fmt.Printf("%d events delivered, each once, shared by the replicas:\n", len(recv.seen))
	names := make([]string, 0, len(recv.byReplica))
	for name := range recv.byReplica {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Printf("  %s: %d\n", name, recv.byReplica[name])
	}
	if recv.seen["evt_order_rolled_back"] {
		return errors.New("the rolled-back event was delivered")
	}
	fmt.Println("the event of the rolled-back transaction was never sent")
	return nil
}

// emitInTx writes a host row and emits an event in one transaction, then
// commits or rolls back.
func emitInTx(ctx context.Context, pool *pgxpool.Pool, d *webhook.Dispatcher, schema, id string, commit bool) error {
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		table := pgx.Identifier{schema, "example_orders"}.Sanitize()
		if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+table+" (id text PRIMARY KEY, paid boolean)"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+table+" VALUES ($1, true)", id); err != nil {
			return err
		}
		err := d.EmitTx(ctx, tx, []webhook.Event{{ID: id, Type: "order.paid", Payload: json.RawMessage(`{"paid":true}`)}})
		if err != nil || commit {
			return err
		}
		return errRollback
	})
	if errors.Is(err, errRollback) {
		return nil
	}
	return err
}

var errRollback = errors.New("rolled back on purpose")

// emitInSQLTx writes a host row and emits an event in one database/sql
// transaction, as a host on sqlc, GORM (tx.Statement.ConnPool) or ent
// would, and commits.
func emitInSQLTx(ctx context.Context, db *sql.DB, d *webhook.Dispatcher, schema, id string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op after Commit
	table := pgx.Identifier{schema, "example_shipments"}.Sanitize()
	if _, err := tx.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+table+" (id text PRIMARY KEY)"); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+table+" VALUES ($1)", id); err != nil {
		return err
	}
	err = d.EmitTx(ctx, tx, []webhook.Event{{ID: id, Type: "order.shipped", Payload: json.RawMessage(`{"shipped":true}`)}})
	if err != nil {
		return err
	}
	return tx.Commit()
}

// receiver verifies signatures and counts deliveries per replica.
type receiver struct {
	mu        sync.Mutex
	seen      map[string]bool
	byReplica map[string]int
	want      int
	done      chan struct{}
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	if err := webhook.Verify(secret, req.Header, body, 5*time.Minute); err != nil {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	id := req.Header.Get("webhook-id")
	if r.seen[id] {
		fmt.Printf("duplicate delivery of %s\n", id)
	}
	r.seen[id] = true
	r.byReplica[req.UserAgent()]++
	if len(r.seen) == r.want {
		close(r.done)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}
