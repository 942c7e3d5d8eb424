package upstreamsim

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseRequestReadsEveryAPIsFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fixture string
		route   route
		check   func(r request) string // "" when r is right
	}{
		{"chat_tools.json", routeChat, func(r request) string {
			switch {
			case !r.stream || !r.includeUsage || r.maxTokens != 64 || r.messages != 4:
				return "stream, usage, limit or message count"
			case !r.segments[1].system || r.segments[2].system:
				return "only the developer message is system"
			case !strings.Contains(joined(r), "lookup_budget") || !strings.Contains(joined(r), `\"team\":\"data\"`) || !strings.Contains(joined(r), "1200 USD"):
				return "tools, tool calls and tool results are prompt text"
			}
			return ""
		}},
		{"responses_items.json", routeResponses, func(r request) string {
			switch {
			case r.effort != "low" || r.maxTokens != 200 || r.messages != 3:
				return "effort, limit or item count"
			case !r.segments[0].system || r.segments[0].text != "Be brief.":
				return "instructions are the system prompt"
			case !strings.Contains(joined(r), "Summarize") || !strings.Contains(joined(r), "412 USD") || !strings.Contains(joined(r), "week"):
				return "every input item is prompt text"
			}
			return ""
		}},
		{"embeddings_tokens.json", routeEmbeddings, func(r request) string {
			if r.inputs != 2 || r.segments[0].count() != 4 || r.segments[1].count() != 2 || r.encoding != "base64" || r.dimensions != 8 {
				return "token arrays count exactly, format and dimensions"
			}
			return ""
		}},
		{"messages_cache.json", routeMessages, func(r request) string {
			var ttls []string
			for _, g := range r.segments {
				ttls = append(ttls, g.ttl)
			}
			switch {
			case !r.thinking || r.budget != 1024 || !r.stream || r.maxTokens != 512:
				return "thinking, stream or limit"
			case strings.Join(ttls, ",") != "1h,5m,,,,5m":
				return "breakpoints in cache order (tools, system, messages): " + strings.Join(ttls, ",")
			case !strings.Contains(joined(r), "412 USD") || !strings.Contains(joined(r), "check"):
				return "tool results and thinking are prompt text"
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			t.Parallel()
			r, err := parseRequest(tt.route, readFixture(t, tt.fixture))
			if err != nil {
				t.Fatal(err)
			}
			if msg := tt.check(r); msg != "" {
				t.Errorf("%s: %+v", msg, r)
			}
		})
	}
}

func joined(r request) string {
	var sb strings.Builder
	for _, g := range r.segments {
		sb.WriteString(g.text)
		sb.WriteByte('\n')
	}
	return sb.String()
}

// FuzzParseRequest feeds request bodies to every route: parsing never
// panics, and an accepted request always gets a consistent answer.
func FuzzParseRequest(f *testing.F) {
	for _, name := range []string{"chat_tools.json", "responses_items.json", "embeddings_tokens.json", "messages_cache.json"} {
		f.Add(readFixture(f, name))
	}
	f.Add([]byte(`{"model":"m","input":"x"}`))
	f.Add([]byte(`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"text","text":"x","cache_control":{}}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		s := New(Options{})
		for _, rt := range []route{routeChat, routeResponses, routeEmbeddings, routeMessages, routeCountTokens} {
			r, err := parseRequest(rt, body)
			if err != nil {
				continue
			}
			o := s.plan(r, control{})
			u := o.tokens
			if u.Input < u.CacheRead+u.CacheWrite() || u.Output < u.Reasoning || o.visible < 0 {
				t.Fatalf("route %d: inconsistent usage %+v", rt, u)
			}
			if r.maxTokens > 0 && u.Output > r.maxTokens {
				t.Fatalf("route %d: output %d over max %d", rt, u.Output, r.maxTokens)
			}
		}
	})
}

// FuzzParseControl feeds header values to every x-sim-* header: parsing
// never panics and accepted counts are never negative.
func FuzzParseControl(f *testing.F) {
	for _, v := range []string{"1", "0", "10ms", "-1", "true", "1e9", " 5 ", "999999999999999999999"} {
		f.Add(v)
	}
	names := []string{"x-sim-output-tokens", "x-sim-reasoning-tokens", "x-sim-input-tokens", "x-sim-cached-tokens",
		"x-sim-cache-write-5m", "x-sim-cache-write-1h", "x-sim-status", "x-sim-retry-after", "x-sim-chunk-delay",
		"x-sim-cut-after", "x-sim-hang", "x-sim-usage-every", "x-sim-strict-models"}
	f.Fuzz(func(t *testing.T, v string) {
		for _, name := range names {
			c, err := parseControl(map[string][]string{http.CanonicalHeaderKey(name): {v}})
			if err != nil {
				continue
			}
			for _, p := range []*int64{c.output, c.reasoning, c.input, c.cached, c.write5m, c.write1h} {
				if p != nil && *p < 0 {
					t.Fatalf("%s: %q gave a negative count", name, v)
				}
			}
			if c.chunkDelay < -1 || (c.status != 0 && (c.status < 100 || c.status > 599)) {
				t.Fatalf("%s: %q gave %+v", name, v, c)
			}
		}
	})
}
