package upstreamsim

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// embeddingList is OpenAI's embeddings response.
type embeddingList struct {
	Object string      `json:"object"`
	Data   []embedding `json:"data"`
	Model  string      `json:"model"`
	Usage  struct {
		PromptTokens int64 `json:"prompt_tokens"`
		TotalTokens  int64 `json:"total_tokens"`
	} `json:"usage"`
}

type embedding struct {
	Object    string          `json:"object"`
	Index     int             `json:"index"`
	Embedding json.RawMessage `json:"embedding"` // array of floats, or a base64 string
}

// embeddingDims is the vector size of model unless the request sets dimensions.
func embeddingDims(model string) int {
	if strings.Contains(model, "3-large") {
		return 3072
	}
	return 1536
}

// vector returns a deterministic unit vector for input i.
func vector(seed uint64, dims int) []float32 {
	v := make([]float32, dims)
	x := seed | 1
	var norm float64
	for i := range v {
		x ^= x << 13 // xorshift64
		x ^= x >> 7
		x ^= x << 17
		f := float64(int64(x>>11))/float64(1<<52) - 1
		v[i] = float32(f)
		norm += f * f
	}
	norm = math.Sqrt(norm)
	for i := range v {
		v[i] = float32(float64(v[i]) / norm)
	}
	return v
}

// serveEmbeddings answers POST /v1/embeddings.
func (s *Server) serveEmbeddings(x *exchange) {
	o := s.plan(x.req, x.ctl)
	x.rec.update(func(c *Call) { c.Planned = o.tokens })
	dims := x.req.dimensions
	if dims == 0 {
		dims = embeddingDims(x.req.model)
	}
	list := embeddingList{Object: "list", Model: x.req.model}
	for i, g := range x.req.segments {
		v := vector(hashOf(s.opts.Seed, x.req.model, g.text, fmt.Sprint(i, g.tokens)), dims)
		var raw []byte
		if x.req.encoding == "base64" {
			buf := make([]byte, 4*len(v))
			for j, f := range v {
				binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(f))
			}
			raw, _ = json.Marshal(base64.StdEncoding.EncodeToString(buf))
		} else {
			raw, _ = json.Marshal(v)
		}
		list.Data = append(list.Data, embedding{Object: "embedding", Index: i, Embedding: raw})
	}
	list.Usage.PromptTokens, list.Usage.TotalTokens = o.tokens.Input, o.tokens.Input
	x.answer(0, o.tokens, list)
}
