package feed

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
)

// Compact reads a full genai-prices v2 feed and writes the catalog allot
// embeds: only the fields pricing uses, one model per line so updates diff
// well. It is deterministic: the same feed always gives the same bytes.
//
// Price literals are kept verbatim except two cases, each reported in notes:
// a literal with more than nine decimals (float artefacts in the feed such
// as 0.18000000000000002) is rounded half up to nine, the nano-dollar
// resolution of allot.Money; a literal with an exponent is rewritten as a
// plain decimal. Models left with no price allot uses (image-only,
// search-only) are dropped, so they stay unpriced instead of costing 0; a
// model whose prices are {} is free in the feed and is kept.
func Compact(feedJSON []byte) (out []byte, notes []string, err error) {
	ps, err := Decode(feedJSON)
	if err != nil {
		return nil, nil, err
	}
	var buf bytes.Buffer
	buf.WriteString("[\n")
	for i := range ps {
		p := &ps[i]
		if p.ID == "" {
			return nil, nil, fmt.Errorf("provider #%d: missing id", i)
		}
		for _, c := range []*Clause{p.ProviderMatch, p.ModelMatch} {
			if c != nil {
				if err := c.Validate(); err != nil {
					return nil, nil, fmt.Errorf("provider %s: %w", p.ID, err)
				}
			}
		}
		models := p.Models[:0]
		for j := range p.Models {
			m := p.Models[j]
			where := p.ID + "/" + m.ID
			if err := m.Match.Validate(); err != nil {
				return nil, nil, fmt.Errorf("model %s: %w", where, err)
			}
			usable, ignored := false, false
			err := m.Prices.Each(func(mp *ModelPrice) error {
				usable = usable || !mp.IsEmpty()
				ignored = ignored || mp.Ignored > 0
				for _, f := range mp.Fields() {
					if *f.Price == nil {
						continue
					}
					err := (*f.Price).Numbers(func(n *json.Number) error {
						fixed, changed, err := normalize(*n)
						if err != nil {
							return fmt.Errorf("model %s %s: %w", where, f.Key, err)
						}
						if changed {
							notes = append(notes, fmt.Sprintf("%s %s: %s written as %s", where, f.Key, *n, fixed))
							*n = fixed
						}
						return nil
					})
					if err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return nil, nil, err
			}
			if !usable && ignored {
				notes = append(notes, fmt.Sprintf("%s: only prices allot does not use (audio, images...), dropped", where))
				continue
			}
			models = append(models, m)
		}
		p.Models = models
		if err := writeProvider(&buf, p); err != nil {
			return nil, nil, err
		}
		if i < len(ps)-1 {
			buf.WriteString(",")
		}
		buf.WriteString("\n")
	}
	buf.WriteString("]\n")
	return buf.Bytes(), notes, nil
}

// writeProvider writes the provider header on one line, then one model per line.
func writeProvider(buf *bytes.Buffer, p *Provider) error {
	head := *p
	head.Models = nil
	h, err := json.Marshal(head)
	if err != nil {
		return fmt.Errorf("provider %s: %w", p.ID, err)
	}
	// h ends with `"models":null}`; reopen it as a list.
	h = bytes.TrimSuffix(h, []byte("null}"))
	buf.Write(h)
	buf.WriteString("[")
	for j := range p.Models {
		m, err := json.Marshal(p.Models[j])
		if err != nil {
			return fmt.Errorf("model %s/%s: %w", p.ID, p.Models[j].ID, err)
		}
		buf.WriteString("\n")
		buf.Write(m)
		if j < len(p.Models)-1 {
			buf.WriteString(",")
		}
	}
	buf.WriteString("]}")
	return nil
}

// normalize returns n as a plain decimal with at most nine decimals,
// rounding half up when the literal carries more, and whether it changed.
// Negative prices are refused.
func normalize(n json.Number) (json.Number, bool, error) {
	s := n.String()
	if strings.HasPrefix(s, "-") {
		return n, false, fmt.Errorf("price %s is negative", s)
	}
	_, frac, _ := strings.Cut(s, ".")
	if !strings.ContainsAny(s, "eE") && len(frac) <= 9 {
		return n, false, nil
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return n, false, fmt.Errorf("price %s is not a decimal number", s)
	}
	r.Mul(r, big.NewRat(1_000_000_000, 1))
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if m.Lsh(m, 1).Cmp(r.Denom()) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	digits := q.String()
	if len(digits) < 10 {
		digits = strings.Repeat("0", 10-len(digits)) + digits
	}
	whole, fr := digits[:len(digits)-9], strings.TrimRight(digits[len(digits)-9:], "0")
	whole = strings.TrimLeft(whole, "0")
	if whole == "" {
		whole = "0"
	}
	out := whole
	if fr != "" {
		out += "." + fr
	}
	return json.Number(out), out != s, nil
}
