package csvimport

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/ingest"
	"github.com/allot-dev/allot/pricing"
	"github.com/allot-dev/allot/sqlite"
)

var people = ingest.NewPeople("acme", []allot.User{
	{Name: "bob", Email: "bob@acme.test", Team: "data", Role: allot.RoleMember},
	{Name: "carol", Email: "carol@acme.test", Team: "data", Role: allot.RoleMember},
})

func TestImport(t *testing.T) {
	t.Parallel()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "allot.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	opts := Options{People: people, Pricer: pricing.Default()}
	// 12 rows: 5 problems, a repeated id, two identical rows without an id.
	first := ingest.Summary{Read: 12, Imported: 6, Duplicate: 1, Malformed: 5}
	again := ingest.Summary{Read: 12, Imported: 0, Duplicate: 7, Malformed: 5}
	for i, want := range []ingest.Summary{first, again} {
		f, err := os.Open(filepath.Join("testdata", "usage.csv"))
		if err != nil {
			t.Fatal(err)
		}
		sum, err := Import(context.Background(), db, "usage.csv", f, opts)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if sum.String() != want.String() {
			t.Errorf("import %d: %s\nwant       %s", i+1, sum, want)
		}
		all := strings.Join(sum.Problems, "\n")
		for _, p := range []string{
			`usage.csv:6: unknown user "dave"`, "usage.csv:8: cache tokens (200) exceed input_tokens (100)",
			"usage.csv:9: time \"last tuesday\"", `usage.csv:10: input_tokens "1.5k"`, "usage.csv:11: wrong number of fields",
		} {
			if !strings.Contains(all, p) {
				t.Errorf("problems %q lack %q", sum.Problems, p)
			}
		}
	}
	rows, err := db.Report(context.Background(), allot.ReportQuery{
		By: []allot.Dimension{allot.DimUser, allot.DimModel}, From: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]allot.ReportRow{}
	for _, r := range rows {
		got[r.Dims[0]+"/"+r.Dims[1]] = r
	}
	for key, want := range map[string]struct {
		requests int64
		tokens   allot.Tokens
		cost     string // "" = priced by the catalog
	}{
		"bob/gpt-4o-2024-08-06":           {1, allot.Tokens{Input: 12000, CacheRead: 8000, Output: 900}, ""},
		"carol/claude-haiku-4-5-20251001": {1, allot.Tokens{Input: 3000, Output: 450}, ""},
		"bob/acme-llm-70b":                {1, allot.Tokens{Input: 50000, Output: 2000}, "0.042"},
		"bob/o4-mini":                     {1, allot.Tokens{Input: 1000, Output: 800, Reasoning: 600}, ""},
		"bob/gpt-4o-mini":                 {2, allot.Tokens{Input: 1000, Output: 100}, ""},
	} {
		r, ok := got[key]
		if !ok || r.Requests != want.requests || r.Tokens != want.tokens {
			t.Errorf("%s: %v, want %d requests of %+v", key, r, want.requests, want.tokens)
		}
		if want.cost != "" && r.Cost != allot.MustUSD(want.cost) || want.cost == "" && r.Cost <= 0 {
			t.Errorf("%s: cost %s", key, r.Cost)
		}
	}
	if len(got) != 5 {
		t.Errorf("report rows %v", rows)
	}
}

func TestHeader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ csv, says string }{
		{"", "is empty"},
		{"time,user,model,input_tokens,output_tokens,colour\n", `unknown column "colour"`},
		{"time,user,model,input_tokens\n", `missing column "output_tokens"`},
		{"time,model,input_tokens,output_tokens\n", `missing column "user"`},
		{"\ufefftime,user,model,input_tokens,output_tokens,TIME\n", `column "time" appears twice`},
	} {
		_, _, err := Read("x.csv", strings.NewReader(tc.csv), Options{People: people})
		if allot.CodeOf(err) != allot.EInvalid || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%q: %v, want EInvalid saying %q", tc.csv, err, tc.says)
		}
	}
	// A default user stands in for the column.
	events, sum, err := Read("x.csv", strings.NewReader("time,model,input_tokens,output_tokens\n2026-11-03,gpt-4o,10,1\n"), Options{People: people, DefaultUser: "carol"})
	if err != nil || len(events) != 1 || events[0].User != "carol" || events[0].CostKnown || sum.Read != 1 {
		t.Errorf("default user: %v %+v %s", err, events, sum)
	}
}

// FuzzRead feeds arbitrary CSV: no panics, every row accounted for,
// events normalized and attributed.
func FuzzRead(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "usage.csv"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("time,user,model,input_tokens,output_tokens,cache_write_1h_tokens\n2026-11-03,bob,m,5,\"1\",5\n\"unterminated\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		events, sum, err := Read("fuzz.csv", bytes.NewReader(data), Options{People: people, Pricer: pricing.Default()})
		if err != nil {
			if allot.CodeOf(err) != allot.EInvalid {
				t.Fatalf("error %v", err)
			}
			return
		}
		if sum.Read != len(events)+sum.Malformed {
			t.Fatalf("%s with %d events", sum, len(events))
		}
		for _, e := range events {
			tk := e.Tokens
			if tk.CacheRead+tk.CacheWrite() > tk.Input || tk.Reasoning > tk.Output || tk.Input < 0 || e.User == "" || len(e.ID) != 32 || e.Cost < 0 {
				t.Fatalf("bad event %+v", e)
			}
			if err := tk.CheckCall(); err != nil || e.Cost > allot.MaxCallCost {
				t.Fatalf("event past one call's bounds %+v: %v", e, err)
			}
		}
	})
}
