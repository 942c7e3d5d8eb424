package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/internal/periodcache"
	"github.com/allot-dev/allot/rollup"
)

// insightStart is a past Monday: its days are packed into insight_days.
var insightStart = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

// genSessions makes, for each of users people, sessions of calls over
// days days in time order: each session keeps one model, task, app and
// system prompt and its input grows turn by turn; some calls repeat the
// previous request, fail, set no max_tokens or write long outputs, and
// the gaps between calls sometimes exceed the prompt cache TTL.
func genSessions(seed uint64, users, days int, start time.Time) []allot.Event {
	rng := rand.New(rand.NewPCG(seed, 99))
	var out []allot.Event
	for d := 0; d < days; d++ {
		for u := 0; u < users; u++ {
			for s := 0; s < 1+rng.IntN(3); s++ {
				at := start.Add(time.Duration(d)*24*time.Hour + time.Duration(rng.IntN(10*60))*time.Minute)
				model := fmt.Sprintf("model-%d", (u+s)%3)
				task := fmt.Sprintf("task%d", (u*3+s)%4)
				app := fmt.Sprintf("app%d", u%2)
				session := ""
				if rng.IntN(5) != 0 {
					session = fmt.Sprintf("s%d-%d-%d", u, d, s)
				}
				fp := uint64(0)
				if rng.IntN(4) != 0 {
					fp = uint64(1000 + u*10 + s%2)
				}
				input := int64(500 + rng.IntN(2000))
				var reqFP uint64
				for turn := 0; turn < 2+rng.IntN(12); turn++ {
					gap := time.Duration(10+rng.IntN(200)) * time.Second
					if rng.IntN(6) == 0 {
						gap = time.Duration(6+rng.IntN(30)) * time.Minute
					}
					at = at.Add(gap)
					if rng.IntN(7) != 0 || reqFP == 0 {
						reqFP = rng.Uint64()
						input += int64(rng.IntN(3000)) - 300
					}
					output := int64(rng.IntN(3000))
					if rng.IntN(10) == 0 {
						output = int64(rng.IntN(120_000))
					}
					maxTokens := int64(8192)
					if rng.IntN(3) == 0 {
						maxTokens = 0
					}
					status := 200
					switch rng.IntN(12) {
					case 0:
						status = 529
					case 1:
						status = allot.StatusClientGone
					}
					tok := allot.Tokens{Input: input, CacheRead: input / 3 * int64(rng.IntN(2)), Output: output}
					if rng.IntN(5) == 0 {
						tok.CacheWrite5m = input / 4
					}
					out = append(out, allot.Event{
						ID:   fmt.Sprintf("e-%d-%d", seed, len(out)),
						Time: at,
						Principal: allot.Principal{Org: "acme", Team: fmt.Sprintf("team%d", u%2), User: fmt.Sprintf("user%d", u),
							KeyID: fmt.Sprintf("k%d", u), KeyLabel: "laptop", Role: allot.RoleMember},
						Provider: "openai", RequestedModel: model, ServedModel: model, Route: allot.RouteChat,
						Task: task, Session: session, App: app, Source: allot.SourceGateway,
						Status: status, MaxTokens: maxTokens, SystemFP: fp, RequestFP: reqFP,
						Tokens: tok, Cost: allot.Money(tok.Input*100 + tok.Output*400), CostKnown: true,
					})
				}
			}
		}
	}
	slices.SortStableFunc(out, func(a, b allot.Event) int { return a.Time.Compare(b.Time) })
	return out
}

func keyOf(e *allot.Event) allot.InsightKey {
	return allot.InsightKey{Team: e.Team, User: e.User, Provider: e.Provider, Model: e.ServedModel, Task: e.Task, App: e.App}
}

