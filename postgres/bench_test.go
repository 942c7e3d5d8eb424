package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// benchOrg is an organization of 1000 people in 25 teams with habits:
// each person calls 3 models (70/20/10), for 4 tasks (60/20/10/10), from 2
// apps (80/20), with one key, and starts a new session every day. That is
// 24 attributions per person, as in generateMonth.
type benchOrg struct{ users []benchUser }

type benchUser struct {
	name, team, key string
	models          [3][2]string // provider, model
	tasks           [4]string
	apps            [2]string
}

func newBenchOrg() *benchOrg {
	models := [][2]string{{"anthropic", "claude-sonnet-4-5"}, {"openai", "gpt-4o"}, {"anthropic", "claude-haiku-4-5"},
		{"openai", "gpt-4o-mini"}, {"openai", "o3"}, {"anthropic", "claude-opus-4-1"}}
	tasks := []string{"untagged", "review", "refactor", "tests", "docs", "triage", "search", "chat"}
	apps := []string{"claude-cli", "cursor", "codex", "openai-python"}
	o := &benchOrg{}
	for i := range 1000 {
		u := benchUser{name: fmt.Sprintf("user-%04d", i), team: fmt.Sprintf("team-%02d", i/40), key: fmt.Sprintf("k%08d", i)}
		for j := range u.models {
			u.models[j] = models[(i+j*2)%len(models)]
		}
		for j := range u.tasks {
			u.tasks[j] = tasks[(i+j*3)%len(tasks)]
		}
		for j := range u.apps {
			u.apps[j] = apps[(i+j)%len(apps)]
		}
		o.users = append(o.users, u)
	}
	return o
}

// events returns n events at increasing times spread over [from, to),
// with ids as the gateway makes them: a per-process random prefix and a
// counter (here the seed and the event's number).
func (o *benchOrg) events(seed uint64, n int, from, to time.Time) []allot.Event {
	r := rand.New(rand.NewPCG(seed, 7))
	skew := func(weights ...float64) int {
		x := r.Float64()
		for i, w := range weights {
			if x < w {
				return i
			}
			x -= w
		}
		return len(weights)
	}
	step := to.Sub(from) / time.Duration(n)
	out := make([]allot.Event, n)
	for i := range out {
		u := &o.users[r.IntN(len(o.users))]
		m := u.models[skew(0.7, 0.2)]
		at := from.Add(step * time.Duration(i)).Truncate(time.Microsecond)
		in, outTok := r.Int64N(20000), r.Int64N(3000)
		out[i] = allot.Event{
			ID: fmt.Sprintf("%016x%016x", 0x5eed0000+seed, i), Time: at,
			Principal: allot.Principal{Org: "acme", Team: u.team, User: u.name, KeyID: u.key, KeyLabel: "laptop", Role: allot.RoleMember},
			Provider:  m[0], RequestedModel: m[1], ServedModel: m[1], Route: allot.RouteChat,
			Task: u.tasks[skew(0.6, 0.2, 0.1)], Session: u.name + at.Format("-2006-01-02"), App: u.apps[skew(0.8)],
			Source: allot.SourceGateway, Status: 200, Stream: true,
			Latency: time.Duration(r.Int64N(30_000_000)) * time.Microsecond, TTFT: time.Duration(r.Int64N(2_000_000)) * time.Microsecond,
			RequestBytes: r.Int64N(200_000), Messages: r.IntN(40), SystemFP: r.Uint64(), RequestFP: r.Uint64(),
			Tokens: allot.Tokens{Input: in, CacheRead: in / 3, Output: outTok},
			Cost:   allot.Money(in*3 + outTok*15), CostKnown: true,
		}
	}
	return out
}

