package rollup

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/internal/rollupcache"
	"github.com/allot-dev/allot/internal/storetest"
)

// memSource is a ReportSource over events held in memory, with no
// database: it folds them by ReportFold and hands them out as units the
// way a store may (hours, days, days less subtracted hours, groups it
// summed itself), so the rules of Report are tested on their own.
type memSource struct {
	events []allot.Event
	attrs  []ReportAttr     // by attribution id - 1
	ids    map[string]int64 // dict
	names  map[int64]string
	layout string // "hours", "days" (day units less subtracted hours) or "open" (every hour summed by the store)
	hidden bool   // the attribution cache starts empty: ReportRefresh must fill it
	cache  *rollupcache.Cache
}

func newMemSource(events []allot.Event, layout string) *memSource {
	s := &memSource{events: events, ids: map[string]int64{}, names: map[int64]string{}, layout: layout, cache: rollupcache.New(1 << 20)}
	for i := range events {
		e := &events[i]
		a := ReportAttr{s.id(e.Team), s.id(e.User), s.id(e.Provider), s.id(e.ServedModel), s.id(e.Task), s.id(e.App)}
		if !slices.Contains(s.attrs, a) {
			s.attrs = append(s.attrs, a)
		}
	}
	return s
}

func (s *memSource) id(v string) int64 {
	if id, ok := s.ids[v]; ok {
		return id
	}
	id := int64(len(s.ids) + 1)
	s.ids[v], s.names[id] = id, v
	return id
}

func (s *memSource) attrOf(e *allot.Event) int64 {
	a := ReportAttr{s.ids[e.Team], s.ids[e.User], s.ids[e.Provider], s.ids[e.ServedModel], s.ids[e.Task], s.ids[e.App]}
	return int64(slices.Index(s.attrs, a) + 1)
}

func (s *memSource) ReportLookup(_ context.Context, v string) (int64, bool, error) {
	id, ok := s.ids[v]
	return id, ok, nil
}

func (s *memSource) ReportAttrs(fn func(func(int32) (ReportAttr, bool), int64)) {
	fn(func(id int32) (ReportAttr, bool) {
		if s.hidden || id < 1 || int(id) > len(s.attrs) {
			return ReportAttr{}, false
		}
		return s.attrs[id-1], true
	}, int64(len(s.attrs)))
}

func (s *memSource) ReportRefresh(context.Context, []int32) error { s.hidden = false; return nil }

func (s *memSource) ReportNames(_ context.Context, ids []int64) (map[int64]string, error) {
	out := map[int64]string{}
	for _, id := range ids {
		out[id] = s.names[id]
	}
	return out, nil
}

// block is the block of the events whose hour is in [lo, hi), per
// attribution, or summed into attribution 0 for HourTotal.
func (s *memSource) block(lo, hi int64, kind rollupcache.Kind) *rollupcache.Block {
	var in []allot.Event
	var attrs []int64
	for i := range s.events {
		if h := ReportHourOf(&s.events[i]); h >= lo && h < hi {
			in = append(in, s.events[i])
			a := s.attrOf(&s.events[i])
			if kind == rollupcache.HourTotal {
				a = 0
			}
			attrs = append(attrs, a)
		}
	}
	rows := ReportFold(in, attrs)
	byAttr := map[int64]*rollupcache.Sums{}
	var bb rollupcache.Builder
	for i, k := range rows.Keys {
		if byAttr[k.Attr] == nil {
			byAttr[k.Attr] = &rollupcache.Sums{}
		}
		ReportMerge(byAttr[k.Attr], &rows.Sums[i])
	}
	for a, sums := range byAttr {
		bb.Add(a, sums)
	}
	b, err := bb.Build()
	if err != nil {
		panic(err)
	}
	return b
}

