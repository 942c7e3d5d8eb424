package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/internal/storetest"
)

// TestHugeSumsOverClosedDays reads sums that saturate from closed days:
// the daily rollups summed when closing, the day blocks reports keep, and
// ranges read as a closed day less its hours outside them, which a
// saturated day cannot be (its sum less a part is not the rest).
func TestHugeSumsOverClosedDays(t *testing.T) {
	t.Parallel()
	db, _ := openPair(t)
	ctx := context.Background()
	events := append(storetest.HugeEvents(cacheStart.Add(18*time.Hour)), storetest.GenEvents(7, 300, cacheStart, cacheSpan, storetest.SmallWorld)...)
	for b := 0; b < len(events); b += 100 {
		if _, err := db.Append(ctx, events[b:min(b+100, len(events))]); err != nil {
			t.Fatal(err)
		}
	}
	closeAll(t, db)
	storetest.AssertSaturated(t, db, events, cacheStart, cacheStart.Add(cacheSpan))
	day2 := cacheStart.Add(24 * time.Hour) // alice's huge calls fall in its hours 16 to 19
	for _, r := range [][2]time.Time{
		{day2, day2.Add(18 * time.Hour)},                    // less hours 18 to 23: two of them saturated
		{day2.Add(2 * time.Hour), day2.Add(24 * time.Hour)}, // less hours 0 and 1
		{day2.Add(-6 * time.Hour), day2.Add(17 * time.Hour)},
	} {
		for _, by := range [][]allot.Dimension{nil, {allot.DimUser}, {allot.DimDay, allot.DimUser, allot.DimModel}} {
			assertReport(t, db, events, allot.ReportQuery{By: by, From: r[0], To: r[1]})
		}
	}
}
