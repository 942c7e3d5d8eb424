package rollupcache

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// build makes a block of the entries given, or fails the test.
func build(t *testing.T, attrs []int64, sums []Sums) *Block {
	t.Helper()
	var bb Builder
	for i := range attrs {
		bb.Add(attrs[i], &sums[i])
	}
	b, err := bb.Build()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Blocks keep each column as narrow as its values allow, and give back
// exactly what went in.
func TestBlockColumns(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		values   []int64 // of column Cost, one per entry
		i32, i64 bool
	}{
		{"all zero", []int64{0, 0, 0}, false, false},
		{"small", []int64{1, -7, math.MaxInt32}, true, false},
		{"negative edge", []int64{math.MinInt32, 0, 5}, true, false},
		{"wide", []int64{1, math.MaxInt32 + 1, 2}, false, true},
		{"wide negative", []int64{math.MinInt32 - 1, 0, 0}, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			attrs := []int64{3, 9, 40}
			sums := make([]Sums, len(attrs))
			for i, v := range c.values {
				sums[i][Cost] = v
				sums[i][Requests] = int64(i + 1)
			}
			b := build(t, attrs, sums)
			if got := b.cols[Cost]; (got.i32 != nil) != c.i32 || (got.i64 != nil) != c.i64 {
				t.Errorf("cost column: i32 %v i64 %v, want %v %v", got.i32 != nil, got.i64 != nil, c.i32, c.i64)
			}
			if col := b.cols[Output]; col.i32 != nil || col.i64 != nil {
				t.Error("an all-zero column is kept")
			}
			if !slices.Equal(b.Attrs(), []int32{3, 9, 40}) {
				t.Errorf("attrs %v", b.Attrs())
			}
			// One group per entry gives the entries back.
			out := make([]Sums, len(attrs))
			AddTo(b, out, []int32{0, 1, 2})
			if !slices.Equal(out, sums) {
				t.Errorf("AddTo gave %v, want %v", out, sums)
			}
		})
	}
}

// AddTo sums entries into their groups and skips those filtered out,
// AddEntries sums the entries named, AddAll all entries into one, and
// SubtractFrom takes them away again; all work on any array type of the
// same shape.
func TestAddTo(t *testing.T) {
	t.Parallel()
	type storeSums [NumSums]int64
	b := build(t, []int64{1, 2, 3, 4}, []Sums{{Requests: 1, Cost: 10}, {Requests: 2, Cost: 1 << 40}, {Requests: 4, Cost: 30}, {Requests: 8, Cost: 40}})
	cur := make([]storeSums, 2)
	AddTo(b, cur, []int32{0, 1, -1, 1})
	want := []storeSums{{Requests: 1, Cost: 10}, {Requests: 10, Cost: 1<<40 + 40}}
	if !slices.Equal(cur, want) {
		t.Errorf("got %v, want %v", cur, want)
	}
	some := make([]storeSums, 2)
	AddEntries(b, some, []int32{0, 1, -1, 1}, []int32{1, 3})
	if want := []storeSums{{}, {Requests: 10, Cost: 1<<40 + 40}}; !slices.Equal(some, want) {
		t.Errorf("AddEntries: got %v, want %v", some, want)
	}
	var all storeSums
	AddAll(b, &all)
	if want := (storeSums{Requests: 15, Cost: 1<<40 + 80}); all != want {
		t.Errorf("AddAll: got %v, want %v", all, want)
	}
	SubtractFrom(b, cur, []int32{1, -1, 0, 0})
	want = []storeSums{{Requests: 1 - 4 - 8, Cost: 10 - 30 - 40}, {Requests: 10 - 1, Cost: 1<<40 + 40 - 10}}
	if !slices.Equal(cur, want) {
		t.Errorf("after SubtractFrom: got %v, want %v", cur, want)
	}
}

