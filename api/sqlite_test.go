package api_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/allot-dev/allot/sqlite"
)

// openSQLite opens an empty SQLite store for one test, closed when it ends.
func openSQLite(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "allot.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
