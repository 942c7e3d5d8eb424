package insights

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/sqlite"
)

// The 10-million-event benchmark: BenchmarkInsightsLedger fills a SQLite
// ledger (in a temporary directory, never committed) through the ordinary
// batched Append, then times insights for one person and for the org and
// a report by user and day over the last 30 days.
//
//	go test -run '^$' -bench BenchmarkInsightsLedger -benchtime 5x ./insights/
//
// ALLOT_BENCH_EVENTS sets the ledger's size (default 10,000,000; 200,000
// with -short); ALLOT_BENCH_DB keeps the ledger in that file and reuses it
// when it exists, so later runs skip the filling.

var benchModels = []string{"claude-opus-4", "claude-sonnet-4", "claude-haiku-4", "gpt-5", "gpt-5-mini", "gpt-5-nano", "gemini-pro", "gemini-flash", "o3", "o4-mini"}

// benchPrices prices the bench models, dear to cheap: input from $15 to
// $6 per million tokens, cache reads a tenth, writes a quarter more,
// output five times input.
var benchPrices = func() fakePricer {
	p := fakePricer{}
	for i, m := range benchModels {
		in := int64(15-i) * 1000 // nano-USD per token
		p[m] = rates{in: in, cacheRead: in / 10, cacheWrite: in + in/4, out: 5 * in}
	}
	return p
}()

// genLedger appends n events over the days before now, in time order as a
// gateway writes them: 1000 people in 20 teams, each day in up to four
// sessions of one app, model, task and system prompt, whose input grows
// turn by turn; a quarter of calls set no output limit, 2% fail, 1%
// repeat the person's previous request.
func genLedger(tb testing.TB, db *sqlite.DB, n, days int, now time.Time) {
	const users, teams, tasks, batch = 1000, 20, 30, 10_000
	rng := rand.New(rand.NewPCG(7, 11))
	start := now.Add(-time.Duration(days) * 24 * time.Hour)
	step := time.Duration(days) * 24 * time.Hour / time.Duration(n)
	lastReq := make([]uint64, users)
	evs := make([]allot.Event, 0, batch)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		at := start.Add(time.Duration(i) * step).Truncate(time.Microsecond)
		u := rng.IntN(users)
		day := at.Unix() / 86400
		block := at.Hour() / 6
		h := uint64(u)*2654435761 + uint64(day)*40503 + uint64(block)*97
		model := benchModels[(u+int(h%3))%len(benchModels)]
		task := fmt.Sprintf("task%02d", (u*7+int(h%4))%tasks)
		app := []string{"claude-cli", "codex", "openai-python", "cursor", "anthropic-go"}[u%5]
		turn := int64(at.Minute() + 60*(at.Hour()%6))
		tok := allot.Tokens{Input: 2000 + turn*150 + rng.Int64N(400), Output: 50 + rng.Int64N(1500)}
		if u%2 == 0 {
			tok.CacheRead = tok.Input / 2
		}
		req := rng.Uint64()
		if rng.IntN(100) == 0 && lastReq[u] != 0 {
			req = lastReq[u]
		}
		lastReq[u] = req
		maxTokens := int64(4096)
		if rng.IntN(4) == 0 {
			maxTokens = 0
		}
		status := 200
		if rng.IntN(50) == 0 {
			status = 529
		}
		cost, _ := benchPrices.Cost("p", model, at, tok)
		evs = append(evs, allot.Event{
			ID: fmt.Sprintf("%032x", i), Time: at,
			Principal: allot.Principal{Org: "acme", Team: fmt.Sprintf("team%02d", u%teams), User: fmt.Sprintf("user%04d", u),
				KeyID: fmt.Sprintf("k%04d", u), KeyLabel: "laptop", Role: allot.RoleMember},
			Provider: "p", RequestedModel: model, ServedModel: model, Route: allot.RouteMessages,
			Task: task, Session: fmt.Sprintf("s%d-%d-%d", u, day, block), App: app, Source: allot.SourceGateway,
			Status: status, Latency: time.Second, RequestBytes: tok.Input * 4, MaxTokens: maxTokens, Messages: int(turn),
			SystemFP: uint64(u%5+1)<<32 | uint64(day%3), RequestFP: req, Tokens: tok, Cost: cost, CostKnown: true,
		})
		if len(evs) == batch || i == n-1 {
			if _, err := db.Append(context.Background(), evs); err != nil {
				tb.Fatal(err)
			}
			evs = evs[:0]
			if (i+1)%1_000_000 < batch {
				tb.Logf("filled %d events in %s (%.0f events/s)", i+1, time.Since(t0).Round(time.Second), float64(i+1)/time.Since(t0).Seconds())
			}
		}
	}
}

var (
	benchOnce  sync.Once
	benchDB    *sqlite.DB
	benchPath  string
	benchUsers []allot.User
	benchErr   error
)

