package upstreamsim

import (
	"net/http"
	"strings"
	"testing"

	allot "github.com/allot-dev/allot"
)

func ptr(n int64) *int64 { return &n }

func TestOverrideKeepsInputInclusiveOfTheCache(t *testing.T) {
	t.Parallel()
	computed := allot.Tokens{Input: 1000, CacheRead: 600, Output: 50, Reasoning: 20} // 400 uncached
	tests := []struct {
		name string
		ctl  control
		want allot.Tokens
	}{
		{"no headers: unchanged", control{}, computed},
		{"forced cache read keeps the uncached part", control{cached: ptr(100)},
			allot.Tokens{Input: 500, CacheRead: 100, Output: 50, Reasoning: 20}},
		{"forced writes add to the input", control{write5m: ptr(30), write1h: ptr(70)},
			allot.Tokens{Input: 1100, CacheRead: 600, CacheWrite5m: 30, CacheWrite1h: 70, Output: 50, Reasoning: 20}},
		{"forced input below the cache is raised to it", control{input: ptr(10), cached: ptr(64)},
			allot.Tokens{Input: 64, CacheRead: 64, Output: 50, Reasoning: 20}},
		{"forced output drops computed reasoning", control{output: ptr(7)},
			allot.Tokens{Input: 1000, CacheRead: 600, Output: 7}},
		{"forced output and reasoning", control{output: ptr(7), reasoning: ptr(3)},
			allot.Tokens{Input: 1000, CacheRead: 600, Output: 7, Reasoning: 3}},
		{"reasoning never exceeds output", control{output: ptr(7), reasoning: ptr(30)},
			allot.Tokens{Input: 1000, CacheRead: 600, Output: 7, Reasoning: 7}},
		{"forced reasoning alone replaces the computed one", control{reasoning: ptr(100)},
			allot.Tokens{Input: 1000, CacheRead: 600, Output: 130, Reasoning: 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := override(computed, tt.ctl); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestReasoningModels(t *testing.T) {
	t.Parallel()
	for model, want := range map[string]bool{
		"o1": true, "o1-mini": true, "o3": true, "o3-pro": true, "o4-mini": true, "gpt-5": true,
		"gpt-5-mini": true, "gpt-5.1": true, "openai/o3": true,
		"gpt-4o": false, "gpt-4.1": false, "o10": false, "claude-sonnet-4-5": false, "omni": false,
	} {
		if got := reasoningModel(model); got != want {
			t.Errorf("reasoningModel(%q) = %v, want %v", model, got, want)
		}
	}
}

func TestPlanRespectsEachLimitAndEffort(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	chat := func(body string) request {
		r, err := parseRequest(routeChat, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		name  string
		req   request
		check func(o outcome) bool
	}{
		{"max_tokens caps output", chat(`{"model":"gpt-4o","max_tokens":5,"messages":[{"role":"user","content":"x"}]}`),
			func(o outcome) bool { return o.tokens.Output == 5 && o.truncated }},
		{"max_completion_tokens wins over max_tokens", chat(`{"model":"gpt-4o","max_tokens":5,"max_completion_tokens":9,"messages":[{"role":"user","content":"x"}]}`),
			func(o outcome) bool { return o.tokens.Output == 9 }},
		{"minimal effort: no reasoning", chat(`{"model":"gpt-5","reasoning_effort":"minimal","messages":[{"role":"user","content":"x"}]}`),
			func(o outcome) bool { return o.tokens.Reasoning == 0 }},
		{"high effort: twice the reasoning", chat(`{"model":"gpt-5","reasoning_effort":"high","messages":[{"role":"user","content":"x"}]}`),
			func(o outcome) bool { return o.tokens.Reasoning >= 256 }},
		{"input is about a quarter of the text, plus framing", chat(`{"model":"gpt-4o","messages":[{"role":"user","content":"` + string(make400()) + `"}]}`),
			func(o outcome) bool { return o.tokens.Input >= 100+4+3 && o.tokens.Input <= 100+4+3+7 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if o := s.plan(tt.req, control{}); !tt.check(o) {
				t.Errorf("outcome %+v", o)
			}
		})
	}
}

func make400() []byte {
	b := make([]byte, 400)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

func TestAnthropicTopLevelCacheControlMarksTheLastBlock(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	body := `{"model":"claude-haiku-4-5","max_tokens":10,"cache_control":{"type":"ephemeral","ttl":"1h"},
		"system":"handbook handbook handbook","messages":[{"role":"user","content":"what is the limit?"}]}`
	r, err := parseRequest(routeMessages, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	first, second := s.plan(r, control{}), s.plan(r, control{})
	whole := estimate("handbook handbook handbook") + estimate("what is the limit?")
	if first.tokens.CacheWrite1h != whole || second.tokens.CacheRead != whole || second.tokens.CacheWrite() != 0 {
		t.Errorf("first %+v, second %+v: want a 1h write of %d, then a read", first.tokens, second.tokens, whole)
	}
}

func TestParseControlRejectsMalformedValues(t *testing.T) {
	t.Parallel()
	for name, value := range map[string]string{
		"x-sim-output-tokens": "-1", "x-sim-input-tokens": "ten", "x-sim-status": "99", "x-sim-chunk-delay": "soon",
		"x-sim-cut-after": "-2", "x-sim-hang": "maybe", "x-sim-usage-every": "0",
	} {
		h := http.Header{}
		h.Set(name, value)
		if _, err := parseControl(h); err == nil {
			t.Errorf("%s: %q accepted", name, value)
		}
	}
	h := http.Header{}
	h.Set("x-sim-chunk-delay", "15")
	h.Set("x-sim-hang", "true")
	c, err := parseControl(h)
	if err != nil || c.chunkDelay.Milliseconds() != 15 || !c.hang || c.cutAfter != -1 {
		t.Errorf("control %+v, %v", c, err)
	}
}

func TestCallsAreCopies(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, Options{})
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/models?limit=2", nil)
	req.Header.Set("Authorization", "Bearer "+testKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	c := sim.Last()
	c.Header.Set("Authorization", "changed")
	c.Query.Set("limit", "9")
	if got := sim.Last(); got.Header.Get("Authorization") != "Bearer "+testKey || got.Query.Get("limit") != "2" || !got.Done || got.Status != 200 {
		t.Errorf("stored call %+v changed or incomplete", got)
	}
}

func TestEachProtocolTakesItsOwnCredential(t *testing.T) {
	t.Parallel()
	_, srv := newSim(t, Options{})
	tests := []struct {
		path, header, value string
		status              int
	}{
		{"/v1/messages", "x-api-key", testKey, 200},
		{"/v1/messages", "Authorization", "Bearer " + testKey, 200},
		{"/v1/messages", "x-api-key", "other", 401},
		{"/v1/chat/completions", "Authorization", "Bearer " + testKey, 200},
		{"/v1/chat/completions", "x-api-key", testKey, 401},
		{"/v1/chat/completions", "Authorization", "Basic " + testKey, 401},
	}
	body := map[string]string{
		"/v1/messages":         `{"model":"m","max_tokens":3,"messages":[]}`,
		"/v1/chat/completions": `{"model":"m","messages":[{"role":"user","content":"x"}]}`,
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+tt.path, strings.NewReader(body[tt.path]))
		req.Header.Set(tt.header, tt.value)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode != tt.status {
			t.Errorf("%s with %s: status %d, want %d", tt.path, tt.header, res.StatusCode, tt.status)
		}
	}
}