// Sums of huge values saturate at the int64 range, whichever way they are
// added, and a block that holds a sum at the bound says so: subtracting
// from it would not give the rest.
func TestSumsSaturate(t *testing.T) {
	t.Parallel()
	const max = math.MaxInt64
	huge := build(t, []int64{1, 2, 3}, []Sums{{Requests: 1, Cost: max, Input: 1e15}, {Requests: 1, Cost: max - 5, Input: max}, {Requests: 1, Cost: 7, Input: 1e15}})
	small := build(t, []int64{1, 2}, []Sums{{Requests: 1, Cost: 5}, {Requests: 1, Cost: 1 << 40}})
	if !huge.Saturated() || small.Saturated() {
		t.Errorf("Saturated: huge %v, small %v; want true, false", huge.Saturated(), small.Saturated())
	}
	want := Sums{Requests: 3, Cost: max, Input: max}
	one := make([]Sums, 1)
	AddTo(huge, one, []int32{0, 0, 0})
	AddTo(huge, one, []int32{0, 0, 0}) // twice: the sum stays at the bound
	want[Requests] = 6
	if one[0] != want {
		t.Errorf("AddTo: got %v, want %v", one[0], want)
	}
	some := make([]Sums, 1)
	AddEntries(huge, some, []int32{0, 0, 0}, []int32{0, 1, 2})
	if want[Requests] = 3; some[0] != want {
		t.Errorf("AddEntries: got %v, want %v", some[0], want)
	}
	var all Sums
	AddAll(huge, &all)
	AddAll(huge, &all)
	if want[Requests] = 6; all != want {
		t.Errorf("AddAll: got %v, want %v", all, want)
	}
	neg := []Sums{{Cost: -max + 3}}
	SubtractFrom(huge, neg, []int32{0, 0, 0})
	if neg[0][Cost] != math.MinInt64 || neg[0][Input] != math.MinInt64 {
		t.Errorf("SubtractFrom: got %v, want the negative bound", neg[0])
	}
}

// A builder refuses ids a block cannot hold, and starts over after each
// Build either way.
func TestBuilderRange(t *testing.T) {
	t.Parallel()
	for _, id := range []int64{-1, math.MaxInt32 + 1} {
		var bb Builder
		bb.Add(id, &Sums{1})
		if _, err := bb.Build(); err == nil {
			t.Errorf("id %d: no error", id)
		}
		if bb.Len() != 0 {
			t.Errorf("id %d: %d entries left after Build", id, bb.Len())
		}
		b, err := bb.Build()
		if err != nil || len(b.Attrs()) != 0 {
			t.Errorf("empty build after an error: %v, %v", b, err)
		}
	}
}

// Entries may be added in any order: the block holds them by attribution.
// An attribution added twice is an error.
func TestBuilderSorts(t *testing.T) {
	t.Parallel()
	b := build(t, []int64{7, 2, 5}, []Sums{{Requests: 7}, {Requests: 2}, {Requests: 5, Cost: 1 << 33}})
	if !slices.Equal(b.Attrs(), []int32{2, 5, 7}) {
		t.Fatalf("attrs %v", b.Attrs())
	}
	out := make([]Sums, 3)
	AddTo(b, out, []int32{0, 1, 2})
	if want := []Sums{{Requests: 2}, {Requests: 5, Cost: 1 << 33}, {Requests: 7}}; !slices.Equal(out, want) {
		t.Errorf("got %v, want %v", out, want)
	}
	var bb Builder
	for _, a := range []int64{4, 1, 4} {
		bb.Add(a, &Sums{})
	}
	if _, err := bb.Build(); err == nil {
		t.Error("an attribution added twice built")
	}
}

