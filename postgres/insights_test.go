package postgres

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/internal/periodcache"
	"github.com/allot-dev/allot/sqlite"
)

// insightStart is a past Friday before a month's end: the ledger spans
// two monthly partitions, and its days are past.
var insightStart = time.Date(2026, 10, 30, 0, 0, 0, 0, time.UTC)

// genInsightLedger makes events that exercise every insight aggregate:
// people in sessions that keep their name across days and run past
// midnight, system prompts shared by everyone, by one person or seen
// once (and one seen again exactly a day later, one after more than a
// day), a session switching prompts and key labels (one InsightKey,
// several attributions), calls exactly at the prompt cache TTL and the
// duplicate window after the previous one, repeats of a request in
// another session, failures (499 included), unlimited calls with outputs
// in every long-output class, and one person in two teams. Times are
// distinct and the events sorted by time.
func genInsightLedger(seed uint64, users, days int, start time.Time) []allot.Event {
	rng := rand.New(rand.NewPCG(seed, 7))
	var out []allot.Event
	lastReq := map[int]uint64{} // user -> the last request fingerprint
	add := func(e allot.Event) {
		e.ID = fmt.Sprintf("%016x%016x", seed, uint64(len(out)))
		if len(out)%5 == 0 {
			e.ID = fmt.Sprintf("ins-%d-%d", seed, len(out))
		}
		out = append(out, e)
	}
	outputs := []int64{10, 900, 1023, 1024, 4095, 4096, 16383, 16384, 65535, 65536, 120_000}
	for d := 0; d < days; d++ {
		for u := 0; u < users; u++ {
			team := fmt.Sprintf("team%d", u%2)
			sessions := 1 + rng.IntN(3)
			for s := range sessions {
				at := start.Add(time.Duration(d)*24*time.Hour + time.Duration(rng.IntN(24*60))*time.Minute)
				if rng.IntN(4) == 0 { // late: the session runs past midnight
					at = start.Add(time.Duration(d)*24*time.Hour + 23*time.Hour + time.Duration(rng.IntN(50))*time.Minute)
				}
				model := fmt.Sprintf("model-%d", (u+s)%3)
				task := []string{allot.UntaggedTask, "review", allot.UntaggedTask, "chat"}[(u+s)%4]
				app := fmt.Sprintf("app%d", u%3)
				session := ""
				if rng.IntN(6) != 0 {
					session = fmt.Sprintf("s%d-%d", u, s) // the same name on other days
				}
				tm := team
				if u == 0 && s == 2 {
					tm = "team2" // user0 works for two teams
				}
				var fp uint64
				switch rng.IntN(6) {
				case 0:
				case 1:
					fp = rng.Uint64() | 1 // a prompt sent once
				case 2, 3:
					fp = uint64(1000 + u%3) // the app's prompt, shared
				default:
					fp = uint64(2000 + u*10 + s%2) // the person's own
				}
				input := int64(500 + rng.IntN(2000))
				turns := 2 + rng.IntN(20)
				for range turns {
					var gap time.Duration
					switch rng.IntN(12) {
					case 0:
						gap = allot.PromptCacheTTL
					case 1:
						gap = allot.PromptCacheTTL + time.Microsecond
					case 2:
						gap = time.Duration(6+rng.IntN(40)) * time.Minute
					default:
						gap = time.Duration(1+rng.IntN(200_000_000)) * time.Microsecond
					}
					at = at.Add(gap)
					reqFP := rng.Uint64()
					switch rng.IntN(8) {
					case 0:
						reqFP = lastReq[u] // a repeat (maybe of another session, maybe too late)
					case 1:
						reqFP = 0
					}
					lastReq[u] = reqFP
					if rng.IntN(3) != 0 {
						input += int64(rng.IntN(3000)) - 800
					}
					if rng.IntN(7) == 0 && fp != 0 { // the session switches prompts
						fp ^= 1 << 40
					}
					output := outputs[rng.IntN(len(outputs))]
					maxTokens := int64(8192)
					if rng.IntN(3) == 0 {
						maxTokens = 0
					}
					status := []int{200, 200, 200, 200, 200, 200, 529, allot.StatusClientGone, 404, 400, 399}[rng.IntN(11)]
					tok := allot.Tokens{Input: input, CacheRead: input / 3 * int64(rng.IntN(2)), Output: output, Reasoning: output / 4}
					if rng.IntN(5) == 0 {
						tok.CacheWrite5m = input / 4
					}
					if rng.IntN(9) == 0 {
						tok.CacheWrite1h = input / 5
					}
					add(allot.Event{
						Time: at,
						Principal: allot.Principal{Org: "acme", Team: tm, User: fmt.Sprintf("user%d", u),
							KeyID: fmt.Sprintf("k%d", u), KeyLabel: []string{"laptop", "ci"}[rng.IntN(2)], Role: allot.RoleMember},
						Provider: "openai", RequestedModel: model, ServedModel: model, Route: allot.RouteChat,
						Task: task, Session: session, App: app, Source: allot.SourceGateway,
						Status: status, MaxTokens: maxTokens, SystemFP: fp, RequestFP: reqFP,
						Tokens: tok, Cost: allot.Money(tok.Input*100 + tok.Output*400 + int64(rng.IntN(100))), CostKnown: rng.IntN(20) != 0,
						Estimated: rng.IntN(10) == 0, Latency: time.Second,
					})
				}
			}
		}
	}
	// A prompt seen again exactly a day later (known), one a day and a
	// microsecond later (a first sight again), one 23.5 hours later (in
	// the window's first whole hour).
	base := out[0]
	for _, p := range []struct {
		at time.Duration
		fp uint64
	}{{0, 3000}, {24 * time.Hour, 3000}, {50 * time.Hour, 3001}, {74*time.Hour + time.Microsecond, 3001},
		{50 * time.Minute, 3002}, {50*time.Minute + 23*time.Hour + 30*time.Minute, 3002}} {
		e := base
		e.Time = start.Add(90*time.Minute + p.at)
		e.SystemFP = p.fp
		e.Session = "lone"
		add(e)
	}
	slices.SortStableFunc(out, func(a, b allot.Event) int { return a.Time.Compare(b.Time) })
	for i := 1; i < len(out); i++ { // distinct times, as both stores order ties differently
		if !out[i].Time.After(out[i-1].Time) {
			out[i].Time = out[i-1].Time.Add(time.Microsecond)
		}
	}
	return out
}

