package sqlite

import (
	"context"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

func TestAppendIsIdempotent(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	evs := genEvents(7, 300, start, 6*time.Hour, smallWorld)
	dup := append(append([]allot.Event{}, evs[:10]...), evs[:10]...)
	dup[12].Cost = 999 // a repeat carrying other values is still a repeat: the first wins
	tests := []struct {
		name    string
		batches [][]allot.Event
		counts  []int
		stored  []allot.Event
	}{
		{"same batch twice", [][]allot.Event{evs, evs}, []int{300, 0}, evs},
		{"overlapping batches", [][]allot.Event{evs[:200], evs[100:]}, []int{200, 100}, evs},
		{"duplicate ids inside one batch", [][]allot.Event{dup}, []int{10}, evs[:10]},
		{"larger than one statement", [][]allot.Event{genEvents(8, 1500, start, time.Hour, smallWorld)}, []int{1500}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := openTest(t)
			for i, b := range tt.batches {
				if n := mustAppend(t, db, b); n != tt.counts[i] {
					t.Errorf("batch %d: Append counted %d, want %d", i, n, tt.counts[i])
				}
			}
			want := tt.stored
			if want == nil {
				want = tt.batches[0]
			}
			got, err := db.Events(context.Background(), start.Add(-time.Hour), start.Add(24*time.Hour), 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("stored %d events, want %d", len(got), len(want))
			}
			assertReportMatches(t, db, want, allot.ReportQuery{By: []allot.Dimension{allot.DimUser}, From: start.Add(-time.Hour), To: start.Add(24 * time.Hour)})
		})
	}
}

func TestEventsRoundTripEveryField(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	at := time.Date(2026, 3, 2, 9, 30, 15, 123456000, time.UTC)
	full := allot.Event{
		ID:   "0123456789abcdef0123456789abcdef",
		Time: at,
		Principal: allot.Principal{
			Org: "acme", Team: "platform", User: "alice", KeyID: "kabcdefgh", KeyLabel: "laptop ✓", Role: allot.RoleLead,
		},
		Provider: "anthropic", RequestedModel: "claude-sonnet", ServedModel: "claude-sonnet-4-5-20250929",
		Route: allot.RouteMessages, Task: "review", Session: "sess-42", App: "claude-cli", Source: allot.SourceOTLP,
		Status: allot.StatusClientGone, Stream: true, Latency: 12345678 * time.Microsecond, TTFT: 987 * time.Microsecond,
		RequestBytes: 1 << 40, MaxTokens: 64000, Messages: 17, SystemFP: math.MaxUint64, RequestFP: 1 << 63,
		Tokens:    allot.Tokens{Input: 120000, CacheRead: 100000, CacheWrite5m: 5000, CacheWrite1h: 7000, Output: 3000, Reasoning: 1200},
		Cost:      allot.MustUSD("1.234567891"),
		CostKnown: true, Estimated: true,
	}
	zero := allot.Event{ID: "x", Time: at.Add(time.Microsecond)}
	upperHex := full
	upperHex.ID = "0123456789ABCDEF0123456789ABCDEF" // not the canonical form: kept as text, not folded into the lower-case id
	upperHex.Time = at.Add(2 * time.Microsecond)
	uuid := full
	uuid.ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
	uuid.Time = at.Add(3 * time.Microsecond)
	uuid.Cost, uuid.CostKnown, uuid.Stream, uuid.Estimated = -5, false, false, false
	uuid.SystemFP, uuid.RequestFP = 0, 1

	in := []allot.Event{full, zero, upperHex, uuid}
	if n := mustAppend(t, db, in); n != len(in) {
		t.Fatalf("Append counted %d, want %d", n, len(in))
	}
	got, err := db.Events(context.Background(), at, at.Add(time.Second), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("got %d events, want %d", len(got), len(in))
	}
	for i := range in {
		if !reflect.DeepEqual(got[i], in[i]) {
			t.Errorf("event %d round trip:\n got %+v\nwant %+v", i, got[i], in[i])
		}
	}
}

func TestEventsRangeIsHalfOpenOldestFirst(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	base := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	var evs []allot.Event
	for i, d := range []time.Duration{3 * time.Second, 0, time.Second, 2 * time.Second, -time.Microsecond} {
		evs = append(evs, allot.Event{ID: string(rune('a' + i)), Time: base.Add(d)})
	}
	mustAppend(t, db, evs)
	tests := []struct {
		name     string
		from, to time.Time
		limit    int
		want     []string
	}{
		{"from inclusive, to exclusive", base, base.Add(3 * time.Second), 0, []string{"b", "c", "d"}},
		{"limit keeps the oldest", base.Add(-time.Hour), base.Add(time.Hour), 2, []string{"e", "b"}},
		{"empty range", base.Add(time.Hour), base.Add(2 * time.Hour), 0, nil},
		{"to at an event excludes it", base.Add(-time.Microsecond), base, 0, []string{"e"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := db.Events(context.Background(), tt.from, tt.to, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, e := range got {
				ids = append(ids, e.ID)
			}
			if !reflect.DeepEqual(ids, tt.want) {
				t.Errorf("ids %v, want %v", ids, tt.want)
			}
		})
	}
}

func TestAppendRejectsEventWithoutID(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	_, err := db.Append(context.Background(), []allot.Event{{ID: "ok", Time: time.Now()}, {Time: time.Now()}})
	if allot.CodeOf(err) != allot.EInvalid {
		t.Fatalf("err %v, want EInvalid", err)
	}
	if evs, _ := db.Events(context.Background(), time.Unix(0, 0), time.Now().Add(time.Hour), 0); len(evs) != 0 {
		t.Errorf("a rejected batch stored %d events", len(evs))
	}
}

func TestUnpricedSumsEventsWithoutKnownCost(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	tok := allot.Tokens{Input: 100, CacheRead: 10, Output: 20, Reasoning: 5}
	evs := []allot.Event{
		{ID: "1", Time: t0, Provider: "openai", ServedModel: "gpt-new", Tokens: tok},
		{ID: "2", Time: t0.Add(time.Hour), Provider: "openai", ServedModel: "gpt-new", Tokens: tok},
		{ID: "3", Time: t0, Provider: "openai", RequestedModel: "mystery", Tokens: tok},
		{ID: "4", Time: t0, Provider: "openai", ServedModel: "gpt-4o", Tokens: tok, Cost: 5, CostKnown: true},
	}
	mustAppend(t, db, evs)
	mustAppend(t, db, evs) // repeats add nothing
	got, err := db.Unpriced(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []allot.UnpricedModel{
		{Provider: "openai", Model: "gpt-new", Requests: 2, Tokens: tok.Add(tok), LastSeen: t0.Add(time.Hour)},
		{Provider: "openai", Model: "mystery", Requests: 1, Tokens: tok, LastSeen: t0},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Unpriced:\n got %+v\nwant %+v", got, want)
	}
}

func FuzzEventID(f *testing.F) {
	for _, s := range []string{"", "x", "0123456789abcdef0123456789abcdef", "0123456789ABCDEF0123456789abcdef", "0123456789abcdef0123456789abcdeg"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		enc := encodeID(id)
		if got := decodeID(enc); got != id {
			t.Fatalf("decodeID(encodeID(%q)) = %q", id, got)
		}
		if b, ok := enc.([]byte); ok && len(b) != 16 {
			t.Fatalf("encodeID(%q) is a %d-byte blob", id, len(b))
		}
	})
}
