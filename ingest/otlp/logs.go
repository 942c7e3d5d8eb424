package otlp

import (
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	logspb "go.opentelemetry.io/proto/otlp/logs/v1"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/ingest"
)

// Log event names allot reads.
const (
	evClaudeRequest  = "claude_code.api_request"
	evCodexSSE       = "codex.sse_event"
	evGeminiResponse = "gemini_cli.api_response"
)

var knownEvents = map[string]bool{evClaudeRequest: true, evCodexSSE: true, evGeminiResponse: true}

// eventName finds a log record's event name: the event_name field, the
// event.name attribute, or the body (Claude Code sends
// event.name="api_request" and body "claude_code.api_request").
func eventName(lr *logspb.LogRecord, a attrs, tool *family) string {
	cands := [3]string{lr.GetEventName(), a.str("event.name"), lr.GetBody().GetStringValue()}
	for _, c := range cands {
		if knownEvents[c] {
			return c
		}
		if tool == claudeCode && knownEvents["claude_code."+c] {
			return "claude_code." + c
		}
	}
	for _, c := range cands[:2] {
		if c != "" {
			return c
		}
	}
	return ""
}

// hasGenAIUsage reports whether a record or span carries gen_ai.usage.*
// token counts.
func hasGenAIUsage(a attrs) bool {
	for _, k := range [...]string{"gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.prompt_tokens", "gen_ai.usage.completion_tokens"} {
		if a.has(k) {
			return true
		}
	}
	return false
}

// logs reads a logs export.
func (b *batch) logs(ld *logspb.LogsData) {
	for _, rl := range ld.GetResourceLogs() {
		res := rl.GetResource().GetAttributes()
		tool := toolOf(attrs{res: res}.str("service.name"))
		for _, sl := range rl.GetScopeLogs() {
			for _, lr := range sl.GetLogRecords() {
				b.st.stats.records.Add(1)
				a := attrs{own: lr.GetAttributes(), res: res}
				name := eventName(lr, a, tool)
				switch {
				case name == evClaudeRequest:
					b.claudeRequest(lr, a)
				case name == evCodexSSE:
					b.codexEvent(lr, a)
				case name == evGeminiResponse:
					b.geminiResponse(lr, a)
				case tool == nil && hasGenAIUsage(a):
					b.genAI(a, lr.GetTraceId(), lr.GetSpanId(), b.logTime(lr, a), 0, false, "log", logKey(name, lr))
				default:
					if name == "" {
						name = "(log record without event name)"
					}
					b.st.stats.ignore(name, 1)
				}
			}
		}
	}
}

// logTime is when a log record's event happened.
func (b *batch) logTime(lr *logspb.LogRecord, a attrs) time.Time {
	if ns := lr.GetTimeUnixNano(); ns != 0 {
		return b.eventTime(ns)
	}
	if ts := a.str("event.timestamp"); ts != "" {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			return b.eventTime(uint64(t.UnixNano()))
		}
	}
	return b.eventTime(lr.GetObservedTimeUnixNano())
}

// logKey identifies a log record by its content: a replayed record has the
// same key, two requests never do (their times or attributes differ).
func logKey(name string, lr *logspb.LogRecord) string {
	buf := make([]byte, 0, 512)
	buf = append(buf, "otlp-log:"...)
	buf = append(buf, name...)
	buf = strconv.AppendUint(append(buf, 0), lr.GetTimeUnixNano(), 10)
	buf = append(buf, 0)
	buf = append(buf, hex.EncodeToString(lr.GetTraceId())...)
	buf = append(buf, hex.EncodeToString(lr.GetSpanId())...)
	buf = append(buf, 0)
	return string(fingerprint(buf, lr.GetAttributes()))
}

// tokenCounts reads several counts at once; the first bad one rejects the record.
type tokenCounts struct {
	a       attrs
	err     error
	present bool
}

func (c *tokenCounts) get(keys ...string) int64 {
	n, ok, err := c.a.counts(keys...)
	if err != nil && c.err == nil {
		c.err = err
	}
	c.present = c.present || ok
	return n
}

// duration reads duration_ms.
func duration(a attrs) time.Duration {
	if ms, ok, err := a.count("duration_ms"); ok && err == nil {
		return time.Duration(ms) * time.Millisecond
	}
	return 0
}

// claudeRequest reads Claude Code's claude_code.api_request event: one
// API request, with Anthropic's counts (input excludes the cache).
func (b *batch) claudeRequest(lr *logspb.LogRecord, a attrs) {
	c := tokenCounts{a: a}
	in, out := c.get("input_tokens"), c.get("output_tokens")
	read, write := c.get("cache_read_tokens"), c.get("cache_creation_tokens")
	if c.err != nil {
		b.reject("%s: %v", evClaudeRequest, c.err)
		return
	}
	if !c.present {
		b.reject("%s without token counts", evClaudeRequest)
		return
	}
	t := allot.Tokens{Input: in + read + write, CacheRead: read, CacheWrite5m: write, Output: out}
	var key string
	if id := a.str("request_id"); id != "" {
		key = "claude-code-request:" + id
	} else {
		key = logKey(evClaudeRequest, lr)
	}
	e := b.event(claudeCode, a, b.logTime(lr, a), key, t)
	e.Latency = duration(a)
	if cost, ok := a.usd("cost_usd"); ok {
		e.Cost, e.CostKnown = cost, true
	}
	b.perRequest(claudeCode, a, e)
}