// sortCalls puts the prompts and sessions in the order this store gives
// them (SQLite's follows its internal ids).
func sortCalls(c *allot.InsightCalls) {
	slices.SortFunc(c.Prompts, func(a, b allot.PromptUsage) int {
		return cmp.Or(cmpInsightKey(&a.InsightKey, &b.InsightKey), cmp.Compare(a.SystemFP, b.SystemFP))
	})
	slices.SortFunc(c.Sessions, func(a, b allot.SessionUsage) int {
		return cmp.Or(cmpInsightKey(&a.InsightKey, &b.InsightKey), strings.Compare(a.Session, b.Session))
	})
}

// openInsightPair opens a PostgreSQL schema and a SQLite file holding the
// same events, appended in time order in batches.
func openInsightPair(t *testing.T, events []allot.Event) (*sqlite.DB, *DB) {
	t.Helper()
	pg := openTest(t)
	return openLite(t, events), pg
}

// openLite opens a fresh SQLite file holding events.
func openLite(t *testing.T, events []allot.Event) *sqlite.DB {
	t.Helper()
	lite, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "allot.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lite.Close() })
	for b := 0; b < len(events); b += 400 {
		if _, err := lite.Append(context.Background(), events[b:min(b+400, len(events))]); err != nil {
			t.Fatal(err)
		}
	}
	return lite
}

// insightQueries are the scopes and ranges compared: the org, a team, a
// person (in two teams), a person within one team, people never seen;
// the whole ledger, one day (sessions cut at midnight), an unaligned
// range, days without events.
func insightQueries(start time.Time, days int) []allot.InsightQuery {
	ranges := [][2]time.Time{
		{start.Add(-48 * time.Hour), start.Add(time.Duration(days+2) * 24 * time.Hour)},
		{start.Add(24 * time.Hour), start.Add(48 * time.Hour)},
		{start.Add(30*time.Hour + 17*time.Minute), start.Add(time.Duration(days)*24*time.Hour - 5*time.Hour)},
		{start.Add(-10 * 24 * time.Hour), start.Add(-3 * 24 * time.Hour)},
	}
	scopes := []allot.InsightQuery{{}, {Team: "team1"}, {User: "user0"}, {User: "user0", Team: "team2"}, {Team: "team2"}, {User: "nobody"}, {Team: "user3"}}
	var out []allot.InsightQuery
	for i, s := range scopes {
		for j, r := range ranges {
			if i > 2 && j > 0 {
				continue
			}
			q := s
			q.From, q.To = r[0], r[1]
			out = append(out, q)
		}
	}
	return out
}

