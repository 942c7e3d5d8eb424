package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// TestUsageAPIRefusesNumbersNoCallHas is issue #14's first failure: a
// member posted one event with input_tokens and output_tokens of 1e15
// (then ingest.MaxCount); it was accepted, its cost saturated at the
// largest int64, and reports failed for everyone. A number past what any
// call can bill now refuses the request with a 400 that names the record,
// and stores nothing; numbers that are not numbers stay malformed records.
func TestUsageAPIRefusesNumbersNoCallHas(t *testing.T) {
	t.Parallel()
	h, db := newUsageHandler(t)
	record := func(fields string) string {
		return `{"events":[{"id":"r-ok","time":"2026-11-03T10:00:00Z","model":"gpt-4o","tokens":{"input_tokens":10,"output_tokens":1}},` +
			`{"id":"r-bad","time":"2026-11-03T10:00:00Z","model":"gpt-4o",` + fields + `}]}`
	}
	refused := []struct{ name, fields, says string }{
		{"issue #14: 1e15 tokens", `"tokens":{"input_tokens":1000000000000000,"output_tokens":1000000000000000}`, "input_tokens 1000000000000000 is over 100,000,000"},
		{"one past the bound", `"tokens":{"input_tokens":100000001}`, "input_tokens 100000001 is over"},
		{"negative input", `"tokens":{"input_tokens":-1}`, "input_tokens -1 is negative"},
		{"negative cache read", `"tokens":{"input_tokens":5,"cache_read_tokens":-5}`, "cache_read_tokens -5 is negative"},
		{"huge cache write 5m", `"tokens":{"input_tokens":5,"cache_write_5m_tokens":9223372036854775807}`, "cache_write_5m_tokens"},
		{"huge cache write 1h", `"tokens":{"cache_write_1h_tokens":1000000000000000}`, "cache_write_1h_tokens"},
		{"min int64 output", `"tokens":{"output_tokens":-9223372036854775808}`, "output_tokens"},
		{"huge reasoning", `"tokens":{"output_tokens":1,"reasoning_tokens":4611686018427387904}`, "reasoning_tokens"},
		{"cost past one call", `"tokens":{"input_tokens":1},"cost_usd":"100000.000000001"`, "cost_usd 100000.000000001"},
		{"cost as a huge number", `"tokens":{"input_tokens":1},"cost_usd":999999999`, "cost_usd"},
		{"negative cost", `"tokens":{"input_tokens":1},"cost_usd":"-1"`, "negative"},
		{"latency past a day", `"tokens":{"input_tokens":1},"latency_ms":9223372036854775807`, "latency_ms"},
		{"negative latency", `"tokens":{"input_tokens":1},"latency_ms":-1`, "latency_ms"},
		{"status past 599", `"tokens":{"input_tokens":1},"status":1000000`, "status"},
	}
	for _, c := range refused {
		code, _, body := postUsage(t, h, "ak-bob", record(c.fields))
		if code != http.StatusBadRequest || !strings.Contains(body, "events[1] (r-bad)") || !strings.Contains(body, c.says) || !strings.Contains(body, "nothing in this request was stored") {
			t.Errorf("%s: %d %s, want 400 naming events[1] and saying %q", c.name, code, body, c.says)
		}
	}
	malformed := []struct{ name, fields string }{
		{"count as a string", `"tokens":{"input_tokens":"1000000000000000"}`},
		{"count as a float", `"tokens":{"input_tokens":1.5}`},
		{"count in exponent form", `"tokens":{"output_tokens":1e15}`},
		{"count past int64", `"tokens":{"output_tokens":18446744073709551616}`},
		{"count NaN", `"tokens":{"output_tokens":NaN}`},
		{"cost NaN", `"tokens":{"input_tokens":1},"cost_usd":"NaN"`},
		{"cost infinite", `"tokens":{"input_tokens":1},"cost_usd":"Infinity"`},
		{"latency as a float", `"tokens":{"input_tokens":1},"latency_ms":1.5`},
		{"status as a string", `"tokens":{"input_tokens":1},"status":"200"`},
	}
	for _, c := range malformed {
		code, res, body := postUsage(t, h, "ak-bob", record(c.fields))
		if code == http.StatusOK && res.Malformed == 1 {
			continue
		}
		if code != http.StatusBadRequest { // a body that is not JSON at all is refused whole
			t.Errorf("%s: %d %s, want the record malformed", c.name, code, body)
		}
	}
	// Only r-ok was ever stored, and reports still add up.
	ctx := context.Background()
	day := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	rows, err := db.Report(ctx, allot.ReportQuery{From: day, To: day.AddDate(0, 0, 1)})
	if err != nil {
		t.Fatalf("report after the refusals: %v", err)
	}
	if len(rows) != 1 || rows[0].Requests != 1 || rows[0].Tokens.Input != 10 || rows[0].Cost < 0 || rows[0].Cost > allot.USD {
		t.Errorf("report %v, want r-ok alone", rows)
	}
	// The bound itself is usage a call can have.
	code, res, body := postUsage(t, h, "ak-bob", record(`"tokens":{"input_tokens":100000000,"output_tokens":100000000},"cost_usd":"100000"`))
	if code != http.StatusOK || res.Imported != 1 {
		t.Errorf("at the bounds: %d %s", code, body)
	}
}
