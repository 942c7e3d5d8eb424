package pricing_test

import (
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/pricing"
)

// BenchmarkCost measures the hot path: a cached (provider, model)
// resolution, a dated price choice and the 128-bit cost sum.
func BenchmarkCost(b *testing.B) {
	c := pricing.Default()
	at := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	t := allot.Tokens{Input: 250_000, CacheRead: 100_000, CacheWrite5m: 40_000, CacheWrite1h: 10_000, Output: 2_000}
	for _, bc := range []struct{ name, provider, model string }{
		{"anthropic", "anthropic", "claude-sonnet-4-5"},
		{"dated", "anthropic", "claude-sonnet-5"},
		{"unknown-provider", "corp-proxy", "gpt-4o"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c.Cost(bc.provider, bc.model, at, t) // warm the cache
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := c.Cost(bc.provider, bc.model, at, t); !ok {
					b.Fatal("not priced")
				}
			}
		})
	}
}
