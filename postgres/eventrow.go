package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allot-dev/allot"
)

// Event flags, packed into events.flags.
const (
	flagStream    = 1 << 0
	flagCostKnown = 1 << 1
	flagEstimated = 1 << 2
)

// eventColumns are the columns Append copies, in the order of events and
// allot_staging.
const eventColumns = `time, latency_us, ttft_us, request_bytes, max_tokens, system_fp, request_fp,
	input, cache_read, cache_write_5m, cache_write_1h, output, reasoning, cost_nano, attr, session, messages, status, flags, id`

// eventFlags packs e's booleans.
func eventFlags(e *allot.Event) int16 {
	var f int16
	if e.Stream {
		f |= flagStream
	}
	if e.CostKnown {
		f |= flagCostKnown
	}
	if e.Estimated {
		f |= flagEstimated
	}
	return f
}

// eventRef is what an events row stores in place of an event's strings.
type eventRef struct {
	attr    int32 // attrs id of the event's context
	session int32 // dict id of its session
}

// eventSelect reads events (e) joined with their attrs (a) in eventRow order.
const eventSelect = `e.id, e.time, a.org, a.team, a.usr, a.key_id, a.key_label, a.role, a.provider, a.req_model, a.served_model,
a.route, a.task, a.app, a.source, e.session,
e.status, e.flags, e.latency_us, e.ttft_us, e.request_bytes, e.max_tokens, e.messages, e.system_fp, e.request_fp,
e.input, e.cache_read, e.cache_write_5m, e.cache_write_1h, e.output, e.reasoning, e.cost_nano`

// eventRow is an events row as scanned, before its strings are looked up.
type eventRow struct {
	id                                              []byte
	t                                               time.Time
	strs                                            [attrLen + 1]int32 // the attr, then the session
	status, flags                                   int16
	messages                                        int32
	latency, ttft, reqBytes, maxTokens              int64
	systemFP, requestFP                             int64
	input, cacheRead, cw5m, cw1h, output, reasoning int64
	cost                                            int64
}

// dest returns scan destinations for r, in eventSelect order.
func (r *eventRow) dest() []any {
	d := []any{&r.id, &r.t}
	for i := range r.strs {
		d = append(d, &r.strs[i])
	}
	return append(d, &r.status, &r.flags, &r.latency, &r.ttft, &r.reqBytes, &r.maxTokens, &r.messages, &r.systemFP, &r.requestFP,
		&r.input, &r.cacheRead, &r.cw5m, &r.cw1h, &r.output, &r.reasoning, &r.cost)
}

// event builds the Event of r given the strings of its dict ids.
func (r *eventRow) event(names map[int32]string) allot.Event {
	s := func(i int) string { return names[r.strs[i]] }
	return allot.Event{
		ID:   decodeID(r.id),
		Time: r.t.UTC(),
		Principal: allot.Principal{
			Org: s(0), Team: s(1), User: s(2), KeyID: s(3), KeyLabel: s(4), Role: allot.Role(s(5)),
		},
		Provider:       s(6),
		RequestedModel: s(7),
		ServedModel:    s(8),
		Route:          allot.Route(s(9)),
		Task:           s(10),
		App:            s(11),
		Source:         allot.Source(s(12)),
		Session:        s(13),
		Status:         int(r.status),
		Stream:         r.flags&flagStream != 0,
		Latency:        time.Duration(r.latency) * time.Microsecond,
		TTFT:           time.Duration(r.ttft) * time.Microsecond,
		RequestBytes:   r.reqBytes,
		MaxTokens:      r.maxTokens,
		Messages:       int(r.messages),
		SystemFP:       uint64(r.systemFP),
		RequestFP:      uint64(r.requestFP),
		Tokens: allot.Tokens{
			Input: r.input, CacheRead: r.cacheRead, CacheWrite5m: r.cw5m, CacheWrite1h: r.cw1h,
			Output: r.output, Reasoning: r.reasoning,
		},
		Cost:      allot.Money(r.cost),
		CostKnown: r.flags&flagCostKnown != 0,
		Estimated: r.flags&flagEstimated != 0,
	}
}

// readEvents runs a query selecting eventSelect and builds the events.
func (db *DB) readEvents(ctx context.Context, query string, args ...any) ([]allot.Event, error) {
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	var raw []eventRow
	var r eventRow
	if _, err := pgx.ForEachRow(rows, r.dest(), func() error {
		raw = append(raw, r)
		r.id = nil // the next row scans into a fresh slice
		return nil
	}); err != nil {
		return nil, err
	}
	var ids []int32
	seen := map[int32]bool{}
	for i := range raw {
		for _, id := range raw[i].strs {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	names, err := db.dict.names(ctx, db.pool, ids)
	if err != nil {
		return nil, err
	}
	out := make([]allot.Event, len(raw))
	for i := range raw {
		out[i] = raw[i].event(names)
	}
	return out, nil
}

// resolveRefs finds the attrs and dict ids of every event in batch, adding
// the strings, then the attributions, the database lacks (see dict.intern
// and attrCache.intern) on c, outside any transaction.
func (db *DB) resolveRefs(ctx context.Context, c *pgx.Conn, batch []allot.Event) ([]eventRef, error) {
	as := make([]attr, len(batch))
	refs := make([]eventRef, len(batch))
	var missing []string
	seen := map[string]bool{}
	id := func(s string) int32 {
		if v, ok := db.dict.ids[s]; ok {
			return v
		}
		if !seen[s] {
			seen[s] = true
			missing = append(missing, s)
		}
		return -1
	}
	// Many events repeat the previous one's org, role, provider and such:
	// those are not looked up again.
	var prev [attrLen]string
	var prevID [attrLen]int32
	db.dict.mu.RLock()
	for i := range batch {
		for j, s := range attrStrings(&batch[i]) {
			if i == 0 || s != prev[j] {
				prev[j], prevID[j] = s, id(s)
			}
			as[i][j] = prevID[j]
		}
		refs[i].session = id(batch[i].Session)
	}
	db.dict.mu.RUnlock()
	if len(missing) > 0 {
		added, err := db.dict.intern(ctx, c, missing)
		if err != nil {
			return nil, err
		}
		for i := range batch {
			for j, s := range attrStrings(&batch[i]) {
				if as[i][j] < 0 {
					as[i][j] = added[s]
				}
			}
			if refs[i].session < 0 {
				refs[i].session = added[batch[i].Session]
			}
		}
	}
	ids, missingAttrs := db.attrs.cached(as)
	if len(missingAttrs) > 0 {
		added, err := db.attrs.intern(ctx, c, missingAttrs)
		if err != nil {
			return nil, err
		}
		for i := range ids {
			if ids[i] < 0 {
				ids[i] = added[as[i]]
			}
		}
	}
	for i := range refs {
		refs[i].attr = ids[i]
	}
	return refs, nil
}
