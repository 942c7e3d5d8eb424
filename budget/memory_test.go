package budget

import (
	"testing"
)

func TestMemoryCountersReserveIsAllOrNothing(t *testing.T) {
	t.Parallel()
	m := NewMemoryCounters()
	steps := []struct {
		name    string
		charges []Charge
		failed  int
	}{
		{"both fit", []Charge{{Key: "a", Amount: 6, Limit: 10}, {Key: "b", Amount: 6, Limit: 10}}, -1},
		{"b is full: nothing is added", []Charge{{Key: "a", Amount: 4, Limit: 10}, {Key: "b", Amount: 5, Limit: 10}}, 1},
		{"exactly the limit fits", []Charge{{Key: "a", Amount: 4, Limit: 10}, {Key: "b", Amount: 4, Limit: 10}}, -1},
		{"no limit never refuses", []Charge{{Key: "a", Amount: 100, Limit: NoLimit}}, -1},
		{"a is over", []Charge{{Key: "a", Amount: 1, Limit: 10}}, 0},
	}
	for _, s := range steps {
		failed, err := m.Reserve(ctx, s.charges)
		if err != nil || failed != s.failed {
			t.Fatalf("%s: Reserve = %d, %v; want %d", s.name, failed, err, s.failed)
		}
	}
	for key, want := range map[string]int64{"a": 110, "b": 10} {
		if _, reserved, _ := m.Read(ctx, key, 0, 1); reserved != want {
			t.Errorf("%s reserved %d, want %d", key, reserved, want)
		}
	}
	if _, err := m.Reserve(ctx, []Charge{{Key: "a", Amount: -1, Limit: 10}}); err == nil {
		t.Error("a negative amount was accepted")
	}
}

func TestMemoryCountersSettleAndRelease(t *testing.T) {
	t.Parallel()
	m := NewMemoryCounters()
	c := []Charge{{Key: "k", Bucket: 7, Amount: 10, Limit: 20}}
	m.Reserve(ctx, c)
	c[0].Actual = 4
	m.Settle(ctx, c)
	if spent, reserved, _ := m.Read(ctx, "k", 7, 1); spent != 4 || reserved != 0 || c[0].Spent != 4 {
		t.Fatalf("after settling less: spent %d reserved %d (charge says %d), want 4 0", spent, reserved, c[0].Spent)
	}
	m.Reserve(ctx, c)
	c[0].Actual = 25 // more than reserved: spend is truth
	m.Settle(ctx, c)
	if spent, _, _ := m.Read(ctx, "k", 7, 1); spent != 29 {
		t.Fatalf("after settling more: spent %d, want 29", spent)
	}
	if failed, _ := m.Reserve(ctx, []Charge{{Key: "k", Bucket: 7, Amount: 0, Limit: 20}}); failed != 0 {
		t.Error("a counter over its limit accepted even a zero charge")
	}
	m.Reserve(ctx, []Charge{{Key: "r", Amount: 5, Limit: 5}})
	m.Release(ctx, []Charge{{Key: "r", Amount: 5}})
	if spent, reserved, _ := m.Read(ctx, "r", 0, 1); spent != 0 || reserved != 0 {
		t.Errorf("after release spent %d reserved %d, want 0 0", spent, reserved)
	}
}

func TestMemoryCountersWindowsAndPruning(t *testing.T) {
	t.Parallel()
	m := NewMemoryCounters()
	// A window of three buckets with limit 3: one unit per bucket.
	for b := int64(100); b < 200; b++ {
		if failed, _ := m.Reserve(ctx, []Charge{{Key: "w", Bucket: b, Span: 3, Amount: 1, Limit: 3}}); failed != -1 {
			t.Fatalf("bucket %d refused with one unit per bucket", b)
		}
		if b < 102 {
			continue
		}
		if failed, _ := m.Reserve(ctx, []Charge{{Key: "w", Bucket: b, Span: 3, Amount: 1, Limit: 3}}); failed != 0 {
			t.Fatalf("bucket %d accepted a fourth unit in three buckets", b)
		}
	}
	if n := len(m.series["w"].cells); n > 2*3+2 {
		t.Errorf("%d cells kept for a window of 3, want old ones pruned", n)
	}
	if _, reserved, _ := m.Read(ctx, "w", 199, 3); reserved != 3 {
		t.Errorf("window sum %d, want 3", reserved)
	}
	m.AddSpent(ctx, []Charge{{Key: "s", Bucket: 1, Span: 2, Actual: 5}, {Key: "s", Bucket: 2, Span: 2, Actual: 6}})
	if spent, _, _ := m.Read(ctx, "s", 2, 2); spent != 11 {
		t.Errorf("AddSpent window sum %d, want 11", spent)
	}
}
