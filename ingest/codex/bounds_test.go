package codex

import (
	"strings"
	"testing"
)

// TestTurnsPastOneCallAreMalformed: Codex logs running session totals,
// which may grow large (bounded by ingest.MaxCount), but one turn's usage
// past one call's bound is malformed, as are totals past MaxCount.
func TestTurnsPastOneCallAreMalformed(t *testing.T) {
	t.Parallel()
	total := func(ts, usage string) string {
		return `{"timestamp":"2026-11-03T10:00:0` + ts + `Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{` + usage + `}}}}` + "\n"
	}
	for _, c := range []struct{ name, log, says string }{
		{"issue #14: 1e15 in one turn", total("1", `"input_tokens":10,"output_tokens":1000000000000000`), "output_tokens 1000000000000000 is over 100,000,000"},
		{"one past the bound", total("1", `"input_tokens":100000001,"output_tokens":1`), "input_tokens 100000001 is over"},
		{"a jump in the totals", total("1", `"input_tokens":10,"output_tokens":1`) + total("2", `"input_tokens":500000010,"output_tokens":2`), "input_tokens 500000000 is over"},
		{"totals past MaxCount", total("1", `"input_tokens":1000000000000001,"output_tokens":1`), "out of range"},
		{"negative", total("1", `"input_tokens":-1,"output_tokens":1`), "out of range"},
		{"float", total("1", `"input_tokens":1.5,"output_tokens":1`), "not a rollout line"},
	} {
		p := NewParser()
		if err := p.Parse("rollout-x.jsonl", strings.NewReader(c.log)); err != nil {
			t.Fatal(err)
		}
		sum := p.Summary()
		if sum.Malformed != 1 || !strings.Contains(strings.Join(sum.Problems, "\n"), c.says) {
			t.Errorf("%s: %s %q; want one malformed saying %q", c.name, sum, sum.Problems, c.says)
		}
		for _, e := range p.Events() {
			if err := e.Tokens.CheckCall(); err != nil {
				t.Errorf("%s: imported %+v: %v", c.name, e.Tokens, err)
			}
		}
	}
}
