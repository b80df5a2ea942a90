package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one versioned step of the schema.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order. A file is
// named NNNN_description.sql.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("pgstore: migration %q is not named NNNN_name.sql", e.Name())
		}
		b, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	return out, nil
}

// latestVersion is the schema version this package needs.
func latestVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// Migrate creates the schema of opts (nil means the defaults) when missing
// and applies the migrations it lacks, each in its own transaction that
// first takes a transaction-scoped advisory lock on the schema: callers
// racing on one database apply each migration once, and no lock outlives
// its transaction, so Migrate works through a transaction pooler such as
// PgBouncer. It is what [New] does first; hosts that migrate as a separate
// step call it there and set [Options.SkipMigrate].
func Migrate(ctx context.Context, pool *pgxpool.Pool, opts *Options) error {
	return migrateTo(ctx, pool, opts, latestVersion())
}

// migrateTo is Migrate up to and including version.
func migrateTo(ctx context.Context, pool *pgxpool.Pool, opts *Options, version int) error {
	o := opts.withDefaults()
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	ms = slices.DeleteFunc(ms, func(m migration) bool { return m.version > version })
	for {
		m, err := migrateStep(ctx, pool, o.Schema, ms)
		if err != nil {
			if m.name != "" {
				return fmt.Errorf("pgstore: migrate: %s: %w%s", m.name, err, poolerHint(err))
			}
			return fmt.Errorf("pgstore: migrate: %w%s", err, poolerHint(err))
		}
		if m.name == "" {
			return nil
		}
	}
}

// migrateStep applies, in one transaction under the schema's lock, the
// first of ms the schema lacks, and returns it; the zero migration when
// there was none left.
func migrateStep(ctx context.Context, pool *pgxpool.Pool, schemaName string, ms []migration) (migration, error) {
	var next migration
	schema := pgx.Identifier{schemaName}.Sanitize()
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(schemaName)); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema+
			"; CREATE TABLE IF NOT EXISTS "+schema+".schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"); err != nil {
			return fmt.Errorf("create schema %s: %w", schemaName, err)
		}
		rows, _ := tx.Query(ctx, "SELECT version FROM "+schema+".schema_migrations")
		versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil {
			return err
		}
		if len(versions) > 0 && slices.Max(versions) > latestVersion() {
			return fmt.Errorf("schema %s is at version %d, newer than this package's %d",
				schemaName, slices.Max(versions), latestVersion())
		}
		for _, m := range ms {
			if !slices.Contains(versions, m.version) {
				next = m
				break
			}
		}
		if next.name == "" {
			return nil
		}
		if _, err := tx.Exec(ctx, strings.ReplaceAll(next.sql, "{{schema}}", schema)); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "INSERT INTO "+schema+".schema_migrations (version, name) VALUES ($1, $2)", next.version, next.name)
		return err
	})
	return next, err
}

// checkVersion fails unless the schema is at the version this package needs.
func checkVersion(ctx context.Context, pool *pgxpool.Pool, schemaName string) error {
	var v *int
	err := pool.QueryRow(ctx, "SELECT max(version) FROM "+pgx.Identifier{schemaName}.Sanitize()+".schema_migrations").Scan(&v)
	if err != nil {
		return fmt.Errorf("pgstore: check schema version: %w%s", err, poolerHint(err))
	}
	if v == nil || *v != latestVersion() {
		got := 0
		if v != nil {
			got = *v
		}
		return errors.New("pgstore: schema " + schemaName + " is at version " + strconv.Itoa(got) +
			", this package needs " + strconv.Itoa(latestVersion()) + ": run Migrate")
	}
	return nil
}

// lockKey is the advisory lock key that serializes migrations of a schema.
func lockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("hooklet.pgstore.migrate:" + schema))
	return int64(h.Sum64())
}