func (s *memSource) ReportScan(ctx context.Context, scan *ReportScan) error {
	var units []ReportUnit
	for h := scan.From; h < scan.To; {
		switch {
		case s.layout == "days" && !scan.ByHour && h%24 == 0 && h+24 <= scan.To+12:
			day := h / 24
			units = append(units, ReportUnit{Key: rollupcache.Key{Kind: rollupcache.Day, N: day}, Version: 1})
			for x := h; x < h+24; x++ {
				if x >= scan.To {
					units = append(units, ReportUnit{Key: rollupcache.Key{Kind: scan.HourKind(), N: x}, Version: 1, Subtract: true})
				}
			}
			h += 24
		case s.layout == "open":
			rows := ReportFold(s.events, s.attrIDs())
			for i, k := range rows.Keys {
				if k.Hour != h {
					continue
				}
				a := s.attrs[k.Attr-1]
				keep := true
				for _, f := range scan.Filter {
					keep = keep && a[f.Pos] == f.ID
				}
				if !keep {
					continue
				}
				o := ReportOpen{Bucket: scan.Bucket(rollupcache.Key{Kind: rollupcache.Hour, N: h}), Sums: rows.Sums[i]}
				for j, p := range scan.Dims {
					if p >= 0 {
						o.Key[j] = a[p]
					}
				}
				scan.Open = append(scan.Open, o)
			}
			h++
		default:
			units = append(units, ReportUnit{Key: rollupcache.Key{Kind: scan.HourKind(), N: h}, Version: 1})
			h++
		}
	}
	var err error
	scan.Units, err = ReportFill(ctx, s.cache, units, scan.TimeOnly, func(units []ReportUnit, skip map[rollupcache.Key]chan struct{}) ([]ReportUnit, error) {
		for i := range units {
			u := &units[i]
			if _, ok := skip[u.Key]; ok || u.Block != nil {
				continue
			}
			lo, hi := u.Key.N, u.Key.N+1
			if u.Key.Kind == rollupcache.Day {
				lo, hi = u.Key.N*24, u.Key.N*24+24
			}
			u.Block = s.block(lo, hi, u.Key.Kind)
			s.cache.Put(u.Key, u.Version, u.Block)
		}
		return units, nil
	})
	return err
}

// attrIDs are the attribution ids of the events.
func (s *memSource) attrIDs() []int64 {
	out := make([]int64, len(s.events))
	for i := range s.events {
		out[i] = s.attrOf(&s.events[i])
	}
	return out
}

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// testEvents are three days of calls by four people in two teams on two
// models, one of them huge enough to saturate every sum it meets.
func testEvents(huge bool) []allot.Event {
	var out []allot.Event
	for i := range 300 {
		e := allot.Event{
			ID: fmt.Sprint(i), Time: t0.Add(time.Duration(i) * 14 * time.Minute),
			Principal: allot.Principal{Team: []string{"a", "b"}[i%2], User: []string{"ann", "bob", "cy", "di"}[i%4]},
			Provider:  "p", ServedModel: []string{"m1", "m2"}[i%3%2], Task: "t", App: "x",
			Tokens: allot.Tokens{Input: int64(100 + i), CacheRead: int64(i % 7), Output: int64(10 + i%5), Reasoning: int64(i % 3)},
			Cost:   allot.Money(1000 + i*13), CostKnown: i%11 != 0, Estimated: i%17 == 0,
		}
		if huge && i%50 == 7 {
			e.Tokens.Input, e.Cost = math.MaxInt64/2, allot.MaxMoney/2
		}
		out = append(out, e)
	}
	return out
}