// expectedInsights computes from events, one by one in time order, what
// the aggregates must hold. A system prompt counts apart from its second
// call within a day on (the first is kept with its session's calls); a
// session's parts with different prompts interleave within a day, and a
// day's calls follow the previous day's.
func expectedInsights(events []allot.Event) (map[allot.InsightKey]allot.InsightUsage, map[string]allot.PromptUsage, map[string]allot.SessionUsage) {
	evs := slices.Clone(events)
	slices.SortStableFunc(evs, func(a, b allot.Event) int { return a.Time.Compare(b.Time) })
	usage := map[allot.InsightKey]allot.InsightUsage{}
	prompts := map[string]allot.PromptUsage{}
	type dk struct {
		user string
		fp   uint64
	}
	lastReq := map[dk]time.Time{}
	lastPrompt := map[uint64]time.Time{}
	// A piece is the calls of one session and (effective) prompt on one day.
	type piece struct {
		session               string
		key                   allot.InsightKey
		day                   int64
		first, last           time.Time
		firstInput, lastInput int64
		growing, requests     int64
		tokens                allot.Tokens
		cost                  allot.Money
	}
	pieces := map[string]*piece{}
	var order []string
	for i := range evs {
		e := &evs[i]
		k := keyOf(e)
		u := usage[k]
		u.InsightKey = k
		u.Requests++
		u.Tokens = u.Tokens.Add(e.Tokens)
		u.Cost += e.Cost
		sum := allot.UsageSum{Requests: 1, Input: e.Tokens.Input, Output: e.Tokens.Output, Cost: e.Cost}
		if e.Status >= 400 {
			u.Failed = u.Failed.Add(sum)
		}
		if prev, ok := lastReq[dk{e.User, e.RequestFP}]; ok && e.Time.Sub(prev) <= allot.DuplicateWindow {
			u.Duplicates = u.Duplicates.Add(sum)
		}
		lastReq[dk{e.User, e.RequestFP}] = e.Time
		if e.MaxTokens == 0 {
			u.NoMaxTokens++
			u.NoMaxOutput += e.Tokens.Output
			if c := allot.LongOutputBucket(e.Tokens.Output); c >= 0 {
				u.LongOutputs[c].Requests++
				u.LongOutputs[c].Output += e.Tokens.Output
			}
		}
		usage[k] = u
		fp := e.SystemFP
		if fp != 0 {
			prev, seen := lastPrompt[fp]
			lastPrompt[fp] = e.Time
			if !seen || e.Time.Sub(prev) > 24*time.Hour {
				fp = 0
			}
		}
		if e.Session == "" && fp == 0 {
			continue
		}
		day := e.Time.Unix() / 86400
		pk := fmt.Sprint(k, e.Session, fp, day)
		p := pieces[pk]
		if p == nil {
			p = &piece{session: e.Session, key: k, day: day, first: e.Time, firstInput: e.Tokens.Input}
			pieces[pk] = p
			order = append(order, pk)
		} else if e.Tokens.Input > p.lastInput {
			p.growing++
		}
		miss := p.requests == 0 || e.Time.Sub(p.last) > allot.PromptCacheTTL
		p.last, p.lastInput = e.Time, e.Tokens.Input
		p.requests++
		tok := allot.Tokens{Input: e.Tokens.Input, CacheRead: e.Tokens.CacheRead, CacheWrite5m: e.Tokens.CacheWrite5m, CacheWrite1h: e.Tokens.CacheWrite1h, Output: e.Tokens.Output}
		p.tokens = p.tokens.Add(tok)
		p.cost += e.Cost
		if fp != 0 {
			pk := fmt.Sprint(k, fp)
			pu := prompts[pk]
			if pu.Requests == 0 {
				pu.MinInput = e.Tokens.Input
			}
			pu.InsightKey, pu.SystemFP = k, fp
			pu.Requests++
			pu.Tokens = pu.Tokens.Add(tok)
			pu.Cost += e.Cost
			pu.MinInput = min(pu.MinInput, e.Tokens.Input)
			if miss {
				pu.CacheMisses++
			}
			prompts[pk] = pu
		}
	}
	// Sessions: a day's pieces interleave, the next day's follow.
	type dayKey struct {
		session string
		key     allot.InsightKey
		day     int64
	}
	days := map[dayKey]*piece{}
	var dayOrder []dayKey
	for _, pk := range order {
		p := pieces[pk]
		if p.session == "" {
			continue
		}
		dk := dayKey{p.session, p.key, p.day}
		d := days[dk]
		if d == nil {
			c := *p
			days[dk] = &c
			dayOrder = append(dayOrder, dk)
			continue
		}
		d.growing += p.growing
		d.requests += p.requests
		d.tokens = d.tokens.Add(p.tokens)
		d.cost += p.cost
		if p.first.Before(d.first) {
			d.first, d.firstInput = p.first, p.firstInput
		}
		if !p.last.Before(d.last) {
			d.last, d.lastInput = p.last, p.lastInput
		}
	}
	slices.SortStableFunc(dayOrder, func(a, b dayKey) int { return int(a.day - b.day) })
	sessions := map[string]allot.SessionUsage{}
	for _, dk := range dayOrder {
		d := days[dk]
		sk := fmt.Sprint(dk.key, dk.session)
		s, ok := sessions[sk]
		if !ok {
			s = allot.SessionUsage{InsightKey: dk.key, Session: dk.session, Start: d.first, FirstInput: d.firstInput}
		} else if d.firstInput > s.LastInput {
			s.Growing++
		}
		s.Growing += d.growing
		s.End, s.LastInput = d.last, d.lastInput
		s.Requests += d.requests
		s.Tokens = s.Tokens.Add(d.tokens)
		s.Cost += d.cost
		sessions[sk] = s
	}
	return usage, prompts, sessions
}

