package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// testDSN returns ALLOT_TEST_POSTGRES_DSN or skips the test.
func testDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("ALLOT_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("ALLOT_TEST_POSTGRES_DSN is not set (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable); skipping the PostgreSQL tests")
	}
	return dsn
}

// testSchema returns a fresh schema name, dropped with everything in it
// when the test ends.
func testSchema(t testing.TB, dsn string) string {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	schema := "allot_test_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx := context.Background()
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// quiet is a logger that drops everything.
var quiet = slog.New(slog.DiscardHandler)

// openTest opens a migrated database in a schema of its own.
func openTest(t testing.TB) *DB {
	t.Helper()
	dsn := testDSN(t)
	return openSchema(t, dsn, testSchema(t, dsn))
}

// openSchema opens the database in schema, migrating it, or fails.
func openSchema(t testing.TB, dsn, schema string) *DB {
	t.Helper()
	db, err := Open(context.Background(), dsn, Options{Schema: schema, Migrate: true, MaxConns: 4, Logger: quiet})
	if err != nil {
		t.Fatalf("ALLOT_TEST_POSTGRES_DSN=%s is set but the database cannot be opened: %v", dsn, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
