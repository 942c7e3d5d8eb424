package sqlite

import (
	"context"
	"encoding/hex"
	"time"

	"github.com/allot-dev/allot"
)

// Event flags, packed into events.flags.
const (
	flagStream    = 1 << 0
	flagCostKnown = 1 << 1
	flagEstimated = 1 << 2
)

// eventColumns are the events columns Append writes, in order.
const eventColumns = `id, t, attr, session, status, flags, latency_us, ttft_us, request_bytes, max_tokens, messages,
system_fp, request_fp, input, cache_read, cache_write_5m, cache_write_1h, output, reasoning, cost_nano`

// eventColumnCount is the number of eventColumns.
const eventColumnCount = 20

// eventSelect reads events (e) joined with their attrs (a) in eventRow order.
const eventSelect = `e.id, e.t, a.org, a.team, a.usr, a.key_id, a.key_label, a.role, a.provider, a.req_model, a.served_model,
a.route, a.task, e.session, a.app, a.source,
e.status, e.flags, e.latency_us, e.ttft_us, e.request_bytes, e.max_tokens, e.messages, e.system_fp, e.request_fp,
e.input, e.cache_read, e.cache_write_5m, e.cache_write_1h, e.output, e.reasoning, e.cost_nano`

// encodeID stores an idempotency id compactly: 32 lowercase hex characters
// (the gateway's form) become their 16 bytes, anything else stays text.
// Blob and text never compare equal in SQLite, so the two forms cannot
// collide.
func encodeID(id string) any {
	if len(id) != 32 {
		return id
	}
	var b [16]byte
	for i := 0; i < 32; i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return id
		}
	}
	if _, err := hex.Decode(b[:], []byte(id)); err != nil {
		return id
	}
	return b[:]
}

// decodeID reverses encodeID.
func decodeID(v any) string {
	switch v := v.(type) {
	case []byte:
		if len(v) == 16 {
			return hex.EncodeToString(v)
		}
		return string(v)
	case string:
		return v
	}
	return ""
}

// eventFlags packs e's booleans.
func eventFlags(e *allot.Event) int64 {
	var f int64
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

// appendEventArgs appends e's column values, in eventColumns order.
func appendEventArgs(args []any, e *allot.Event, ref eventRef) []any {
	return append(args, encodeID(e.ID), e.Time.UnixMicro(), ref.attr, ref.session,
		int64(e.Status), eventFlags(e), e.Latency.Microseconds(), e.TTFT.Microseconds(), e.RequestBytes, e.MaxTokens,
		int64(e.Messages), int64(e.SystemFP), int64(e.RequestFP),
		e.Tokens.Input, e.Tokens.CacheRead, e.Tokens.CacheWrite5m, e.Tokens.CacheWrite1h, e.Tokens.Output, e.Tokens.Reasoning,
		int64(e.Cost))
}

// eventRow is an events row as scanned, before its strings are looked up.
type eventRow struct {
	id                                                any
	t                                                 int64
	strs                                              [14]int64
	status, flags, latency, ttft, reqBytes, maxTokens int64
	messages, systemFP, requestFP                     int64
	input, cacheRead, cw5m, cw1h, output, reasoning   int64
	cost                                              int64
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

// event builds the Event of r given its strings, in eventStrings order.
func (r *eventRow) event(s []string) allot.Event {
	return allot.Event{
		ID:   decodeID(r.id),
		Time: time.UnixMicro(r.t).UTC(),
		Principal: allot.Principal{
			Org: s[0], Team: s[1], User: s[2], KeyID: s[3], KeyLabel: s[4], Role: allot.Role(s[5]),
		},
		Provider:       s[6],
		RequestedModel: s[7],
		ServedModel:    s[8],
		Route:          allot.Route(s[9]),
		Task:           s[10],
		Session:        s[11],
		App:            s[12],
		Source:         allot.Source(s[13]),
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

// events builds the Events of raw, naming all their strings in one read.
func (db *DB) events(ctx context.Context, raw []eventRow) ([]allot.Event, error) {
	ids := make([]int64, 0, len(raw)*len(eventRow{}.strs))
	for i := range raw {
		ids = append(ids, raw[i].strs[:]...)
	}
	names, err := db.dict.names(ctx, db.r, ids...)
	if err != nil {
		return nil, err
	}
	out := make([]allot.Event, len(raw))
	n := len(eventRow{}.strs)
	for i := range raw {
		out[i] = raw[i].event(names[i*n : (i+1)*n])
	}
	return out, nil
}
