package pricing_test

import (
	"testing"
	"time"

	"github.com/allot-dev/allot/pricing"
)

func TestLookup(t *testing.T) {
	t.Parallel()
	c := pricing.Default()
	cases := []struct {
		provider, model string
		at              time.Time
		wantProvider    string
		wantModel       string
		wantSince       string
		wantInput       string
		wantTiers       int
	}{
		{"openai", "gpt-4o-2024-08-06", day("2026-01-01T00:00:00Z"), "openai", "gpt-4o", "", "2.5", 0},
		{"corp-proxy", "gpt-4o", day("2026-01-01T00:00:00Z"), "openai", "gpt-4o", "", "2.5", 0},
		{"corp-proxy", "claude-sonnet-4-5", day("2026-01-01T00:00:00Z"), "anthropic", "claude-sonnet-4-5", "", "3", 1},
		{"anthropic", "claude-sonnet-5", day("2026-09-02T00:00:00Z"), "anthropic", "claude-sonnet-5", "2026-09-01", "3", 0},
		// azure has no price of its own for claude: its fallback_model_providers lead to anthropic.
		{"azure", "claude-sonnet-4-5", day("2026-01-01T00:00:00Z"), "anthropic", "claude-sonnet-4-5", "", "3", 1},
		// a provider named by provider_match ("contains bedrock") rather than id.
		{"aws-bedrock", "global.anthropic.claude-sonnet-5-v1:0", day("2026-01-01T00:00:00Z"), "aws", "global.anthropic.claude-sonnet-5-v1:0", "", "2", 0},
	}
	for _, tc := range cases {
		p, ok := c.Lookup(tc.provider, tc.model, tc.at)
		if !ok {
			t.Errorf("Lookup(%q, %q) not found", tc.provider, tc.model)
			continue
		}
		if p.Provider != tc.wantProvider || p.Model != tc.wantModel || p.Since != tc.wantSince ||
			p.InputMTok.Base.String() != tc.wantInput || len(p.InputMTok.Tiers) != tc.wantTiers {
			t.Errorf("Lookup(%q, %q) = %s/%s since %q input %s tiers %d; want %s/%s since %q input %s tiers %d",
				tc.provider, tc.model, p.Provider, p.Model, p.Since, p.InputMTok.Base, len(p.InputMTok.Tiers),
				tc.wantProvider, tc.wantModel, tc.wantSince, tc.wantInput, tc.wantTiers)
		}
	}
	if _, ok := c.Lookup("openai", "no-such-model-xyz", time.Now()); ok {
		t.Error("Lookup(no-such-model-xyz) found something")
	}
}

func TestLookupShowsFallbackRates(t *testing.T) {
	t.Parallel()
	// gpt-4o has no cache write price: writes pay input (2.5).
	p, ok := pricing.Default().Lookup("openai", "gpt-4o", time.Now())
	if !ok {
		t.Fatal("gpt-4o not found")
	}
	for name, got := range map[string]pricing.Rate{"cache write 5m": p.CacheWrite5mMTok, "cache write 1h": p.CacheWrite1hMTok} {
		if got.Base.String() != "2.5" {
			t.Errorf("%s = %s, want the input price 2.5", name, got.Base)
		}
	}
	if p.CacheReadMTok.Base.String() != "1.25" || p.OutputMTok.Base.String() != "10" || p.ReasoningMTok.Base.String() != "10" {
		t.Errorf("gpt-4o rates = %+v", p)
	}
}
