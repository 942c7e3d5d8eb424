package anthropic

import (
	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/provider"
	"github.com/allot-dev/allot/provider/internal/jsonwalk"
)

// tap extracts usage, model and output text from one Anthropic response.
// It reads only the members it needs, without decoding whole events.
type tap struct {
	// Counts as reported (Usage, MessageDeltaUsage). Stream counts are
	// cumulative, so each is the largest value seen: the last one of a
	// well-formed stream, and never lowered by a zero or a missing field.
	input      int64 // input_tokens: uncached input only
	cacheRead  int64 // cache_read_input_tokens
	cacheWrite int64 // cache_creation_input_tokens
	write5m    int64 // cache_creation.ephemeral_5m_input_tokens
	write1h    int64 // cache_creation.ephemeral_1h_input_tokens
	output     int64 // output_tokens, thinking included
	thinking   int64 // output_tokens_details.thinking_tokens
	haveIn     bool
	haveOut    bool
	free       bool // count_tokens: nothing is billed
	model      string
	text       []byte
}

// NewTap returns a tap for one response on route. Counting tokens is free:
// a count_tokens call is recorded for attribution with zero tokens, and its
// usage is complete from the start (its {"input_tokens": N} answer is a
// count, not billed usage).
func (Protocol) NewTap(route allot.Route, info allot.RequestInfo) provider.Tap {
	return &tap{free: route == allot.RouteCountTokens}
}

// Event taps one server-sent event; every event is forwarded. Usage comes
// from message_start (input and cache counts) and message_delta
// (cumulative counts; the last one holds the totals), text from
// content_block_delta.
func (t *tap) Event(name string, data []byte) bool {
	if t.free || len(data) == 0 {
		return true
	}
	var typ, message, delta, usage []byte
	var scratch [8]byte
	it := jsonwalk.Members(data)
	for m, ok := it.Next(); ok; m, ok = it.Next() {
		switch string(m.Name(scratch[:0])) {
		case "type":
			typ = m.Value
		case "message":
			message = m.Value
		case "delta":
			delta = m.Value
		case "usage":
			usage = m.Value
		}
	}
	kind := name
	if len(typ) >= 2 {
		kind = string(typ[1 : len(typ)-1])
	}
	switch kind {
	case "message_start":
		t.message(message, false)
	case "content_block_delta":
		t.delta(delta)
	case "message_delta":
		if t.merge(usage) {
			t.haveOut = true
		}
	}
	return true
}

// Body taps the whole body of a non-streamed response (a Message).
func (t *tap) Body(data []byte) {
	if !t.free {
		t.message(data, true)
	}
}

// message taps a Message: its model, usage and, for a whole body, the
// text of its content blocks. In message_start the output count is only
// a start, so output is complete only in a whole body.
func (t *tap) message(msg []byte, whole bool) {
	var scratch [8]byte
	it := jsonwalk.Members(msg)
	for m, ok := it.Next(); ok; m, ok = it.Next() {
		switch string(m.Name(scratch[:0])) {
		case "model":
			t.setModel(m.Value)
		case "usage":
			if t.merge(m.Value) && whole {
				t.haveOut = true
			}
		case "content":
			if whole {
				t.text = appendText(t.text, m.Value, 0)
			}
		}
	}
}

// delta collects the text of a content_block_delta: text_delta,
// thinking_delta and input_json_delta (tool input the model writes).
func (t *tap) delta(d []byte) {
	var scratch [16]byte
	it := jsonwalk.Members(d)
	for m, ok := it.Next(); ok; m, ok = it.Next() {
		switch string(m.Name(scratch[:0])) {
		case "text", "thinking", "partial_json":
			t.text, _ = jsonwalk.AppendString(t.text, m.Value)
		}
	}
}