// benchLedger opens (filling it once) the benchmark ledger.
func benchLedger(b *testing.B) (*sqlite.DB, []allot.User) {
	benchOnce.Do(func() {
		n := 10_000_000
		if testing.Short() {
			n = 200_000
		}
		if s := os.Getenv("ALLOT_BENCH_EVENTS"); s != "" {
			if n, benchErr = strconv.Atoi(s); benchErr != nil {
				return
			}
		}
		path := os.Getenv("ALLOT_BENCH_DB")
		defer func() { benchPath = path }()
		reuse := false
		if path == "" {
			dir, err := os.MkdirTemp("", "allot-bench-insights-")
			if err != nil {
				benchErr = err
				return
			}
			path = filepath.Join(dir, "allot.db")
			b.Cleanup(func() { // after the sub-benchmarks
				benchDB.Close()
				os.RemoveAll(dir)
			})
		} else if _, err := os.Stat(path); err == nil {
			reuse = true
		}
		ctx := context.Background()
		if benchDB, benchErr = sqlite.Open(ctx, path); benchErr != nil {
			return
		}
		for u := range 1000 {
			benchUsers = append(benchUsers, allot.User{Name: fmt.Sprintf("user%04d", u), Team: fmt.Sprintf("team%02d", u%20), Role: allot.RoleMember})
		}
		if !reuse {
			t0 := time.Now()
			genLedger(b, benchDB, n, 60, time.Now())
			b.Logf("ledger: %d events over 60 days in %s, %s", n, time.Since(t0).Round(time.Second), path)
		}
		// The first reads fold what waits and pack the past days.
		t0 := time.Now()
		_, benchErr = Build(ctx, benchDB, benchUsers, benchPrices, allot.Principal{User: "root", Role: allot.RoleAdmin}, Request{}, DefaultOptions(), time.Now())
		b.Logf("first org insights (folds what waits, packs the daily totals and insight days it reads): %s", time.Since(t0).Round(time.Millisecond))
		if benchErr != nil {
			return
		}
		// As a server does at start and every few minutes: keep the org's
		// sums over the period's past days.
		t0 = time.Now()
		benchErr = benchDB.WarmInsights(ctx, 35)
		b.Logf("warming: %s", time.Since(t0).Round(time.Millisecond))
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchDB, benchUsers
}

// cpuTime is the CPU time this process has used (user and system), which,
// unlike the wall clock, does not count the time other processes on a
// shared machine take.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds the CPU milliseconds per operation since start.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// BenchmarkInsightsLedger measures insights on the 10M-event ledger: a
// person's and the org's view in a running server (warm), the same as a
// fresh `allot insights` command would (-command: a new handle, nothing in
// memory), and a month-long report by user and day.
func BenchmarkInsightsLedger(b *testing.B) {
	db, users := benchLedger(b)
	ctx := context.Background()
	member := allot.Principal{User: "user0042", Team: "team02", Role: allot.RoleMember}
	admin := allot.Principal{User: "root", Role: allot.RoleAdmin}
	b.Run("person", func(b *testing.B) {
		defer reportCPU(b, cpuTime())
		for b.Loop() {
			ins, err := Build(ctx, db, users, benchPrices, member, Request{}, DefaultOptions(), time.Now())
			if err != nil {
				b.Fatal(err)
			}
			if ins.Requests == 0 {
				b.Fatal("no usage for user0042")
			}
		}
	})
	b.Run("org", func(b *testing.B) {
		defer reportCPU(b, cpuTime())
		var recs int
		for b.Loop() {
			ins, err := Build(ctx, db, users, benchPrices, admin, Request{}, DefaultOptions(), time.Now())
			if err != nil {
				b.Fatal(err)
			}
			recs = len(ins.Recommendations)
		}
		b.ReportMetric(float64(recs), "recommendations")
	})
	// What `allot insights` does: open the ledger in a new process (nothing
	// in memory), build the view, close.
	for _, who := range []struct {
		name   string
		viewer allot.Principal
	}{{"person-command", member}, {"org-command", admin}} {
		b.Run(who.name, func(b *testing.B) {
			defer reportCPU(b, cpuTime())
			for b.Loop() {
				db, err := sqlite.Open(ctx, benchPath)
				if err != nil {
					b.Fatal(err)
				}
				_, err = Build(ctx, db, benchUsers, benchPrices, who.viewer, Request{}, DefaultOptions(), time.Now())
				db.Close()
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("report-user-day", func(b *testing.B) {
		now := time.Now()
		q := allot.ReportQuery{By: []allot.Dimension{allot.DimUser, allot.DimDay}, From: now.AddDate(0, 0, -30), To: now}
		var rows int
		defer reportCPU(b, cpuTime())
		for b.Loop() {
			r, err := db.Report(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			rows = len(r)
		}
		b.ReportMetric(float64(rows), "rows")
	})
}
