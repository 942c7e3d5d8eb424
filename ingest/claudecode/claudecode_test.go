package claudecode

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
	dir := filepath.Join("testdata", "projects")
	first := ingest.Summary{Read: 13, Imported: 3, Duplicate: 2, Malformed: 3, Skipped: 5}
	again := ingest.Summary{Read: 13, Imported: 0, Duplicate: 5, Malformed: 3, Skipped: 5}
	for i, want := range []ingest.Summary{first, again} {
		sum, err := Import(context.Background(), db, dir, bob, pricing.Default())
		if err != nil {
			t.Fatal(err)
		}
		problems := sum.Problems
		sum.Problems = nil
		if sum.String() != want.String() {
			t.Errorf("import %d: %s\nwant       %s", i+1, sum, want)
		}
		if sum.Read != sum.Imported+sum.Duplicate+sum.Malformed+sum.Skipped {
			t.Errorf("import %d: counts do not add up: %s", i+1, sum)
		}
		if len(problems) != 3 || !strings.Contains(problems[0], ".jsonl:7: not JSON") ||
			!strings.Contains(problems[1], ":8: timestamp \"yesterday\"") || !strings.Contains(problems[2], ":9: not a log line") {
			t.Errorf("problems %q", problems)
		}
	}
	rows, err := db.Report(context.Background(), allot.ReportQuery{
		By: []allot.Dimension{allot.DimModel}, From: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	var total allot.Tokens
	var n int64
	for _, r := range rows {
		total = total.Add(r.Tokens)
		n += r.Requests
		if r.Cost <= 0 {
			t.Errorf("%v is not priced", r)
		}
	}
	want := allot.Tokens{Input: 38576, CacheRead: 28526, CacheWrite5m: 6520, CacheWrite1h: 2000, Output: 695}
	if total != want || n != 3 {
		t.Errorf("ledger %+v in %d events\nwant   %+v in 3", total, n, want)
	}
}

// TestKeepsTheCompleteLine: a message logged on several lines is one event
// with the final output count, whatever the order of the lines.
func TestKeepsTheCompleteLine(t *testing.T) {
	t.Parallel()
	events, sum, err := ReadDir(filepath.Join("testdata", "projects"))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Duplicate != 2 || len(events) != 3 {
		t.Fatalf("%s, %d events", sum, len(events))
	}
	e := events[0]
	if e.ID != KeyPrefix+"msg_01XFDUDYJgAACzvnptvVoYEL:req_011CUaLhP8mF1gXYz2Qk7Abc" || e.Tokens.Output != 187 ||
		e.Session != "4f0c2a1e-7b3d-4c5e-9f8a-1b2c3d4e5f60" || e.App != App || e.Provider != "anthropic" || e.Source != allot.SourceImport {
		t.Errorf("first event %+v", e)
	}
	if b := events[2]; b.Tokens.CacheWrite1h != 2000 || b.Cost != allot.MustUSD("0.0191") || !b.CostKnown {
		t.Errorf("event with a 1-hour cache write and costUSD: %+v", b)
	}
}

// FuzzLines feeds arbitrary log text to the parser: it never panics,
// accounts for every line, and its events are normalized.
func FuzzLines(f *testing.F) {
	f.Add([]byte(`{"type":"assistant","timestamp":"2026-11-03T10:00:00Z","message":{"id":"m","model":"claude-sonnet-4-5","usage":{"input_tokens":1,"cache_read_input_tokens":2,"cache_creation_input_tokens":3,"cache_creation":{"ephemeral_5m_input_tokens":1,"ephemeral_1h_input_tokens":2},"output_tokens":4}},"requestId":"r","costUSD":1e-3}` + "\n{}\nnot json\n"))
	f.Add([]byte(`{"type":"assistant","timestamp":"2026-11-03T10:00:00Z","uuid":"u","message":{"model":"m","usage":{"input_tokens":-1}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := NewParser()
		if err := p.Parse("fuzz.jsonl", bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		sum, events := p.Summary(), p.Events()
		if sum.Read != len(events)+sum.Duplicate+sum.Malformed+sum.Skipped {
			t.Fatalf("counts do not add up: %s with %d events", sum, len(events))
		}
		for _, e := range events {
			tk := e.Tokens
			if tk.Input < 0 || tk.Output < 0 || tk.CacheRead < 0 || tk.CacheWrite5m < 0 || tk.CacheWrite1h < 0 ||
				tk.CacheRead+tk.CacheWrite() > tk.Input || tk.IsZero() || !strings.HasPrefix(e.ID, KeyPrefix) || e.Cost < 0 {
				t.Fatalf("bad event %+v", e)
			}
			if err := e.Tokens.CheckCall(); err != nil || e.Cost > allot.MaxCallCost {
				t.Fatalf("event past one call's bounds %+v: %v", e, err)
			}
		}
	})
}
