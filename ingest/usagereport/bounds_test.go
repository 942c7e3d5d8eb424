package usagereport

import (
	"strings"
	"testing"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/ingest"
	"github.com/allot-dev/allot/pricing"
)

// TestBucketsPastTheirCallsAreMalformed: a report's bucket of n calls
// carries at most n times one call's bound of each kind, and a price that
// saturates is refused, so no aggregate row can overflow the books
// (issue #14). Running totals stay bounded by ingest.MaxCount.
func TestBucketsPastTheirCallsAreMalformed(t *testing.T) {
	t.Parallel()
	openai := func(result string) string {
		return `{"data":[{"start_time":1793664000,"end_time":1793750400,"results":[{"api_key_id":"key_bobLaptop","model":"gpt-4o-2024-08-06",` + result + `}]}]}`
	}
	anthropic := func(result string) string {
		return `{"data":[{"starting_at":"2026-11-03T00:00:00Z","ending_at":"2026-11-04T00:00:00Z","results":[{"api_key_id":"apikey_01BobCli","model":"claude-sonnet-4-5-20250929",` + result + `}]}]}`
	}
	for _, c := range []struct {
		name, provider, page, says string
	}{
		{"issue #14: 1e15 in one call", "openai", openai(`"input_tokens":1000000000000000,"output_tokens":1000000000000000,"num_model_requests":1`), "input_tokens 1000000000000000 is over 100,000,000"},
		{"past 40 calls' bound", "openai", openai(`"input_tokens":10,"output_tokens":4000000001,"num_model_requests":40`), "output_tokens 4000000001 is over 4,000,000,000, the most 40 calls can bill"},
		{"priced past what Money holds", "openai", openai(`"input_tokens":1000000000000000,"output_tokens":1000000000000000,"num_model_requests":1000000000000000`), "past what they can cost"},
		{"totals past MaxCount", "openai", openai(`"input_tokens":1000000000000001,"output_tokens":1,"num_model_requests":1`), "out of range"},
		{"negative", "openai", openai(`"input_tokens":-1,"output_tokens":1,"num_model_requests":1`), "negative count"},
		{"negative requests", "openai", openai(`"input_tokens":1,"output_tokens":1,"num_model_requests":-5`), "negative count"},
		{"float", "openai", openai(`"input_tokens":1.5,"output_tokens":1,"num_model_requests":1`), "cannot unmarshal"},
		{"string", "openai", openai(`"input_tokens":"1","output_tokens":1,"num_model_requests":1`), "cannot unmarshal"},
		{"anthropic output of one call", "anthropic", anthropic(`"uncached_input_tokens":1000,"cache_read_input_tokens":0,"output_tokens":1000000000000000`), "output_tokens 1000000000000000 is over 100,000,000"},
		{"anthropic max int64", "anthropic", anthropic(`"uncached_input_tokens":1000,"cache_read_input_tokens":9223372036854775807,"output_tokens":1`), "out of range"},
	} {
		p, err := NewParser(c.provider)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Parse("x.json", strings.NewReader(c.page)); err != nil {
			t.Fatal(err)
		}
		sum := p.Summary()
		events := Events(p.Rows(), mapping, people, pricing.Default(), &sum)
		if sum.Malformed != 1 || len(events) != 0 || !strings.Contains(strings.Join(sum.Problems, "\n"), c.says) {
			t.Errorf("%s: %s %q, %d events; want one malformed saying %q", c.name, sum, sum.Problems, len(events), c.says)
		}
	}
	// A big bucket within its calls' bounds is usage.
	p, _ := NewParser("openai")
	_ = p.Parse("x.json", strings.NewReader(openai(`"input_tokens":4000000000,"output_tokens":4000000000,"num_model_requests":40`)))
	var sum ingest.Summary
	events := Events(p.Rows(), mapping, people, pricing.Default(), &sum)
	if len(events) != 1 || events[0].Cost <= 0 || events[0].Cost > 40*allot.MaxCallCost {
		t.Errorf("a bucket at its bounds: %s %+v", sum, events)
	}
}
