package otlp

import (
	"strings"

	"github.com/allot-dev/allot"
)

// family is a source of usage telemetry and what its events look like.
type family struct {
	name     string      // "claude-code", "codex", "gemini-cli", "genai"
	app      string      // Event.App, the gateway's name for the tool
	provider string      // Event.Provider; "" for genai, which says per record
	route    allot.Route // the API route the tool calls, when known
}

var (
	claudeCode = &family{name: "claude-code", app: "claude-cli", provider: "anthropic", route: allot.RouteMessages}
	codexCLI   = &family{name: "codex", app: "codex", provider: "openai", route: allot.RouteResponses}
	geminiCLI  = &family{name: "gemini-cli", app: "gemini-cli", provider: "google"}
	genAI      = &family{name: "genai"}
)

// toolOf names the tool behind a resource by its service.name, nil for a
// generic instrumented application. Telemetry of these tools is read from
// their own metrics and events, so their generic gen_ai.* duplicates are
// ignored.
func toolOf(service string) *family {
	s := strings.ToLower(service)
	switch {
	case s == "claude-code" || strings.HasPrefix(s, "claude_code") || strings.HasPrefix(s, "claude-code"):
		return claudeCode
	case strings.HasPrefix(s, "codex"):
		return codexCLI
	case strings.HasPrefix(s, "gemini-cli") || strings.HasPrefix(s, "gemini_cli"):
		return geminiCLI
	}
	return nil
}

// genAIProvider maps gen_ai.provider.name / gen_ai.system values to the
// provider names the price catalog knows.
func genAIProvider(v string) string {
	switch v := strings.ToLower(v); {
	case v == "":
		return ""
	case strings.HasPrefix(v, "gcp.") || v == "gemini" || v == "vertex_ai":
		return "google"
	case v == "aws.bedrock":
		return "aws"
	case strings.HasPrefix(v, "azure") || strings.HasPrefix(v, "az."):
		return "azure"
	case v == "x_ai" || v == "xai":
		return "xai"
	default:
		return v
	}
}

// normalizeGenAI applies design invariant 4 to counts from the gen_ai.*
// conventions, which say input includes cached input and output includes
// reasoning. Instrumentations that report Anthropic-style (input without
// the cache) or Gemini-style (output without thoughts) are recognized by
// parts larger than the whole, and the parts are added.
func normalizeGenAI(t allot.Tokens) allot.Tokens {
	if c := t.CacheRead + t.CacheWrite(); c > t.Input {
		t.Input += c
	}
	if t.Reasoning > t.Output {
		t.Output += t.Reasoning
	}
	return t
}

// metricKind is how one data point of a token metric adds to an event.
type metricKind int

const (
	kindIgnore metricKind = iota
	kindUncachedInput
	kindInput // input that already includes cached input
	kindCacheRead
	kindCacheReadInInput // cache reads already counted in input
	kindCacheWrite
	kindOutput
	kindReasoning      // reasoning already counted in output
	kindReasoningExtra // reasoning not counted in output (Gemini's thoughts)
	kindCost
)

// metricDef is a metric allot understands.
type metricDef struct {
	fam     *family
	typeKey string                // attribute naming the token type
	kinds   map[string]metricKind // type value -> kind
	cost    bool                  // the metric is a cost in USD
}

var metricDefs = map[string]*metricDef{
	"claude_code.token.usage": {fam: claudeCode, typeKey: "type", kinds: map[string]metricKind{
		"input": kindUncachedInput, "output": kindOutput, "cacheRead": kindCacheRead, "cacheCreation": kindCacheWrite,
	}},
	"claude_code.cost.usage": {fam: claudeCode, cost: true},
	"codex.turn.token_usage": {fam: codexCLI, typeKey: "token_type", kinds: map[string]metricKind{
		"input": kindInput, "cached_input": kindCacheReadInInput, "output": kindOutput, "reasoning_output": kindReasoning, "total": kindIgnore,
	}},
	"gemini_cli.token.usage": {fam: geminiCLI, typeKey: "type", kinds: map[string]metricKind{
		"input": kindInput, "cache": kindCacheReadInInput, "output": kindOutput, "thought": kindReasoningExtra, "tool": kindUncachedInput,
	}},
	"gen_ai.client.token.usage": {fam: genAI, typeKey: "gen_ai.token.type", kinds: map[string]metricKind{
		"input": kindInput, "output": kindOutput,
	}},
}

// add adds n tokens of kind k to t (and a cost to c).
func (k metricKind) add(t *allot.Tokens, c *allot.Money, n int64) {
	switch k {
	case kindUncachedInput:
		t.Input += n
	case kindInput:
		t.Input += n
	case kindCacheRead:
		t.CacheRead += n
		t.Input += n
	case kindCacheReadInInput:
		t.CacheRead += n
	case kindCacheWrite:
		t.CacheWrite5m += n
		t.Input += n
	case kindOutput:
		t.Output += n
	case kindReasoning:
		t.Reasoning += n
	case kindReasoningExtra:
		t.Reasoning += n
		t.Output += n
	case kindCost:
		*c += allot.Money(n)
	}
}

// settle keeps the parts of t within their wholes after points were added
// in any order (a cached count without its input count, say).
func settle(t allot.Tokens) allot.Tokens {
	if c := t.CacheRead + t.CacheWrite(); c > t.Input {
		t.Input = c
	}
	if t.Reasoning > t.Output {
		t.Output = t.Reasoning
	}
	return t
}