// merge takes the counts present in a usage object and reports whether it
// had an output count. Having an input count marks the input as known.
func (t *tap) merge(u []byte) (hadOutput bool) {
	var scratch [32]byte
	it := jsonwalk.Members(u)
	for m, ok := it.Next(); ok; m, ok = it.Next() {
		switch string(m.Name(scratch[:0])) {
		case "input_tokens":
			if n, ok := count(m.Value); ok {
				t.input, t.haveIn = max(t.input, n), true
			}
		case "cache_read_input_tokens":
			if n, ok := count(m.Value); ok {
				t.cacheRead = max(t.cacheRead, n)
			}
		case "cache_creation_input_tokens":
			if n, ok := count(m.Value); ok {
				t.cacheWrite = max(t.cacheWrite, n)
			}
		case "cache_creation":
			t.cacheCreation(m.Value)
		case "output_tokens":
			if n, ok := count(m.Value); ok {
				t.output, hadOutput = max(t.output, n), true
			}
		case "output_tokens_details":
			if v, ok := jsonwalk.Get(m.Value, "thinking_tokens"); ok {
				if n, ok := count(v); ok {
					t.thinking = max(t.thinking, n)
				}
			}
		}
	}
	return hadOutput
}

// cacheCreation takes the 5-minute and 1-hour breakdown of cache writes.
func (t *tap) cacheCreation(v []byte) {
	var scratch [32]byte
	it := jsonwalk.Members(v)
	for m, ok := it.Next(); ok; m, ok = it.Next() {
		switch string(m.Name(scratch[:0])) {
		case "ephemeral_5m_input_tokens":
			if n, ok := count(m.Value); ok {
				t.write5m = max(t.write5m, n)
			}
		case "ephemeral_1h_input_tokens":
			if n, ok := count(m.Value); ok {
				t.write1h = max(t.write1h, n)
			}
		}
	}
}

// Usage normalizes per design invariant 4. Anthropic's input_tokens
// excludes cache reads and writes, so Input is their sum. Cache writes are
// split by lifetime as cache_creation reports them; without a breakdown
// (older models, message_delta) every write counts as a 5-minute write, the
// cheaper rate only when nothing says otherwise. Output includes thinking,
// which Reasoning reports when the provider breaks it out. haveInput is
// set by message_start or a whole body; haveOutput only by a message_delta
// or a whole body, so a stream cut after message_start has only its input
// (Output then holds the partial count seen, a lower bound).
func (t *tap) Usage() (allot.Tokens, bool, bool) {
	if t.free {
		return allot.Tokens{}, true, true
	}
	// Sums saturate: the counts are the provider's, unbounded here; the
	// gateway clamps the result to one call's bounds (allot.Tokens.ClampCall).
	writes := max(t.cacheWrite, allot.SatAdd(t.write5m, t.write1h))
	w1h := min(t.write1h, writes)
	return allot.Tokens{
		Input:        allot.SatAdd(allot.SatAdd(t.input, t.cacheRead), writes),
		CacheRead:    t.cacheRead,
		CacheWrite5m: writes - w1h,
		CacheWrite1h: w1h,
		Output:       t.output,
		Reasoning:    min(t.thinking, t.output),
	}, t.haveIn, t.haveOut
}

// Model is the model the provider says answered.
func (t *tap) Model() string { return t.model }

// OutputText is the completion text seen, for estimates; it is never stored.
func (t *tap) OutputText() string { return string(t.text) }

// setModel keeps the model named by v, allocating only when it changes.
func (t *tap) setModel(v []byte) {
	if len(v) >= 2 && string(v[1:len(v)-1]) == t.model {
		return
	}
	if s, ok := jsonwalk.String(v); ok && s != "" {
		t.model = s
	}
}

// count reads a token count; ok is false for anything but a whole number
// (a negative one counts as 0).
func count(v []byte) (int64, bool) {
	n, ok := jsonwalk.Int(v)
	if !ok {
		return 0, false
	}
	return max(n, 0), true
}
