// Package tokenizer estimates token counts offline with a BPE tokenizer
// whose vocabularies are embedded in the binary (no downloads at run time).
// allot uses it only for events whose provider usage never arrived, such as
// a stream cut short; those events are flagged estimated.
package tokenizer

import (
	"fmt"
	"sync"

	tiktoken "github.com/pkoukk/tiktoken-go"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"
)

// Encoding is the BPE vocabulary used for estimates: o200k_base, the
// vocabulary of current OpenAI models and a close proxy for others.
const Encoding = "o200k_base"

// BPE counts tokens with an embedded vocabulary, loaded on first use.
type BPE struct{}

// New returns an estimator; the vocabulary is loaded lazily so a gateway
// that never needs an estimate never pays for it.
func New() *BPE { return &BPE{} }

// vocab is the vocabulary, loaded once per process: loading takes a large
// share of a second, and every estimator shares the same read-only tables.
var vocab struct {
	once sync.Once
	enc  *tiktoken.Tiktoken
	err  error
}

func loadVocab() {
	tiktoken.SetBpeLoader(tiktoken_loader.NewOfflineLoader())
	vocab.enc, vocab.err = tiktoken.GetEncoding(Encoding)
	if vocab.err != nil {
		vocab.err = fmt.Errorf("load tokenizer %s: %w", Encoding, vocab.err)
	}
}

// Load loads the vocabulary now, e.g. at start-up so the first cut-short
// call does not wait for it, and reports a failure.
func (b *BPE) Load() error {
	vocab.once.Do(loadVocab)
	return vocab.err
}

// CountTokens returns the number of tokens in text. If the vocabulary
// cannot be loaded it falls back to one token per four bytes, rounded up.
func (b *BPE) CountTokens(text string) int64 {
	if text == "" {
		return 0
	}
	if b.Load() != nil {
		return int64((len(text) + 3) / 4)
	}
	return int64(len(vocab.enc.Encode(text, nil, nil)))
}
