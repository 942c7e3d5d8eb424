package codex

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/ingest"
	"github.com/allot-dev/allot/pricing"
	"github.com/allot-dev/allot/sqlite"
)

var bob = allot.Principal{Org: "acme", Team: "data", User: "bob", Role: allot.RoleMember}

func TestImport(t *testing.T) {
	t.Parallel()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "allot.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dir := filepath.Join("testdata", "sessions")
	first := ingest.Summary{Read: 17, Imported: 4, Duplicate: 2, Malformed: 2, Skipped: 9}
	again := ingest.Summary{Read: 17, Imported: 0, Duplicate: 6, Malformed: 2, Skipped: 9}
	for i, want := range []ingest.Summary{first, again} {
		sum, err := Import(context.Background(), db, dir, bob, pricing.Default())
		if err != nil {
			t.Fatal(err)
		}
		if sum.String() != want.String() {
			t.Errorf("import %d: %s\nwant       %s", i+1, sum, want)
		}
		if len(sum.Problems) != 2 || !strings.Contains(sum.Problems[0], ":10: token count negative or out of range") || !strings.Contains(sum.Problems[1], ":13: not a rollout line") {
			t.Errorf("problems %q", sum.Problems)
		}
	}
	rows, err := db.Report(context.Background(), allot.ReportQuery{
		By: []allot.Dimension{allot.DimModel}, From: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	var total allot.Tokens
	byModel := map[string]int64{}
	for _, r := range rows {
		total = total.Add(r.Tokens)
		byModel[r.Dims[0]] += r.Requests
	}
	// The per-turn deltas add up to the last cumulative total.
	if want := (allot.Tokens{Input: 41000, CacheRead: 28000, Output: 1800, Reasoning: 800}); total != want {
		t.Errorf("ledger %+v\nwant   %+v", total, want)
	}
	if byModel["gpt-5-codex"] != 3 || byModel["gpt-5"] != 1 {
		t.Errorf("events by model %v", byModel)
	}
}

func TestTurns(t *testing.T) {
	t.Parallel()
	events, _, err := ReadDir(filepath.Join("testdata", "sessions"))
	if err != nil {
		t.Fatal(err)
	}
	want := []allot.Tokens{
		{Input: 8120, CacheRead: 3072, Output: 512, Reasoning: 256},
		{Input: 9780, CacheRead: 8192, Output: 698, Reasoning: 384},
		{Input: 12100, CacheRead: 7736, Output: 290, Reasoning: 60},
		{Input: 11000, CacheRead: 9000, Output: 300, Reasoning: 100},
	}
	if len(events) != len(want) {
		t.Fatalf("%d events", len(events))
	}
	for i, e := range events {
		if e.Tokens != want[i] || e.Session != "0199a7c2-5e1f-7d30-9b4a-2c6e8f0a1b3d" || e.App != App || e.Provider != "openai" {
			t.Errorf("turn %d: %+v", i+1, e)
		}
	}
}

// FuzzLines feeds arbitrary rollout text to the parser: it never panics,
// accounts for every line, and its events are normalized.
func FuzzLines(f *testing.F) {
	f.Add([]byte(`{"timestamp":"2026-11-03T10:00:00Z","type":"turn_context","payload":{"model":"gpt-5"}}
{"timestamp":"2026-11-03T10:00:01Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":10,"cached_input_tokens":20,"output_tokens":3,"reasoning_output_tokens":9,"total_tokens":13}}}}
{"timestamp":"2026-11-03T10:00:02Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":5,"output_tokens":1},"last_token_usage":{"input_tokens":5,"output_tokens":1}}}}
`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := NewParser()
		if err := p.Parse("rollout-x.jsonl", bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		sum, events := p.Summary(), p.Events()
		if sum.Read != len(events)+sum.Duplicate+sum.Malformed+sum.Skipped {
			t.Fatalf("counts do not add up: %s with %d events", sum, len(events))
		}
		for _, e := range events {
			tk := e.Tokens
			if tk.Input < 0 || tk.Output < 0 || tk.CacheRead < 0 || tk.Reasoning < 0 || tk.CacheRead > tk.Input || tk.Reasoning > tk.Output || tk.IsZero() {
				t.Fatalf("bad event %+v", e)
			}
			if err := tk.CheckCall(); err != nil {
				t.Fatalf("event past one call's bounds %+v: %v", e, err)
			}
		}
	})
}
