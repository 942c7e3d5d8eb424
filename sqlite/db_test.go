package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// openTest opens a fresh database in a temporary directory, closed when
// the test ends.
func openTest(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "allot.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

// world is the population random events are drawn from.
type world struct {
	users, teams, models, tasks, apps, providers int
}

// smallWorld keeps test reports readable while still mixing every dimension.
var smallWorld = world{users: 30, teams: 4, models: 6, tasks: 8, apps: 3, providers: 2}

// genEvents makes n events with distinct ids, times spread over span from
// start, drawn from w with a fixed seed. Each user sticks to one team, key
// and a few favourite models, tasks and apps, as people do, so rollups
// compress as they would in real use.
func genEvents(seed uint64, n int, start time.Time, span time.Duration, w world) []allot.Event {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]allot.Event, n)
	for i := range out {
		u := rng.IntN(w.users)
		pick := func(of, favourites int) int { return (u*7 + rng.IntN(favourites)) % of }
		model := pick(w.models, 2)
		tokens := allot.Tokens{Input: 100 + rng.Int64N(20000), Output: rng.Int64N(4000)}
		tokens.CacheRead = rng.Int64N(tokens.Input / 2)
		if rng.IntN(4) == 0 {
			tokens.CacheWrite5m = rng.Int64N(tokens.Input / 4)
		}
		if rng.IntN(8) == 0 {
			tokens.CacheWrite1h = rng.Int64N(tokens.Input / 4)
		}
		tokens.Reasoning = rng.Int64N(tokens.Output + 1)
		known := rng.IntN(20) != 0
		var cost allot.Money
		if known {
			cost = allot.Money(tokens.Input*150 + tokens.Output*600 + rng.Int64N(1000))
		}
		lat := time.Duration(rng.Int64N(int64(30 * time.Second))).Truncate(time.Microsecond)
		out[i] = allot.Event{
			ID:   fmt.Sprintf("%016x%016x", seed, uint64(i)),
			Time: start.Add(time.Duration(rng.Int64N(int64(span)))).Truncate(time.Microsecond),
			Principal: allot.Principal{
				Org: "acme", Team: fmt.Sprintf("team%02d", u%w.teams), User: fmt.Sprintf("user%04d", u),
				KeyID: fmt.Sprintf("k%07d", u), KeyLabel: "laptop", Role: allot.RoleMember,
			},
			Provider:       fmt.Sprintf("provider%d", model%w.providers),
			RequestedModel: fmt.Sprintf("model-%d", model),
			ServedModel:    fmt.Sprintf("model-%d", model),
			Route:          allot.RouteChat,
			Task:           fmt.Sprintf("task%02d", pick(w.tasks, 3)),
			Session:        fmt.Sprintf("s%d-%d", u, rng.IntN(4)),
			App:            fmt.Sprintf("app%d", pick(w.apps, 1)),
			Source:         allot.SourceGateway,
			Status:         200,
			Stream:         rng.IntN(2) == 0,
			Latency:        lat,
			TTFT:           lat / 3,
			RequestBytes:   rng.Int64N(1 << 20),
			MaxTokens:      rng.Int64N(8192),
			Messages:       1 + rng.IntN(40),
			SystemFP:       rng.Uint64(),
			RequestFP:      rng.Uint64(),
			Tokens:         tokens,
			Cost:           cost,
			CostKnown:      known,
			Estimated:      rng.IntN(10) == 0,
		}
	}
	return out
}

func mustAppend(t testing.TB, db *DB, events []allot.Event) int {
	t.Helper()
	n, err := db.Append(context.Background(), events)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return n
}

func TestOpenTwiceKeepsSchemaAndData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "allot.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	mustAppend(t, db, genEvents(1, 10, start, time.Hour, smallWorld))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	var versions int
	if err := db.r.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&versions); err != nil {
		t.Fatal(err)
	}
	ms, _ := migrations()
	if versions != len(ms) {
		t.Errorf("schema_migrations has %d rows, want %d", versions, len(ms))
	}
	evs, err := db.Events(ctx, start, start.Add(time.Hour), 0)
	if err != nil || len(evs) != 10 {
		t.Fatalf("after reopen: %d events, err %v; want 10", len(evs), err)
	}
	// Strings added after reopening get fresh dictionary ids.
	more := genEvents(2, 5, start, time.Hour, world{users: 500, teams: 9, models: 9, tasks: 9, apps: 9, providers: 3})
	if n := mustAppend(t, db, more); n != 5 {
		t.Fatalf("appended %d, want 5", n)
	}
}
