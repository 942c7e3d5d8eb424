package pricing

import (
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/allot-dev/allot"
)

// builtinMaxOutput is the output limit assumed for a model when a request
// sets none: the providers' documented maximum output, so a budget's
// reserved worst case is a true upper bound. Keys read as in the
// max_output_tokens config table (allot.ParseModelPrefix: a plain name is
// a prefix); the most specific key that matches decides.
var builtinMaxOutput = map[string]int64{
	"gpt-3.5":           4096,
	"gpt-4":             8192,
	"gpt-4-turbo":       4096,
	"gpt-4o":            16384,
	"gpt-4.1":           32768,
	"gpt-4.5":           16384,
	"gpt-5":             128000,
	"o1":                100000,
	"o3":                100000,
	"o4":                100000,
	"chatgpt-4o":        16384,
	"claude-3":          8192,
	"claude-sonnet-4":   64000,
	"claude-opus-4":     32000,
	"claude-haiku-4":    64000,
	"claude-3-7-sonnet": 64000,
	"text-embedding":    0,
}

// FallbackMaxOutput bounds output for a model no table knows.
const FallbackMaxOutput int64 = 128000

// outputLimit is one compiled entry of the output-limit table.
type outputLimit struct {
	pattern allot.ModelPattern
	tokens  int64
}

// builtinOutputLimits is builtinMaxOutput compiled once.
var builtinOutputLimits = sync.OnceValue(func() []outputLimit {
	l, err := mergeOutputLimits(nil, builtinMaxOutput)
	if err != nil {
		panic(fmt.Sprintf("pricing: built-in max output table: %v", err))
	}
	return l
})

// MaxOutput returns the output tokens to assume for model when a request
// sets no limit: the most specific entry of the built-in table and the
// configured max_output_tokens (WithMaxOutput) that matches, else
// FallbackMaxOutput.
func (c *Catalog) MaxOutput(model string) int64 {
	limits := c.maxOutput
	if limits == nil {
		limits = builtinOutputLimits()
	}
	for _, l := range limits {
		if l.pattern.Match(model) {
			return l.tokens
		}
	}
	return FallbackMaxOutput
}

// WithMaxOutput returns a new catalog whose output-limit table is c's with
// limits (config max_output_tokens) laid over it: keys are model patterns
// in which a plain name is a prefix (allot.ParseModelPrefix), and a key
// equal to an existing one replaces it. A limit must lie in
// 0..allot.MaxCallTokens, so the reserved worst case stays a number allot
// can price. c is left unchanged.
func (c *Catalog) WithMaxOutput(limits map[string]int64) (*Catalog, error) {
	base := c.maxOutput
	if base == nil {
		base = builtinOutputLimits()
	}
	merged, err := mergeOutputLimits(base, limits)
	if err != nil {
		return nil, err
	}
	return &Catalog{
		providers: c.providers,
		byID:      c.byID,
		models:    c.models,
		overrides: c.overrides,
		exact:     c.exact,
		patterns:  c.patterns,
		maxOutput: merged,
	}, nil
}

// ValidateMaxOutput checks a max_output_tokens table as WithMaxOutput
// would, for configuration checks that build no catalog.
func ValidateMaxOutput(limits map[string]int64) error {
	_, err := mergeOutputLimits(nil, limits)
	return err
}

// mergeOutputLimits lays limits over base and sorts the result most
// specific first.
func mergeOutputLimits(base []outputLimit, limits map[string]int64) ([]outputLimit, error) {
	byKey := make(map[allot.ModelPattern]int64, len(base)+len(limits))
	for _, l := range base {
		byKey[l.pattern] = l.tokens
	}
	given := make(map[allot.ModelPattern]string, len(limits))
	for _, key := range slices.Sorted(maps.Keys(limits)) {
		n := limits[key]
		p, err := allot.ParseModelPrefix(key)
		if err != nil {
			return nil, fmt.Errorf("max_output_tokens: %s", allot.ErrorOf(err).Message)
		}
		if other, dup := given[p]; dup {
			return nil, fmt.Errorf("max_output_tokens: %q and %q are the same pattern (a plain name is a prefix there); keep one", other, key)
		}
		given[p] = key
		if n < 0 || n > allot.MaxCallTokens {
			return nil, fmt.Errorf("max_output_tokens %q is %d; use 0..%d (no model writes more, and the reserved worst case must stay a number allot can price)", key, n, allot.MaxCallTokens)
		}
		byKey[p] = n
	}
	out := make([]outputLimit, 0, len(byKey))
	for p, n := range byKey {
		out = append(out, outputLimit{p, n})
	}
	slices.SortFunc(out, func(a, b outputLimit) int { return allot.CompareModelPatterns(a.pattern, b.pattern) })
	return out, nil
}
