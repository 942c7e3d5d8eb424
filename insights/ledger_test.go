package insights

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/sqlite"
)

// ledger builds events for the ledger tests: every call is priced with
// testPrices, so costs match the recommendations' arithmetic.
type ledger struct {
	events []allot.Event
	at     time.Time
}

type call struct {
	user, task, model, session string
	input, output, cacheRead   int64
	maxTokens                  int64
	status                     int
	systemFP, requestFP        uint64
	gap                        time.Duration // after the previous call
}

func (l *ledger) add(c call) {
	if c.gap == 0 {
		c.gap = time.Minute
	}
	l.at = l.at.Add(c.gap)
	if c.status == 0 {
		c.status = 200
	}
	if c.requestFP == 0 {
		c.requestFP = uint64(len(l.events) + 1)
	}
	tok := allot.Tokens{Input: c.input, CacheRead: c.cacheRead, Output: c.output}
	cost, _ := testPrices.Cost("p", c.model, l.at, tok)
	l.events = append(l.events, allot.Event{
		ID: fmt.Sprintf("ev-%d", len(l.events)), Time: l.at,
		Principal: allot.Principal{Org: "acme", Team: "data", User: c.user, KeyID: "k-" + c.user, Role: allot.RoleMember},
		Provider:  "p", RequestedModel: c.model, ServedModel: c.model, Route: allot.RouteChat,
		Task: c.task, Session: c.session, App: "cli", Source: allot.SourceGateway,
		Status: c.status, MaxTokens: c.maxTokens, SystemFP: c.systemFP, RequestFP: c.requestFP,
		Tokens: tok, Cost: cost, CostKnown: true,
	})
}

func TestEveryKindFiresFromALedger(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind  string
		build func(l *ledger, fire bool)
	}{
		{KindCheaperModel, func(l *ledger, fire bool) {
			for range 20 {
				l.add(call{user: "alice", task: "review", model: "big-1", input: 1000, output: 200, maxTokens: 500})
			}
			task := "review"
			if !fire {
				task = "chat" // nobody does reviews on the small model
			}
			for range 5 {
				l.add(call{user: "bob", task: task, model: "big-mini", input: 1000, output: 200, maxTokens: 500})
			}
		}},
		{KindPromptCaching, func(l *ledger, fire bool) {
			var read int64
			if !fire {
				read = 3000
			}
			for range 30 {
				l.add(call{user: "alice", task: "code", model: "big-1", input: 5000, cacheRead: read, output: 10, maxTokens: 100, systemFP: 0xfeed})
			}
		}},
		{KindDuplicates, func(l *ledger, fire bool) {
			for i := range 3 {
				fp := uint64(777)
				if !fire {
					fp = uint64(900 + i)
				}
				l.add(call{user: "alice", task: "code", model: "big-1", input: 50_000, output: 1000, maxTokens: 2000, requestFP: fp, gap: 10 * time.Second})
			}
		}},
		{KindContextGrowth, func(l *ledger, fire bool) {
			for i := range int64(10) {
				in := 10_000 * (i + 1)
				if !fire && i%2 == 1 {
					in = 10_000
				}
				l.add(call{user: "alice", task: "code", model: "big-1", session: "grow", input: in, output: 10, maxTokens: 100})
			}
		}},
		{KindOutputLimits, func(l *ledger, fire bool) {
			for i := range 10 {
				var limit, out int64 = 0, 200
				if i < 2 {
					out = 20_000
				}
				if !fire {
					limit = 30_000
				}
				l.add(call{user: "alice", task: "sum", model: "big-1", input: 100, output: out, maxTokens: limit})
				l.add(call{user: "bob", task: "sum", model: "big-1", input: 100, output: 200, maxTokens: 400})
				l.add(call{user: "carol", task: "sum", model: "big-1", input: 100, output: 200, maxTokens: 400})
			}
		}},
		{KindFailed, func(l *ledger, fire bool) {
			failedStatus, goneStatus := 500, allot.StatusClientGone
			if !fire {
				failedStatus, goneStatus = 200, 200
			}
			l.add(call{user: "alice", task: "code", model: "big-1", input: 80_000, output: 0, maxTokens: 100, status: failedStatus})
			l.add(call{user: "alice", task: "code", model: "big-1", input: 80_000, output: 100, maxTokens: 100, status: goneStatus})
		}},
		{KindRunaway, func(l *ledger, fire bool) {
			for s := range 5 {
				n := 5
				if s == 4 && fire {
					n = 60
				}
				for range n {
					l.add(call{user: "alice", task: "agent", model: "big-1", session: fmt.Sprintf("r%d", s), input: 5000, output: 500, maxTokens: 1000})
				}
			}
		}},
	}
	opts := DefaultOptions()
	opts.Floor = 0
	for _, tt := range tests {
		for _, fire := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s fire=%v", tt.kind, fire), func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "allot.db"))
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				l := &ledger{at: testNow.Add(-5 * 24 * time.Hour)}
				tt.build(l, fire)
				if _, err := db.Append(ctx, l.events); err != nil {
					t.Fatal(err)
				}
				users := []allot.User{{Name: "alice", Team: "data", Role: allot.RoleMember}}
				ins, err := Build(ctx, db, users, testPrices, allot.Principal{User: "alice", Team: "data", Role: allot.RoleMember}, Request{}, opts, testNow)
				if err != nil {
					t.Fatal(err)
				}
				got := only(ins.Recommendations, tt.kind)
				if fire && len(got) == 0 {
					t.Errorf("no %s recommendation; got %+v", tt.kind, ins.Recommendations)
				}
				if !fire && len(got) > 0 {
					t.Errorf("%s fired on the quiet ledger: %+v", tt.kind, got)
				}
				for _, r := range got {
					if r.MonthlySavings <= 0 {
						t.Errorf("%s saves %s", r.Kind, r.MonthlySavings)
					}
				}
			})
		}
	}
}