// The cache gives a block back at its version only, never goes back to an
// older version, and drops the least recently used blocks over its limit.
func TestCacheVersionsAndEviction(t *testing.T) {
	t.Parallel()
	one := build(t, []int64{1}, []Sums{{Requests: 1}})
	size := one.Bytes() + entryOverhead
	c := New(4 * size) // a block may take a quarter of the limit
	k := func(n int64) Key { return Key{Kind: Day, N: n} }

	c.Put(k(1), 5, one)
	if c.Get(k(1), 5) != one || c.Get(k(1), 4) != nil || c.Get(k(1), 6) != nil || c.Get(Key{Kind: Hour, N: 1}, 5) != nil {
		t.Fatal("Get does not match on kind, unit and version")
	}
	other := build(t, []int64{2}, []Sums{{Requests: 2}})
	c.Put(k(1), 4, other) // older: ignored
	if c.Get(k(1), 5) != one {
		t.Error("an older version replaced a newer one")
	}
	c.Put(k(1), 7, other)
	if c.Get(k(1), 7) != other || c.Get(k(1), 5) != nil {
		t.Error("a newer version did not replace the older one")
	}

	for n := int64(2); n <= 4; n++ {
		c.Put(k(n), 1, one)
	}
	c.Get(k(1), 7) // 2 is now the least recently used
	c.Put(k(5), 1, one)
	if c.Get(k(2), 1) != nil {
		t.Error("the least recently used block was kept")
	}
	for _, n := range []int64{1, 3, 4, 5} {
		if c.Get(k(n), 1) == nil && c.Get(k(n), 7) == nil {
			t.Errorf("block %d was dropped", n)
		}
	}
	if c.Bytes() > c.Limit() {
		t.Errorf("holds %d bytes, over the limit %d", c.Bytes(), c.Limit())
	}

	ids := make([]int64, 64)
	for i := range ids {
		ids[i] = int64(i)
	}
	big := build(t, ids, make([]Sums, 64))
	c.Put(k(9), 1, big)
	if c.Get(k(9), 1) != nil {
		t.Error("a block over a quarter of the limit was kept")
	}
	c.Clear()
	if c.Bytes() != 0 || c.Get(k(1), 7) != nil {
		t.Error("Clear kept blocks")
	}
}

// Concurrent loaders of the same units load each once: Claim gives each
// key to one caller and has the others wait for its Release.
func TestCacheClaim(t *testing.T) {
	t.Parallel()
	c := New(1 << 20)
	keys := []Key{{Kind: Day, N: 1}, {Kind: Hour, N: 24}, {Kind: HourTotal, N: 25}}
	var loads atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			var missing []Key
			for _, k := range keys {
				if c.Get(k, 1) == nil {
					missing = append(missing, k)
				}
			}
			mine, others := c.Claim(missing)
			for _, k := range mine {
				if c.Get(k, 1) == nil { // loaded by another caller meanwhile
					loads.Add(1)
					c.Put(k, 1, build(t, []int64{k.N}, []Sums{{Requests: 1}}))
				}
			}
			c.Release(mine)
			for _, ch := range others {
				<-ch
			}
			for _, k := range keys {
				if c.Get(k, 1) == nil {
					t.Errorf("%v missing after its load", k)
				}
			}
		})
	}
	wg.Wait()
	if n := loads.Load(); n != int64(len(keys)) {
		t.Errorf("%d loads, want %d", n, len(keys))
	}
}

// An hour's total may be served by the hour's full block at the same
// version, but only to a report summing over every attribution.
func TestFindServesTotalsFromFullHours(t *testing.T) {
	t.Parallel()
	c := New(1 << 20)
	full := build(t, []int64{1, 2}, []Sums{{Requests: 1}, {Requests: 2}})
	c.Put(Key{Kind: Hour, N: 7}, 3, full)
	for _, tc := range []struct {
		name     string
		k        Key
		v        int64
		timeOnly bool
		want     *Block
	}{
		{"the hour itself", Key{Kind: Hour, N: 7}, 3, false, full},
		{"its total, for a time-only report", Key{Kind: HourTotal, N: 7}, 3, true, full},
		{"its total, for a grouped report", Key{Kind: HourTotal, N: 7}, 3, false, nil},
		{"its total at another version", Key{Kind: HourTotal, N: 7}, 4, true, nil},
		{"another hour", Key{Kind: HourTotal, N: 8}, 3, true, nil},
	} {
		if got := c.Find(tc.k, tc.v, tc.timeOnly); got != tc.want {
			t.Errorf("%s: got %p, want %p", tc.name, got, tc.want)
		}
	}
}
