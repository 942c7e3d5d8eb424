package pricing

import (
	"fmt"
	"slices"
	"time"

	"github.com/allot-dev/allot/pricing/internal/feed"
)

// rate is one token kind's price in nano-USD per million tokens, with cliff
// tiers sorted by start: once a request's whole input exceeds a tier's
// start, every token of the kind pays that tier's price.
type rate struct {
	base  int64
	tiers []tierRate
}

type tierRate struct {
	start int64 // the tier applies when input tokens > start
	nano  int64
}

// at is the rate for a request with input tokens of input in all. The
// comparison is strict (input > start), as in the genai-prices reference
// implementation and Anthropic's "more than 200K input tokens": a request
// of exactly 200,000 input tokens pays the base rate.
func (r *rate) at(input int64) int64 {
	v := r.base
	for i := range r.tiers {
		if input <= r.tiers[i].start {
			break
		}
		v = r.tiers[i].nano
	}
	return v
}

// priceSet is one price list with every fallback already applied, so
// costing is a handful of multiplications.
type priceSet struct {
	input        rate // uncached input
	cacheRead    rate // cache_read_mtok, else input
	cacheWrite5m rate // cache_write_5m_mtok, else cache_write_mtok, else input
	cacheWrite1h rate // cache_write_1h_mtok, else cache_write_mtok, else input
	output       rate // output_mtok, reasoning included
	reasoning    rate // output_reasoning_mtok when hasReasoning
	hasReasoning bool
	requestsK    int64 // nano-USD per thousand requests (requests_kcount)
}

// entry is a price set with the constraint under which it applies.
type entry struct {
	kind      constraintKind
	since     time.Time // constraintSince: applies from this instant (UTC midnight)
	from, to  int       // constraintDaily: seconds of the UTC day, [from, to)
	startDate string    // the feed's start_date, for display
	prices    priceSet
}

type constraintKind uint8

const (
	constraintNone  constraintKind = iota // always applies
	constraintSince                       // applies from a date on
	constraintDaily                       // applies between two times of day
	constraintNever                       // a constraint this package does not understand
)

// active reports whether e's constraint holds at instant at.
func (e *entry) active(at time.Time) bool {
	switch e.kind {
	case constraintNone:
		return true
	case constraintSince:
		return !at.Before(e.since)
	case constraintDaily:
		u := at.UTC()
		s := u.Hour()*3600 + u.Minute()*60 + u.Second()
		if e.from <= e.to {
			return s >= e.from && s < e.to
		}
		return s >= e.from || s < e.to // the window wraps past midnight
	}
	return false
}

// compileEntry turns one feed price set and its constraint into an entry.
func compileEntry(c *feed.Constraint, mp *feed.ModelPrice) (entry, error) {
	var e entry
	switch {
	case c == nil:
	case c.StartDate != "":
		t, err := time.Parse(time.DateOnly, c.StartDate)
		if err != nil {
			return e, fmt.Errorf("start_date %q: %w", c.StartDate, err)
		}
		e.kind, e.since, e.startDate = constraintSince, t, c.StartDate
	case c.StartTime != "" && c.EndTime != "":
		from, err := secondOfDay(c.StartTime)
		if err != nil {
			return e, err
		}
		to, err := secondOfDay(c.EndTime)
		if err != nil {
			return e, err
		}
		e.kind, e.from, e.to = constraintDaily, from, to
	default:
		e.kind = constraintNever
	}
	ps, err := compilePrices(mp)
	if err != nil {
		return e, err
	}
	e.prices = ps
	return e, nil
}

// secondOfDay reads a feed time of day ("00:30:00Z", "16:30:00+08:00",
// "16:30") as seconds after UTC midnight.
func secondOfDay(s string) (int, error) {
	for _, layout := range []string{"15:04:05Z07:00", "15:04:05.999999999Z07:00", "15:04:05", "15:04"} {
		t, err := time.Parse(layout, s)
		if err != nil {
			continue
		}
		u := t.UTC()
		return u.Hour()*3600 + u.Minute()*60 + u.Second(), nil
	}
	return 0, fmt.Errorf("time of day %q: want HH:MM:SS with an optional zone", s)
}

// compilePrices converts the feed's decimal literals to integer rates and
// applies the fallbacks between token kinds.
func compilePrices(mp *feed.ModelPrice) (priceSet, error) {
	var ps priceSet
	get := func(key string, p *feed.Price) (rate, bool, error) {
		if p == nil {
			return rate{}, false, nil
		}
		r, err := compileRate(p)
		if err != nil {
			return rate{}, false, fmt.Errorf("%s: %w", key, err)
		}
		return r, true, nil
	}
	var err error
	var ok bool
	if ps.input, _, err = get("input_mtok", mp.InputMTok); err != nil {
		return ps, err
	}
	if ps.output, _, err = get("output_mtok", mp.OutputMTok); err != nil {
		return ps, err
	}
	if ps.cacheRead, ok, err = get("cache_read_mtok", mp.CacheReadMTok); err != nil {
		return ps, err
	} else if !ok {
		ps.cacheRead = ps.input
	}
	write, hasWrite, err := get("cache_write_mtok", mp.CacheWriteMTok)
	if err != nil {
		return ps, err
	}
	if !hasWrite {
		write = ps.input
	}
	if ps.cacheWrite5m, ok, err = get("cache_write_5m_mtok", mp.CacheWrite5mMTok); err != nil {
		return ps, err
	} else if !ok {
		ps.cacheWrite5m = write
	}
	if ps.cacheWrite1h, ok, err = get("cache_write_1h_mtok", mp.CacheWrite1hMTok); err != nil {
		return ps, err
	} else if !ok {
		ps.cacheWrite1h = write
	}
	if ps.reasoning, ps.hasReasoning, err = get("output_reasoning_mtok", mp.OutputReasoningMTok); err != nil {
		return ps, err
	} else if !ps.hasReasoning {
		ps.reasoning = ps.output
	}
	req, _, err := get("requests_kcount", mp.RequestsKCount)
	if err != nil {
		return ps, err
	}
	if len(req.tiers) > 0 {
		return ps, fmt.Errorf("requests_kcount: tiers are not supported")
	}
	ps.requestsK = req.base
	return ps, nil
}

// compileRate converts a flat or tiered feed price exactly.
func compileRate(p *feed.Price) (rate, error) {
	base, err := parseNano(p.Base.String())
	if err != nil {
		return rate{}, fmt.Errorf("price %s: %w", p.Base, err)
	}
	r := rate{base: base}
	for _, t := range p.Tiers {
		n, err := parseNano(t.Price.String())
		if err != nil {
			return rate{}, fmt.Errorf("tier at %d: price %s: %w", t.Start, t.Price, err)
		}
		if t.Start < 0 {
			return rate{}, fmt.Errorf("tier start %d is negative", t.Start)
		}
		r.tiers = append(r.tiers, tierRate{start: t.Start, nano: n})
	}
	slices.SortStableFunc(r.tiers, func(a, b tierRate) int {
		switch {
		case a.start < b.start:
			return -1
		case a.start > b.start:
			return 1
		}
		return 0
	})
	return r, nil
}
