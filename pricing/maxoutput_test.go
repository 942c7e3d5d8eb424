package pricing_test

import (
	"strings"
	"testing"

	"github.com/allot-dev/allot/pricing"
)

func TestMaxOutput(t *testing.T) {
	t.Parallel()
	cat, err := pricing.Default().WithMaxOutput(map[string]int64{
		"gpt-4o":      20000, // a plain name is a prefix, and replaces the built-in gpt-4o entry
		"*-reasoner*": 64000,
		"local-*":     2048,
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cat   *pricing.Catalog
		model string
		want  int64
	}{
		{pricing.Default(), "gpt-4o-mini", 16384},     // built-in, longest prefix
		{pricing.Default(), "gpt-4-turbo-2024", 4096}, // gpt-4-turbo beats gpt-4
		{pricing.Default(), "gpt-4-0613", 8192},
		{pricing.Default(), "text-embedding-3-small", 0},
		{pricing.Default(), "my-own-model", pricing.FallbackMaxOutput},
		{cat, "gpt-4o-mini", 20000},
		{cat, "gpt-4-0613", 8192}, // the rest of the built-in table stays
		{cat, "deepseek-reasoner-v2", 64000},
		{cat, "openrouter/deepseek-reasoner", 64000},
		{cat, "local-llama", 2048},
	}
	for _, tt := range tests {
		if got := tt.cat.MaxOutput(tt.model); got != tt.want {
			t.Errorf("MaxOutput(%q) = %d, want %d", tt.model, got, tt.want)
		}
	}
}

func TestWithMaxOutputRefusesBadEntries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		limits map[string]int64
		want   string
	}{
		{map[string]int64{"gpt-[45]o": 1}, `max_output_tokens: model pattern "gpt-[45]o" contains "["`},
		{map[string]int64{"o3": -1}, `max_output_tokens "o3" is -1`},
		{map[string]int64{"o3": 100_000_001}, "use 0..100000000"},
	}
	for _, tt := range tests {
		_, err := pricing.Default().WithMaxOutput(tt.limits)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("WithMaxOutput(%v) = %v, want an error saying %q", tt.limits, err, tt.want)
		}
		if err2 := pricing.ValidateMaxOutput(tt.limits); err != nil && (err2 == nil || err2.Error() != err.Error()) {
			t.Errorf("ValidateMaxOutput(%v) = %v, want %v", tt.limits, err2, err)
		}
	}
}
