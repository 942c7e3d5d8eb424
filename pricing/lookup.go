package pricing

import "time"

// ModelPrice is the price a catalog applies to a model at a given time,
// for display (`allot prices`): which entry matched and its effective
// rates, fallbacks between token kinds already applied.
type ModelPrice struct {
	Provider string // feed provider id, or "override"
	Model    string // feed model id, or the override key
	Since    string // start_date of the dated price in effect; "" for the base price

	InputMTok        Rate // uncached input, USD per million tokens
	CacheReadMTok    Rate
	CacheWrite5mMTok Rate
	CacheWrite1hMTok Rate
	OutputMTok       Rate
	ReasoningMTok    Rate    // equals OutputMTok unless the model prices reasoning apart
	RequestsKCount   Decimal // USD per thousand requests; zero when not charged
}

// Rate is one token kind's price in USD per million tokens: Base, or the
// price of the highest tier whose Start the request's input exceeds.
type Rate struct {
	Base  Decimal
	Tiers []Tier
}

// Tier is a cliff tier: when a request's total input tokens exceed Start,
// every token of the kind is priced at Price.
type Tier struct {
	Start int64
	Price Decimal
}

// Lookup reports the model and rates Cost would use for (provider, model)
// at instant at; false when nothing matches.
func (c *Catalog) Lookup(provider, model string, at time.Time) (ModelPrice, bool) {
	m := c.resolve(provider, model)
	if m == nil {
		return ModelPrice{}, false
	}
	e := m.at(at)
	p := &e.prices
	return ModelPrice{
		Provider:         m.provider,
		Model:            m.id,
		Since:            e.startDate,
		InputMTok:        p.input.display(),
		CacheReadMTok:    p.cacheRead.display(),
		CacheWrite5mMTok: p.cacheWrite5m.display(),
		CacheWrite1hMTok: p.cacheWrite1h.display(),
		OutputMTok:       p.output.display(),
		ReasoningMTok:    p.reasoning.display(),
		RequestsKCount:   NewDecimalNano(p.requestsK),
	}, true
}

func (r *rate) display() Rate {
	out := Rate{Base: NewDecimalNano(r.base)}
	for _, t := range r.tiers {
		out.Tiers = append(out.Tiers, Tier{Start: t.start, Price: NewDecimalNano(t.nano)})
	}
	return out
}
