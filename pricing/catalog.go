package pricing

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/pricing/internal/feed"
)

//go:embed catalog.json
var embeddedCatalog []byte

// Catalog is an immutable set of model prices (feed providers plus
// configured overrides) with a concurrent cache of name resolutions. It is
// safe for concurrent use; use it through a pointer.
type Catalog struct {
	providers []*provider
	byID      map[string]*provider
	models    int

	overrides map[string]Override // as configured, kept to extend them
	exact     map[string]*model   // override for one model name
	patterns  []patternOverride   // overrides by model pattern, most specific first
	maxOutput []outputLimit       // output limits by model pattern, most specific first

	cache  sync.Map // cacheKey -> *model (nil when nothing matches)
	cached atomic.Int64
}

// maxCached bounds the resolution cache, so callers sending endless
// distinct model names cannot grow memory; past it names are resolved
// afresh each call (slower, still correct).
const maxCached = 10_000

// maxCachedName is the longest provider+model name cached; longer names
// (only a misbehaving client sends them) are resolved but not retained.
const maxCachedName = 256

type cacheKey struct{ provider, model string }

// provider is a compiled feed provider.
type provider struct {
	id            string
	providerMatch *matcher // matches configured provider names
	modelMatch    *matcher // matches model names this provider is the origin of
	fallbacks     []string // provider ids to search when a model is missing here
	models        []*model
}

// model is a compiled feed model or override.
type model struct {
	provider string // feed provider id, or "override"
	id       string
	match    matcher
	entries  []entry // in feed order; the last active one applies
}

// at returns the price entry in effect at instant at: the feed's
// conditional prices are tried last to first and the first whose
// constraint holds wins; when none holds, the first entry applies.
func (m *model) at(at time.Time) *entry {
	for i := len(m.entries) - 1; i > 0; i-- {
		if m.entries[i].active(at) {
			return &m.entries[i]
		}
	}
	return &m.entries[0]
}

var defaultCatalog = sync.OnceValue(func() *Catalog {
	c, err := parseCatalog(embeddedCatalog)
	if err != nil {
		panic(fmt.Sprintf("pricing: embedded catalog.json is broken (regenerate it with go generate ./pricing): %v", err))
	}
	return c
})

// Default returns the catalog embedded at build time, parsed once. It
// panics only if the embedded file is broken, which the tests rule out.
func Default() *Catalog { return defaultCatalog() }

// Load parses a full genai-prices v2 feed, such as a newer copy given to
// `allot prices update FILE`. It reduces the feed exactly as the generator
// of the embedded catalog does: price literals with more than nine
// decimals (float artefacts such as 0.18000000000000002) are rounded half
// up to nine, the nano-dollar resolution of allot.Money; all others are
// converted exactly.
func Load(feedJSON []byte) (*Catalog, error) {
	compact, _, err := feed.Compact(feedJSON)
	if err != nil {
		return nil, allot.Errorf(allot.EInvalid, "read price feed: %v; expected a genai-prices v2 JSON file", err)
	}
	c, err := parseCatalog(compact)
	if err != nil {
		return nil, allot.Errorf(allot.EInvalid, "read price feed: %v", err)
	}
	return c, nil
}

// parseCatalog compiles a compact catalog (a genai-prices v2 document)
// strictly: a price literal that is not an exact nine-decimal number fails.
func parseCatalog(b []byte) (*Catalog, error) {
	ps, err := feed.Decode(b)
	if err != nil {
		return nil, err
	}
	c := &Catalog{byID: make(map[string]*provider, len(ps))}
	for i := range ps {
		fp := &ps[i]
		p := &provider{id: fp.ID, fallbacks: fp.FallbackModelProviders}
		if fp.ProviderMatch != nil {
			m, err := compileClause(fp.ProviderMatch)
			if err != nil {
				return nil, fmt.Errorf("provider %s: provider_match: %w", fp.ID, err)
			}
			p.providerMatch = &m
		}
		if fp.ModelMatch != nil {
			m, err := compileClause(fp.ModelMatch)
			if err != nil {
				return nil, fmt.Errorf("provider %s: model_match: %w", fp.ID, err)
			}
			p.modelMatch = &m
		}
		for j := range fp.Models {
			m, err := compileModel(fp.ID, &fp.Models[j])
			if err != nil {
				return nil, fmt.Errorf("model %s/%s: %w", fp.ID, fp.Models[j].ID, err)
			}
			p.models = append(p.models, m)
		}
		c.models += len(p.models)
		c.providers = append(c.providers, p)
		if _, dup := c.byID[strings.ToLower(p.id)]; !dup {
			c.byID[strings.ToLower(p.id)] = p
		}
	}
	return c, nil
}