// compareInsights requires every insight read of pg to equal lite's for qs.
func compareInsights(t *testing.T, lite allot.InsightSource, pg *DB, qs []allot.InsightQuery) {
	t.Helper()
	ctx := context.Background()
	type extra interface {
		PromptUsage(ctx context.Context, q allot.InsightQuery) ([]allot.PromptUsage, error)
		SessionUsage(ctx context.Context, q allot.InsightQuery) ([]allot.SessionUsage, error)
	}
	var nonEmpty int
	for _, q := range qs {
		name := fmt.Sprintf("user %q team %q %s..%s", q.User, q.Team, q.From.Format(time.DateTime), q.To.Format(time.DateTime))
		for _, totals := range []bool{false, true} {
			q.Totals = totals
			a, err1 := lite.InsightUsage(ctx, q)
			b, err2 := pg.InsightUsage(ctx, q)
			if err1 != nil || err2 != nil || !reflect.DeepEqual(a, b) {
				t.Errorf("InsightUsage %s totals %v: sqlite %d rows %v, postgres %d rows %v\n sqlite %+v\npostgres %+v", name, totals, len(a), err1, len(b), err2, a, b)
			}
		}
		q.Totals = false
		ca, err1 := lite.InsightCalls(ctx, q)
		cb, err2 := pg.InsightCalls(ctx, q)
		sortCalls(&ca)
		if err1 != nil || err2 != nil {
			t.Fatalf("InsightCalls %s: sqlite %v, postgres %v", name, err1, err2)
		}
		if !reflect.DeepEqual(ca.Prompts, cb.Prompts) {
			t.Errorf("InsightCalls %s prompts: sqlite %d, postgres %d; first difference %s", name, len(ca.Prompts), len(cb.Prompts), firstDifference(ca.Prompts, cb.Prompts))
		}
		if !reflect.DeepEqual(ca.Sessions, cb.Sessions) {
			t.Errorf("InsightCalls %s sessions: sqlite %d, postgres %d; first difference %s", name, len(ca.Sessions), len(cb.Sessions), firstDifference(ca.Sessions, cb.Sessions))
		}
		if len(cb.Prompts) > 0 && len(cb.Sessions) > 0 {
			nonEmpty++
		}
		if x, ok := lite.(extra); ok {
			pa, err1 := x.PromptUsage(ctx, q)
			pb, err2 := pg.PromptUsage(ctx, q)
			sa, err3 := x.SessionUsage(ctx, q)
			sb, err4 := pg.SessionUsage(ctx, q)
			c := allot.InsightCalls{Prompts: pa, Sessions: sa}
			sortCalls(&c)
			if err := cmp.Or(err1, err2, err3, err4); err != nil || !reflect.DeepEqual(c.Prompts, pb) || !reflect.DeepEqual(c.Sessions, sb) {
				t.Errorf("PromptUsage/SessionUsage %s differ from InsightCalls (%v)", name, err)
			}
		}
		da, err1 := lite.DailySpend(ctx, q)
		dp, err2 := pg.DailySpend(ctx, q)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(da, dp) {
			t.Errorf("DailySpend %s: sqlite %v %v\npostgres %v %v", name, da, err1, dp, err2)
		}
	}
	if nonEmpty < len(qs)/3 {
		t.Errorf("only %d of %d queries found prompts and sessions: the ledger tests too little", nonEmpty, len(qs))
	}
}

// firstDifference describes the first differing element of two lists.
func firstDifference[T any](a, b []T) string {
	for i := range min(len(a), len(b)) {
		if !reflect.DeepEqual(a[i], b[i]) {
			return fmt.Sprintf("#%d\n sqlite %+v\npostgres %+v", i, a[i], b[i])
		}
	}
	if len(a) != len(b) {
		return "in length"
	}
	return "none"
}

