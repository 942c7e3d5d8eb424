package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/allot-dev/allot"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one schema step, numbered by its file name ("0001_init.sql").
type migration struct {
	version int
	name    string
	sql     string
}

// migrations lists the embedded migrations in version order.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, n := range names {
		base := strings.TrimPrefix(n, "migrations/")
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and '_'", base)
		}
		b, err := migrationFS.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: base, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", out[i-1].name, out[i].name, out[i].version)
		}
	}
	return out, nil
}

// latestVersion is the newest embedded migration's version.
func latestVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// Migrate creates the schema if needed and applies the migrations it has
// not seen, in order, each in its own transaction. It holds an advisory
// lock on the schema meanwhile, so replicas starting at once apply each
// migration exactly once (the others wait, then find nothing to do).
// `allot migrate` calls it; Open calls it with Options.Migrate.
func (db *DB) Migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", db.target, err)
	}
	defer conn.Release()
	lock := db.lockID("migrate")
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lock); err != nil {
		return fmt.Errorf("migrate %s: lock: %w", db.target, err)
	}
	defer func() {
		// A fresh context: the lock must go even if ctx was cancelled,
		// else the pooled connection would keep it.
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lock); err != nil {
			conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()

	schema := pgx.Identifier{db.schema}.Sanitize()
	if _, err := conn.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+schema); err != nil {
		return fmt.Errorf("migrate %s: create schema %s: %w", db.target, db.schema, err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+schema+`.schema_migrations (
		version int4 PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate %s: %w", db.target, err)
	}
	have, err := schemaVersion(ctx, conn.Conn(), db.schema)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", db.target, err)
	}
	if len(ms) > 0 && have > ms[len(ms)-1].version {
		return allot.Errorf(allot.EUnavailable, "database schema %s is at version %d, newer than this allot knows (%d); upgrade allot", db.schema, have, ms[len(ms)-1].version)
	}
	for _, m := range ms {
		if m.version <= have {
			continue
		}
		err := pgx.BeginFunc(ctx, conn.Conn(), func(tx pgx.Tx) error {
			// The pooled connection's search_path names the schema, but
			// it may not have existed when the connection was made.
			if _, err := tx.Exec(ctx, `SET LOCAL search_path TO `+schema); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate %s: %s: %w", db.target, m.name, err)
		}
		db.logger.Info("applied database migration", "schema", db.schema, "migration", m.name)
	}
	return nil
}

// schemaVersion reads the newest applied migration, 0 when none is.
func schemaVersion(ctx context.Context, conn *pgx.Conn, schema string) (int, error) {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, pgx.Identifier{schema, "schema_migrations"}.Sanitize()).Scan(&exists); err != nil {
		return 0, err
	}
	if !exists {
		return 0, nil
	}
	var v int
	err := conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+pgx.Identifier{schema, "schema_migrations"}.Sanitize()).Scan(&v)
	return v, err
}

// checkVersion refuses a schema that is not exactly at the newest
// migration, saying what to do.
func (db *DB) checkVersion(ctx context.Context) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("open database %s: %w", db.target, err)
	}
	defer conn.Release()
	have, err := schemaVersion(ctx, conn.Conn(), db.schema)
	if err != nil {
		return fmt.Errorf("open database %s: %w", db.target, err)
	}
	want := latestVersion()
	switch {
	case have < want:
		return allot.Errorf(allot.EUnavailable, "database schema %s is at version %d, this allot needs %d; run allot migrate", db.schema, have, want)
	case have > want:
		return allot.Errorf(allot.EUnavailable, "database schema %s is at version %d, newer than this allot knows (%d); upgrade allot", db.schema, have, want)
	}
	return nil
}
