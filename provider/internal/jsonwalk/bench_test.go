package jsonwalk

import (
	"encoding/json"
	"testing"
)

// Stream chunks as OpenAI and Anthropic send them: the provider taps read
// every chunk of every streamed answer, so these are the gateway's hottest
// JSON. The usage chunks end a stream; the text deltas are nearly all of it.
var streamChunks = []struct {
	name  string
	chunk string
	want  chunkFields
}{
	{
		"openai-usage",
		`{"id":"chatcmpl-BqS8yVjXJ1lF9d2a3mZkQe7rT0pNc","object":"chat.completion.chunk","created":1751875200,"model":"gpt-4.1-2025-04-14","service_tier":"default","system_fingerprint":"fp_b3f1157249","choices":[],"usage":{"prompt_tokens":1843,"completion_tokens":412,"total_tokens":2255,"prompt_tokens_details":{"cached_tokens":1536,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":128,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}`,
		chunkFields{model: "gpt-4.1-2025-04-14", input: 1843, output: 412, cached: 1536, reasoning: 128},
	},
	{
		"openai-delta",
		`{"id":"chatcmpl-BqS8yVjXJ1lF9d2a3mZkQe7rT0pNc","object":"chat.completion.chunk","created":1751875200,"model":"gpt-4.1-2025-04-14","service_tier":"default","system_fingerprint":"fp_b3f1157249","choices":[{"index":0,"delta":{"content":" the budget"},"logprobs":null,"finish_reason":null}],"usage":null}`,
		chunkFields{model: "gpt-4.1-2025-04-14", text: " the budget"},
	},
	{
		"anthropic-message_delta",
		`{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":12,"cache_creation_input_tokens":1500,"cache_read_input_tokens":24000,"output_tokens":850,"server_tool_use":{"web_search_requests":0}}}`,
		chunkFields{typ: "message_delta", input: 12, output: 850, cached: 24000, written: 1500},
	},
	{
		"anthropic-text_delta",
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" the budget"}}`,
		chunkFields{typ: "content_block_delta", text: " the budget"},
	},
}

// chunkFields are what the taps take from a chunk.
type chunkFields struct {
	typ, model, text                          string
	input, output, cached, written, reasoning int64
}

// walkChunk reads the fields as the taps do: walking members, keeping
// subslices, decoding only the values it needs.
func walkChunk(data []byte, f *chunkFields, text []byte) []byte {
	var scratch [32]byte
	it := Members(data)
	for m, ok := it.Next(); ok; m, ok = it.Next() {
		switch string(m.Name(scratch[:0])) {
		case "type":
			f.typ, _ = String(m.Value)
		case "model":
			f.model, _ = String(m.Value)
		case "choices":
			cs := Elements(m.Value)
			for c, ok := cs.Next(); ok; c, ok = cs.Next() {
				if d, ok := Get(c, "delta"); ok {
					v, _ := Get(d, "content")
					text, _ = AppendString(text, v)
				}
			}
		case "delta":
			if v, ok := Get(m.Value, "text"); ok {
				text, _ = AppendString(text, v)
			}
		case "usage":
			u := Members(m.Value)
			for m, ok := u.Next(); ok; m, ok = u.Next() {
				switch string(m.Name(scratch[:0])) {
				case "prompt_tokens", "input_tokens":
					f.input, _ = Int(m.Value)
				case "completion_tokens", "output_tokens":
					f.output, _ = Int(m.Value)
				case "cache_read_input_tokens":
					f.cached, _ = Int(m.Value)
				case "cache_creation_input_tokens":
					f.written, _ = Int(m.Value)
				case "prompt_tokens_details":
					v, _ := Get(m.Value, "cached_tokens")
					f.cached, _ = Int(v)
				case "completion_tokens_details":
					v, _ := Get(m.Value, "reasoning_tokens")
					f.reasoning, _ = Int(v)
				}
			}
		}
	}
	return text
}

// jsonChunk is the same chunk for encoding/json: the fields of both
// providers' chunks, as a decoder into structs would declare them.
type jsonChunk struct {
	Type    string `json:"type"`
	Model   string `json:"model"`
	Choices []struct {
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
	} `json:"choices"`
	Delta struct {
		Text string `json:"text"`
	} `json:"delta"`
	Usage *struct {
		PromptTokens        int64 `json:"prompt_tokens"`
		CompletionTokens    int64 `json:"completion_tokens"`
		InputTokens         int64 `json:"input_tokens"`
		OutputTokens        int64 `json:"output_tokens"`
		CacheRead           int64 `json:"cache_read_input_tokens"`
		CacheCreation       int64 `json:"cache_creation_input_tokens"`
		PromptTokensDetails struct {
			CachedTokens int64 `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
		CompletionTokensDetails struct {
			ReasoningTokens int64 `json:"reasoning_tokens"`
		} `json:"completion_tokens_details"`
	} `json:"usage"`
}

func decodeChunk(data []byte, f *chunkFields, text []byte) ([]byte, error) {
	var c jsonChunk
	if err := json.Unmarshal(data, &c); err != nil {
		return text, err
	}
	f.typ, f.model = c.Type, c.Model
	for _, ch := range c.Choices {
		text = append(text, ch.Delta.Content...)
	}
	text = append(text, c.Delta.Text...)
	if u := c.Usage; u != nil {
		f.input = u.PromptTokens + u.InputTokens
		f.output = u.CompletionTokens + u.OutputTokens
		f.cached = u.CacheRead + u.PromptTokensDetails.CachedTokens
		f.written, f.reasoning = u.CacheCreation, u.CompletionTokensDetails.ReasoningTokens
	}
	return text, nil
}

// BenchmarkStreamChunk measures reading a stream chunk's fields with the
// walkers and with encoding/json into structs, which is why the provider
// packages walk: chunks per second and allocations per chunk.
func BenchmarkStreamChunk(b *testing.B) {
	for _, sc := range streamChunks {
		data := []byte(sc.chunk)
		for _, reader := range []struct {
			name string
			read func([]byte, *chunkFields, []byte) ([]byte, error)
		}{
			{"jsonwalk", func(d []byte, f *chunkFields, t []byte) ([]byte, error) { return walkChunk(d, f, t), nil }},
			{"encoding-json", decodeChunk},
		} {
			b.Run(sc.name+"/"+reader.name, func(b *testing.B) {
				var f chunkFields
				text, err := reader.read(data, &f, nil)
				if f.text = string(text); err != nil || f != sc.want {
					b.Fatalf("read %+v, %v; want %+v", f, err, sc.want)
				}
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				buf := make([]byte, 0, 64)
				for b.Loop() {
					f = chunkFields{}
					if buf, err = reader.read(data, &f, buf[:0]); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "chunks/s")
			})
		}
	}
}
