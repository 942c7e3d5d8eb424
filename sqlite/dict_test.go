package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// TestDictionaryFillsAsUsed: a handle opened on a ledger reads none of its
// dictionary; it reads the strings it is asked for by key, the whole table
// once it has asked often or when a server warms it, and appends through
// it store no string twice, whichever handle stored it first.
func TestDictionaryFillsAsUsed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "allot.db")
	open := func() *DB {
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	first := open()
	events := genEvents(1, 300, benchStart, time.Hour, world{users: 50, teams: 5, models: 4, tasks: 6, apps: 3, providers: 2})
	mustAppend(t, first, events)
	max, err := first.dict.maxID(ctx, first.r)
	if err != nil || max < 50 {
		t.Fatalf("dictionary of %d events: max id %d, %v", len(events), max, err)
	}

	db := open()
	if n := len(db.dict.ids); n != 1 || db.dict.full != 0 {
		t.Fatalf("a new handle holds %d strings, full to %d: want only \"\"", n, db.dict.full)
	}
	// By key: a string, then ids.
	id, ok, err := db.dict.lookup(ctx, db.r, events[0].User)
	if err != nil || !ok {
		t.Fatalf("lookup %q: %d %v %v", events[0].User, id, ok, err)
	}
	if _, ok, err := db.dict.lookup(ctx, db.r, "nobody-ever"); err != nil || ok {
		t.Fatalf("lookup of a string never stored: %v %v", ok, err)
	}
	names, err := db.dict.names(ctx, db.r, id, 0, id)
	if err != nil || names[0] != events[0].User || names[1] != "" || names[2] != events[0].User {
		t.Fatalf("names: %q %v", names, err)
	}
	if _, err := db.dict.names(ctx, db.r, max+1000); err == nil {
		t.Fatal("names of an id never stored: no error")
	}
	if db.dict.full != 0 || len(db.dict.ids) > 3 {
		t.Fatalf("after reads by key: %d strings cached, full to %d", len(db.dict.ids), db.dict.full)
	}
	// An append through this handle reuses the ids the other stored.
	again := events[:10:10]
	late := make([]allot.Event, len(again))
	for i, e := range again {
		e.ID += "-again"
		late[i] = e
	}
	mustAppend(t, db, late)
	if after, _ := db.dict.maxID(ctx, db.r); after != max {
		t.Fatalf("appending known strings through a new handle grew the dictionary from %d to %d ids", max, after)
	}
	// Asked often, it reads the whole table.
	for i := int64(1); i <= max && db.dict.full == 0; i++ {
		if _, err := db.dict.names(ctx, db.r, i); err != nil {
			t.Fatal(err)
		}
	}
	if db.dict.full != max {
		t.Fatalf("after many reads by key the dictionary is full to %d, want %d", db.dict.full, max)
	}
	if db.dict.lookups > dictLookups+1 {
		t.Fatalf("%d reads by key before reading the whole table", db.dict.lookups)
	}
	// A server's warming reads it whole, ahead of anyone's request.
	warm := open()
	if err := warm.WarmInsights(ctx, 35); err != nil {
		t.Fatal(err)
	}
	if warm.dict.full != max || warm.dict.lookups != 0 {
		t.Fatalf("after warming the dictionary is full to %d after %d reads by key, want %d after none", warm.dict.full, warm.dict.lookups, max)
	}
}
