package sqlite

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/rollup"
)

// periodCalls is InsightCalls' sums over a run of days: per canonical
// attribution and system prompt, and per canonical attribution and
// session, each in first-seen order.
type periodCalls struct {
	prompts  *rollup.CallSums[[2]int64] // canonical attr, fp
	sessions *rollup.SessionTable
}

// sumCalls sums the call entries of f's people over the days overlapping
// [from, to), canonical attributions as names has them. A session's
// entries of one day (one per attribution and system prompt) interleave
// and merge first; a later day's follow the earlier ones.
func (db *DB) sumCalls(ctx context.Context, names *insightNames, f insightFilter, from, to time.Time) (*periodCalls, error) {
	p := &periodCalls{prompts: rollup.NewCallSums[[2]int64]()}
	days := int(to.Sub(from) / (24 * time.Hour))
	type part struct {
		canon int64
		v     rollup.Calls
	}
	var group []part // one session's entries of a day, by canonical attribution
	maxID, err := db.dict.maxID(ctx, db.r)
	if err != nil {
		return nil, err
	}
	err = db.eachInsightDay(ctx, from, to, f, true, false, func(d *rollup.Day) error {
		if p.sessions == nil { // size for a period like its first day
			n := len(d.Calls)
			p.sessions = rollup.NewSessionTable(maxID, n*(days+1), rollup.DenseSessions(maxID, n*(days+1)))
			p.prompts.Index = make(map[[2]int64]int, n)
		}
		calls := d.Calls
		for i := 0; i < len(calls); {
			session := calls[i].Session
			group = group[:0]
			for ; i < len(calls) && calls[i].Session == session; i++ {
				c := &calls[i]
				a, err := names.canon(c.Attr)
				if err != nil {
					return err
				}
				if a < 0 {
					continue
				}
				if c.FP != 0 {
					p.prompts.Add([2]int64{a, c.FP}, &c.V, false)
				}
				if session == 0 {
					continue
				}
				j := 0
				for j < len(group) && group[j].canon != a {
					j++
				}
				if j < len(group) {
					rollup.Merge(&group[j].v, &c.V)
				} else {
					group = append(group, part{a, c.V})
				}
			}
			for j := range group {
				p.sessions.Add(group[j].canon, session, &group[j].v, true)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if p.sessions == nil {
		p.sessions = rollup.NewSessionTable(0, 0, false)
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
		recent = &periodCalls{prompts: rollup.NewCallSums[[2]int64](), sessions: rollup.NewSessionTable(0, 0, false)}
	}

	// Prompts: the kept days' first, in their order, then today's.
	prompts := recent.prompts
	if kept != nil {
		prompts = rollup.NewCallSums[[2]int64]()
		prompts.Index = make(map[[2]int64]int, len(kept.prompts.Keys)+len(recent.prompts.Keys))
		for i, k := range kept.prompts.Keys {
			a, err := names.canon(k[0])
			if err != nil {
				return out, fmt.Errorf("insight calls: %w", err)
			}
			prompts.Add([2]int64{a, k[1]}, &kept.prompts.Vals[i], false)
		}
		for i, k := range recent.prompts.Keys {
			prompts.Add(k, &recent.prompts.Vals[i], false)
		}
	}
	out.Prompts = make([]allot.PromptUsage, len(prompts.Keys))
	for i, k := range prompts.Keys {
		key, _ := names.key(k[0]) // resolved by canon
		out.Prompts[i] = prompts.Vals[i].Prompt(*key, k[1])
	}

	// Sessions: the kept days' (by attribution and session), each followed
	// by its calls of today if any, then today's new ones in first-seen
	// order.
	em := sessionEmitter{names: names, each: q.EachSession}
	if q.EachSession == nil {
		n := len(recent.sessions.Vals)
		if kept != nil {
			n += kept.n
		}
		out.Sessions = make([]allot.SessionUsage, 0, n)
		em.out = &out.Sessions
	}
	var used []bool // today's sessions that followed a kept one
	if kept != nil {
		used = make([]bool, len(recent.sessions.Vals))
		// Most kept sessions have no calls today: a bit per session id
		// (small enough to stay in cache) spares them the table's lookup.
		var today []uint64
		for _, id := range recent.sessions.Sess {
			if id >= 0 && id < rollup.MaxDenseSession {
				for int64(len(today)) <= id/64 {
					today = append(today, 0)
				}
				today[id/64] |= 1 << (id % 64)
			}
		}
		calledToday := func(id int64) bool {
			return id < 0 || id >= rollup.MaxDenseSession || id/64 < int64(len(today)) && today[id/64]&(1<<(id%64)) != 0
		}
		r := rollup.Varints{B: kept.sessions}
		var e [rollup.PackedSessionValues]int64
		var attr, session, a int64 = 0, 0, -1
		for range kept.n {
			r.Fill(e[:])
			if r.Err {
				return out, fmt.Errorf("insight calls: %w", rollup.ErrBadDay)
			}
			if e[0] != 0 || a < 0 {
				attr += e[0]
				if a, err = names.canon(attr); err != nil {
					return out, fmt.Errorf("insight calls: %w", err)
				}
			}
			session += e[1]
			v := rollup.UnpackSession(kept.base, &e)
			if calledToday(session) {
				if i := recent.sessions.Find(a, session); i >= 0 {
					rollup.Follow(&v, &recent.sessions.Vals[i])
					used[i] = true
				}
			}
			if err := em.add(a, session, &v); err != nil {
				return out, fmt.Errorf("insight calls: %w", err)
			}
		}
	}
	for i := range recent.sessions.Vals {
		if used != nil && used[i] {
			continue
		}
		if err := em.add(recent.sessions.Attr[i], recent.sessions.Sess[i], &recent.sessions.Vals[i]); err != nil {
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

func (em *sessionEmitter) add(attr, session int64, v *rollup.Calls) error {
	key, _ := em.names.key(attr) // resolved by canon
	if em.each == nil {
		*em.out = append(*em.out, allot.SessionUsage{InsightKey: *key})
		em.ids = append(em.ids, session)
		v.SetSession(&(*em.out)[len(*em.out)-1])
		return nil
	}
	if key != em.key {
		em.s.InsightKey, em.key = *key, key
	}
	v.SetSession(&em.s)
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
	prompts  *rollup.CallSums[[2]int64]
	sessions []byte // n entries of keptSessionValues varints, by attribution and session
	n        int
	base     int64 // unix microseconds the packed times count from
}

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
	order := make([]int32, len(t.Vals))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		if c := cmp.Compare(t.Attr[a], t.Attr[b]); c != 0 {
			return c
		}
		return cmp.Compare(t.Sess[a], t.Sess[b])
	})
	k := &keptCalls{prompts: p.prompts, n: len(t.Vals), base: d0 * usPerDay}
	k.sessions = make([]byte, 0, k.n*32)
	var attr, session int64
	for _, i := range order {
		k.sessions = rollup.PackSession(k.sessions, k.base, t.Attr[i]-attr, t.Sess[i]-session, &t.Vals[i])
		attr, session = t.Attr[i], t.Sess[i]
	}
	if k.n <= periodSessionsMax {
		db.pcalls.Put(d0, d1, vs, k)
	}
	return k, nil
}
