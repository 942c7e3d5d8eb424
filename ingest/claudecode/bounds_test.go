package claudecode

import (
	"strings"
	"testing"
)

// TestCountsPastOneCallAreMalformed: a log line whose usage no call can
// have (issue #14: 1e15 tokens priced to the largest int64) is counted as
// malformed, never imported; so are negative and non-numeric counts.
func TestCountsPastOneCallAreMalformed(t *testing.T) {
	t.Parallel()
	line := func(usage, cost string) string {
		return `{"type":"assistant","timestamp":"2026-11-03T10:00:00Z","requestId":"r","message":{"id":"m","model":"claude-sonnet-4-5","usage":{` + usage + `}}` + cost + `}`
	}
	for _, c := range []struct{ name, line, says string }{
		{"issue #14: 1e15 output", line(`"input_tokens":1,"output_tokens":1000000000000000`, ""), "output_tokens 1000000000000000 is over 100,000,000"},
		{"one past the bound", line(`"input_tokens":100000001,"output_tokens":1`, ""), "input_tokens 100000001 is over"},
		{"negative cache read", line(`"input_tokens":1,"cache_read_input_tokens":-1,"output_tokens":1`, ""), "cache_read_input_tokens -1 is negative"},
		{"max int64 cache write", line(`"input_tokens":1,"cache_creation_input_tokens":9223372036854775807,"output_tokens":1`, ""), "cache_creation_input_tokens"},
		{"parts summing past the bound", line(`"input_tokens":60000000,"cache_read_input_tokens":60000000,"output_tokens":1`, ""), "input_tokens 120000000 is over"},
		{"cost past one call", line(`"input_tokens":1,"output_tokens":1`, `,"costUSD":100001`), "cost_usd"},
		{"count past int64", line(`"input_tokens":1,"output_tokens":9223372036854775808`, ""), "not"},
		{"count as a float", line(`"input_tokens":1.5,"output_tokens":1`, ""), "not"},
		{"count as a string", line(`"input_tokens":"1","output_tokens":1`, ""), "not"},
	} {
		p := NewParser()
		if err := p.Parse("x.jsonl", strings.NewReader(c.line)); err != nil {
			t.Fatal(err)
		}
		sum := p.Summary()
		if sum.Malformed != 1 || len(p.Events()) != 0 || !strings.Contains(strings.Join(sum.Problems, "\n"), c.says) {
			t.Errorf("%s: %s %q, %d events; want malformed saying %q", c.name, sum, sum.Problems, len(p.Events()), c.says)
		}
	}
	p := NewParser()
	_ = p.Parse("x.jsonl", strings.NewReader(line(`"input_tokens":100000000,"output_tokens":100000000`, `,"costUSD":100000`)))
	if len(p.Events()) != 1 {
		t.Errorf("usage at the bounds: %s", p.Summary())
	}
}
