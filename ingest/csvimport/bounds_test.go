package csvimport

import (
	"strings"
	"testing"

	"github.com/allot-dev/allot/pricing"
)

// TestRowsPastOneCallAreMalformed: a row is one event, bounded like one
// call; a count or cost past the bound is malformed (split larger
// aggregates into several rows), as are negative and non-numeric ones.
func TestRowsPastOneCallAreMalformed(t *testing.T) {
	t.Parallel()
	const header = "time,user,model,input_tokens,cache_read_tokens,cache_write_5m_tokens,cache_write_1h_tokens,output_tokens,reasoning_tokens,cost_usd\n"
	for _, c := range []struct{ name, row, says string }{
		{"issue #14: 1e15 tokens", "2026-11-03,bob,gpt-4o,1000000000000000,,,,1000000000000000,,", "input_tokens 1000000000000000 is over 100,000,000"},
		{"one past the bound", "2026-11-03,bob,gpt-4o,1,,,,100000001,,", "output_tokens 100000001 is over"},
		{"negative cache read", "2026-11-03,bob,gpt-4o,5,-1,,,1,,", "cache_read_tokens -1 is negative"},
		{"max int64 cache write", "2026-11-03,bob,gpt-4o,5,,9223372036854775807,,1,,", "cache_write_5m_tokens"},
		{"huge cache write 1h", "2026-11-03,bob,gpt-4o,5,,,1000000000000,1,,", "cache_write_1h_tokens"},
		{"huge reasoning", "2026-11-03,bob,gpt-4o,5,,,,1,4611686018427387904,", "reasoning_tokens"},
		{"past int64", "2026-11-03,bob,gpt-4o,18446744073709551616,,,,1,,", "not a whole number"},
		{"float", "2026-11-03,bob,gpt-4o,1.5,,,,1,,", "not a whole number"},
		{"NaN", "2026-11-03,bob,gpt-4o,NaN,,,,1,,", "not a whole number"},
		{"cost past one call", "2026-11-03,bob,acme-llm,1,,,,1,,100000.5", "cost_usd 100000.500000000"},
		{"negative cost", "2026-11-03,bob,acme-llm,1,,,,1,,-1", "cost_usd"},
		{"cost NaN", "2026-11-03,bob,acme-llm,1,,,,1,,NaN", "cost_usd"},
	} {
		events, sum, err := Read("x.csv", strings.NewReader(header+c.row+"\n"), Options{People: people, Pricer: pricing.Default()})
		if err != nil || len(events) != 0 || sum.Malformed != 1 || !strings.Contains(strings.Join(sum.Problems, "\n"), c.says) {
			t.Errorf("%s: %v %s %q, %d events; want malformed saying %q", c.name, err, sum, sum.Problems, len(events), c.says)
		}
	}
	events, sum, err := Read("x.csv", strings.NewReader(header+"2026-11-03,bob,acme-llm,100000000,,,,100000000,,100000\n"), Options{People: people, Pricer: pricing.Default()})
	if err != nil || len(events) != 1 {
		t.Errorf("a row at the bounds: %v %s", err, sum)
	}
}
