package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/allot-dev/allot/internal/storetest"
	"github.com/allot-dev/allot/sqlite"
)

// TestStoreContract runs the suite every allot store passes.
func TestStoreContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) storetest.Store {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "allot.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}