// codexEvent reads Codex's codex.sse_event: the response.completed event
// carries the usage of one model response (OpenAI's counts).
func (b *batch) codexEvent(lr *logspb.LogRecord, a attrs) {
	c := tokenCounts{a: a}
	in, cached := c.get("input_token_count"), c.get("cached_token_count")
	out, reasoning := c.get("output_token_count"), c.get("reasoning_token_count")
	if c.err != nil {
		b.reject("%s: %v", evCodexSSE, c.err)
		return
	}
	if !c.present {
		b.st.stats.ignore(evCodexSSE+" without usage ("+a.str("event.kind")+")", 1)
		return
	}
	t := normalizeGenAI(allot.Tokens{Input: in, CacheRead: cached, Output: out, Reasoning: reasoning})
	e := b.event(codexCLI, a, b.logTime(lr, a), logKey(evCodexSSE, lr), t)
	e.Latency = duration(a)
	b.perRequest(codexCLI, a, e)
}

// geminiResponse reads Gemini CLI's gemini_cli.api_response event:
// Gemini's counts (input includes the cache, output excludes thoughts,
// tool-use prompt tokens are separate input).
func (b *batch) geminiResponse(lr *logspb.LogRecord, a attrs) {
	c := tokenCounts{a: a}
	in, cached, tool := c.get("input_token_count"), c.get("cached_content_token_count"), c.get("tool_token_count")
	out, thoughts := c.get("output_token_count"), c.get("thoughts_token_count")
	if c.err != nil {
		b.reject("%s: %v", evGeminiResponse, c.err)
		return
	}
	if !c.present {
		b.reject("%s without token counts", evGeminiResponse)
		return
	}
	t := allot.Tokens{Input: in + tool, CacheRead: min(cached, in), Output: out + thoughts, Reasoning: thoughts}
	e := b.event(geminiCLI, a, b.logTime(lr, a), logKey(evGeminiResponse, lr), t)
	e.Latency = duration(a)
	if sc, ok, err := a.count("status_code"); ok && err == nil && sc >= 100 && sc < 600 {
		e.Status = int(sc)
	}
	b.perRequest(geminiCLI, a, e)
}

// genAI reads gen_ai.usage.* from a span or a log record of a generic
// application. A record tied to a span gets the span's key, so a span and
// its usage event count once.
func (b *batch) genAI(a attrs, traceID, spanID []byte, at time.Time, latency time.Duration, failed bool, what, fallbackKey string) {
	c := tokenCounts{a: a}
	t := allot.Tokens{
		Input:        c.get("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
		CacheRead:    c.get("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens"),
		CacheWrite5m: c.get("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens"),
		Output:       c.get("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
		Reasoning:    c.get("gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens"),
	}
	if c.err != nil {
		b.reject("gen_ai %s: %v", what, c.err)
		return
	}
	key := fallbackKey
	if validID(traceID) && validID(spanID) {
		key = "genai-span:" + hex.EncodeToString(traceID) + ":" + hex.EncodeToString(spanID)
	}
	e := b.event(genAI, a, at, key, normalizeGenAI(t))
	e.Latency = latency
	if sc, ok, err := a.count("http.response.status_code"); ok && err == nil && sc >= 100 && sc < 600 {
		e.Status = int(sc)
	}
	if (failed || a.str("error.type") != "") && e.Status == 200 {
		e.Status = 500
	}
	b.perRequest(genAI, a, e)
}

func validID(id []byte) bool {
	for _, c := range id {
		if c != 0 {
			return true
		}
	}
	return false
}

// perRequest records a per-request event and notes that its session sends
// them, so the session's metrics no longer count.
func (b *batch) perRequest(fam *family, a attrs, e allot.Event) {
	b.st.pref.markLogging(sessionKey(e.User, fam, sessionOf(fam, a)), b.now)
	if e.Tokens.IsZero() && !e.CostKnown {
		b.st.stats.ignore(fam.name+" event without tokens", 1)
		return
	}
	if err := ingest.CheckCall(e); err != nil {
		b.reject("%s: %v", fam.name, err)
		return
	}
	b.r.record(e)
}

// aggregateOps are gen_ai operations whose spans sum their children's
// usage; counting them too would count the usage twice.
var aggregateOps = map[string]bool{"invoke_agent": true, "create_agent": true, "execute_tool": true, "invoke_workflow": true}

func isAggregate(op string) bool { return aggregateOps[strings.ToLower(op)] }
