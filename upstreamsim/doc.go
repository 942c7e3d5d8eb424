// Package upstreamsim is a provider simulator: an http.Handler that speaks
// the OpenAI and Anthropic wire formats closely enough that the official
// openai-go and anthropic-sdk-go clients parse every answer. `allot demo`
// points the gateway at it, and tests use it to check, token kind by token
// kind, that what allot records equals what the "provider" reported.
//
// # Routes
//
// One server holds both providers under /v1:
//
//	POST /v1/chat/completions        OpenAI Chat Completions (JSON or SSE)
//	POST /v1/responses               OpenAI Responses (JSON or typed SSE events)
//	POST /v1/embeddings              OpenAI Embeddings (float or base64)
//	GET  /v1/models, /v1/models/{id} OpenAI model list; Anthropic's shape when
//	                                 the request carries anthropic-version
//	POST /v1/messages                Anthropic Messages (JSON or SSE)
//	POST /v1/messages/count_tokens   Anthropic token counting
//
// # Usage
//
// Usage is computed from the request: input is about len(text)/4 plus a few
// tokens per message and a seeded variation of 0 to 7 tokens; output is 12 to
// 63 tokens of generated text, capped by max_tokens, max_completion_tokens or
// max_output_tokens (then finish_reason "length", stop_reason "max_tokens",
// or Responses status "incomplete"). Prompt caching aside, the same request
// text, model and seed always give the same counts.
//
// Prompt caching remembers what it has seen, like a provider's cache:
//   - OpenAI: a system prompt (or Responses instructions) of 1024 estimated
//     tokens or more is cached the first time; when a later call repeats it,
//     cached_tokens is that repeated prefix rounded down to a multiple of 128.
//   - Anthropic: each block with cache_control (or the last block, for a
//     top-level cache_control) is a breakpoint. The longest prefix already
//     seen is a cache read; the rest up to the last breakpoint is a cache
//     write, 5-minute by default and 1-hour for "ttl":"1h".
//
// Reasoning: OpenAI models o1*, o3*, o4*, gpt-5* spend 128 to 255 reasoning
// tokens (halved for reasoning effort "low", doubled for "high", none for
// "minimal"/"none"), counted inside completion_tokens; Responses adds a
// reasoning output item. Anthropic requests with thinking enabled get a
// thinking block of 96 to 223 tokens (at most budget_tokens), counted inside
// output_tokens and in output_tokens_details.thinking_tokens.
//
// Every call is recorded (see [Call]) with the usage the simulator put on the
// wire, normalized as allot.Tokens, so a test can compare allot's ledger with
// it exactly. count_tokens is free and reports no usage.
//
// # Test control headers
//
// Each request can steer its own answer with these request headers:
//
//	x-sim-output-tokens: N      exact output tokens (reasoning included); the visible
//	                            text is N minus reasoning tokens, streamed one token
//	                            per chunk; max_tokens is then ignored
//	x-sim-reasoning-tokens: N   reasoning/thinking tokens (0 by default when
//	                            x-sim-output-tokens is set)
//	x-sim-input-tokens: N       whole prompt, cache included (allot.Tokens.Input);
//	                            Anthropic's input_tokens on the wire is N minus cache
//	x-sim-cached-tokens: N      cache read tokens
//	x-sim-cache-write-5m: N     5-minute cache writes (OpenAI chat: in cache_write_tokens;
//	                            Responses: also ttl_30m_tokens)
//	x-sim-cache-write-1h: N     1-hour cache writes (OpenAI chat: in cache_write_tokens;
//	                            Responses: also ttl_12h_tokens)
//	x-sim-status: 429           answer with this status and a protocol-shaped error
//	x-sim-retry-after: 2        with x-sim-status, also send retry-after (seconds)
//	x-sim-chunk-delay: 10ms     wait this long (at most 1h) before each content chunk;
//	                            a bare number is milliseconds; a non-streamed answer
//	                            waits the delay times its output chunks
//	x-sim-cut-after: N          stream the opening events and N content chunks, then
//	                            abort the connection; the closing events and the final
//	                            usage never arrive, even if the answer had fewer chunks
//	                            (a non-streamed answer is cut halfway through its body)
//	x-sim-hang: 1               never answer; wait until the client goes away
//	x-sim-usage-every: N        Anthropic streams: a cumulative message_delta after
//	                            every N content chunks, before the final one
//	x-sim-strict-models: 1      answer 404 for models not in the model list
//
// Token counts are at most 16777216. Forcing cache counts keeps the computed
// uncached input and adds the cache to it; a forced input smaller than the
// cache is raised to it, since input always includes the cache.
// A malformed header value is answered with a 400 in the provider's error
// shape that names the header.
package upstreamsim
