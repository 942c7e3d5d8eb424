package otlp

import (
	"net/http"
	"strings"
	"testing"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/pricing"
)

// fixtureCases are the recorded-shape payloads and the usage they carry.
var fixtureCases = []struct {
	name   string
	key    string
	events int
	tokens allot.Tokens
	users  []string // whom the events belong to
	apps   []string
}{
	{"claude_code_metrics", "ak-bob", 3, allot.Tokens{Input: 75160, CacheRead: 70000, CacheWrite5m: 5000, Output: 2800}, []string{"bob"}, []string{"claude-cli"}},
	{"claude_code_logs", "ak-bob", 2, allot.Tokens{Input: 25812, CacheRead: 24000, CacheWrite5m: 1500, Output: 970}, []string{"bob"}, []string{"claude-cli"}},
	{"codex_metrics", "ak-alice", 1, allot.Tokens{Input: 9000, CacheRead: 6000, Output: 1100, Reasoning: 600}, []string{"bob"}, []string{"codex"}},
	{"codex_logs", "ak-alice", 2, allot.Tokens{Input: 9000, CacheRead: 6000, Output: 1100, Reasoning: 600}, []string{"bob"}, []string{"codex"}},
	{"gemini_cli_metrics", "ak-alice", 1, allot.Tokens{Input: 8100, CacheRead: 2000, Output: 1500, Reasoning: 900}, []string{"carol"}, []string{"gemini-cli"}},
	{"gemini_cli_logs", "ak-alice", 1, allot.Tokens{Input: 8100, CacheRead: 2000, Output: 1500, Reasoning: 900}, []string{"carol"}, []string{"gemini-cli"}},
	{"genai_traces", "ak-bob", 2, allot.Tokens{Input: 1600, CacheRead: 1000, Output: 390}, []string{"bob"}, []string{"support-bot"}},
	{"genai_logs", "ak-bob", 2, allot.Tokens{Input: 3200, CacheRead: 1000, Output: 450}, []string{"bob"}, []string{"support-bot"}},
	{"genai_metrics", "ak-bob", 1, allot.Tokens{Input: 500, Output: 100}, []string{"bob"}, []string{"support-bot"}},
}

// TestFixtures posts every recorded payload, as JSON and as protobuf,
// gzipped or not, twice: the ledger holds exactly the payload's sums, the
// replay adds nothing, and every event is priced.
func TestFixtures(t *testing.T) {
	t.Parallel()
	for _, tc := range fixtureCases {
		jsonBody, protoBody := fixture(t, tc.name)
		for _, form := range []struct {
			name, contentType string
			body              []byte
			gzip              bool
		}{
			{"json", "application/json", jsonBody, false},
			{"protobuf", "application/x-protobuf", protoBody, false},
			{"protobuf+gzip", "application/x-protobuf", protoBody, true},
			{"json+gzip", "application/json; charset=utf-8", jsonBody, true},
		} {
			t.Run(tc.name+"/"+form.name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t)
				for range 2 {
					w := e.post(pathOf(tc.name), tc.key, form.contentType, form.body, form.gzip)
					if w.Code != http.StatusOK {
						t.Fatalf("status %d: %s", w.Code, w.Body)
					}
					if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(form.contentType, ct) {
						t.Errorf("response Content-Type %q for a %s request", ct, form.contentType)
					}
					if form.name == "json" && strings.TrimSpace(w.Body.String()) != "{}" {
						t.Errorf("success body %q, want {}", w.Body)
					}
					if form.name == "protobuf" && w.Body.Len() != 0 {
						t.Errorf("success body of %d bytes, want an empty message", w.Body.Len())
					}
				}
				tokens, cost, n := e.totals()
				if tokens != tc.tokens {
					t.Errorf("ledger tokens\n got %+v\nwant %+v", tokens, tc.tokens)
				}
				if n != int64(tc.events) {
					t.Errorf("ledger has %d events, want %d", n, tc.events)
				}
				var sum allot.Money
				cat := pricing.Default()
				for _, ev := range e.events() {
					if ev.Source != allot.SourceOTLP || !ev.CostKnown || ev.Cost <= 0 {
						t.Errorf("event %s: source %q cost %s known %t", ev.ServedModel, ev.Source, ev.Cost, ev.CostKnown)
					}
					if want, _ := cat.Cost(ev.Provider, ev.ServedModel, ev.Time, ev.Tokens); want != ev.Cost {
						t.Errorf("event %s cost %s, catalog says %s", ev.ServedModel, ev.Cost, want)
					}
					if !contains(tc.users, ev.User) || !contains(tc.apps, ev.App) {
						t.Errorf("event of user %q app %q, want %v %v", ev.User, ev.App, tc.users, tc.apps)
					}
					if ev.Time.Before(t0) || ev.Time.After(t0.Add(2*60e9)) {
						t.Errorf("event time %s outside the payload's", ev.Time)
					}
					sum += ev.Cost
				}
				if sum != cost {
					t.Errorf("report cost %s, events sum to %s", cost, sum)
				}
			})
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
