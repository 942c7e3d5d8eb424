package insights

import (
	"testing"

	"github.com/allot-dev/allot"
)

// TestSessionSetKeepsEveryRow: rows are kept in blocks; every row reads
// back as added, across block boundaries, with its key.
func TestSessionSetKeepsEveryRow(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, sessionBlock, sessionBlock + 1, 3*sessionBlock + 5} {
		ss := newSessionSet()
		keys := []allot.InsightKey{{User: "ana", Task: "code"}, {User: "bo", Task: "review"}}
		for i := range n {
			s := allot.SessionUsage{InsightKey: keys[i%2], Requests: int64(i), Tokens: allot.Tokens{Input: int64(i), Output: 1}, Cost: allot.Money(i)}
			ss.add(i%2, &s)
		}
		if ss.n != n {
			t.Fatalf("%d sessions added: %d kept", n, ss.n)
		}
		for i := range n {
			r := ss.row(i)
			if r.requests != int64(i) || r.tokens != int64(i)+1 || r.cost != allot.Money(i) || ss.keys[r.key] != keys[i%2] {
				t.Fatalf("%d sessions: row %d is %+v (key %v)", n, i, *r, ss.keys[r.key])
			}
		}
	}
}
