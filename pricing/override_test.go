package pricing_test

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/pricing"
)

// overridesYAML is how overrides appear in allot's configuration: plain
// numbers, quoted numbers and prefixes ending in *.
const overridesYAML = `
gpt-4o:
  input_mtok: 1
  output_mtok: "2"
"my-llama-*":
  input_mtok: 0.2
  output_mtok: 0.6
"my-llama-70b*":
  input_mtok: 0.5
  output_mtok: 1.5
  cache_read_mtok: 0.05
`

func loadOverrides(t *testing.T) *pricing.Catalog {
	t.Helper()
	var o map[string]pricing.Override
	if err := yaml.Unmarshal([]byte(overridesYAML), &o); err != nil {
		t.Fatalf("unmarshal overrides: %v", err)
	}
	c, err := pricing.Default().WithOverrides(o)
	if err != nil {
		t.Fatalf("WithOverrides: %v", err)
	}
	return c
}

func TestOverrides(t *testing.T) {
	t.Parallel()
	c := loadOverrides(t)
	now := time.Now()
	cases := []struct {
		name, provider, model string
		tokens                allot.Tokens
		want                  allot.Money
	}{
		{
			// gpt-4o overridden to input 1, output 2; no cache_read_mtok, so
			// cache reads pay input: 600 × 1 + 400 × 1 + 100 × 2 = 1200 $/M
			name: "exact override wins over the feed", provider: "openai", model: "gpt-4o",
			tokens: allot.Tokens{Input: 1_000, CacheRead: 400, Output: 100},
			want:   allot.MustUSD("0.0012"),
		},
		{
			// any provider: same price on azure.
			name: "override applies on every provider", provider: "azure", model: "gpt-4o",
			tokens: allot.Tokens{Input: 1_000, CacheRead: 400, Output: 100},
			want:   allot.MustUSD("0.0012"),
		},
		{
			// my-llama-*: 10000 × 0.2 + 1000 × 0.6 = 2600 $/M
			name: "prefix override", provider: "vllm", model: "my-llama-8b",
			tokens: allot.Tokens{Input: 10_000, Output: 1_000},
			want:   allot.MustUSD("0.0026"),
		},
		{
			// the longer prefix my-llama-70b* wins:
			// 8000 × 0.5 + 2000 × 0.05 + 1000 × 1.5 = 4000 + 100 + 1500 = 5600 $/M
			name: "longest prefix wins", provider: "vllm", model: "my-llama-70b-instruct",
			tokens: allot.Tokens{Input: 10_000, CacheRead: 2_000, Output: 1_000},
			want:   allot.MustUSD("0.0056"),
		},
	}
	for _, tc := range cases {
		got, ok := c.Cost(tc.provider, tc.model, now, tc.tokens)
		if !ok || got != tc.want {
			t.Errorf("%s: Cost(%q, %q) = %s, %v; want %s", tc.name, tc.provider, tc.model, got, ok, tc.want)
		}
	}
	// The base catalog is untouched: gpt-4o still has the feed price.
	got, _ := pricing.Default().Cost("openai", "gpt-4o", now, allot.Tokens{Input: 1_000, CacheRead: 400, Output: 100})
	// 600 × 2.5 + 400 × 1.25 + 100 × 10 = 1500 + 500 + 1000 = 3000 $/M
	if want := allot.MustUSD("0.003"); got != want {
		t.Errorf("default catalog after WithOverrides: gpt-4o = %s, want %s", got, want)
	}
	if p, ok := c.Lookup("vllm", "my-llama-70b-instruct", now); !ok || p.Provider != "override" || p.Model != "my-llama-70b*" {
		t.Errorf("Lookup(my-llama-70b-instruct) = %+v, %v; want the my-llama-70b* override", p, ok)
	}
}

func TestOverridesRejectBadKeys(t *testing.T) {
	t.Parallel()
	one := pricing.Override{InputMTok: mustDecimal(t, "1")}
	cases := []struct {
		name string
		o    map[string]pricing.Override
		want string
	}{
		{"empty key", map[string]pricing.Override{"": one}, `model pattern "" is empty`},
		{"another glob language", map[string]pricing.Override{"gpt-[45]o": one}, `model pattern "gpt-[45]o" contains "["`},
		{"no price", map[string]pricing.Override{"gpt-4o": {}}, "sets no price"},
	}
	for _, tc := range cases {
		_, err := pricing.Default().WithOverrides(tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}
