package pricing_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/pricing"
	"github.com/allot-dev/allot/pricing/internal/feed"
)

// feedPath is the genai-prices feed the embedded catalog is generated from
// (see the go:generate line in doc.go).
const feedPath = "../../shared/reference/pricing/genai-prices-v2.json"

// TestEmbeddedCatalogIsGenerated re-runs the generator on the feed and
// requires the committed catalog.json to be its exact output, so nobody
// edits prices by hand and a feed update is never half applied.
func TestEmbeddedCatalogIsGenerated(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(feedPath)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("feed %s is absent; cannot check catalog.json against it", feedPath)
	}
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := feed.Compact(raw)
	if err != nil {
		t.Fatalf("compact feed: %v", err)
	}
	got, err := os.ReadFile("catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("catalog.json differs from the generator's output; run `go generate ./pricing`")
	}
	// Load of the full feed and the embedded catalog agree.
	c, err := pricing.Load(raw)
	if err != nil {
		t.Fatalf("Load(feed): %v", err)
	}
	if c.Models() != pricing.Default().Models() {
		t.Errorf("Load(feed).Models() = %d, Default().Models() = %d", c.Models(), pricing.Default().Models())
	}
}

func TestDefaultCatalog(t *testing.T) {
	t.Parallel()
	if n := pricing.Default().Models(); n < 1000 {
		t.Errorf("Default().Models() = %d, want the whole feed (over 1000)", n)
	}
}

// TestLoadSmallFeed exercises every feed feature on a fixture: match rules
// (and, or, regex, ends_with), provider_match, model_match, fallback
// providers, tiers given out of order, dated prices, exponents and float
// artefacts in literals, ignored price kinds and free models.
func TestLoadSmallFeed(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("testdata", "small-feed.json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := pricing.Load(raw)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Models() != 4 { // rocket-image (image prices only) is dropped
		t.Errorf("Models() = %d, want 4", c.Models())
	}
	before, after := day("2025-12-31T23:00:00Z"), day("2026-01-01T00:00:00Z")
	cases := []struct {
		name, provider, model string
		at                    time.Time
		tokens                allot.Tokens
		want                  allot.Money
		known                 bool
	}{
		// 1.5e-1 is 0.15; 0.18000000000000002 is rounded to 0.18.
		// 1000 × 0.15 + 1000 × 0.18 = 330 $/M
		{"and rule, exponent, float artefact", "acme", "rocket-1-fast", before, allot.Tokens{Input: 1000, Output: 1000}, allot.MustUSD("0.00033"), true},
		{"and rule fails", "acme", "rocket-1-slow", before, allot.Tokens{Input: 1000}, 0, false},
		// base tier: 100 input (not > 100) × 1 + 10 × 4 = 140 $/M
		{"tiers: base", "acme-ai", "rocket-2", before, allot.Tokens{Input: 100, Output: 10}, allot.MustUSD("0.00014"), true},
		// 101 > 100: all at 1.5: 101 × 1.5 + 10 × 4 = 191.5 $/M
		{"tiers: sorted, first cliff", "acme-ai", "rocket-2", before, allot.Tokens{Input: 101, Output: 10}, allot.MustUSD("0.0001915"), true},
		// 1001 > 1000: all at 2: 1001 × 2 = 2002 $/M
		{"tiers: second cliff", "acme-ai", "rocket-2-2025", before, allot.Tokens{Input: 1001}, allot.MustUSD("0.002002"), true},
		// from 2026-01-01 flat 0.5: 1001 × 0.5 = 500.5 $/M
		{"dated price replaces tiers", "acme-ai", "rocket-2", after, allot.Tokens{Input: 1001}, allot.MustUSD("0.0005005"), true},
		// provider_match: "acme-eu" starts with "acme-".
		{"provider_match", "acme-eu", "rocket-2", after, allot.Tokens{Input: 1000}, allot.MustUSD("0.0005"), true},
		// resale has no rocket: fallback_model_providers leads to acme.
		{"fallback provider", "resale", "rocket-2", after, allot.Tokens{Input: 1000}, allot.MustUSD("0.0005"), true},
		// unknown provider: found through acme's model_match regex.
		{"model_match on unknown provider", "elsewhere", "rocket-2", after, allot.Tokens{Input: 1000}, allot.MustUSD("0.0005"), true},
		// unknown provider, no model_match: every provider is searched.
		{"search all providers", "elsewhere", "my-own-model", after, allot.Tokens{Input: 1000}, allot.MustUSD("0.007"), true},
		{"free model", "acme", "rocket-free", after, allot.Tokens{Input: 1000}, 0, true},
		{"image-only model is unpriced", "acme", "rocket-image", after, allot.Tokens{Input: 1000}, 0, false},
	}
	for _, tc := range cases {
		got, ok := c.Cost(tc.provider, tc.model, tc.at, tc.tokens)
		if got != tc.want || ok != tc.known {
			t.Errorf("%s: Cost(%q, %q) = %s, %v; want %s, %v", tc.name, tc.provider, tc.model, got, ok, tc.want, tc.known)
		}
	}
}

