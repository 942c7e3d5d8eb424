package postgres

import (
	"context"
	"fmt"
	"maps"
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

// stagingColumns are the columns Append copies, in allot_staging's order.
var stagingColumns = []string{"time", "latency_us", "ttft_us", "request_bytes", "max_tokens", "system_fp", "request_fp",
	"input", "cache_read", "cache_write_5m", "cache_write_1h", "output", "reasoning", "cost_nano",
	"attr", "session", "messages", "status", "flags", "id"}

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
	team    int32 // dict ids of its team and user (in the attrs row too)
	usr     int32
}

// stagingRow returns e's values in stagingColumns order.
func stagingRow(e *allot.Event, ref eventRef) []any {
	return []any{e.Time, e.Latency.Microseconds(), e.TTFT.Microseconds(), e.RequestBytes, e.MaxTokens,
		int64(e.SystemFP), int64(e.RequestFP),
		e.Tokens.Input, e.Tokens.CacheRead, e.Tokens.CacheWrite5m, e.Tokens.CacheWrite1h, e.Tokens.Output, e.Tokens.Reasoning,
		int64(e.Cost), ref.attr, ref.session, int32(e.Messages), int16(e.Status), eventFlags(e), encodeID(e.ID)}
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
// the strings and contexts not seen before.
func (db *DB) resolveRefs(ctx context.Context, batch []allot.Event) ([]eventRef, error) {
	as := make([]attr, len(batch))
	refs := make([]eventRef, len(batch))
	added := map[string]int32{}
	// Look every string up in the cache, then intern the missing ones and
	// look again (the cache may also have been emptied meanwhile).
	for try := 0; ; try++ {
		var missing []string
		seen := map[string]bool{}
		id := func(s string) int32 {
			if v, ok := db.dict.ids[s]; ok {
				return v
			}
			if v, ok := added[s]; ok {
				return v
			}
			if !seen[s] {
				seen[s] = true
				missing = append(missing, s)
			}
			return -1
		}
		db.dict.mu.RLock()
		for i := range batch {
			for j, s := range attrStrings(&batch[i]) {
				as[i][j] = id(s)
			}
			refs[i].session = id(batch[i].Session)
		}
		db.dict.mu.RUnlock()
		if len(missing) == 0 {
			break
		}
		if try == 3 {
			return nil, fmt.Errorf("dictionary: %d strings still missing after adding them", len(missing))
		}
		got, err := db.dict.intern(ctx, db.pool, missing)
		if err != nil {
			return nil, err
		}
		maps.Copy(added, got)
	}
	ids, err := db.attrs.intern(ctx, db.pool, as)
	if err != nil {
		return nil, err
	}
	for i := range refs {
		refs[i].attr, refs[i].team, refs[i].usr = ids[i], as[i][1], as[i][2]
	}
	return refs, nil
}
