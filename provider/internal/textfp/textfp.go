// Package textfp fingerprints request bodies and prompt text the same way
// for every wire format: FNV-1a 64, stable across processes and versions,
// so fingerprints can be compared over time (and across the OpenAI and
// Anthropic APIs) without storing any text (design invariant 7).
package textfp

import "github.com/allot-dev/allot/provider/internal/jsonwalk"

// FNV-1a 64 parameters, as in hash/fnv's New64a.
const (
	offset = 14695981039346656037
	prime  = 1099511628211
)

// Bytes returns the FNV-1a 64 hash of b.
func Bytes(b []byte) uint64 { return add(offset, b) }

func add(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= prime
	}
	return h
}

// Text fingerprints text given in pieces (a system prompt in several
// messages or blocks): the FNV-1a 64 hash of the pieces' decoded text
// joined by "\n". A one-piece text's fingerprint is Bytes of the text.
// The zero value is an empty fingerprint, ready to use.
type Text struct {
	h      uint64
	pieces int
}

// Add adds the JSON string v as the next piece; any other value is ignored.
func (t *Text) Add(v []byte) {
	c := jsonwalk.Chunks(v)
	if !c.Valid() {
		return
	}
	if t.pieces == 0 {
		t.h = offset
	} else {
		t.h = (t.h ^ '\n') * prime
	}
	t.pieces++
	for b, ok := c.Next(); ok; b, ok = c.Next() {
		t.h = add(t.h, b)
	}
}

// AddContent adds message content: a string, or the "text" of each of its
// parts or blocks (images and other parts have none).
func (t *Text) AddContent(v []byte) {
	if len(v) > 0 && v[0] == '"' {
		t.Add(v)
		return
	}
	parts := jsonwalk.Elements(v)
	for part, ok := parts.Next(); ok; part, ok = parts.Next() {
		if text, ok := jsonwalk.Get(part, "text"); ok {
			t.Add(text)
		}
	}
}

// Sum returns the fingerprint, 0 if no piece was added.
func (t *Text) Sum() uint64 {
	if t.pieces == 0 {
		return 0
	}
	return t.h
}