// checkInsights compares every aggregate db hands out for [from, to) with
// what events imply. Loosely, it leaves out what depends on the calls one
// process saw before (duplicates, when a prompt was first seen, and so
// session growth across prompts): two processes appending to one file, or
// days rebuilt by a relabel, see different histories.
func checkInsights(t *testing.T, db *DB, events []allot.Event, from, to time.Time, loose ...bool) {
	t.Helper()
	isLoose := len(loose) > 0 && loose[0]
	ctx := context.Background()
	wantUsage, wantPrompts, wantSessions := expectedInsights(events)
	q := allot.InsightQuery{From: from, To: to}
	usage, err := db.InsightUsage(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(usage) != len(wantUsage) {
		t.Errorf("InsightUsage: %d keys, want %d", len(usage), len(wantUsage))
	}
	for _, u := range usage {
		w := wantUsage[u.InsightKey]
		if isLoose {
			u.Duplicates, w.Duplicates = allot.UsageSum{}, allot.UsageSum{}
		}
		if !reflect.DeepEqual(u, w) {
			t.Errorf("InsightUsage %v:\n got %+v\nwant %+v", u.InsightKey, u, w)
		}
	}
	sessions, err := db.SessionUsage(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != len(wantSessions) {
		t.Errorf("SessionUsage: %d sessions, want %d", len(sessions), len(wantSessions))
	}
	for _, s := range sessions {
		w := wantSessions[fmt.Sprint(s.InsightKey, s.Session)]
		if isLoose {
			s.Growing, w.Growing = 0, 0
		}
		if !reflect.DeepEqual(s, w) {
			t.Errorf("SessionUsage %v %s:\n got %+v\nwant %+v", s.InsightKey, s.Session, s, w)
		}
	}
	if isLoose {
		return
	}
	prompts, err := db.PromptUsage(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(prompts) != len(wantPrompts) {
		t.Errorf("PromptUsage: %d prompts, want %d", len(prompts), len(wantPrompts))
	}
	for _, p := range prompts {
		if w := wantPrompts[fmt.Sprint(p.InsightKey, p.SystemFP)]; !reflect.DeepEqual(p, w) {
			t.Errorf("PromptUsage %v %x:\n got %+v\nwant %+v", p.InsightKey, p.SystemFP, p, w)
		}
	}
}

// TestInsightSessionsAcrossPromptsAndKeys: a person's session whose calls
// alternate between system prompts, one of their keys a day, is one
// session, its parts of a day interleaved and the next day's following,
// both from packed past days and from today's hours, though other
// sessions (one of another person by the same name) come between its
// parts in the stored order.
func TestInsightSessionsAcrossPromptsAndKeys(t *testing.T) {
	t.Parallel()
	day := insightStart.Truncate(24 * time.Hour)
	var events []allot.Event
	add := func(user, key, session string, fp uint64, at time.Time, input int64) {
		tok := allot.Tokens{Input: input, Output: 100}
		events = append(events, allot.Event{
			ID: fmt.Sprintf("x-%d", len(events)), Time: at,
			Principal: allot.Principal{Org: "acme", Team: "team0", User: user, KeyID: key, KeyLabel: key, Role: allot.RoleMember},
			Provider:  "openai", RequestedModel: "m", ServedModel: "m", Route: allot.RouteChat,
			Task: "code", Session: session, App: "app", Source: allot.SourceGateway, Status: 200, MaxTokens: 1000,
			SystemFP: fp, RequestFP: uint64(len(events) + 1), Tokens: tok, Cost: allot.Money(input * 100), CostKnown: true,
		})
	}
	for d, key := range []string{"ana-laptop", "ana-ci"} { // one key a day: a key's calls are one stream
		for i := range 40 {
			at := day.Add(time.Duration(d)*24*time.Hour + 10*time.Hour + time.Duration(i)*2*time.Minute)
			fp := uint64(111 + 111*(i/2%2)) // two prompts in turn, then from 11:00 a third
			if i >= 30 {
				fp = 444
			}
			add("ana", key, "s1", fp, at, int64(1000+4000*(i/2%2)+10*i))
			add("ana", key, "s2", 333, at.Add(time.Second), int64(2000-10*i))
			add("bo", "bo-laptop", "s1", 111, at.Add(2*time.Second), int64(3000+i))
		}
	}
	slices.SortStableFunc(events, func(a, b allot.Event) int { return a.Time.Compare(b.Time) })
	from, to := day, day.Add(2*24*time.Hour)
	for _, tc := range []struct {
		name string
		now  time.Time
	}{
		{"packed days", to.Add(time.Hour)},
		{"today's hours", to.Add(-time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := openTest(t)
			db.clock = func() time.Time { return tc.now }
			mustAppend(t, db, events)
			checkInsights(t, db, events, from, to)
			// Again with the past days' sums kept, today's following them.
			if _, err := db.orgCalls(context.Background(), from.UnixMicro()/usPerDay, tc.now.UnixMicro()/usPerDay); err != nil {
				t.Fatal(err)
			}
			checkInsights(t, db, events, from, to)
		})
	}
}

func TestInsightAggregatesMatchEvents(t *testing.T) {
	t.Parallel()
	events := genSessions(1, 12, 3, insightStart)
	if len(events) < 300 {
		t.Fatalf("generator made only %d events", len(events))
	}
	from, to := insightStart.Truncate(24*time.Hour), insightStart.Add(4*24*time.Hour)
	tests := []struct {
		name             string
		batch            int
		backlog, catchUp int64
		twoHandles       bool // append alternately through two handles on one file
		repeat           bool // append every batch twice
		overlap          bool // every batch also repeats half the previous one
	}{
		{"folded on read", 50, insightBacklog, insightCatchUp, false, false, false},
		{"folded by append", 37, 10, 10_000, false, false, false},
		{"append lags behind", 20, 5, 3, false, false, false},
		{"batches repeated", 25, 10, 10_000, false, true, false},
		{"batches overlap", 24, 10, 10_000, false, false, true},
		{"two handles", 30, 7, 1000, true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "allot.db")
			var handles []*DB
			for range 1 + btoi(tt.twoHandles) {
				db, err := Open(context.Background(), path)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				st := db.insights()
				st.backlog, st.catchUp = tt.backlog, tt.catchUp
				handles = append(handles, db)
			}
			for i := 0; i < len(events); i += tt.batch {
				db := handles[(i/tt.batch)%len(handles)]
				b := events[i:min(i+tt.batch, len(events))]
				if tt.overlap && i > 0 {
					b = events[i-tt.batch/2 : min(i+tt.batch, len(events))]
				}
				mustAppend(t, db, b)
				if tt.repeat {
					if n := mustAppend(t, db, b); n != 0 {
						t.Fatalf("repeat stored %d", n)
					}
				}
			}
			checkInsights(t, handles[0], events, from, to, tt.twoHandles)
			// Again from the packed days, which the first read built.
			checkInsights(t, handles[0], events, from, to, tt.twoHandles)
			// Every day from the first with data to the end of the range.
			var packed int
			if err := handles[0].r.QueryRow(`SELECT count(*) FROM insight_days WHERE part = -1`).Scan(&packed); err != nil || packed != 5 {
				t.Errorf("insight_days holds %d days (%v), want 5", packed, err)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestInsightQueriesFilterAndTrimDays(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	events := genSessions(2, 4, 3, insightStart)
	mustAppend(t, db, events)
	ctx := context.Background()
	day2 := insightStart.Truncate(24 * time.Hour).Add(24 * time.Hour)
	var want []allot.Event
	for _, e := range events {
		if e.User == "user1" && !e.Time.Before(day2) && e.Time.Before(day2.Add(24*time.Hour)) {
			want = append(want, e)
		}
	}
	wantUsage, _, wantSessions := expectedInsights(want)
	// A range inside one day is widened to the whole day.
	q := allot.InsightQuery{From: day2.Add(3 * time.Hour), To: day2.Add(5 * time.Hour), User: "user1"}
	usage, err := db.InsightUsage(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(usage) != len(wantUsage) {
		t.Fatalf("got %d keys, want %d", len(usage), len(wantUsage))
	}
	for _, u := range usage {
		if !reflect.DeepEqual(u, wantUsage[u.InsightKey]) {
			t.Errorf("%v: got %+v want %+v", u.InsightKey, u, wantUsage[u.InsightKey])
		}
	}
	sessions, err := db.SessionUsage(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != len(wantSessions) {
		t.Errorf("got %d sessions, want %d", len(sessions), len(wantSessions))
	}
	// A team's prompts and sessions over whole (packed) days.
	var team []allot.Event
	for _, e := range events {
		if e.Team == "team1" {
			team = append(team, e)
		}
	}
	_, wantPrompts, wantTeamSessions := expectedInsights(team)
	tq := allot.InsightQuery{From: insightStart, To: insightStart.Add(72 * time.Hour), Team: "team1"}
	prompts, err := db.PromptUsage(ctx, tq)
	if err != nil || len(prompts) != len(wantPrompts) {
		t.Errorf("team prompts: %d, %v; want %d", len(prompts), err, len(wantPrompts))
	}
	for _, p := range prompts {
		if w := wantPrompts[fmt.Sprint(p.InsightKey, p.SystemFP)]; !reflect.DeepEqual(p, w) {
			t.Errorf("team prompt %v:\n got %+v\nwant %+v", p.InsightKey, p, w)
		}
	}
	teamSessions, err := db.SessionUsage(ctx, tq)
	if err != nil || len(teamSessions) != len(wantTeamSessions) {
		t.Errorf("team sessions: %d, %v; want %d", len(teamSessions), err, len(wantTeamSessions))
	}
	for _, s := range teamSessions {
		if w := wantTeamSessions[fmt.Sprint(s.InsightKey, s.Session)]; !reflect.DeepEqual(s, w) {
			t.Errorf("team session %v:\n got %+v\nwant %+v", s.InsightKey, s, w)
		}
	}
	for _, tc := range []allot.InsightQuery{{User: "nobody"}, {Team: "nope"}} {
		tc.From, tc.To = insightStart, insightStart.Add(72*time.Hour)
		u, err := db.InsightUsage(ctx, tc)
		if err != nil || len(u) != 0 {
			t.Errorf("%+v: got %d rows, %v; want none", tc, len(u), err)
		}
		p, err := db.PromptUsage(ctx, tc)
		if err != nil || len(p) != 0 {
			t.Errorf("%+v: got %d prompts, %v; want none", tc, len(p), err)
		}
	}
	daily, err := db.DailySpend(ctx, allot.InsightQuery{From: insightStart, To: insightStart.Add(72 * time.Hour), Team: "team0"})
	if err != nil {
		t.Fatal(err)
	}
	var sum allot.Money
	for _, d := range daily {
		if d.Team != "team0" {
			t.Errorf("team filter let %+v through", d)
		}
		sum += d.Cost
	}
	var wantSum allot.Money
	for _, e := range events {
		if e.Team == "team0" {
			wantSum += e.Cost
		}
	}
	if sum != wantSum {
		t.Errorf("daily spend of team0 sums to %s, want %s", sum, wantSum)
	}
}

func TestInsightsOfTodayAreReadFromHours(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	now := time.Now().UTC()
	events := genSessions(3, 3, 1, now.Truncate(24*time.Hour))
	for i := range events { // keep them in the past hours of today
		events[i].Time = now.Truncate(24 * time.Hour).Add(time.Duration(i) * time.Microsecond)
	}
	mustAppend(t, db, events)
	checkInsights(t, db, events, now.Add(-time.Hour), now.Add(time.Hour))
	var packed int
	if err := db.r.QueryRow(`SELECT count(*) FROM insight_days WHERE part = -1`).Scan(&packed); err != nil || packed != 0 {
		t.Errorf("today was packed (%d rows, %v); it must be read from the hourly rows", packed, err)
	}
}

func TestRelabelTasksMovesUntaggedCalls(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := context.Background()
	base := allot.Event{
		Principal: allot.Principal{Org: "acme", Team: "data", User: "bob", KeyID: "k1", Role: allot.RoleMember},
		Provider:  "openai", RequestedModel: "gpt-4o", ServedModel: "gpt-4o", Route: allot.RouteChat,
		App: "codex", Source: allot.SourceGateway, Status: 200, MaxTokens: 100, CostKnown: true,
	}
	var events []allot.Event
	add := func(id string, at time.Time, task string, fp uint64, cost allot.Money) {
		e := base
		e.ID, e.Time, e.Task, e.SystemFP, e.Cost = id, at, task, fp, cost
		e.Session = "s1"
		e.Tokens = allot.Tokens{Input: 1000, Output: 10}
		events = append(events, e)
	}
	const fp = 0xabc
	add("a", insightStart, allot.UntaggedTask, fp, 100)
	add("b", insightStart.Add(time.Hour), allot.UntaggedTask, fp, 200)
	add("c", insightStart.Add(25*time.Hour), allot.UntaggedTask, fp, 400)
	add("d", insightStart.Add(2*time.Hour), "declared", fp, 800)             // declared: kept
	add("e", insightStart.Add(3*time.Hour), allot.UntaggedTask, 0xdef, 1600) // other prompt: kept
	mustAppend(t, db, events)
	from, to := insightStart.Add(-24*time.Hour), insightStart.Add(72*time.Hour)
	// Build the cached totals first, so relabelling must drop them.
	if _, err := db.Report(ctx, allot.ReportQuery{By: []allot.Dimension{allot.DimTask}, From: from, To: to}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.InsightUsage(ctx, allot.InsightQuery{From: from, To: to}); err != nil {
		t.Fatal(err)
	}

	n, err := db.RelabelTasks(ctx, allot.TaskLabels{fp: "code-review"}, from, to)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("relabelled %d events, want 3", n)
	}
	rows, err := db.Report(ctx, allot.ReportQuery{By: []allot.Dimension{allot.DimTask}, From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]allot.Money{}
	for _, r := range rows {
		got[r.Dims[0]] = r.Cost
	}
	want := map[string]allot.Money{"code-review": 700, "declared": 800, allot.UntaggedTask: 1600}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("costs by task after relabel: %v, want %v", got, want)
	}
	for i := range events {
		if events[i].Task == allot.UntaggedTask && events[i].SystemFP == fp {
			events[i].Task = "code-review"
		}
	}
	checkInsights(t, db, events, from, to, true)
	prompts, err := db.PromptUsage(ctx, allot.InsightQuery{From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range prompts {
		if p.SystemFP == fp && p.Task == allot.UntaggedTask {
			t.Errorf("the labelled prompt is still untagged: %+v", p)
		}
	}
	stored, err := db.Events(ctx, from, to, 0)
	if err != nil {
		t.Fatal(err)
	}
	var tasks []string
	for _, e := range stored {
		tasks = append(tasks, e.ID+":"+e.Task)
	}
	sort.Strings(tasks)
	if w := []string{"a:code-review", "b:code-review", "c:code-review", "d:declared", "e:untagged"}; !reflect.DeepEqual(tasks, w) {
		t.Errorf("stored tasks %v, want %v", tasks, w)
	}
	// Relabelling again changes nothing.
	if n, err := db.RelabelTasks(ctx, allot.TaskLabels{fp: "code-review"}, from, to); err != nil || n != 0 {
		t.Errorf("second relabel: %d, %v; want 0", n, err)
	}
}

func TestWarmInsightsPacksPastDays(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	today := time.Now().UTC().Truncate(24 * time.Hour)
	events := genSessions(5, 3, 3, today.AddDate(0, 0, -3))
	mustAppend(t, db, events)
	if err := db.WarmInsights(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	var packed, folded, last int64
	if err := db.r.QueryRow(`SELECT count(*) FROM insight_days WHERE part = -1`).Scan(&packed); err != nil {
		t.Fatal(err)
	}
	if err := db.r.QueryRow(`SELECT (SELECT seq FROM insight_state), (SELECT max(seq) FROM events)`).Scan(&folded, &last); err != nil {
		t.Fatal(err)
	}
	if packed != 10 || folded != last {
		t.Errorf("warmed %d days (want the 10 before today), folded up to %d of %d events", packed, folded, last)
	}
	if db.pextras.Len() != 1 {
		t.Errorf("the org's extras over the last 30 days were not summed (%d periods kept)", db.pextras.Len())
	}
}

// TestRelabelTasksKeepsToItsRange: a range that starts or ends inside a
// day moves only the calls inside it.
func TestRelabelTasksKeepsToItsRange(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	ctx := context.Background()
	const fp = 0xabc
	var events []allot.Event
	for i, h := range []int{1, 11, 13, 23, 25} {
		events = append(events, allot.Event{
			ID: fmt.Sprintf("r%d", i), Time: insightStart.Add(time.Duration(h) * time.Hour), Task: allot.UntaggedTask, SystemFP: fp,
			Principal: allot.Principal{Org: "acme", Team: "data", User: "bob", KeyID: "k1", Role: allot.RoleMember},
			Provider:  "openai", RequestedModel: "gpt-4o", ServedModel: "gpt-4o", Route: allot.RouteChat, Status: 200,
			Tokens: allot.Tokens{Input: 100, Output: 10}, Cost: allot.Money(1 << i), CostKnown: true,
		})
	}
	mustAppend(t, db, events)
	n, err := db.RelabelTasks(ctx, allot.TaskLabels{fp: "review"}, insightStart.Add(12*time.Hour), insightStart.Add(24*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("relabelled %d, %v; want the 2 calls at 13:00 and 23:00", n, err)
	}
	rows, err := db.Report(ctx, allot.ReportQuery{By: []allot.Dimension{allot.DimTask}, From: insightStart, To: insightStart.Add(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]allot.Money{}
	for _, r := range rows {
		got[r.Dims[0]] = r.Cost
	}
	if want := (map[string]allot.Money{"review": 4 + 8, allot.UntaggedTask: 1 + 2 + 16}); !reflect.DeepEqual(got, want) {
		t.Errorf("costs by task: %v, want %v", got, want)
	}
}

// The insights caches follow every change to what they hold: today's
// completed hours (kept after a whole-org read) and the org's extras over
// past days. Calls arrive, then late calls into the hours and days already
// read, then a relabel moves some; after each, reads through the warm
// caches must equal reads with them emptied, for the org and one person.
func TestInsightCachesFollowChanges(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		days   int           // of calls, from the day below
		now    time.Duration // after the first day's start
		cached func(db *DB) bool
	}{
		{"today's completed hours", 1, 23 * time.Hour, func(db *DB) bool { return len(db.ihours.hours) > 0 }},
		{"the org's extras over past days", 3, 3*24*time.Hour + time.Hour, func(db *DB) bool { return db.pextras.Len() > 0 }},
		{"the org's daily spend on past days", 3, 3*24*time.Hour + time.Hour, func(db *DB) bool { return db.pdaily.Len() > 0 }},
		{"the org's call sums over past days", 3, 2*24*time.Hour + 12*time.Hour, func(db *DB) bool { return db.pcalls.Len() > 0 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := openTest(t)
			day := insightStart.Truncate(24 * time.Hour)
			db.clock = func() time.Time { return day.Add(tc.now) }
			events := genSessions(5, 4, tc.days, day)
			labels := allot.TaskLabels{}
			for i := range events {
				if events[i].User == "user0" {
					events[i].Task = allot.UntaggedTask
					if events[i].SystemFP != 0 {
						labels[events[i].SystemFP] = "code-review"
					}
				}
			}
			from, to := day, day.Add(time.Duration(tc.days+1)*24*time.Hour)
			var first, late []allot.Event
			for i, e := range events { // every fourth call arrives late
				if i%4 == 3 {
					late = append(late, e)
				} else {
					first = append(first, e)
				}
			}
			// Reads use the org's call sums, WarmInsights keeps them: keep
			// those of the range's past days, as a server's warming would.
			keepCalls := func() {
				t.Helper()
				if _, err := db.orgCalls(ctx, from.UnixMicro()/usPerDay, db.now().UnixMicro()/usPerDay); err != nil {
					t.Fatal(err)
				}
			}
			same := func(stage string) {
				t.Helper()
				keepCalls()
				readInsightViews(t, db, from, to) // fill the caches
				if !tc.cached(db) {
					t.Fatalf("%s: nothing was kept", stage)
				}
				sameAsFresh(t, db, from, to, stage)
				keepCalls() // sameAsFresh emptied the caches; reads refilled all but these
			}
			mustAppend(t, db, first)
			checkInsights(t, db, first, from, to)
			same("first calls")
			mustAppend(t, db, late)
			same("late calls")
			if n, err := db.RelabelTasks(ctx, labels, from, to); err != nil || n == 0 {
				t.Fatalf("relabel: %d events, %v", n, err)
			}
			same("relabel")
		})
	}
}

// insightViews is what insights read of a range: the org's and one
// person's usage, calls and daily spend.
type insightViews struct {
	usage, mine []allot.InsightUsage
	calls, own  allot.InsightCalls
	daily, days []allot.DailySpend
}

func readInsightViews(t *testing.T, db *DB, from, to time.Time) insightViews {
	t.Helper()
	ctx := context.Background()
	var v insightViews
	var err error
	org, person := allot.InsightQuery{From: from, To: to}, allot.InsightQuery{From: from, To: to, User: "user1"}
	if v.usage, err = db.InsightUsage(ctx, org); err == nil {
		if v.mine, err = db.InsightUsage(ctx, person); err == nil {
			if v.calls, err = db.InsightCalls(ctx, org); err == nil {
				if v.own, err = db.InsightCalls(ctx, person); err == nil {
					if v.daily, err = db.DailySpend(ctx, org); err == nil {
						v.days, err = db.DailySpend(ctx, person)
					}
				}
			}
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	// Sessions come in no particular order.
	for _, c := range []*allot.InsightCalls{&v.calls, &v.own} {
		slices.SortFunc(c.Sessions, func(a, b allot.SessionUsage) int {
			return strings.Compare(fmt.Sprint(a.InsightKey, a.Session), fmt.Sprint(b.InsightKey, b.Session))
		})
	}
	return v
}

// sameAsFresh fails unless what db reads of [from, to) through its warm
// caches equals what it reads with them emptied, and leaves them filled.
func sameAsFresh(t *testing.T, db *DB, from, to time.Time, stage string) {
	t.Helper()
	warm := readInsightViews(t, db, from, to)
	db.ihours, db.pextras, db.pdaily, db.pcalls = newInsightHours(), &periodcache.Cache[map[int64]*rollup.Extras]{}, &periodcache.Cache[[]allot.DailySpend]{}, &periodcache.Cache[*keptCalls]{Keep: 2}
	if cold := readInsightViews(t, db, from, to); !reflect.DeepEqual(warm, cold) {
		t.Errorf("%s: insights through the caches differ from a fresh read:\n warm %+v\n cold %+v", stage, warm, cold)
	}
}
