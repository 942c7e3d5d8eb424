package insights

import (
	"fmt"
	"strings"
	"testing"

	"github.com/allot-dev/allot"
)

func TestGoodPracticeComparesTheEfficientQuarter(t *testing.T) {
	t.Parallel()
	var usage []allot.InsightUsage
	for i := range 10 {
		u := usageRow(fmt.Sprintf("p%d", i), "code", "big-1", 100, 800_000, 50_000)
		u.Cost = allot.Money(1000+i) * allot.MicroUSD
		u.NoMaxTokens = 100
		if i < 5 { // the thrifty half: small model, cache, limits, short prompts
			u.Model, u.Cost = "big-mini", allot.Money(100+i)*allot.MicroUSD
			u.Tokens.Input, u.Tokens.CacheRead, u.NoMaxTokens = 200_000, 120_000, 0
		}
		usage = append(usage, u)
	}
	got := GoodPractice(usage, nil, DefaultOptions())
	if len(got) != 1 {
		t.Fatalf("got %d practices, want 1", len(got))
	}
	p := got[0]
	if p.People != 10 || p.Efficient.People != 5 || p.Others.People != 5 {
		t.Errorf("groups %d: %d vs %d, want 10: 5 vs 5 (the quarter is widened to 5 people)", p.People, p.Efficient.People, p.Others.People)
	}
	if p.Efficient.ModelMix[0].Model != "big-mini" || p.Efficient.CacheHitRate != 0.6 || p.Efficient.LimitedShare != 1 ||
		p.Efficient.MedianInput != 2000 || p.Others.MedianInput != 8000 || p.Efficient.CostPerRequest != allot.Money(1020) {
		t.Errorf("efficient %+v, others %+v", p.Efficient, p.Others)
	}
	text := strings.Join(p.Highlights, "; ")
	for _, want := range []string{"uses big-mini for 100% of calls (others 0%)", "60% of input from the prompt cache", "sends 2000 input tokens per call (others 8000)", "max_tokens on 100% of calls (others 0%)"} {
		if !strings.Contains(text, want) {
			t.Errorf("highlights %q lack %q", text, want)
		}
	}
	if names := names(t, got, []allot.User{{Name: "p0"}, {Name: "p9"}}); len(names) > 0 {
		t.Errorf("good practice names %v", names)
	}
	if got := GoodPractice(usage[1:], nil, DefaultOptions()); len(got) != 0 {
		t.Errorf("9 people cannot form two groups of 5: %+v", got)
	}
}
