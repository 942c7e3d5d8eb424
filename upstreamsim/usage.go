package upstreamsim

import (
	"encoding/binary"
	"hash/fnv"
	"strings"
	"sync"

	allot "github.com/allot-dev/allot"
)

// outcome is the answer the simulator will give to one request.
type outcome struct {
	tokens    allot.Tokens // the usage to report, normalized
	visible   int64        // text tokens: tokens.Output - tokens.Reasoning
	truncated bool         // the output hit the request's max token limit
	hash      uint64       // seeds the generated text
}

// Sizes of the generated answers, in tokens.
const (
	openAICacheMin  = 1024 // OpenAI caches prompts from this many tokens
	openAICacheUnit = 128  // and in increments of this many
	perMessage      = 4    // framing tokens per message
	perRequest      = 3    // framing tokens per request
)

// estimate is the simulator's tokenizer: about four bytes per token.
func estimate(s string) int64 { return int64(len(s)+3) / 4 }

func (g segment) count() int64 {
	if g.tokens >= 0 {
		return g.tokens
	}
	return estimate(g.text)
}

// hashOf is a stable 64-bit FNV-1a hash of the seed and parts.
func hashOf(seed int64, parts ...string) uint64 {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(seed))
	h.Write(b[:])
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// promptHash hashes the model and the prompt text: the seeded variation of
// the usage depends on them and on nothing else in the body.
func promptHash(seed int64, r request) uint64 {
	parts := make([]string, 0, len(r.segments)+1)
	parts = append(parts, r.model)
	for _, g := range r.segments {
		parts = append(parts, g.text)
	}
	return hashOf(seed, parts...)
}

// plan computes the answer to r: the prompt estimate, prompt caching (which
// updates the cache memory unless r only counts tokens), reasoning, the
// output length and the limit, then the x-sim-* overrides in c.
func (s *Server) plan(r request, c control) outcome {
	h := promptHash(s.opts.Seed, r)
	o := outcome{hash: h}
	var prompt int64
	for _, g := range r.segments {
		prompt += g.count()
	}
	if r.route != routeEmbeddings {
		prompt += perMessage*int64(r.messages) + perRequest + int64(h%8)
	}
	t := allot.Tokens{Input: prompt}
	switch r.route {
	case routeChat, routeResponses:
		t.CacheRead = s.cache.openAI(r)
	case routeMessages:
		t.CacheRead, t.CacheWrite5m, t.CacheWrite1h = s.cache.anthropic(r)
	}

	if r.route == routeChat || r.route == routeResponses || r.route == routeMessages {
		visible := 12 + int64(h>>8%52)
		reasoning := naturalReasoning(r, h)
		out := visible + reasoning
		if r.maxTokens > 0 && out > r.maxTokens {
			out, o.truncated = r.maxTokens, true
		}
		t.Reasoning = min(reasoning, out)
		t.Output = out
	}
	o.tokens = override(t, c)
	o.visible = o.tokens.Output - o.tokens.Reasoning
	if c.output != nil {
		o.truncated = false
	}
	return o
}

// naturalReasoning is the reasoning a request spends without headers
// steering it: OpenAI reasoning models by effort, Anthropic by thinking.
func naturalReasoning(r request, h uint64) int64 {
	base := int64(h >> 16 % 128)
	switch {
	case r.route == routeMessages && r.thinking:
		n := 96 + base
		if r.budget > 0 && n > r.budget {
			n = r.budget
		}
		return n
	case r.route != routeMessages && reasoningModel(r.model):
		n := 128 + base
		switch r.effort {
		case "minimal", "none":
			return 0
		case "low":
			return n / 2
		case "high", "xhigh":
			return 2 * n
		}
		return n
	}
	return 0
}

