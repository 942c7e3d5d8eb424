package sqlite

import (
	"fmt"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// TestHourlyRollupsMatchEvents appends batches of a few sizes, each size
// several times (the first batch of a size writes its rollup rows with the
// small upserts prepared at Open, the next ones with its own), some
// repeating events already stored (only the stored ones are folded), and
// checks that rollups_hourly and the unpriced totals equal the events
// summed in SQL.
func TestHourlyRollupsMatchEvents(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		sizes   []int
		overlap int // events of the previous batch each batch repeats
	}{
		{"new events", []int{40, 40, 40, 7, 7, 7, 100, 100}, 0},
		{"with repeats", []int{40, 40, 40, 33, 33}, 10},
		{"larger than one statement", []int{1100, 1100}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := openTest(t)
			var all []allot.Event
			at := start
			for i, n := range tt.sizes {
				evs := genEvents(uint64(100+i), n, at, 90*time.Minute, smallWorld)
				for j := range evs {
					evs[j].ID = fmt.Sprintf("b%d-%d", i, j)
				}
				at = at.Add(40 * time.Minute) // batches share hours
				b := evs
				if tt.overlap > 0 && len(all) >= tt.overlap {
					b = append(append([]allot.Event{}, all[len(all)-tt.overlap:]...), evs...)
				}
				if got := mustAppend(t, db, b); got != len(evs) {
					t.Fatalf("batch %d stored %d, want %d", i, got, len(evs))
				}
				all = append(all, evs...)
			}
			for _, q := range []string{
				`SELECT hour, attr, ` + sumColumns + ` FROM rollups_hourly EXCEPT ` + fmt.Sprintf(`SELECT t / %d, attr, count(*), sum(input), sum(cache_read), sum(cache_write_5m), sum(cache_write_1h), sum(output),
					sum(reasoning), sum(flags & 4 != 0), sum(cost_nano), sum(flags & 2 = 0) FROM events GROUP BY 1, 2`, usPerHour),
				fmt.Sprintf(`SELECT t / %d, attr, count(*), sum(input), sum(cache_read), sum(cache_write_5m), sum(cache_write_1h), sum(output),
					sum(reasoning), sum(flags & 4 != 0), sum(cost_nano), sum(flags & 2 = 0) FROM events GROUP BY 1, 2`, usPerHour) + ` EXCEPT SELECT hour, attr, ` + sumColumns + ` FROM rollups_hourly`,
			} {
				var n int
				if err := db.r.QueryRow(`SELECT count(*) FROM (` + q + `)`).Scan(&n); err != nil || n != 0 {
					t.Errorf("%d rollup rows differ from the events (%v)", n, err)
				}
			}
			var unpriced, want int64
			if err := db.r.QueryRow(`SELECT coalesce(sum(requests), 0) FROM unpriced`).Scan(&unpriced); err != nil {
				t.Fatal(err)
			}
			for _, e := range all {
				if !e.CostKnown {
					want++
				}
			}
			if unpriced != want {
				t.Errorf("unpriced totals count %d requests, want %d", unpriced, want)
			}
			assertReportMatches(t, db, all, allot.ReportQuery{By: []allot.Dimension{allot.DimUser, allot.DimHour}, From: start.Add(-time.Hour), To: start.Add(24 * time.Hour)})
		})
	}
}