// BenchmarkAppend measures ingest through Append in batches of 1000 (the
// ledger writer's default) and 5000, from one writer and from several at
// once (as several replicas would), and the bytes each event then takes on
// disk.
func BenchmarkAppend(b *testing.B) {
	for _, c := range []struct{ batch, writers int }{{1000, 1}, {1000, 4}, {5000, 1}, {5000, 2}} {
		b.Run(fmt.Sprintf("batch=%d/writers=%d", c.batch, c.writers), func(b *testing.B) {
			db := openTest(b)
			ctx := context.Background()
			batch, writers := c.batch, c.writers
			start := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
			org := newBenchOrg()
			// A day of traffic first, so every attribution is known (as in
			// a running deployment), then batches of one second each.
			mustAppend(b, db, org.events(1, 50_000, start, start.Add(24*time.Hour)))
			start = start.Add(24 * time.Hour)
			batches := make([][]allot.Event, b.N)
			for i := range batches {
				at := start.Add(time.Duration(i*batch/1000) * time.Second) // 1000 events a second
				batches[i] = org.events(uint64(i+2), batch, at, at.Add(time.Duration(batch)*time.Millisecond))
			}
			var next atomic.Int64
			pg0, go0 := postgresCPU(), processCPU()
			b.ResetTimer()
			t0 := time.Now()
			var wg sync.WaitGroup
			for range writers {
				wg.Go(func() {
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						if _, err := db.Append(ctx, batches[i]); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			n := float64(b.N) * float64(batch)
			b.ReportMetric(n/time.Since(t0).Seconds(), "events/s")
			if pg := postgresCPU() - pg0; pg > 0 {
				b.ReportMetric(float64(pg.Microseconds())/n, "pg-cpu-µs/event")
			}
			b.ReportMetric(float64((processCPU()-go0).Microseconds())/n, "go-cpu-µs/event")
			rows, evBytes, rollBytes := ledgerSize(b, db)
			if rows > 0 {
				b.ReportMetric(float64(evBytes)/float64(rows), "event-bytes/row")
				b.ReportMetric(float64(evBytes+rollBytes)/float64(rows), "total-bytes/row")
			}
		})
	}
}

// ledgerSize counts the events and the bytes of the events table (all
// partitions with their indexes and TOAST) and of the rollups.
func ledgerSize(tb testing.TB, db *DB) (rows, eventBytes, rollupBytes int64) {
	tb.Helper()
	ctx := context.Background()
	if _, err := db.pool.Exec(ctx, `VACUUM ANALYZE events`); err != nil {
		tb.Fatal(err)
	}
	err := db.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM events),
		(SELECT coalesce(sum(pg_total_relation_size(i.inhrelid)), 0) FROM pg_inherits i WHERE i.inhparent = 'events'::regclass)::int8,
		(pg_total_relation_size('rollups_hourly') + pg_total_relation_size('rollups_daily') + pg_total_relation_size('rollups_user_daily'))::int8`).Scan(&rows, &eventBytes, &rollupBytes)
	if err != nil {
		tb.Fatal(err)
	}
	return rows, eventBytes, rollupBytes
}

// BenchmarkReport measures reports over a month of usage generated
// straight into the tables with SQL: ALLOT_BENCH_REPORT_EVENTS events
// (default 1,000,000; set 10000000 for the reference numbers) of 1000
// people, each over their 24 attributions (3 models, 4 tasks, 2 apps,
// skewed as real use is), loaded into a partition and its indexes built
// in bulk, then rolled up as Append would have and its days closed. Each
// case reports its first call, from empty caches, as cold-ms, and the
// calls after it (closed days from memory) as ns/op. The last cases take
// the last 30 days up to 23:30 of the month's last day, left open: with
// its hours summed by SQL, then with all but the last closed.
func BenchmarkReport(b *testing.B) {
	events := 1_000_000
	if s := os.Getenv("ALLOT_BENCH_REPORT_EVENTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("ALLOT_BENCH_REPORT_EVENTS=%q is not a positive number", s)
		}
		events = n
	}
	db := openTest(b)
	ctx := context.Background()
	start := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	t0 := time.Now()
	if err := generateMonth(ctx, db, start, events); err != nil {
		b.Fatal(err)
	}
	rows, evBytes, rollBytes := ledgerSize(b, db)
	var hourly, daily int64
	db.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM rollups_hourly), (SELECT count(*) FROM rollups_daily)`).Scan(&hourly, &daily)
	b.Logf("generated %d events in %s: %.0f bytes/event in events, %.0f with rollups; %d hourly and %d daily rollup rows; closing a day took %s",
		rows, time.Since(t0).Round(time.Second), float64(evBytes)/float64(rows), float64(evBytes+rollBytes)/float64(rows), hourly, daily, closeTime.Round(time.Millisecond))

	month := allot.ReportQuery{From: start, To: start.AddDate(0, 1, 0)}
	by := func(q allot.ReportQuery, dims ...allot.Dimension) allot.ReportQuery { q.By = dims; return q }
	cases := []struct {
		name string
		q    allot.ReportQuery
	}{
		{"user,day/month", by(month, allot.DimUser, allot.DimDay)},
		{"team,model/month", by(month, allot.DimTeam, allot.DimModel)},
		{"total/month", by(month)},
		{"user,day/month-unaligned", by(allot.ReportQuery{From: start.Add(90 * time.Minute), To: start.AddDate(0, 1, 0).Add(-150 * time.Minute)}, allot.DimUser, allot.DimDay)},
		{"user,hour/day", by(allot.ReportQuery{From: start.Add(24 * time.Hour), To: start.Add(48 * time.Hour)}, allot.DimUser, allot.DimHour)},
		{"model,day/month filtered to a user", allot.ReportQuery{By: []allot.Dimension{allot.DimModel, allot.DimDay}, From: month.From, To: month.To, Filter: map[allot.Dimension]string{allot.DimUser: "user-0042"}}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			// The first call starts from empty caches (as after a
			// restart): it reads every closed day it covers. The loop
			// then measures reports from memory.
			db.rcache.Clear()
			db.dims = newAttrDims()
			t0 := time.Now()
			if _, err := db.Report(ctx, c.q); err != nil {
				b.Fatal(err)
			}
			cold := time.Since(t0)
			b.Logf("first call, from empty caches: %s", cold.Round(10*time.Microsecond))
			var total int64
			for b.Loop() {
				out, err := db.Report(ctx, c.q)
				if err != nil {
					b.Fatal(err)
				}
				total = 0
				for _, r := range out {
					total += r.Requests
				}
			}
			b.ReportMetric(float64(cold.Microseconds())/1000, "cold-ms") // after the loop, which resets metrics
			if c.q.Filter == nil && c.q.From.Equal(month.From) && total != int64(events) {
				b.Errorf("the report counts %d requests, want %d", total, events)
			}
		})
	}

	// The dashboard's default: the last 30 days, late in a day not closed
	// yet. The month's last day is opened again ("today" at 23:30, as if
	// CloseDays had not run) and reports neither close days nor hours:
	// first with none of its hours closed (as before closed hours: SQL sums
	// the day's hourly rollups), then with all but the last closed.
	db.closing.Store(true)
	db.closingHours.Store(true)
	last := monthStart(monthOf(start)+1).AddDate(0, 0, -1)
	if err := reopenDay(ctx, db, dayOf(last)); err != nil {
		b.Fatal(err)
	}
	now := last.Add(23*time.Hour + 30*time.Minute)
	recent := allot.ReportQuery{By: []allot.Dimension{allot.DimUser, allot.DimDay}, From: now.AddDate(0, 0, -30), To: now}
	var want int64
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE time >= $1 AND time < $2`,
		recent.From.Truncate(time.Hour), now.Truncate(time.Hour).Add(time.Hour)).Scan(&want); err != nil {
		b.Fatal(err)
	}
	for _, closed := range []bool{false, true} {
		name := "user,day/last-30-days-with-today"
		if !closed {
			name += "/hours-open"
		} else {
			var hours []int64
			for h := range 23 {
				hours = append(hours, hourOf(last)+int64(h))
			}
			if n, err := db.closeHours(ctx, hours); err != nil || n != 23 {
				b.Fatalf("closeHours = %d, %v; want 23 hours", n, err)
			}
		}
		b.Run(name, func(b *testing.B) {
			db.rcache.Clear()
			db.dims = newAttrDims()
			t0 := time.Now()
			if _, err := db.Report(ctx, recent); err != nil {
				b.Fatal(err)
			}
			cold := time.Since(t0)
			b.Logf("first call, from empty caches: %s", cold.Round(10*time.Microsecond))
			var total int64
			for b.Loop() {
				out, err := db.Report(ctx, recent)
				if err != nil {
					b.Fatal(err)
				}
				total = 0
				for _, r := range out {
					total += r.Requests
				}
			}
			b.ReportMetric(float64(cold.Microseconds())/1000, "cold-ms")
			if total != want {
				b.Errorf("the report counts %d requests, want %d", total, want)
			}
		})
	}
}

// reopenDay undoes the closing of unix day d: its daily rollups and its
// entry in rollups_days go, as if CloseDays had not reached it yet.
func reopenDay(ctx context.Context, db *DB, d int64) error {
	for _, table := range []string{"rollups_daily", "rollups_user_daily", "rollups_days"} {
		if _, err := db.pool.Exec(ctx, `DELETE FROM `+table+` WHERE day = $1`, d); err != nil {
			return fmt.Errorf("reopen day %d: %w", d, err)
		}
	}
	_, err := db.pool.Exec(ctx, `ANALYZE`)
	return err
}

// generateMonth fills the month from start with n events and their
// rollups, by SQL.
func generateMonth(ctx context.Context, db *DB, start time.Time, n int) error {
	m := monthOf(start)
	part := partitionName(m)
	secs := monthStart(m + 1).Sub(monthStart(m)).Seconds()
	steps := []string{
		// Strings: 1000 users in 25 teams, 6 models, 8 tasks, 4 apps and the rest.
		`INSERT INTO dict (s) SELECT convert_to(s, 'UTF8') FROM (
			SELECT 'user-' || lpad(g::text, 4, '0') FROM generate_series(0, 999) g
			UNION ALL SELECT 'team-' || lpad(g::text, 2, '0') FROM generate_series(0, 24) g
			UNION ALL SELECT 'k' || lpad(g::text, 8, '0') FROM generate_series(0, 999) g
			UNION ALL SELECT unnest(ARRAY['acme', 'laptop', 'member', 'openai', 'anthropic', 'gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4-5',
				'claude-haiku-4-5', 'claude-opus-4-1', 'o3', 'openai.chat', 'anthropic.messages', 'untagged', 'review', 'chat', 'refactor',
				'tests', 'docs', 'triage', 'search', 'claude-cli', 'codex', 'openai-python', 'cursor', 'gateway'])
		) AS x(s) ON CONFLICT DO NOTHING`,
		`CREATE TEMP TABLE bench_ids (s text PRIMARY KEY, id int4 NOT NULL)`,
		`INSERT INTO bench_ids SELECT convert_from(s, 'UTF8'), id FROM dict`,
		// Attributions: user u uses models (m) for tasks (t) from apps (a);
		// ids 1..24000 in (u, m, t, a) order.
		`INSERT INTO attrs (id, org, team, usr, key_id, key_label, role, provider, req_model, served_model, route, task, app, source)
		SELECT u * 24 + mo * 8 + t * 2 + a + 1,
			(SELECT id FROM bench_ids WHERE s = 'acme'),
			(SELECT id FROM bench_ids WHERE s = 'team-' || lpad((u / 40)::text, 2, '0')),
			(SELECT id FROM bench_ids WHERE s = 'user-' || lpad(u::text, 4, '0')),
			(SELECT id FROM bench_ids WHERE s = 'k' || lpad(u::text, 8, '0')),
			(SELECT id FROM bench_ids WHERE s = 'laptop'),
			(SELECT id FROM bench_ids WHERE s = 'member'),
			(SELECT id FROM bench_ids WHERE s = (ARRAY['anthropic', 'openai', 'anthropic'])[mo + 1]),
			(SELECT id FROM bench_ids WHERE s = (ARRAY['claude-sonnet-4-5', 'gpt-4o', 'claude-haiku-4-5'])[mo + 1]),
			(SELECT id FROM bench_ids WHERE s = (ARRAY['claude-sonnet-4-5', 'gpt-4o', 'claude-haiku-4-5'])[mo + 1]),
			(SELECT id FROM bench_ids WHERE s = (ARRAY['anthropic.messages', 'openai.chat', 'anthropic.messages'])[mo + 1]),
			(SELECT id FROM bench_ids WHERE s = (ARRAY['untagged', 'review', 'refactor', 'tests'])[t + 1]),
			(SELECT id FROM bench_ids WHERE s = (ARRAY['claude-cli', 'cursor'])[a + 1]),
			(SELECT id FROM bench_ids WHERE s = 'gateway')
		FROM generate_series(0, 999) u, generate_series(0, 2) mo, generate_series(0, 3) t, generate_series(0, 1) a`,
		// The month's events into a plain table, indexed in bulk when attached.
		`CREATE TABLE ` + part + ` (LIKE events)`,
		fmt.Sprintf(`INSERT INTO %s (time, latency_us, ttft_us, request_bytes, max_tokens, system_fp, request_fp,
			input, cache_read, cache_write_5m, cache_write_1h, output, reasoning, cost_nano, attr, session, messages, status, flags, id)
		SELECT '%s'::timestamptz + ((r.g - 1)::float8 / %d * %f) * interval '1 second',
			(random() * 30e6)::int8, (random() * 2e6)::int8, (random() * 200000)::int8, 0, (r.g %% 5000)::int8, r.g,
			r.input, r.input / 3, 0, 0, r.output, 0, (r.input * 3000 + r.output * 15000) / 1000,
			r.u * 24 + (CASE WHEN r.rm < 0.7 THEN 0 WHEN r.rm < 0.9 THEN 1 ELSE 2 END) * 8
				+ (CASE WHEN r.rt < 0.6 THEN 0 WHEN r.rt < 0.8 THEN 1 WHEN r.rt < 0.9 THEN 2 ELSE 3 END) * 2
				+ (CASE WHEN r.ra < 0.8 THEN 0 ELSE 1 END) + 1,
			0, 4, 200::int2, 3::int2, decode(md5(r.g::text), 'hex')
		FROM (SELECT g, (random() * 999)::int AS u, random() AS rm, random() AS rt, random() AS ra,
			(random() * 20000)::int8 AS input, (random() * 3000)::int8 AS output
			FROM generate_series(1, %d::int8) g) r`, part, start.Format(time.RFC3339), n, secs, n),
		fmt.Sprintf(`ALTER TABLE events ATTACH PARTITION %s FOR VALUES FROM ('%s') TO ('%s')`, part,
			monthStart(m).Format(time.RFC3339), monthStart(m+1).Format(time.RFC3339)),
		`INSERT INTO rollups_hourly (hour, attr, ` + sumColumns + `)
		SELECT floor(extract(epoch FROM time) / 3600)::int4, attr, count(*), sum8(input), sum8(cache_read), sum8(cache_write_5m),
			sum8(cache_write_1h), sum8(output), sum8(reasoning), count(*) FILTER (WHERE flags & 4 <> 0), sum8(cost_nano),
			count(*) FILTER (WHERE flags & 2 = 0)
		FROM events GROUP BY 1, 2`,
		`ANALYZE`,
	}
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	for i, s := range steps {
		if _, err := conn.Exec(ctx, s); err != nil {
			conn.Release()
			return fmt.Errorf("generate step %d: %w", i+1, err)
		}
	}
	conn.Release()
	// The month's days are closed as a deployment closes them, one by one.
	t0 := time.Now()
	days, err := db.CloseDays(ctx, monthStart(m+1))
	if err != nil {
		return err
	}
	if days > 0 {
		closeTime = time.Since(t0) / time.Duration(days)
	}
	_, err = db.pool.Exec(ctx, `ANALYZE`)
	return err
}

// closeTime is how long generateMonth took to close one day.
var closeTime time.Duration

// postgresCPU sums the CPU time used so far by every process named
// postgres on this machine (Linux /proc; 0 elsewhere), to report what an
// event costs the database whatever else the machine is doing.
func postgresCPU() time.Duration {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var ticks int64
	for _, d := range dirs {
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open || s[open+1:end] != "postgres" {
			continue
		}
		f := strings.Fields(s[end+1:])
		if len(f) > 12 { // utime and stime are fields 14 and 15 of the line
			u, _ := strconv.ParseInt(f[11], 10, 64)
			st, _ := strconv.ParseInt(f[12], 10, 64)
			ticks += u + st
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ is 100
}

// processCPU is the CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
