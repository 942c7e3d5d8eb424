package pricing_test

import (
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/pricing"
)

func day(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestCostEmbeddedCatalog prices calls against the embedded feed. Every
// expectation is computed by hand from the feed's $/Mtok prices, in USD:
// tokens × price / 1e6, then × 1e9 for nano-USD.
func TestCostEmbeddedCatalog(t *testing.T) {
	t.Parallel()
	c := pricing.Default()
	now := day("2026-10-01T12:00:00Z")
	cases := []struct {
		name            string
		provider, model string
		at              time.Time
		tokens          allot.Tokens
		want            allot.Money
	}{
		{
			// gpt-4o: input 2.5, cache_read 1.25, output 10 $/Mtok.
			// uncached 1234-1024=210 × 2.5 = 525
			// cache read     1024 × 1.25 = 1280
			// output           57 × 10   =  570
			// 2375 $/M = $0.002375
			name: "openai cached prompt", provider: "openai", model: "gpt-4o", at: now,
			tokens: allot.Tokens{Input: 1234, CacheRead: 1024, Output: 57},
			want:   allot.MustUSD("0.002375"),
		},
		{
			// claude-sonnet-4-5 below the cliff: input 3, cache_read 0.3,
			// cache_write 3.75, cache_write_1h 6, output 15.
			// uncached 50000-30000-8000-2000=10000 × 3 = 30000
			// cache read 30000 × 0.3  =  9000
			// 5m write    8000 × 3.75 = 30000
			// 1h write    2000 × 6    = 12000
			// output      1200 × 15   = 18000
			// 99000 $/M = $0.099
			name: "anthropic cache reads and 5m+1h writes", provider: "anthropic", model: "claude-sonnet-4-5-20250929", at: now,
			tokens: allot.Tokens{Input: 50_000, CacheRead: 30_000, CacheWrite5m: 8_000, CacheWrite1h: 2_000, Output: 1_200},
			want:   allot.MustUSD("0.099"),
		},
		{
			// Over the 200k cliff every kind pays its tier rate: input 6,
			// cache_read 0.6, cache_write 7.5, cache_write_1h 12, output 22.5.
			// uncached 250000-100000-40000-10000=100000 × 6 = 600000
			// cache read 100000 × 0.6  =  60000
			// 5m write    40000 × 7.5  = 300000
			// 1h write    10000 × 12   = 120000
			// output       2000 × 22.5 =  45000
			// 1125000 $/M = $1.125 (at base rates it would be $0.57)
			name: "anthropic over the 200k cliff", provider: "anthropic", model: "claude-sonnet-4-5", at: now,
			tokens: allot.Tokens{Input: 250_000, CacheRead: 100_000, CacheWrite5m: 40_000, CacheWrite1h: 10_000, Output: 2_000},
			want:   allot.MustUSD("1.125"),
		},
		{
			// The cliff is strict (input > 200000, as in the feed's reference
			// implementation): exactly 200000 pays base, 200000 × 3 = $0.6.
			name: "anthropic at exactly 200k stays at base", provider: "anthropic", model: "claude-sonnet-4-5", at: now,
			tokens: allot.Tokens{Input: 200_000},
			want:   allot.MustUSD("0.6"),
		},
		{
			// 200001 × 6 = 1200006 $/M = $1.200006
			name: "anthropic one token over 200k", provider: "anthropic", model: "claude-sonnet-4-5", at: now,
			tokens: allot.Tokens{Input: 200_001},
			want:   allot.MustUSD("1.200006"),
		},
		{
			// o3 from 2025-06-10: input 2, cache_read 0.5, output 8; no
			// output_reasoning_mtok, so reasoning is output.
			// uncached 1500 × 2 = 3000; cache read 500 × 0.5 = 250;
			// output 3000 (2500 of it reasoning) × 8 = 24000
			// 27250 $/M = $0.02725
			name: "reasoning model o3", provider: "openai", model: "o3", at: day("2025-07-01T00:00:00Z"),
			tokens: allot.Tokens{Input: 2_000, CacheRead: 500, Output: 3_000, Reasoning: 2_500},
			want:   allot.MustUSD("0.02725"),
		},
		{
			// o3 before 2025-06-10: input 10, cache_read 0.5, output 40.
			// 1500 × 10 + 500 × 0.5 + 3000 × 40 = 15000 + 250 + 120000
			// 135250 $/M = $0.13525
			name: "reasoning model o3 before its price cut", provider: "openai", model: "o3-2025-04-16", at: day("2025-06-09T23:59:59Z"),
			tokens: allot.Tokens{Input: 2_000, CacheRead: 500, Output: 3_000, Reasoning: 2_500},
			want:   allot.MustUSD("0.13525"),
		},
		{
			// o4-mini: input 1.1, cache_read 0.275, output 4.4.
			// 900 × 1.1 + 100 × 0.275 + 700 × 4.4 = 990 + 27.5 + 3080
			// 4097.5 $/M = $0.0040975
			name: "reasoning model o4-mini", provider: "openai", model: "o4-mini", at: now,
			tokens: allot.Tokens{Input: 1_000, CacheRead: 100, Output: 700, Reasoning: 600},
			want:   allot.MustUSD("0.0040975"),
		},
		{
			// sonar-deep-research prices reasoning apart: input 2,
			// output 8, output_reasoning 3.
			// 1000 × 2 + 4000 × 3 + (5000-4000) × 8 = 2000 + 12000 + 8000
			// 22000 $/M = $0.022
			name: "reasoning priced apart", provider: "perplexity", model: "sonar-deep-research", at: now,
			tokens: allot.Tokens{Input: 1_000, Output: 5_000, Reasoning: 4_000},
			want:   allot.MustUSD("0.022"),
		},
		{
			// sonar: input 1, output 1, requests_kcount 12.
			// (100 + 50) × 1 = 150 $/M = $0.00015; one request 12/1000 = $0.012
			// $0.01215
			name: "per-request price", provider: "perplexity", model: "sonar", at: now,
			tokens: allot.Tokens{Input: 100, Output: 50},
			want:   allot.MustUSD("0.01215"),
		},
		{
			// claude-sonnet-5 before 2026-09-01: input 2, output 10.
			// 1000 × 2 + 100 × 10 = 3000 $/M = $0.003
			name: "dated price before the change", provider: "anthropic", model: "claude-sonnet-5", at: day("2026-08-31T23:59:59Z"),
			tokens: allot.Tokens{Input: 1_000, Output: 100},
			want:   allot.MustUSD("0.003"),
		},
		{
			// from 2026-09-01: input 3, output 15.
			// 1000 × 3 + 100 × 15 = 4500 $/M = $0.0045
			name: "dated price from the change", provider: "anthropic", model: "claude-sonnet-5", at: day("2026-09-01T00:00:00Z"),
			tokens: allot.Tokens{Input: 1_000, Output: 100},
			want:   allot.MustUSD("0.0045"),
		},
		{
			// deepseek-chat, 00:30-16:30 UTC: input 0.27. 1M × 0.27 = $0.27
			name: "time-of-day price, peak", provider: "deepseek", model: "deepseek-chat", at: day("2026-01-05T12:00:00Z"),
			tokens: allot.Tokens{Input: 1_000_000},
			want:   allot.MustUSD("0.27"),
		},
		{
			// outside the window the base (off-peak) input 0.135 applies.
			name: "time-of-day price, off-peak", provider: "deepseek", model: "deepseek-chat", at: day("2026-01-05T20:00:00Z"),
			tokens: allot.Tokens{Input: 1_000_000},
			want:   allot.MustUSD("0.135"),
		},
		{
			// claude on a provider name the feed does not know: priced at
			// its origin (anthropic's model_match "claude"), as case 2.
			name: "claude on an unknown provider", provider: "corp-proxy", model: "claude-sonnet-4-5", at: now,
			tokens: allot.Tokens{Input: 50_000, CacheRead: 30_000, CacheWrite5m: 8_000, CacheWrite1h: 2_000, Output: 1_200},
			want:   allot.MustUSD("0.099"),
		},
		{
			// gpt-4o on an unknown provider: openai's price, as case 1.
			name: "gpt-4o on an unknown provider", provider: "corp-proxy", model: "gpt-4o", at: now,
			tokens: allot.Tokens{Input: 1234, CacheRead: 1024, Output: 57},
			want:   allot.MustUSD("0.002375"),
		},
		{
			// a model name in another case still prices: GPT-4O → gpt-4o.
			name: "model name case", provider: "openai", model: "GPT-4o", at: now,
			tokens: allot.Tokens{Input: 1234, CacheRead: 1024, Output: 57},
			want:   allot.MustUSD("0.002375"),
		},
		{
			// a free model (prices {} in the feed) is known and costs 0.
			name: "free model", provider: "openai", model: "omni-moderation-latest", at: now,
			tokens: allot.Tokens{Input: 1_000},
			want:   0,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := c.Cost(tc.provider, tc.model, tc.at, tc.tokens)
			if !ok {
				t.Fatalf("Cost(%q, %q) is unknown, want %s", tc.provider, tc.model, tc.want)
			}
			if got != tc.want {
				t.Errorf("Cost(%q, %q) = %s USD, want %s", tc.provider, tc.model, got, tc.want)
			}
		})
	}
}

