package sqlite

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot/internal/storetest"
)

// clamped is the exact sum of vs clamped to [MinMoney, MaxMoney]: what
// satSumSQL must return.
func clamped(vs ...int64) int64 {
	s := new(big.Int)
	for _, v := range vs {
		s.Add(s, big.NewInt(v))
	}
	switch {
	case s.Cmp(big.NewInt(math.MaxInt64)) > 0:
		return math.MaxInt64
	case s.Cmp(big.NewInt(-math.MaxInt64)) < 0:
		return -math.MaxInt64
	}
	return s.Int64()
}

func TestSaturatingSQL(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	const max, min = math.MaxInt64, math.MinInt64
	tests := []struct {
		name string
		vs   []int64
	}{
		{"small", []int64{1, 2, 3}},
		{"mixed signs", []int64{-7, 5, 1 << 40, -(1 << 33)}},
		{"exactly the maximum", []int64{max - 10, 10}},
		{"one past the maximum", []int64{max - 10, 11}},
		{"many maxima", []int64{max, max, max, max, max}},
		{"maxima and a large negative", []int64{max, max, -max}},
		{"low halves carry", []int64{1<<32 - 1, 1<<32 - 1, 1<<32 - 1, max - 3*(1<<32-1)}},
		{"carry past the maximum", []int64{1<<32 - 1, max - (1<<32 - 1) + 1}},
		{"negative bound", []int64{-max, -1}},
		{"math.MinInt64", []int64{min}},
		{"negative minima", []int64{min, min, -5}},
		{"1e15 tokens", []int64{1e15, 1e15, 1e15}},
	}
	for _, tt := range tests {
		rows := make([]string, len(tt.vs))
		for i, v := range tt.vs {
			rows[i] = fmt.Sprintf("(%d)", v)
		}
		var got int64
		q := `SELECT ` + satSumSQL("x") + ` FROM (SELECT column1 AS x FROM (VALUES ` + strings.Join(rows, ", ") + `))`
		if err := db.r.QueryRow(q).Scan(&got); err != nil {
			t.Errorf("%s: satSumSQL: %v", tt.name, err)
		} else if want := clamped(tt.vs...); got != want {
			t.Errorf("%s: satSumSQL(%v) = %d, want %d", tt.name, tt.vs, got, want)
		}
		if len(tt.vs) != 2 || tt.vs[0] == min || tt.vs[1] == min {
			continue // satAddSQL adds two stored sums, which never hold math.MinInt64
		}
		q = `SELECT ` + satAddSQL(fmt.Sprint(tt.vs[0]), fmt.Sprint(tt.vs[1]))
		if err := db.r.QueryRow(q).Scan(&got); err != nil {
			t.Errorf("%s: satAddSQL: %v", tt.name, err)
		} else if want := clamped(tt.vs...); got != want {
			t.Errorf("%s: satAddSQL(%v) = %d, want %d", tt.name, tt.vs, got, want)
		}
	}
	var n any
	if err := db.r.QueryRow(`SELECT ` + satSumSQL("x") + ` FROM (SELECT 1 AS x) WHERE 0`).Scan(&n); err != nil || n != nil {
		t.Errorf("satSumSQL of no rows = %v, %v; want NULL like sum()", n, err)
	}
}

// TestOpenSaturatesOverflowedSums opens a database written before sums
// saturated: a rollup that overflowed into a REAL and a packed insight day
// holding wrapped sums. Opening it must leave every read working.
func TestOpenSaturatesOverflowedSums(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "allot.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	evs := storetest.HugeEvents(storetest.Start.Add(18 * time.Hour))
	mustAppend(t, db, evs)
	from, to := storetest.Start, storetest.Start.Add(3*24*time.Hour)
	storetest.AssertSaturated(t, db, evs, from, to) // packs the insight days
	// What the code before 0009 left: + overflowing into a REAL, Go sums
	// wrapping around in the packed days.
	for _, q := range []string{
		`UPDATE rollups_hourly SET cost_nano = cost_nano + cost_nano WHERE cost_nano = 9223372036854775807`,
		`UPDATE rollups_hourly SET input = input + input WHERE input = 9223372036854775807`,
		`UPDATE unpriced SET output = output + output`,
		`UPDATE insight_calls SET cost_nano = cost_nano + cost_nano WHERE cost_nano = 9223372036854775807`,
		`UPDATE insight_extras SET dup_cost_nano = dup_cost_nano + dup_cost_nano WHERE dup_cost_nano = 9223372036854775807`,
		`UPDATE insight_days SET calls = x'00', extras = x'00'`,
		// and without what later migrations added (0010: keys that expire)
		`DROP INDEX users_email`,
		`ALTER TABLE keys DROP COLUMN expires_us`,
		`DELETE FROM schema_migrations WHERE version >= 9`,
	} {
		if _, err := db.w.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var reals int
	if err := db.r.QueryRow(`SELECT count(*) FROM rollups_hourly WHERE typeof(cost_nano) = 'real'`).Scan(&reals); err != nil || reals == 0 {
		t.Fatalf("the old database holds %d REAL costs (%v), want some", reals, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	storetest.AssertSaturated(t, db, evs, from, to)
}

// FuzzSaturatingSQL checks satSumSQL and satAddSQL against exact sums.
func FuzzSaturatingSQL(f *testing.F) {
	db := openTest(f)
	f.Add(int64(1), int64(2), int64(3))
	f.Add(int64(math.MaxInt64), int64(math.MaxInt64), int64(-1))
	f.Add(int64(math.MinInt64), int64(-1), int64(1<<32-1))
	f.Add(int64(1<<32-1), int64(math.MaxInt64-(1<<32-1)), int64(1))
	f.Fuzz(func(t *testing.T, a, b, c int64) {
		var got int64
		q := `SELECT ` + satSumSQL("x") + ` FROM (SELECT column1 AS x FROM (VALUES (?), (?), (?)))`
		if err := db.r.QueryRow(q, a, b, c).Scan(&got); err != nil {
			t.Fatalf("satSumSQL(%d, %d, %d): %v", a, b, c, err)
		}
		if want := clamped(a, b, c); got != want {
			t.Fatalf("satSumSQL(%d, %d, %d) = %d, want %d", a, b, c, got, want)
		}
		if a == math.MinInt64 || b == math.MinInt64 {
			return // stored sums never hold math.MinInt64
		}
		if err := db.r.QueryRow(`SELECT `+satAddSQL("?1", "?2"), a, b).Scan(&got); err != nil {
			t.Fatalf("satAddSQL(%d, %d): %v", a, b, err)
		}
		if want := clamped(a, b); got != want {
			t.Fatalf("satAddSQL(%d, %d) = %d, want %d", a, b, got, want)
		}
	})
}
