package usagereport

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

var mapping = MappingFromUsers(map[string]map[string]string{
	"bob":   {KindOpenAIAPIKey: "key_bobLaptop", KindAnthropicAPIKey: "apikey_01BobCli"},
	"carol": {KindOpenAIUser: "user-carol01"},
})

var people = ingest.NewPeople("acme", []allot.User{
	{Name: "bob", Team: "data", Role: allot.RoleMember},
	{Name: "carol", Team: "data", Role: allot.RoleMember},
})

func TestImport(t *testing.T) {
	t.Parallel()
	cases := []struct {
		provider, file string
		first, again   ingest.Summary
		tokens         map[string]allot.Tokens
		problems       []string
	}{
		{"openai", "openai_completions.json",
			ingest.Summary{Read: 5, Imported: 3, Malformed: 1, Skipped: 1},
			ingest.Summary{Read: 5, Duplicate: 3, Malformed: 1, Skipped: 1},
			map[string]allot.Tokens{"bob": {Input: 150000, CacheRead: 90000, Output: 22000}, "carol": {Input: 50000, Output: 9000}},
			[]string{"page 1 bucket 1 result 4", "1 results skipped, no allot user has provider id openai_api_key: key_allotGateway"}},
		{"anthropic", "anthropic_messages.json",
			ingest.Summary{Read: 3, Imported: 1, Skipped: 2},
			ingest.Summary{Read: 3, Duplicate: 1, Skipped: 2},
			map[string]allot.Tokens{"bob": {Input: 441000, CacheRead: 420000, CacheWrite5m: 5000, CacheWrite1h: 1000, Output: 23000}},
			[]string{"(not grouped by api_key_id or user_id)", "anthropic_api_key: apikey_01Unknown"}},
	}
	for _, tc := range cases {
		t.Run(tc.provider, func(t *testing.T) {
			t.Parallel()
			db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "allot.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for i, want := range []ingest.Summary{tc.first, tc.again} {
				f, err := os.Open(filepath.Join("testdata", tc.file))
				if err != nil {
					t.Fatal(err)
				}
				sum, err := Import(context.Background(), db, tc.provider, tc.file, f, mapping, people, pricing.Default())
				f.Close()
				if err != nil {
					t.Fatal(err)
				}
				if sum.String() != want.String() {
					t.Errorf("import %d: %s\nwant       %s", i+1, sum, want)
				}
				all := strings.Join(sum.Problems, "\n")
				for _, p := range tc.problems {
					if !strings.Contains(all, p) {
						t.Errorf("problems %q lack %q", sum.Problems, p)
					}
				}
			}
			rows, err := db.Report(context.Background(), allot.ReportQuery{
				By: []allot.Dimension{allot.DimUser}, From: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
			})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]allot.Tokens{}
			for _, r := range rows {
				got[r.Dims[0]] = r.Tokens
				if r.Cost <= 0 {
					t.Errorf("%v not priced", r)
				}
			}
			if len(got) != len(tc.tokens) {
				t.Errorf("users %v, want %v", got, tc.tokens)
			}
			for u, want := range tc.tokens {
				if got[u] != want {
					t.Errorf("%s: %+v\nwant %+v", u, got[u], want)
				}
			}
		})
	}
}

// TestAggregatePricing: a day of Anthropic usage is priced as calls below
// the 200k-token cliff, not as one giant call above it.
func TestAggregatePricing(t *testing.T) {
	t.Parallel()
	p, _ := NewParser("anthropic")
	f, err := os.Open(filepath.Join("testdata", "anthropic_messages.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := p.Parse("anthropic_messages.json", f); err != nil {
		t.Fatal(err)
	}
	row := p.Rows()[0]
	cat := pricing.Default()
	got, known := row.Cost(cat)
	whole, _ := cat.Cost("anthropic", row.Model, row.Start, row.Tokens)
	third, _ := cat.Cost("anthropic", row.Model, row.Start, allot.Tokens{Input: 147000, CacheRead: 140000, CacheWrite5m: 1666, CacheWrite1h: 333, Output: 7666})
	if !known || got >= whole || got < 3*third {
		t.Errorf("cost %s (one call would be %s, three calls of a third %s)", got, whole, 3*third)
	}
}

// FuzzParse feeds arbitrary report text to both parsers: no panics, every
// result accounted for, no negative counts.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"openai_completions.json", "anthropic_messages.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"data":[{"start_time":1,"starting_at":"2026-11-03T00:00:00Z","results":[{"input_tokens":1,"output_tokens":2,"uncached_input_tokens":3}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, provider := range []string{"openai", "anthropic"} {
			p, _ := NewParser(provider)
			_ = p.Parse("fuzz.json", bytes.NewReader(data))
			sum := p.Summary()
			if sum.Read != len(p.Rows())+sum.Malformed {
				t.Fatalf("%s: %s with %d rows", provider, sum, len(p.Rows()))
			}
			for _, r := range p.Rows() {
				tk := r.Tokens
				if tk.Input < 0 || tk.Output < 0 || tk.CacheRead > tk.Input || tk.CacheRead+tk.CacheWrite() > tk.Input {
					t.Fatalf("bad row %+v", r)
				}
				if err := tk.CheckCalls(r.calls()); err != nil {
					t.Fatalf("row past its calls' bounds %+v: %v", r, err)
				}
				if _, known := r.Cost(pricing.Default()); known && r.calls() < 1 {
					t.Fatalf("row priced as %d calls", r.calls())
				}
			}
		}
	})
}