// reasoningModel reports whether an OpenAI model reasons before answering.
func reasoningModel(model string) bool {
	if i := strings.LastIndexByte(model, '/'); i >= 0 {
		model = model[i+1:]
	}
	for _, p := range []string{"o1", "o3", "o4"} {
		if model == p || strings.HasPrefix(model, p+"-") {
			return true
		}
	}
	return strings.HasPrefix(model, "gpt-5")
}

// override applies the x-sim-* counts. Forced cache counts keep the
// computed uncached input; a forced input below the cache counts is raised
// to them, since input always includes the cache.
func override(t allot.Tokens, c control) allot.Tokens {
	uncached := t.Uncached()
	if c.cached != nil {
		t.CacheRead = *c.cached
	}
	if c.write5m != nil {
		t.CacheWrite5m = *c.write5m
	}
	if c.write1h != nil {
		t.CacheWrite1h = *c.write1h
	}
	if c.input != nil {
		t.Input = max(*c.input, t.CacheRead+t.CacheWrite())
	} else {
		t.Input = uncached + t.CacheRead + t.CacheWrite()
	}
	switch {
	case c.output != nil:
		t.Output = *c.output
		t.Reasoning = 0
		if c.reasoning != nil {
			t.Reasoning = min(*c.reasoning, t.Output)
		}
	case c.reasoning != nil:
		t.Output += *c.reasoning - t.Reasoning
		t.Reasoning = *c.reasoning
	}
	return t
}

// cacheMemory is the simulated prompt cache: fingerprints of the prompt
// prefixes seen so far. It is bounded; when full it forgets everything, as
// an expiring cache would.
type cacheMemory struct {
	mu   sync.Mutex
	seen map[uint64]bool
}

const cacheMemoryMax = 1 << 16

func newCacheMemory() *cacheMemory { return &cacheMemory{seen: map[uint64]bool{}} }

// remember records fp and reports whether it had been seen before.
func (m *cacheMemory) remember(fp uint64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen[fp] {
		return true
	}
	if len(m.seen) >= cacheMemoryMax {
		clear(m.seen)
	}
	m.seen[fp] = true
	return false
}

// openAI returns the cached tokens of an OpenAI request: none the first time
// a long system prompt is seen; when it repeats, the repeated prefix (the
// system prompt) rounded down to a multiple of 128, as OpenAI caches in
// 128-token steps from 1024 tokens on.
func (m *cacheMemory) openAI(r request) int64 {
	var sys []string
	var n int64
	for _, g := range r.segments {
		if g.system {
			sys = append(sys, g.text)
			n += g.count()
		}
	}
	if n < openAICacheMin {
		return 0
	}
	if !m.remember(hashOf(0, append([]string{"openai", r.model}, sys...)...)) {
		return 0
	}
	return n / openAICacheUnit * openAICacheUnit
}

// anthropic returns the cache read and the 5-minute and 1-hour cache writes
// of an Anthropic request. Every cache_control block is a breakpoint; the
// longest prefix seen before is read, the rest up to the last breakpoint is
// written with the lifetime of the breakpoint that ends each part.
func (m *cacheMemory) anthropic(r request) (read, write5m, write1h int64) {
	type breakpoint struct {
		pos int64
		ttl string
		fp  uint64
	}
	var bps []breakpoint
	var pos int64
	parts := []string{"anthropic", r.model}
	for _, g := range r.segments {
		pos += g.count()
		parts = append(parts, g.text)
		if g.ttl != "" {
			bps = append(bps, breakpoint{pos: pos, ttl: g.ttl, fp: hashOf(0, parts...)})
		}
	}
	hit := -1
	for i, bp := range bps {
		if m.remember(bp.fp) {
			hit = i
		}
	}
	var prev int64
	if hit >= 0 {
		read, prev = bps[hit].pos, bps[hit].pos
	}
	for _, bp := range bps[hit+1:] {
		if bp.ttl == "1h" {
			write1h += bp.pos - prev
		} else {
			write5m += bp.pos - prev
		}
		prev = bp.pos
	}
	return read, write5m, write1h
}
