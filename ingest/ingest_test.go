package ingest

import (
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

func TestParseReportedUSD(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want allot.Money
		err  bool
	}{
		{"0.1", 100_000_000, false},
		{"0.0213", 21_300_000, false},
		{"1.5e-05", 15_000, false},
		{"1E2", 100 * allot.USD, false},
		{"0.0000000004", 0, false}, // rounds down
		{"0.0000000005", 1, false}, // half up
		{"0.01234567891234", 12_345_679, false},
		{"+3", 3 * allot.USD, false},
		{"-0", 0, false},
		{".5", 500_000_000, false},
		{"7.", 7 * allot.USD, false},
		{"1e-40", 0, true}, // exponent out of range
		{"-1", 0, true},
		{"", 0, true},
		{"abc", 0, true},
		{"1.2.3", 0, true},
		{"2000000000", 0, true},
		{"NaN", 0, true},
	} {
		got, err := ParseReportedUSD(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseReportedUSD(%q) = %s, %v; want %s, error %t", tc.in, got, err, tc.want, tc.err)
		}
	}
	if m, err := ReportedUSDFromFloat(0.1 + 0.2); err != nil || m != 300_000_000 {
		t.Errorf("0.1+0.2 = %s, %v", m, err)
	}
}

func FuzzParseReportedUSD(f *testing.F) {
	for _, s := range []string{"0.1", "1.5e-05", "-0", "123456789.123456789", "9e8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseReportedUSD(s)
		if err != nil {
			return
		}
		if m < 0 || m > 1_000_000_000*allot.USD {
			t.Fatalf("%q -> %s", s, m)
		}
		// A plain decimal with at most nine places reads as allot.ParseUSD does.
		if !strings.ContainsAny(s, "eE+-") && len(s) < 15 {
			if want, err := allot.ParseUSD(s); err == nil && want != m {
				t.Fatalf("%q -> %s, allot.ParseUSD says %s", s, m, want)
			}
		}
	})
}

func TestID(t *testing.T) {
	t.Parallel()
	a, b := ID("bob", "claude-code:m:r"), ID("alice", "claude-code:m:r")
	if a == b || len(a) != 32 || a != ID("bob", "claude-code:m:r") || strings.Trim(a, "0123456789abcdef") != "" {
		t.Errorf("ids %q %q", a, b)
	}
	if ID("a", "b\x00c") == ID("a\x00b", "c") {
		t.Error("user and key run together")
	}
	if Key("a", "b") == Key("ab") {
		t.Error("Key parts run together")
	}
}

// linear is a Pricer with linear prices: $1 per million input and $2 per
// million output tokens, rounded per call like the catalog.
type linear struct{ calls int }

func (l *linear) Cost(_, model string, _ time.Time, t allot.Tokens) (allot.Money, bool) {
	l.calls++
	if model == "unknown" {
		return 0, false
	}
	return allot.Money((t.Input*1000 + t.Output*2000 + 500) / 1000), true
}

func TestPrice(t *testing.T) {
	t.Parallel()
	p := &linear{}
	e := allot.Event{ServedModel: "m", Tokens: allot.Tokens{Input: 1_000_000, Output: 500_000}, Cost: 5, CostKnown: true}
	Price(p, &e)
	if e.Cost != 2_000_000 || !e.CostKnown {
		t.Errorf("priced %s %t", e.Cost, e.CostKnown)
	}
	src := allot.Event{ServedModel: "unknown", Cost: 42, CostKnown: true}
	Price(p, &src)
	if src.Cost != 42 || !src.CostKnown {
		t.Errorf("source cost lost: %s %t", src.Cost, src.CostKnown)
	}
	none := allot.Event{ServedModel: "unknown", Cost: 42}
	Price(p, &none)
	if none.Cost != 0 || none.CostKnown {
		t.Errorf("unknown model without a source cost: %s %t", none.Cost, none.CostKnown)
	}
	tokens := allot.Tokens{Input: 1_000_003, Output: 7}
	got, known := PriceAggregate(p, "x", "m", time.Time{}, tokens, 4)
	whole, _ := p.Cost("x", "m", time.Time{}, tokens)
	if !known || got < whole-4 || got > whole+4 {
		t.Errorf("aggregate %s, one call %s", got, whole)
	}
}

func TestSummary(t *testing.T) {
	t.Parallel()
	var s Summary
	for i := range MaxProblems + 3 {
		s.Problem("line %d", i)
	}
	var total Summary
	total.Add(s)
	if len(total.Problems) != MaxProblems || total.MoreProblems() != 3 {
		t.Errorf("%d problems kept, %d more", len(total.Problems), total.MoreProblems())
	}
}
