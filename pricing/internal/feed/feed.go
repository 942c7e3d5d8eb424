// Package feed reads the genai-prices v2 price feed (a JSON list of
// providers, each with match rules and models) into Go types that keep every
// price as the decimal literal the feed wrote, and writes the compact subset
// that allot embeds as its catalog. The compact catalog is itself a valid
// genai-prices v2 document, so one reader serves both.
package feed

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Provider is one feed provider with only the fields pricing needs.
type Provider struct {
	ID                     string   `json:"id"`
	ProviderMatch          *Clause  `json:"provider_match,omitempty"`
	ModelMatch             *Clause  `json:"model_match,omitempty"`
	FallbackModelProviders []string `json:"fallback_model_providers,omitempty"`
	Models                 []Model  `json:"models"`
}

// Model is one priced model: its id, the rule matching the names callers
// use for it, and its prices.
type Model struct {
	ID     string `json:"id"`
	Match  Clause `json:"match"`
	Prices Prices `json:"prices"`
}

// Clause is a match rule; exactly one field is set.
type Clause struct {
	Equals     *string  `json:"equals,omitempty"`
	StartsWith *string  `json:"starts_with,omitempty"`
	EndsWith   *string  `json:"ends_with,omitempty"`
	Contains   *string  `json:"contains,omitempty"`
	Regex      *string  `json:"regex,omitempty"`
	Or         []Clause `json:"or,omitempty"`
	And        []Clause `json:"and,omitempty"`
}

// Validate reports a clause that does not set exactly one rule, at any depth.
func (c *Clause) Validate() error {
	n := 0
	for _, s := range []*string{c.Equals, c.StartsWith, c.EndsWith, c.Contains, c.Regex} {
		if s != nil {
			n++
		}
	}
	if c.Or != nil {
		n++
	}
	if c.And != nil {
		n++
	}
	if n != 1 {
		return fmt.Errorf("match rule must set exactly one of equals, starts_with, ends_with, contains, regex, or, and (found %d)", n)
	}
	if (c.Or != nil && len(c.Or) == 0) || (c.And != nil && len(c.And) == 0) {
		return fmt.Errorf("match rule: an empty \"or\" or \"and\" list")
	}
	for _, sub := range append(append([]Clause(nil), c.Or...), c.And...) {
		if err := sub.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// Prices is either one plain price set or a list of conditional ones (the
// feed's two shapes for "prices"); Dated is nil for the plain shape.
type Prices struct {
	Plain *ModelPrice
	Dated []Conditional
}

// UnmarshalJSON reads either shape.
func (p *Prices) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		p.Plain = nil
		if err := decodeNumbers(b, &p.Dated); err != nil {
			return err
		}
		if p.Dated == nil {
			p.Dated = []Conditional{}
		}
		return nil
	}
	p.Dated = nil
	p.Plain = new(ModelPrice)
	return decodeNumbers(b, p.Plain)
}

// MarshalJSON writes the shape that was read.
func (p Prices) MarshalJSON() ([]byte, error) {
	if p.Dated != nil {
		return json.Marshal(p.Dated)
	}
	if p.Plain == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(p.Plain)
}

// Each calls f on every price set, plain or conditional.
func (p *Prices) Each(f func(*ModelPrice) error) error {
	if p.Plain != nil {
		if err := f(p.Plain); err != nil {
			return err
		}
	}
	for i := range p.Dated {
		if err := f(&p.Dated[i].Prices); err != nil {
			return err
		}
	}
	return nil
}

// Conditional is a price set that applies while its constraint holds; a
// nil constraint always holds.
type Conditional struct {
	Constraint *Constraint `json:"constraint,omitempty"`
	Prices     ModelPrice  `json:"prices"`
}

// Constraint says when a conditional price applies: from a date on
// (start_date, "2006-01-02"), or daily between two times of day.
type Constraint struct {
	StartDate string `json:"start_date,omitempty"`
	StartTime string `json:"start_time,omitempty"`
	EndTime   string `json:"end_time,omitempty"`
}

