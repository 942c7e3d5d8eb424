package allot

// RequestInfo is what the gateway learns from a request body. It holds
// sizes, limits and fingerprints, never text (design invariant 7).
type RequestInfo struct {
	Model      string // "model" field; empty is an EInvalid error for routes that need it
	Stream     bool   // the client asked for a streamed response
	WantsUsage bool   // OpenAI chat: the client itself set stream_options.include_usage
	MaxTokens  int64  // max_tokens / max_completion_tokens / max_output_tokens, 0 if absent
	Messages   int    // number of input messages (or input items)
	Task       string // metadata.task, "" if absent
	SystemFP   uint64 // fingerprint of the system prompt / instructions, 0 if none
	RequestFP  uint64 // fingerprint of the whole body
}

// Estimator counts tokens in text offline, for events whose usage never arrived.
type Estimator interface {
	CountTokens(text string) int64
}