func compileModel(providerID string, fm *feed.Model) (*model, error) {
	mt, err := compileClause(&fm.Match)
	if err != nil {
		return nil, fmt.Errorf("match: %w", err)
	}
	m := &model{provider: providerID, id: fm.ID, match: mt}
	if fm.Prices.Dated == nil {
		mp := fm.Prices.Plain
		if mp == nil {
			mp = &feed.ModelPrice{}
		}
		e, err := compileEntry(nil, mp)
		if err != nil {
			return nil, err
		}
		m.entries = []entry{e}
		return m, nil
	}
	if len(fm.Prices.Dated) == 0 {
		return nil, fmt.Errorf("empty price list")
	}
	for i := range fm.Prices.Dated {
		cp := &fm.Prices.Dated[i]
		e, err := compileEntry(cp.Constraint, &cp.Prices)
		if err != nil {
			return nil, err
		}
		m.entries = append(m.entries, e)
	}
	return m, nil
}

// Models is the number of feed models the catalog can price (overrides
// not counted).
func (c *Catalog) Models() int { return c.models }

// resolve finds the model priced for (provider, model), through the cache.
func (c *Catalog) resolve(providerName, modelName string) *model {
	k := cacheKey{providerName, modelName}
	if v, ok := c.cache.Load(k); ok {
		return v.(*model)
	}
	m := c.find(providerName, modelName)
	if c.cached.Load() < maxCached && len(providerName)+len(modelName) <= maxCachedName {
		if _, loaded := c.cache.LoadOrStore(k, m); !loaded {
			c.cached.Add(1)
		}
	}
	return m
}

// find resolves a model name without the cache. Order:
//
//  1. a configured override (exact name, then the most specific matching
//     pattern);
//  2. the feed provider named providerName (by id, else by its
//     provider_match rule, compared in lower case), then its
//     fallback_model_providers;
//  3. the providers whose model_match claims the name (e.g. "claude" →
//     anthropic), so a model on an unknown provider such as "corp-proxy"
//     is priced at its origin rather than at a reseller;
//  4. every provider in feed order.
//
// Within a provider the first model (feed order) whose match rule holds
// wins. If nothing matches, the name is tried again in lower case.
func (c *Catalog) find(providerName, modelName string) *model {
	if m := c.findExact(providerName, modelName); m != nil {
		return m
	}
	if lower := strings.ToLower(modelName); lower != modelName {
		return c.findExact(providerName, lower)
	}
	return nil
}

func (c *Catalog) findExact(providerName, modelName string) *model {
	if m := c.override(modelName); m != nil {
		return m
	}
	seen := make(map[*provider]bool, 4)
	if p := c.provider(providerName); p != nil {
		if m := c.inProvider(p, modelName, seen); m != nil {
			return m
		}
	}
	for _, p := range c.providers {
		if p.modelMatch != nil && p.modelMatch.match(modelName) {
			if m := c.inProvider(p, modelName, seen); m != nil {
				return m
			}
		}
	}
	for _, p := range c.providers {
		if m := c.inProvider(p, modelName, seen); m != nil {
			return m
		}
	}
	return nil
}

// provider finds the feed provider for a configured provider name.
func (c *Catalog) provider(name string) *provider {
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" {
		return nil
	}
	if p, ok := c.byID[name]; ok {
		return p
	}
	for _, p := range c.providers {
		if p.providerMatch != nil && p.providerMatch.match(name) {
			return p
		}
	}
	return nil
}

// inProvider searches p's models, then its fallback providers', skipping
// providers already searched.
func (c *Catalog) inProvider(p *provider, modelName string, seen map[*provider]bool) *model {
	if seen[p] {
		return nil
	}
	seen[p] = true
	for _, m := range p.models {
		if m.match.match(modelName) {
			return m
		}
	}
	for _, id := range p.fallbacks {
		if fb, ok := c.byID[strings.ToLower(id)]; ok {
			if m := c.inProvider(fb, modelName, seen); m != nil {
				return m
			}
		}
	}
	return nil
}

// override returns the configured override for modelName, if any.
func (c *Catalog) override(modelName string) *model {
	if m, ok := c.exact[modelName]; ok {
		return m
	}
	for _, o := range c.patterns {
		if o.pattern.Match(modelName) {
			return o.model
		}
	}
	return nil
}