// ModelPrice holds the feed price keys allot prices; the feed's other keys
// (audio, image, video, web searches, citations...) are dropped on reading.
type ModelPrice struct {
	InputMTok           *Price `json:"input_mtok,omitempty"`
	CacheReadMTok       *Price `json:"cache_read_mtok,omitempty"`
	CacheWriteMTok      *Price `json:"cache_write_mtok,omitempty"`
	CacheWrite5mMTok    *Price `json:"cache_write_5m_mtok,omitempty"`
	CacheWrite1hMTok    *Price `json:"cache_write_1h_mtok,omitempty"`
	OutputMTok          *Price `json:"output_mtok,omitempty"`
	OutputReasoningMTok *Price `json:"output_reasoning_mtok,omitempty"`
	RequestsKCount      *Price `json:"requests_kcount,omitempty"`

	// Ignored counts the feed keys read but not kept (audio, images...).
	Ignored int `json:"-"`
}

// UnmarshalJSON reads the kept keys and counts the others in Ignored.
func (m *ModelPrice) UnmarshalJSON(b []byte) error {
	type plain ModelPrice
	var keys map[string]json.RawMessage
	if err := decodeNumbers(b, &keys); err != nil {
		return fmt.Errorf("prices: %w", err)
	}
	var p plain
	if err := decodeNumbers(b, &p); err != nil {
		return err
	}
	*m = ModelPrice(p)
	kept := map[string]bool{}
	for _, f := range m.Fields() {
		kept[f.Key] = true
	}
	for k := range keys {
		if !kept[k] {
			m.Ignored++
		}
	}
	return nil
}

// Fields lists the price slots with their feed keys, for walking them.
func (m *ModelPrice) Fields() []struct {
	Key   string
	Price **Price
} {
	return []struct {
		Key   string
		Price **Price
	}{
		{"input_mtok", &m.InputMTok},
		{"cache_read_mtok", &m.CacheReadMTok},
		{"cache_write_mtok", &m.CacheWriteMTok},
		{"cache_write_5m_mtok", &m.CacheWrite5mMTok},
		{"cache_write_1h_mtok", &m.CacheWrite1hMTok},
		{"output_mtok", &m.OutputMTok},
		{"output_reasoning_mtok", &m.OutputReasoningMTok},
		{"requests_kcount", &m.RequestsKCount},
	}
}

// IsEmpty reports whether no price allot uses is set.
func (m *ModelPrice) IsEmpty() bool { return *m == ModelPrice{Ignored: m.Ignored} }

// Price is a flat price (Base only) or a tiered one; numbers stay the
// feed's decimal literals so no float ever rounds them.
type Price struct {
	Base   json.Number
	Tiers  []Tier
	Tiered bool
}

// Tier is a price that applies to every token of its kind once the
// request's total input exceeds Start tokens.
type Tier struct {
	Start int64       `json:"start"`
	Price json.Number `json:"price"`
}

type tieredJSON struct {
	Base  json.Number `json:"base"`
	Tiers []Tier      `json:"tiers"`
}

// UnmarshalJSON reads a number or a {"base":..,"tiers":[..]} object.
func (p *Price) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var t tieredJSON
		if err := decodeNumbers(b, &t); err != nil {
			return fmt.Errorf("tiered price: %w", err)
		}
		if t.Base == "" {
			return fmt.Errorf("tiered price %s: missing base", b)
		}
		if t.Tiers == nil {
			t.Tiers = []Tier{}
		}
		*p = Price{Base: t.Base, Tiers: t.Tiers, Tiered: true}
		return nil
	}
	var v any
	if err := decodeNumbers(b, &v); err != nil {
		return err
	}
	n, ok := v.(json.Number)
	if !ok {
		return fmt.Errorf("price %s: want a number or {base, tiers}", b)
	}
	*p = Price{Base: n}
	return nil
}

// MarshalJSON writes the shape that was read, numbers verbatim.
func (p Price) MarshalJSON() ([]byte, error) {
	if p.Tiered {
		return json.Marshal(tieredJSON{Base: p.Base, Tiers: p.Tiers})
	}
	return json.Marshal(p.Base)
}

// Numbers calls f on every decimal literal of p (base and tier prices), so
// the caller may read or replace them.
func (p *Price) Numbers(f func(*json.Number) error) error {
	if err := f(&p.Base); err != nil {
		return err
	}
	for i := range p.Tiers {
		if err := f(&p.Tiers[i].Price); err != nil {
			return err
		}
	}
	return nil
}

// Decode reads a feed or a compact catalog, keeping numbers as literals.
func Decode(b []byte) ([]Provider, error) {
	var ps []Provider
	if err := decodeNumbers(b, &ps); err != nil {
		return nil, fmt.Errorf("decode price feed: %w", err)
	}
	return ps, nil
}

func decodeNumbers(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}