func TestLoadRejectsBadFeeds(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, feed, want string }{
		{"not json", `hello`, "genai-prices v2"},
		{"not a list", `{"id":"x"}`, "genai-prices v2"},
		{"bad regex", `[{"id":"p","models":[{"id":"m","match":{"regex":"("},"prices":{"input_mtok":1}}]}]`, "regex"},
		{"empty match", `[{"id":"p","models":[{"id":"m","match":{},"prices":{"input_mtok":1}}]}]`, "exactly one"},
		{"two rules", `[{"id":"p","models":[{"id":"m","match":{"equals":"a","contains":"b"},"prices":{}}]}]`, "exactly one"},
		{"negative price", `[{"id":"p","models":[{"id":"m","match":{"equals":"m"},"prices":{"input_mtok":-1}}]}]`, "negative"},
		{"string price", `[{"id":"p","models":[{"id":"m","match":{"equals":"m"},"prices":{"input_mtok":"1"}}]}]`, "number"},
		{"bad date", `[{"id":"p","models":[{"id":"m","match":{"equals":"m"},"prices":[{"prices":{}},{"constraint":{"start_date":"soon"},"prices":{}}]}]}]`, "start_date"},
		{"empty or", `[{"id":"p","models":[{"id":"m","match":{"or":[]},"prices":{}}]}]`, "empty"},
		{"missing provider id", `[{"models":[]}]`, "missing id"},
	}
	for _, tc := range cases {
		_, err := pricing.Load([]byte(tc.feed))
		var ae *allot.Error
		if err == nil || !errors.As(err, &ae) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Load err = %v; want an *allot.Error mentioning %q", tc.name, err, tc.want)
		}
	}
}

// FuzzLoad feeds arbitrary documents to Load, the reader of price files
// given to `allot prices update`: it must never panic, must refuse with an
// *allot.Error, and whatever it accepts must price without panicking.
func FuzzLoad(f *testing.F) {
	if raw, err := os.ReadFile(filepath.Join("testdata", "small-feed.json")); err == nil {
		f.Add(raw)
	}
	for _, s := range []string{
		`[]`, `hello`, `{"id":"x"}`,
		`[{"id":"p","models":[{"id":"m","match":{"regex":"^m"},"prices":{"input_mtok":1e-3,"output_mtok":{"base":1,"tiers":[{"start":5,"price":2}]}}}]}]`,
		`[{"id":"p","models":[{"id":"m","match":{"equals":"m"},"prices":[{"prices":{}},{"constraint":{"start_time":"23:00:00Z","end_time":"01:00:00Z"},"prices":{"requests_kcount":3}}]}]}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := pricing.Load(b)
		if err != nil {
			var ae *allot.Error
			if !errors.As(err, &ae) {
				t.Fatalf("Load error %v is not an *allot.Error", err)
			}
			return
		}
		tokens := allot.Tokens{Input: 300, CacheRead: 100, CacheWrite5m: 50, CacheWrite1h: 50, Output: 20, Reasoning: 10}
		for _, m := range []string{"m", "rocket-2", "gpt-4o", ""} {
			if cost, _ := c.Cost("p", m, time.Unix(1_700_000_000, 0), tokens); cost < 0 {
				t.Fatalf("Cost(%q) = %d, negative", m, cost)
			}
			c.Lookup("elsewhere", m, time.Unix(0, 0))
		}
	})
}