// TestLedgerSavingsMatchHandComputed checks one kind end to end, from
// events through the SQLite aggregates, against arithmetic done by hand.
func TestLedgerSavingsMatchHandComputed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "allot.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l := &ledger{at: testNow.Add(-5 * 24 * time.Hour)}
	// 30 calls with a 5000-token system prompt, one minute apart. The
	// aggregates count a prompt from its second call (the first stays with
	// its session), so: 29 calls, the first of them a cache miss; 28 that
	// could read 5000 tokens at 1 instead of 10 nano (45000 each), minus
	// one write at 13 instead of 10 (15000). (Conservative by one call.)
	for range 30 {
		l.add(call{user: "alice", task: "code", model: "big-1", input: 5000, output: 10, maxTokens: 100, systemFP: 0xfeed})
	}
	// Three identical requests ten seconds apart: two duplicates.
	for range 3 {
		l.add(call{user: "alice", task: "code", model: "big-1", input: 50_000, output: 1000, maxTokens: 2000, requestFP: 42, gap: 10 * time.Second})
	}
	if _, err := db.Append(ctx, l.events); err != nil {
		t.Fatal(err)
	}
	opts := DefaultOptions()
	opts.Floor = 0
	_, err = Build(ctx, db, nil, testPrices, allot.Principal{User: "root", Role: allot.RoleAdmin}, Request{Scope: Scope{User: "alice"}}, opts, testNow)
	if allot.CodeOf(err) != allot.ENotFound {
		t.Fatalf("alice is not in the directory: %v", err)
	}
	users := []allot.User{{Name: "alice", Team: "data"}}
	ins, err := Build(ctx, db, users, testPrices, allot.Principal{User: "root", Role: allot.RoleAdmin}, Request{Scope: Scope{User: "alice"}}, opts, testNow)
	if err != nil {
		t.Fatal(err)
	}
	caching := only(ins.Recommendations, KindPromptCaching)
	dups := only(ins.Recommendations, KindDuplicates)
	dupCost, _ := testPrices.Cost("p", "big-1", testNow, allot.Tokens{Input: 50_000, Output: 1000})
	if len(caching) != 1 || caching[0].MonthlySavings != 28*45_000-15_000 {
		t.Errorf("prompt caching %+v, want savings %d", caching, 28*45_000-15_000)
	}
	if len(dups) != 1 || dups[0].MonthlySavings != 2*dupCost {
		t.Errorf("duplicates %+v, want savings %s", dups, 2*dupCost)
	}
	var spend allot.Money
	for _, e := range l.events {
		spend += e.Cost
	}
	if ins.SpendUSD != spend {
		t.Errorf("spend %s, want %s", ins.SpendUSD, spend)
	}
}
