package periodcache

import "testing"

// TestCacheKeepsByRangeAndVersions: a value is found only for its range at
// its versions, a newer one replaces it, and the least recently used go
// past Keep.
func TestCacheKeepsByRangeAndVersions(t *testing.T) {
	t.Parallel()
	c := &Cache[string]{Keep: 2}
	c.Put(10, 40, []int64{1, 2}, "a")
	tests := []struct {
		name     string
		from, to int64
		versions []int64
		want     string
		ok       bool
	}{
		{"same range and versions", 10, 40, []int64{1, 2}, "a", true},
		{"a day changed", 10, 40, []int64{1, 3}, "", false},
		{"another range", 10, 41, []int64{1, 2}, "", false},
		{"no versions", 10, 40, nil, "", false},
	}
	for _, tt := range tests {
		if got, ok := c.Get(tt.from, tt.to, tt.versions); got != tt.want || ok != tt.ok {
			t.Errorf("%s: Get = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
	if c.Hits() != 1 {
		t.Errorf("%d hits, want 1", c.Hits())
	}
	c.Put(10, 40, []int64{1, 3}, "b") // the same range, summed again
	if _, ok := c.Get(10, 40, []int64{1, 2}); ok || c.Len() != 1 {
		t.Errorf("the old value of a range summed again is still kept (%d kept)", c.Len())
	}
	c.Put(0, 30, nil, "c")
	c.Get(10, 40, []int64{1, 3}) // used last: kept over (0, 30)
	c.Put(5, 35, nil, "d")
	if _, ok := c.Get(0, 30, nil); ok || c.Len() != 2 {
		t.Errorf("the least recently used value is still kept past Keep (%d kept)", c.Len())
	}
	if got, ok := c.Get(10, 40, []int64{1, 3}); !ok || got != "b" {
		t.Errorf("the most recently used value went: %q, %v", got, ok)
	}
}
