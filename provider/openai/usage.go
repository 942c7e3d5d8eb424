package openai

import (
	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/provider/internal/jsonwalk"
)

// parseUsage normalizes an OpenAI usage object per design invariant 4. It
// reads both shapes:
//
//	chat, embeddings (CompletionUsage, CreateEmbeddingResponseUsage):
//	  prompt_tokens (includes cached and cache-write tokens)
//	  prompt_tokens_details{cached_tokens, cache_write_tokens}
//	  completion_tokens (includes reasoning)
//	  completion_tokens_details{reasoning_tokens}
//	responses (ResponseUsage):
//	  input_tokens, input_tokens_details{cached_tokens, cache_write_tokens}
//	  output_tokens, output_tokens_details{reasoning_tokens}
//
// OpenAI already counts cache reads and writes inside the input and
// reasoning inside the output, so the totals are taken as they are. OpenAI
// prices one cache-write rate whatever the retention (the Responses API's
// ttl_30m/ttl_12h breakdown included), so every cache write is CacheWrite5m,
// which the price catalog bills at cache_write_mtok. As a fallback for
// OpenAI-compatible servers, DeepSeek's prompt_cache_hit_tokens counts as
// cache reads when no details are given. ok is false when v holds no
// input count (null, or not a usage object).
func parseUsage(v []byte) (t allot.Tokens, ok bool) {
	var (
		input, output, cacheHit int64
		haveInput, haveCacheHit bool
		inDetails, outDetails   []byte
		scratch                 [32]byte
	)
	it := jsonwalk.Members(v)
	for m, more := it.Next(); more; m, more = it.Next() {
		switch string(m.Name(scratch[:0])) {
		case "prompt_tokens", "input_tokens":
			input, haveInput = count(m.Value), true
		case "completion_tokens", "output_tokens":
			output = count(m.Value)
		case "prompt_tokens_details", "input_tokens_details":
			inDetails = m.Value
		case "completion_tokens_details", "output_tokens_details":
			outDetails = m.Value
		case "prompt_cache_hit_tokens":
			cacheHit, haveCacheHit = count(m.Value), true
		}
	}
	if !haveInput {
		return allot.Tokens{}, false
	}
	t.Input, t.Output = input, output
	it = jsonwalk.Members(inDetails)
	for m, more := it.Next(); more; m, more = it.Next() {
		switch string(m.Name(scratch[:0])) {
		case "cached_tokens":
			t.CacheRead = count(m.Value)
		case "cache_write_tokens":
			t.CacheWrite5m = count(m.Value)
		}
	}
	if inDetails == nil && haveCacheHit {
		t.CacheRead = cacheHit
	}
	if v, ok := jsonwalk.Get(outDetails, "reasoning_tokens"); ok {
		t.Reasoning = count(v)
	}
	return t, true
}

// count reads a token count; anything but a whole number ≥ 0 counts as 0.
func count(v []byte) int64 {
	n, ok := jsonwalk.Int(v)
	if !ok || n < 0 {
		return 0
	}
	return n
}
