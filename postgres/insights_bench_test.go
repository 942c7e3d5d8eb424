package postgres

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// BenchmarkInsights measures the insight reads over a month of
// ALLOT_BENCH_INSIGHT_EVENTS events (default 1,000,000) of 1000 people,
// generated as BenchmarkReport's and then given sessions (three a person
// and day, one call in six without), system prompts per app and model (one
// call in ten its own prompt), failures (5%) and unlimited calls (25%):
// for the org, a team and one person.
func BenchmarkInsights(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("ALLOT_BENCH_INSIGHT_EVENTS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			b.Fatalf("ALLOT_BENCH_INSIGHT_EVENTS=%q is not a positive number", s)
		}
		n = v
	}
	db := openTest(b)
	ctx := context.Background()
	start := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	t0 := time.Now()
	if err := generateMonth(ctx, db, start, n); err != nil {
		b.Fatal(err)
	}
	if err := addInsightColumns(ctx, db, start); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %d events in %s", n, time.Since(t0).Round(time.Second))
	month := allot.InsightQuery{From: start, To: start.AddDate(0, 1, 0)}
	scoped := func(user, team string) allot.InsightQuery { q := month; q.User, q.Team = user, team; return q }
	for _, sc := range []struct {
		name string
		q    allot.InsightQuery
	}{{"org", month}, {"team", scoped("", "team-07")}, {"user", scoped("user-0042", "")}} {
		b.Run("InsightUsage/"+sc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := db.InsightUsage(ctx, sc.q); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("InsightCalls/"+sc.name, func(b *testing.B) {
			var c allot.InsightCalls
			for b.Loop() {
				var err error
				if c, err = db.InsightCalls(ctx, sc.q); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(c.Prompts)), "prompts")
			b.ReportMetric(float64(len(c.Sessions)), "sessions")
		})
		b.Run("DailySpend/"+sc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := db.DailySpend(ctx, sc.q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// The org again with its sums over the closed days kept, as a server's
	// warming keeps them (insights_kept.go): only the calls after them are
	// read, none here, as the whole month is closed.
	t0 = time.Now()
	d0 := start.Unix() / 86400
	if err := db.warmOrg(ctx, d0, d0+int64(month.To.Sub(month.From)/(24*time.Hour))); err != nil {
		b.Fatal(err)
	}
	b.Logf("kept the org's sums in %s", time.Since(t0).Round(time.Millisecond))
	b.Run("InsightUsage/org-kept", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.InsightUsage(ctx, month); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("InsightCalls/org-kept", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.InsightCalls(ctx, month); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// addInsightColumns gives generateMonth's events sessions, prompts,
// failures and unlimited calls (which no rollup sums), and compacts the
// partition again.
func addInsightColumns(ctx context.Context, db *DB, start time.Time) error {
	part := partitionName(monthOf(start))
	day0 := start.Unix() / 86400
	var first, last int32
	steps := []string{
		`INSERT INTO dict (s) SELECT convert_to('sess-' || g, 'UTF8') FROM generate_series(0, 1000 * 31 * 3 - 1) g ORDER BY g`,
	}
	for _, s := range steps {
		if _, err := db.pool.Exec(ctx, s); err != nil {
			return err
		}
	}
	if err := db.pool.QueryRow(ctx, `SELECT min(id), max(id) FROM dict WHERE s >= 'sess-' AND s < 'sess.'`).Scan(&first, &last); err != nil {
		return err
	}
	if last-first+1 != 1000*31*3 {
		return fmt.Errorf("session strings are not numbered in one run (%d..%d)", first, last)
	}
	// The events' user is (attr-1)/24, their app (attr-1)%2, their model (attr-1)/8%3.
	update := fmt.Sprintf(`UPDATE %s SET
		session = CASE WHEN request_fp %% 6 = 0 THEN 0 ELSE %d + ((attr - 1) / 24) * 93 + (floor(extract(epoch FROM time) / 86400)::int4 - %d) * 3 + (request_fp %% 3)::int4 END,
		system_fp = CASE WHEN request_fp %% 10 = 0 THEN request_fp * 7919 ELSE 1000 + (attr - 1) %% 2 + 10 * ((attr - 1) / 8 %% 3) END,
		status = CASE WHEN request_fp %% 20 = 1 THEN 500 ELSE 200 END,
		max_tokens = CASE WHEN request_fp %% 4 = 2 THEN 0 ELSE 4096 END`, part, first, day0)
	// The partition is updated directly, past the trigger that marks
	// changed hours: its hours are marked here, and folded before the
	// reads are timed, as serving would have folded them.
	mark := `INSERT INTO insight_dirty (hour) SELECT DISTINCT floor(extract(epoch FROM time) / 3600)::int8 FROM ` + part
	for _, s := range []string{update, mark, `VACUUM FULL ` + part, `ANALYZE`} {
		if _, err := db.pool.Exec(ctx, s); err != nil {
			return fmt.Errorf("%.40s: %w", s, err)
		}
	}
	return db.foldInsights(ctx)
}
