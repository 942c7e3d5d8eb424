package sqlite

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/allot-dev/allot"
)

// callSums accumulates call entries per key in first-seen order.
type callSums[K comparable] struct {
	index map[K]int
	keys  []K
	vals  []callAgg
}

func newCallSums[K comparable]() *callSums[K] { return &callSums[K]{index: map[K]int{}} }

// add merges v under k: followed (v after the stored calls) or interleaved.
func (s *callSums[K]) add(k K, v *callAgg, follows bool) {
	if i, ok := s.index[k]; ok {
		if follows {
			followCall(&s.vals[i], v)
		} else {
			mergeCall(&s.vals[i], v)
		}
		return
	}
	s.index[k] = len(s.vals)
	s.keys = append(s.keys, k)
	s.vals = append(s.vals, *v)
}

// periodCalls is InsightCalls' sums over a run of days: per canonical
// attribution and system prompt, and per canonical attribution and
// session, each in first-seen order.
type periodCalls struct {
	prompts  *callSums[[2]int64] // canonical attr, fp
	sessions *sessionTable
}

// sumCalls sums the call entries of f's people over the days overlapping
// [from, to), canonical attributions as names has them. A session's
// entries of one day (one per attribution and system prompt) interleave
// and merge first; a later day's follow the earlier ones.
func (db *DB) sumCalls(ctx context.Context, names *insightNames, f insightFilter, from, to time.Time) (*periodCalls, error) {
	p := &periodCalls{prompts: newCallSums[[2]int64]()}
	days := int(to.Sub(from) / (24 * time.Hour))
	type part struct {
		canon int64
		v     callAgg
	}
	var group []part // one session's entries of a day, by canonical attribution
	maxID, err := db.dict.maxID(ctx, db.r)
	if err != nil {
		return nil, err
	}
	err = db.eachInsightDay(ctx, from, to, f, true, false, func(d *insightDay) error {
		if p.sessions == nil { // size for a period like its first day
			n := len(d.calls)
			p.sessions = newSessionTable(maxID, n*(days+1), denseSessions(maxID, n*(days+1)))
			p.prompts.index = make(map[[2]int64]int, n)
		}
		calls := d.calls
		for i := 0; i < len(calls); {
			session := calls[i].session
			group = group[:0]
			for ; i < len(calls) && calls[i].session == session; i++ {
				c := &calls[i]
				a, err := names.canon(c.attr)
				if err != nil {
					return err
				}
				if a < 0 {
					continue
				}
				if c.fp != 0 {
					p.prompts.add([2]int64{a, c.fp}, &c.v, false)
				}
				if session == 0 {
					continue
				}
				j := 0
				for j < len(group) && group[j].canon != a {
					j++
				}
				if j < len(group) {
					mergeCall(&group[j].v, &c.v)
				} else {
					group = append(group, part{a, c.v})
				}
			}
			for j := range group {
				p.sessions.add(group[j].canon, session, &group[j].v, true)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if p.sessions == nil {
		p.sessions = newSessionTable(0, 0, false)
	}
	return p, nil
}

// InsightCalls sums, over the days overlapping [q.From, q.To), the calls
// per InsightKey and system prompt fingerprint, and per InsightKey and
// session, in one pass over the packed days. Within a day a session's
// parts with different system prompts interleave; a later day's parts
// follow the earlier ones. The whole org's past days come from memory
// when kept (keptCalls), and today's follow them.
func (db *DB) InsightCalls(ctx context.Context, q allot.InsightQuery) (allot.InsightCalls, error) {
	var out allot.InsightCalls
	from, to := dayBounds(q.From, q.To)
	f, err := db.filterOf(ctx, q)
	if err != nil {
		return out, fmt.Errorf("insight calls: %w", err)
	}
	names, err := db.insightNames(ctx, q)
	if err != nil {
		return out, fmt.Errorf("insight calls: %w", err)
	}
	// The whole org's past days come from memory when WarmInsights kept
	// them and they are unchanged; else every day is read. Keeping them
	// costs more than one read, so a read does not: a one-off command
	// would pay it for nothing, and a server warms them every few minutes.
	var kept *keptCalls
	rest := from
	if f.users == nil {
		d0, past := from.UnixMicro()/usPerDay, min(to.UnixMicro()/usPerDay, db.now().UnixMicro()/usPerDay)
		if d0 < past {
			vs, err := versions(ctx, db.r, "rollup_day_versions", "day", d0, past)
			if err != nil {
				return out, fmt.Errorf("insight calls: %w", err)
			}
			if k, ok := db.pcalls.Get(d0, past, vs); ok {
				kept, rest = k, time.UnixMicro(past*usPerDay).UTC()
			}
		}
	}
	var recent *periodCalls
	if rest.Before(to) {
		if recent, err = db.sumCalls(ctx, names, f, rest, to); err != nil {
			return out, fmt.Errorf("insight calls: %w", err)
		}
	} else {
		recent = &periodCalls{prompts: newCallSums[[2]int64](), sessions: newSessionTable(0, 0, false)}
	}

	// Prompts: the kept days' first, in their order, then today's.
	prompts := recent.prompts
	if kept != nil {
		prompts = newCallSums[[2]int64]()
		prompts.index = make(map[[2]int64]int, len(kept.prompts.keys)+len(recent.prompts.keys))
		for i, k := range kept.prompts.keys {
			a, err := names.canon(k[0])
			if err != nil {
				return out, fmt.Errorf("insight calls: %w", err)
			}
			prompts.add([2]int64{a, k[1]}, &kept.prompts.vals[i], false)
		}
		for i, k := range recent.prompts.keys {
			prompts.add(k, &recent.prompts.vals[i], false)
		}
	}
	out.Prompts = make([]allot.PromptUsage, len(prompts.keys))
	for i, k := range prompts.keys {
		key, _ := names.key(k[0]) // resolved by canon
		v := &prompts.vals[i]
		out.Prompts[i] = allot.PromptUsage{
			InsightKey: *key, SystemFP: uint64(k[1]), Requests: v[cRequests],
			Tokens: allot.Tokens{Input: v[cInput], CacheRead: v[cCacheRead], CacheWrite5m: v[cCacheWrite5m], CacheWrite1h: v[cCacheWrite1h], Output: v[cOutput]},
			Cost:   allot.Money(v[cCost]), MinInput: v[cMinInput], CacheMisses: v[cMisses],
		}
	}

	// Sessions: the kept days' (by attribution and session), each followed
	// by its calls of today if any, then today's new ones in first-seen
	// order.
	em := sessionEmitter{names: names, each: q.EachSession}
	if q.EachSession == nil {
		n := len(recent.sessions.vals)
		if kept != nil {
			n += kept.n
		}
		out.Sessions = make([]allot.SessionUsage, 0, n)
		em.out = &out.Sessions
	}
	var used []bool // today's sessions that followed a kept one
	if kept != nil {
		used = make([]bool, len(recent.sessions.vals))
		// Most kept sessions have no calls today: a bit per session id
		// (small enough to stay in cache) spares them the table's lookup.
		var today []uint64
		for _, id := range recent.sessions.sess {
			if id >= 0 && id < maxDenseSession {
				for int64(len(today)) <= id/64 {
					today = append(today, 0)
				}
				today[id/64] |= 1 << (id % 64)
			}
		}
		calledToday := func(id int64) bool {
			return id < 0 || id >= maxDenseSession || id/64 < int64(len(today)) && today[id/64]&(1<<(id%64)) != 0
		}
		r := varints{b: kept.sessions}
		var e [keptSessionValues]int64
		var attr, session, a int64 = 0, 0, -1
		for range kept.n {
			r.fill(e[:])
			if r.err {
				return out, fmt.Errorf("insight calls: %w", errBadInsightDay)
			}
			if e[0] != 0 || a < 0 {
				attr += e[0]
				if a, err = names.canon(attr); err != nil {
					return out, fmt.Errorf("insight calls: %w", err)
				}
			}
			session += e[1]
			v := unpackSession(kept.base, &e)
			if calledToday(session) {
				if i := recent.sessions.find(a, session); i >= 0 {
					followCall(&v, &recent.sessions.vals[i])
					used[i] = true
				}
			}
			if err := em.add(a, session, &v); err != nil {
				return out, fmt.Errorf("insight calls: %w", err)
			}
		}
	}
	for i := range recent.sessions.vals {
		if used != nil && used[i] {
			continue
		}
		if err := em.add(recent.sessions.attr[i], recent.sessions.sess[i], &recent.sessions.vals[i]); err != nil {
			return out, fmt.Errorf("insight calls: %w", err)
		}
	}
	if err := em.nameAll(ctx, db); err != nil {
		return out, fmt.Errorf("insight calls: %w", err)
	}
	return out, nil
}

// sessionEmitter hands sessions to EachSession, unnamed, or appends them
// to out, naming them all at the end. To EachSession it passes one
// SessionUsage, rewriting its InsightKey only when the key changes: an
// org's month is millions of sessions of a few thousand keys.
type sessionEmitter struct {
	names *insightNames
	each  func(keyID int, s *allot.SessionUsage) error
	out   *[]allot.SessionUsage
	ids   []int64 // the session of each of out, by dict id
	s     allot.SessionUsage
	key   *allot.InsightKey // the key s holds
}

func (em *sessionEmitter) add(attr, session int64, v *callAgg) error {
	key, _ := em.names.key(attr) // resolved by canon
	if em.each == nil {
		*em.out = append(*em.out, allot.SessionUsage{InsightKey: *key})
		em.ids = append(em.ids, session)
		setSession(&(*em.out)[len(*em.out)-1], v)
		return nil
	}
	if key != em.key {
		em.s.InsightKey, em.key = *key, key
	}
	setSession(&em.s, v)
	// A canonical attribution is one per InsightKey, and ids are small.
	return em.each(int(attr), &em.s)
}

// nameAll names the sessions appended to out, in one read of the
// dictionary.
func (em *sessionEmitter) nameAll(ctx context.Context, db *DB) error {
	if em.out == nil {
		return nil
	}
	names, err := db.dict.names(ctx, db.r, em.ids...)
	if err != nil {
		return err
	}
	for i := range *em.out {
		(*em.out)[i].Session = names[i]
	}
	return nil
}

// setSession sets s's figures (all but its key and name) from v.
func setSession(s *allot.SessionUsage, v *callAgg) {
	s.Start, s.End = time.UnixMicro(v[cFirstUS]).UTC(), time.UnixMicro(v[cLastUS]).UTC()
	s.Requests = v[cRequests]
	s.Tokens = allot.Tokens{Input: v[cInput], CacheRead: v[cCacheRead], CacheWrite5m: v[cCacheWrite5m], CacheWrite1h: v[cCacheWrite1h], Output: v[cOutput]}
	s.Cost, s.FirstInput, s.LastInput, s.Growing = allot.Money(v[cCost]), v[cFirstInput], v[cLastInput], v[cGrowing]
}

// PromptUsage is InsightCalls' prompts.
func (db *DB) PromptUsage(ctx context.Context, q allot.InsightQuery) ([]allot.PromptUsage, error) {
	c, err := db.InsightCalls(ctx, q)
	return c.Prompts, err
}

// SessionUsage is InsightCalls' sessions.
func (db *DB) SessionUsage(ctx context.Context, q allot.InsightQuery) ([]allot.SessionUsage, error) {
	c, err := db.InsightCalls(ctx, q)
	return c.Sessions, err
}

// The whole org's call sums over past days are kept like its extras
// (insights_period.go): an org view reads every session of the period,
// millions on a busy month, and past days change only when a late call,
// a relabel or retention bumps their versions. Sessions are kept packed
// as varints, about 40 bytes each.

// keptCalls is the whole org's periodCalls over past days, sessions
// packed.
type keptCalls struct {
	prompts  *callSums[[2]int64]
	sessions []byte // n entries of keptSessionValues varints, by attribution and session
	n        int
	base     int64 // unix microseconds the packed times count from
}

// keptSessionValues is the number of varints a kept session takes:
// canonical attribution, session, then the callAgg values sessions use.
const keptSessionValues = 14

// periodSessionsMax is the most sessions kept for one run of days: a
// larger org's are summed on every call instead.
const periodSessionsMax = 5_000_000

// orgCalls returns the whole org's call sums over the past days [d0, d1),
// from the cache or summed and stored (WarmInsights). It must not be
// changed.
func (db *DB) orgCalls(ctx context.Context, d0, d1 int64) (*keptCalls, error) {
	vs, err := versions(ctx, db.r, "rollup_day_versions", "day", d0, d1)
	if err != nil {
		return nil, err
	}
	if k, ok := db.pcalls.Get(d0, d1, vs); ok {
		return k, nil
	}
	names, err := db.insightNames(ctx, allot.InsightQuery{})
	if err != nil {
		return nil, err
	}
	p, err := db.sumCalls(ctx, names, insightFilter{}, time.UnixMicro(d0*usPerDay).UTC(), time.UnixMicro(d1*usPerDay).UTC())
	if err != nil {
		return nil, err
	}
	// Sessions are kept by attribution, then session: consecutive ones
	// mostly share a key, and their ids pack as small differences.
	t := p.sessions
	order := make([]int32, len(t.vals))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		if c := cmp.Compare(t.attr[a], t.attr[b]); c != 0 {
			return c
		}
		return cmp.Compare(t.sess[a], t.sess[b])
	})
	k := &keptCalls{prompts: p.prompts, n: len(t.vals), base: d0 * usPerDay}
	k.sessions = make([]byte, 0, k.n*32)
	var attr, session int64
	for _, i := range order {
		k.sessions = packSession(k.sessions, k.base, t.attr[i]-attr, t.sess[i]-session, &t.vals[i])
		attr, session = t.attr[i], t.sess[i]
	}
	if k.n <= periodSessionsMax {
		db.pcalls.Put(d0, d1, vs, k)
	}
	return k, nil
}

// packSession appends a session's sums as keptSessionValues varints:
// its attribution and session as differences from the previous session's,
// times from base, the last call's relative to the first, as is its input.
func packSession(b []byte, base, dAttr, dSession int64, v *callAgg) []byte {
	for _, x := range [keptSessionValues]int64{
		dAttr, dSession, v[cRequests], v[cInput], v[cCacheRead], v[cCacheWrite5m], v[cCacheWrite1h], v[cOutput], v[cCost],
		v[cFirstUS] - base, v[cLastUS] - v[cFirstUS], v[cFirstInput], v[cLastInput] - v[cFirstInput], v[cGrowing],
	} {
		b = binary.AppendVarint(b, x)
	}
	return b
}

// unpackSession is the callAgg of a session packSession wrote (its
// smallest input and cache misses are not kept: sessions do not use them).
func unpackSession(base int64, e *[keptSessionValues]int64) callAgg {
	var v callAgg
	v[cRequests], v[cInput], v[cCacheRead], v[cCacheWrite5m], v[cCacheWrite1h], v[cOutput], v[cCost] = e[2], e[3], e[4], e[5], e[6], e[7], e[8]
	v[cFirstUS] = base + e[9]
	v[cLastUS] = v[cFirstUS] + e[10]
	v[cFirstInput] = e[11]
	v[cLastInput] = e[11] + e[12]
	v[cGrowing] = e[13]
	return v
}
