package rollup

import (
	"math/rand/v2"
	"testing"
)

// SessionTable sums exactly as a map keyed by (attribution, session)
// does, in the same first-seen order, for dense and huge session ids,
// merged and followed, and again after a reset.
func TestSessionTableSumsAsAMapDoes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		sessions []int64 // the session ids to draw from
		dense    bool
	}{
		{"dense", []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, true},
		{"beyond the table", []int64{1, 2, 5000, 1 << 40}, true},
		{"beyond the dense range", []int64{MaxDenseSession, MaxDenseSession + 1, 3}, true},
		{"sparse", []int64{1, 2, 5000, 1 << 40, MaxDenseSession}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(1, 2))
			table := NewSessionTable(100, 0, tc.dense)
			for round := range 3 {
				table.Reset()
				want := NewCallSums[[2]int64]()
				for i := range 500 {
					attr, session := int64(1+rng.IntN(4)), tc.sessions[rng.IntN(len(tc.sessions))]
					var v Calls
					for c := range v {
						v[c] = rng.Int64N(1000)
					}
					v[FirstUS], v[LastUS] = int64(i*10), int64(i*10+5)
					follows := rng.IntN(2) == 0
					table.Add(attr, session, &v, follows)
					want.Add([2]int64{attr, session}, &v, follows)
				}
				if len(table.Vals) != len(want.Vals) {
					t.Fatalf("round %d: %d entries, want %d", round, len(table.Vals), len(want.Vals))
				}
				for i, k := range want.Keys {
					if table.Attr[i] != k[0] || table.Sess[i] != k[1] || table.Vals[i] != want.Vals[i] {
						t.Fatalf("round %d entry %d: (%d, %d) %v, want (%d, %d) %v", round, i, table.Attr[i], table.Sess[i], table.Vals[i], k[0], k[1], want.Vals[i])
					}
				}
			}
		})
	}
}