func TestCostUnknownModel(t *testing.T) {
	t.Parallel()
	c := pricing.Default()
	for _, m := range []string{"no-such-model-xyz", "", strings.Repeat("x", 300)} {
		cost, ok := c.Cost("openai", m, time.Now(), allot.Tokens{Input: 10, Output: 10})
		if ok || cost != 0 {
			t.Errorf("Cost(openai, %q) = %s, %v; want 0, false", m, cost, ok)
		}
	}
}

// TestCostRoundsOncePerCall checks the single half-up rounding at the end
// of the sum, using an override of $0.0005/Mtok: one token costs 0.5 nano.
func TestCostRoundsOncePerCall(t *testing.T) {
	t.Parallel()
	c, err := pricing.Default().WithOverrides(map[string]pricing.Override{
		"tiny": {InputMTok: mustDecimal(t, "0.0005"), OutputMTok: mustDecimal(t, "0.0005")},
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		tokens allot.Tokens
		want   allot.Money
	}{
		{allot.Tokens{Input: 1}, 1},            // 0.5 rounds half up to 1
		{allot.Tokens{Input: 1, Output: 1}, 1}, // 0.5+0.5 = 1.0, not 1+1
		{allot.Tokens{Input: 3}, 2},            // 1.5 → 2
		{allot.Tokens{Input: 2, Output: 2}, 2}, // 2.0
		{allot.Tokens{}, 0},
		{allot.Tokens{Input: -5, Output: -1}, 0}, // negative counts count as 0
	}
	for _, tc := range cases {
		got, ok := c.Cost("any", "tiny", time.Now(), tc.tokens)
		if !ok || got != tc.want {
			t.Errorf("Cost(%+v) = %d nano, %v; want %d", tc.tokens, got, ok, tc.want)
		}
	}
}

// TestCostDoesNotOverflow prices absurd token counts: the 128-bit sum never
// wraps and the result saturates at the largest Money.
func TestCostDoesNotOverflow(t *testing.T) {
	t.Parallel()
	c := pricing.Default()
	const huge = int64(1) << 62
	got, ok := c.Cost("anthropic", "claude-3-opus-latest", time.Now(), allot.Tokens{Input: huge, Output: huge})
	if !ok || got != allot.Money(1<<63-1) {
		t.Errorf("Cost(huge) = %d, %v; want saturated max", got, ok)
	}
	// 2^40 tokens (1.1e12) × $75/Mtok = $82,463,372.083200 exactly.
	got, _ = c.Cost("anthropic", "claude-3-opus-latest", time.Now(), allot.Tokens{Output: 1 << 40})
	if want := allot.MustUSD("82463372.0832"); got != want {
		t.Errorf("Cost(2^40 output) = %s, want %s", got, want)
	}
}

// TestCostSaturatesPastInt128 prices the largest token counts at the
// largest rate a price holds, plus the largest per-request price:
// 4 × (2^63-1)^2 + 1000 × (2^63-1) passes 2^128, and the cost must
// saturate rather than wrap to a small number.
func TestCostSaturatesPastInt128(t *testing.T) {
	t.Parallel()
	const maxRate = "9223372036.854775807"
	c, err := pricing.Load([]byte(`[{"id":"p","models":[{"id":"max","match":{"equals":"max"},"prices":{` +
		`"input_mtok":` + maxRate + `,"cache_read_mtok":` + maxRate + `,"cache_write_mtok":` + maxRate +
		`,"cache_write_1h_mtok":` + maxRate + `,"output_mtok":` + maxRate + `,"requests_kcount":` + maxRate + `}}]}]`))
	if err != nil {
		t.Fatal(err)
	}
	const most = int64(1<<63 - 1)
	tokens := allot.Tokens{CacheRead: most, CacheWrite5m: most, CacheWrite1h: most, Output: most}
	if got, ok := c.Cost("p", "max", time.Now(), tokens); !ok || got != allot.Money(most) {
		t.Errorf("Cost(max rates, max tokens) = %d, %v; want saturated %d", got, ok, most)
	}
}

func TestCostIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	c, err := pricing.Default().WithOverrides(nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan allot.Money)
	for range 8 {
		go func() {
			var last allot.Money
			for range 200 {
				last, _ = c.Cost("corp-proxy", "gpt-4o", time.Now(), allot.Tokens{Input: 1234, CacheRead: 1024, Output: 57})
			}
			done <- last
		}()
	}
	for range 8 {
		if got := <-done; got != allot.MustUSD("0.002375") {
			t.Errorf("concurrent Cost = %s", got)
		}
	}
}

func mustDecimal(t testing.TB, s string) pricing.Decimal {
	t.Helper()
	d, err := pricing.ParseDecimal(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
