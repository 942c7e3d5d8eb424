package pricing

import (
	"fmt"
	"maps"
	"slices"

	"github.com/allot-dev/allot"
)

// Override is a configured price for a model, in USD per million tokens,
// e.g. a negotiated rate or a self-hosted model. It replaces the feed's
// whole price list for the models it names; a field left out falls back
// as in the feed (cache reads and writes to input_mtok, 1-hour writes to
// cache_write_mtok first). Override prices are flat: no tiers, no dates.
type Override struct {
	InputMTok        Decimal `yaml:"input_mtok" json:"input_mtok"`
	OutputMTok       Decimal `yaml:"output_mtok" json:"output_mtok"`
	CacheReadMTok    Decimal `yaml:"cache_read_mtok" json:"cache_read_mtok"`
	CacheWriteMTok   Decimal `yaml:"cache_write_mtok" json:"cache_write_mtok"`
	CacheWrite1hMTok Decimal `yaml:"cache_write_1h_mtok" json:"cache_write_1h_mtok"`
}

// overrideProvider is the provider name Lookup reports for an override.
const overrideProvider = "override"

// WithOverrides returns a new catalog: c's feed prices with overrides laid
// over them (and over c's own overrides, which a same key replaces). A key
// is an allot.ModelPattern: an exact model name, or a pattern such as
// "claude-*" or "*opus*" ("*" alone matches every model); where several
// match, the most specific decides (an exact name first, then the pattern
// with the most literal characters). Overrides apply whatever the
// provider. c is left unchanged.
func (c *Catalog) WithOverrides(overrides map[string]Override) (*Catalog, error) {
	all := maps.Clone(c.overrides)
	if all == nil {
		all = make(map[string]Override, len(overrides))
	}
	for k, o := range overrides {
		all[k] = o
	}
	n := &Catalog{
		providers: c.providers,
		byID:      c.byID,
		models:    c.models,
		overrides: all,
		exact:     make(map[string]*model),
		maxOutput: c.maxOutput,
	}
	for _, key := range slices.Sorted(maps.Keys(all)) {
		pat, err := allot.ParseModelPattern(key)
		if err != nil {
			return nil, fmt.Errorf("price override: %s", allot.ErrorOf(err).Message)
		}
		m, err := compileOverride(key, all[key])
		if err != nil {
			return nil, err
		}
		if pat.Exact() {
			n.exact[key] = m
		} else {
			n.patterns = append(n.patterns, patternOverride{pat, m})
		}
	}
	slices.SortFunc(n.patterns, func(a, b patternOverride) int { return allot.CompareModelPatterns(a.pattern, b.pattern) })
	return n, nil
}

// patternOverride is an override whose key is a pattern.
type patternOverride struct {
	pattern allot.ModelPattern
	model   *model
}

func compileOverride(key string, o Override) (*model, error) {
	switch {
	case !o.InputMTok.IsSet() && !o.OutputMTok.IsSet() && !o.CacheReadMTok.IsSet() &&
		!o.CacheWriteMTok.IsSet() && !o.CacheWrite1hMTok.IsSet():
		return nil, fmt.Errorf("price override %q sets no price; give at least input_mtok and output_mtok", key)
	}
	flat := func(d Decimal) rate { return rate{base: d.Nano()} }
	ps := priceSet{input: flat(o.InputMTok), output: flat(o.OutputMTok)}
	ps.cacheRead = ps.input
	if o.CacheReadMTok.IsSet() {
		ps.cacheRead = flat(o.CacheReadMTok)
	}
	ps.cacheWrite5m = ps.input
	if o.CacheWriteMTok.IsSet() {
		ps.cacheWrite5m = flat(o.CacheWriteMTok)
	}
	ps.cacheWrite1h = ps.cacheWrite5m
	if o.CacheWrite1hMTok.IsSet() {
		ps.cacheWrite1h = flat(o.CacheWrite1hMTok)
	}
	ps.reasoning = ps.output
	return &model{provider: overrideProvider, id: key, entries: []entry{{prices: ps}}}, nil
}