// TestSameInsightsAsSQLite appends the same events to SQLite and
// PostgreSQL and requires identical insights for every scope and range.
func TestSameInsightsAsSQLite(t *testing.T) {
	t.Parallel()
	const days = 4
	events := genInsightLedger(1, 16, days, insightStart)
	if len(events) < 1500 {
		t.Fatalf("generator made only %d events", len(events))
	}
	lite, pg := openInsightPair(t, events)
	for b := 0; b < len(events); b += 500 {
		batch := events[b:min(b+700, len(events))] // overlapping batches
		mustAppend(t, pg, batch)
	}
	compareInsights(t, lite, pg, insightQueries(insightStart, days))
	checkCoverage(t, pg, insightQueries(insightStart, days)[0])
	// Again once the days are closed (daily rollups) and packed (SQLite).
	if _, err := pg.CloseDays(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	compareInsights(t, lite, pg, insightQueries(insightStart, days)[:3])
}

// TestRelabelTasksLikeSQLite relabels the same prompts on both stores:
// the same events move (the whole day of a call in range, as SQLite
// does), reports agree, and the insights afterwards equal those of a
// SQLite store that received the relabelled events in the first place.
func TestRelabelTasksLikeSQLite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const days = 3
	events := genInsightLedger(2, 8, days, insightStart)
	lite, pg := openInsightPair(t, events)
	mustAppend(t, pg, events)
	// Close a day first: its daily rollups must be rebuilt too.
	if _, err := pg.CloseDays(ctx, insightStart.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	labels := allot.TaskLabels{1000: "code-review", 1001: "chat", 2010: "review", 2011: "review", 1<<40 | 1000: "code-review"}
	from, to := insightStart.Add(12*time.Hour), insightStart.Add(40*time.Hour)
	n1, err1 := lite.RelabelTasks(ctx, labels, from, to)
	n2, err2 := pg.RelabelTasks(ctx, labels, from, to)
	if err1 != nil || err2 != nil || n1 != n2 || n1 == 0 {
		t.Fatalf("RelabelTasks: sqlite %d %v, postgres %d %v", n1, err1, n2, err2)
	}
	ea, err1 := lite.Events(ctx, insightStart.Add(-time.Hour), insightStart.Add((days+1)*24*time.Hour), 0)
	eb, err2 := pg.Events(ctx, insightStart.Add(-time.Hour), insightStart.Add((days+1)*24*time.Hour), 0)
	if err1 != nil || err2 != nil || len(ea) != len(events) || !reflect.DeepEqual(ea, eb) {
		t.Fatalf("events after relabel: sqlite %d %v, postgres %d %v; %s", len(ea), err1, len(eb), err2, firstDifference(ea, eb))
	}
	moved := 0
	for i := range ea {
		if ea[i].Task != events[i].Task {
			moved++
			if ea[i].Time.Before(from) || !ea[i].Time.Before(to) {
				t.Errorf("event %s at %s moved, outside [%s, %s)", ea[i].ID, ea[i].Time, from, to)
			}
		}
	}
	if int64(moved) != n1 {
		t.Errorf("%d events changed task, relabel said %d", moved, n1)
	}
	for _, by := range [][]allot.Dimension{{allot.DimTask}, {allot.DimDay, allot.DimTask, allot.DimUser}, {allot.DimHour, allot.DimTask}} {
		q := allot.ReportQuery{By: by, From: insightStart.Add(-24 * time.Hour), To: insightStart.Add((days + 1) * 24 * time.Hour)}
		ra, err1 := lite.Report(ctx, q)
		rb, err2 := pg.Report(ctx, q)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(ra, rb) {
			t.Errorf("Report by %v after relabel: sqlite %v %v\npostgres %v %v", by, ra, err1, rb, err2)
		}
	}
	// SQLite rebuilds the relabelled days' aggregates from those calls
	// alone (forgetting the calls before them), PostgreSQL reads all the
	// events: it answers as a SQLite store given the moved events.
	compareInsights(t, openLite(t, ea), pg, insightQueries(insightStart, days)[:6])
	if n, err := pg.RelabelTasks(ctx, labels, from, to); err != nil || n != 0 {
		t.Errorf("second relabel: %d, %v; want 0", n, err)
	}
}

// checkCoverage fails unless q's insights hold some of everything the
// comparison is meant to cover.
func checkCoverage(t *testing.T, pg *DB, q allot.InsightQuery) {
	t.Helper()
	ctx := context.Background()
	usage, err := pg.InsightUsage(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	calls, err := pg.InsightCalls(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var u allot.InsightUsage
	for _, x := range usage {
		u.Failed = u.Failed.Add(x.Failed)
		u.Duplicates = u.Duplicates.Add(x.Duplicates)
		u.NoMaxTokens += x.NoMaxTokens
		for c := range x.LongOutputs {
			u.LongOutputs[c].Requests += x.LongOutputs[c].Requests
		}
	}
	var misses, repeats, growing, overnight, fewerMisses int64
	for _, p := range calls.Prompts {
		misses += p.CacheMisses
		if p.CacheMisses < p.Requests {
			fewerMisses++
		}
		repeats += p.Requests
	}
	for _, s := range calls.Sessions {
		growing += s.Growing
		if s.Start.Truncate(24*time.Hour) != s.End.Truncate(24*time.Hour) {
			overnight++
		}
	}
	for name, n := range map[string]int64{"failed": u.Failed.Requests, "duplicates": u.Duplicates.Requests, "unlimited": u.NoMaxTokens,
		"long outputs of the first class": u.LongOutputs[0].Requests, "long outputs of the last class": u.LongOutputs[allot.LongOutputBuckets-1].Requests,
		"cache misses": misses, "prompts with cache hits": fewerMisses, "prompt calls": repeats, "growing turns": growing, "sessions over midnight": overnight} {
		if n == 0 {
			t.Errorf("the ledger has no %s", name)
		}
	}
}

// TestSameInsightsAsSQLiteWithTies makes calls of different people share
// their microsecond (a shared prompt's first call in the day may then
// have an earlier call at the same time) and stores them in (time, id)
// order, the order both stores then take them in.
func TestSameInsightsAsSQLiteWithTies(t *testing.T) {
	t.Parallel()
	const days = 3
	events := genInsightLedger(3, 10, days, insightStart)
	at := map[string]bool{} // users at the current time
	for i := 1; i < len(events); i++ {
		if at[events[i].User] || i%3 == 0 {
			clear(at)
			at[events[i].User] = true
			if !events[i].Time.After(events[i-1].Time) {
				events[i].Time = events[i-1].Time.Add(time.Microsecond)
			}
			continue
		}
		events[i].Time = events[i-1].Time
		at[events[i].User] = true
	}
	// A prompt new to everyone, sent by several people at once: the
	// calls after the first (by id) know it.
	var u0, u1 allot.Event
	for _, e := range events {
		switch e.User {
		case "user0":
			u0 = e
		case "user1":
			u1 = e
		}
	}
	for i, e := range []allot.Event{u1, u0, u1, u0, u0} {
		e.ID = fmt.Sprintf("tie-%d", i)
		e.Time = insightStart.Add(36*time.Hour + time.Duration(i/3)*time.Hour) // three at once, then two
		e.SystemFP, e.Session = 4000+uint64(i/3), "tied"
		events = append(events, e)
	}
	slices.SortStableFunc(events, func(a, b allot.Event) int {
		return cmp.Or(a.Time.Compare(b.Time), bytes.Compare(encodeID(a.ID), encodeID(b.ID)))
	})
	lite, pg := openInsightPair(t, events)
	mustAppend(t, pg, events)
	compareInsights(t, lite, pg, insightQueries(insightStart, days))
}

// TestKeptOrgInsightsAsRead: the org's sums over closed days, once kept
// (WarmInsights), give the same insights as reading every event, the same
// as SQLite's; a late call into a closed day gives the day a new version,
// and the kept sums are not used until kept again.
func TestKeptOrgInsightsAsRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const days = 4
	events := genInsightLedger(4, 12, days, insightStart)
	var first, late []allot.Event
	for i, e := range events {
		if i%5 == 4 && e.Time.Before(insightStart.Add(3*24*time.Hour)) {
			late = append(late, e)
		} else {
			first = append(first, e)
		}
	}
	lite, pg := openInsightPair(t, first)
	mustAppend(t, pg, first)
	if _, err := pg.CloseDays(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	var qs []allot.InsightQuery
	for _, q := range insightQueries(insightStart, days) {
		if q.User == "" && q.Team == "" {
			qs = append(qs, q)
		}
	}
	keep := func() {
		t.Helper()
		for _, q := range qs {
			from, to := dayBounds(q.From, q.To)
			if err := pg.warmOrg(ctx, from.UnixMicro()/usPerDay, to.UnixMicro()/usPerDay); err != nil {
				t.Fatal(err)
			}
		}
	}
	type views struct {
		usage [][]allot.InsightUsage
		calls []allot.InsightCalls
	}
	read := func() views {
		t.Helper()
		var v views
		for _, q := range qs {
			u, err := pg.InsightUsage(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			c, err := pg.InsightCalls(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			v.usage, v.calls = append(v.usage, u), append(v.calls, c)
		}
		return v
	}
	forget := func() {
		pg.kextras, pg.kcalls = &periodcache.Cache[[]attrExtras]{Keep: keptPeriodsMax}, &periodcache.Cache[*callFolder]{Keep: keptPeriodsMax}
	}
	same := func(stage string, used bool) {
		t.Helper()
		hits := pg.kextras.Hits() + pg.kcalls.Hits()
		kept := read()
		if got := pg.kextras.Hits() + pg.kcalls.Hits(); (got > hits) != used {
			t.Fatalf("%s: kept sums used %d times, want them used: %v", stage, got-hits, used)
		}
		forget()
		if fresh := read(); !reflect.DeepEqual(kept, fresh) {
			t.Errorf("%s: insights through the kept sums differ from reading every event", stage)
		}
	}
	keep()
	same("kept", true)
	keep()
	compareInsights(t, lite, pg, qs)
	mustAppend(t, pg, late)
	same("late calls into closed days", false)
	keep()
	same("kept again", true)
}

// TestInsightRowsFoldedAcrossReplicas: the ledger appended out of time
// order (late events into hours already folded), by two replicas at once
// while a third reads insights (folding what is marked as it goes), or
// newest batch first with a fold after each. The rows then give exactly
// what SQLite gives for the same events appended in order: every changed
// hour, and the hours after it whose repeats and known prompts it
// decides, were refolded.
func TestInsightRowsFoldedAcrossReplicas(t *testing.T) {
	t.Parallel()
	const days = 3
	events := genInsightLedger(7, 10, days, insightStart)
	var batches [][]allot.Event // of 40 events, in time order
	for i := 0; i < len(events); i += 40 {
		batches = append(batches, events[i:min(i+40, len(events))])
	}
	for _, tc := range []struct {
		name     string
		replicas int
		order    func(bs [][]allot.Event)
		foldEach bool // fold after each batch; else a reader reads meanwhile
	}{
		{"two replicas, shuffled, read meanwhile", 2, func(bs [][]allot.Event) {
			rand.New(rand.NewPCG(7, 8)).Shuffle(len(bs), func(i, j int) { bs[i], bs[j] = bs[j], bs[i] })
		}, false},
		{"newest first, folded after each", 1, slices.Reverse[[][]allot.Event], true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn := testDSN(t)
			schema := testSchema(t, dsn)
			reader := openSchema(t, dsn, schema)
			bs := slices.Clone(batches)
			tc.order(bs)
			errs := make(chan error, tc.replicas+1)
			done := make(chan struct{})
			for r := range tc.replicas {
				db := openSchema(t, dsn, schema)
				go func() {
					for i := r; i < len(bs); i += tc.replicas {
						if _, err := db.Append(ctx, bs[i]); err != nil {
							errs <- err
							return
						}
						if tc.foldEach {
							if err := db.foldInsights(ctx); err != nil {
								errs <- err
								return
							}
						}
					}
					errs <- nil
				}()
			}
			go func() {
				q := allot.InsightQuery{From: insightStart, To: insightStart.Add(days * 24 * time.Hour)}
				for !tc.foldEach {
					select {
					case <-done:
						errs <- nil
						return
					default:
					}
					if _, err := reader.InsightCalls(ctx, q); err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
			for range tc.replicas {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			close(done)
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
			compareInsights(t, openLite(t, events), reader, insightQueries(insightStart, days))
		})
	}
}