// TestReportEqualsEventSums checks Report against the sums of the events,
// however the store cuts the range into units, including sums saturated
// at allot.MaxMoney.
func TestReportEqualsEventSums(t *testing.T) {
	t.Parallel()
	queries := []allot.ReportQuery{
		{From: t0, To: t0.Add(72 * time.Hour)},
		{By: []allot.Dimension{allot.DimUser, allot.DimDay}, From: t0, To: t0.Add(72 * time.Hour)},
		{By: []allot.Dimension{allot.DimTeam, allot.DimModel}, From: t0.Add(5*time.Hour + 30*time.Minute), To: t0.Add(53*time.Hour + 10*time.Minute)},
		{By: []allot.Dimension{allot.DimHour}, From: t0.Add(3 * time.Hour), To: t0.Add(30 * time.Hour)},
		{By: []allot.Dimension{allot.DimDay, allot.DimHour, allot.DimUser}, From: t0, To: t0.Add(50 * time.Hour)},
		{By: []allot.Dimension{allot.DimModel}, From: t0, To: t0.Add(72 * time.Hour), Filter: map[allot.Dimension]string{allot.DimTeam: "a"}},
		{From: t0, To: t0.Add(72 * time.Hour), Filter: map[allot.Dimension]string{allot.DimUser: "nobody"}},
		{By: []allot.Dimension{allot.DimApp, allot.DimProvider, allot.DimTask}, From: t0, To: t0.Add(40 * time.Hour)},
	}
	for _, huge := range []bool{false, true} {
		for _, layout := range []string{"hours", "days", "open"} {
			for _, q := range queries {
				t.Run(fmt.Sprint(huge, layout, q.By, q.Filter, q.From.Sub(t0), q.To.Sub(t0)), func(t *testing.T) {
					events := testEvents(huge)
					src := newMemSource(events, layout)
					src.hidden = true // the first sum meets unknown attributions
					got, err := Report(context.Background(), src, q)
					if err != nil {
						t.Fatal(err)
					}
					if want := storetest.ExpectedReport(events, q); !reflect.DeepEqual(got, want) {
						t.Errorf("got %d rows %v\nwant %d rows %v", len(got), head(got), len(want), head(want))
					}
				})
			}
		}
	}
}

func head(r []allot.ReportRow) []allot.ReportRow { return r[:min(len(r), 3)] }

func TestReportRejectsInvalidQueries(t *testing.T) {
	t.Parallel()
	src := newMemSource(testEvents(false), "hours")
	for _, q := range []allot.ReportQuery{
		{By: []allot.Dimension{"color"}, From: t0, To: t0.Add(time.Hour)},
		{From: t0, To: t0.Add(time.Hour), Filter: map[allot.Dimension]string{allot.DimDay: "2026-03-02"}},
		{By: slices.Repeat([]allot.Dimension{allot.DimUser}, 9), From: t0, To: t0.Add(time.Hour)},
		{From: t0.Add(time.Hour), To: t0},
	} {
		if _, err := Report(context.Background(), src, q); allot.CodeOf(err) != allot.EInvalid {
			t.Errorf("Report(%v) = %v, want EInvalid", q, err)
		}
	}
}

// TestReportFoldSaturates: the fold of events into rollup rows saturates
// every sum at the int64 range (allot.MaxMoney for costs) and counts
// requests, estimated and unpriced calls.
func TestReportFoldSaturates(t *testing.T) {
	t.Parallel()
	big := allot.Event{Time: t0, Tokens: allot.Tokens{Input: math.MaxInt64, Output: math.MaxInt64}, Cost: allot.MaxMoney, Estimated: true}
	small := allot.Event{Time: t0.Add(time.Minute), Tokens: allot.Tokens{Input: 5, Output: 1}, Cost: 7, CostKnown: true}
	other := allot.Event{Time: t0.Add(time.Hour), Cost: 3, CostKnown: true}
	r := ReportFold([]allot.Event{big, small, other, small}, []int64{1, 1, 1, 2})
	want := []ReportHour{{ReportHourOf(&big), 1}, {ReportHourOf(&big) + 1, 1}, {ReportHourOf(&big), 2}}
	if !reflect.DeepEqual(r.Keys, want) {
		t.Fatalf("keys %v, want %v", r.Keys, want)
	}
	s := r.Sums[0]
	if s[rollupcache.Requests] != 2 || s[rollupcache.Input] != math.MaxInt64 || s[rollupcache.Output] != math.MaxInt64 ||
		s[rollupcache.Cost] != int64(allot.MaxMoney) || s[rollupcache.Estimated] != 1 || s[rollupcache.UnknownCost] != 1 {
		t.Errorf("saturated row = %v", s)
	}
	ReportMerge(&s, &r.Sums[2])
	if s[rollupcache.Cost] != int64(allot.MaxMoney) || s[rollupcache.Requests] != 3 {
		t.Errorf("merged = %v", s)
	}
}
