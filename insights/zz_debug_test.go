package insights

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/sqlite"
)

func TestZZDebug(t *testing.T) {
	path := os.Getenv("DEBUG_DB")
	if path == "" {
		t.Skip()
	}
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var users []allot.User
	for u := range 1000 {
		users = append(users, allot.User{Name: fmt.Sprintf("user%04d", u), Team: fmt.Sprintf("team%02d", u%20), Role: allot.RoleMember})
	}
	for i := 0; i < 3; i++ {
		t0, c0 := time.Now(), cpuTime()
		d, err := Load(ctx, db, users, Scope{}, LastDays(time.Now(), 30), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		t1, c1 := time.Now(), cpuTime()
		Compute(d, benchPrices, allot.Principal{Role: allot.RoleAdmin}, nil, DefaultOptions())
		t.Logf("usage %d prev %d prompts %d sessions %d daily %d; load %s (cpu %s) compute %s (cpu %s)", len(d.Usage), len(d.Previous), len(d.Prompts), len(d.Sessions), len(d.Daily), t1.Sub(t0), c1-c0, time.Since(t1), cpuTime()-c1)
	}
	q := allot.InsightQuery{From: time.Now().AddDate(0, 0, -30), To: time.Now()}
	for _, step := range []struct {
		name string
		fn   func() error
	}{
		{"usage", func() error { _, err := db.InsightUsage(ctx, q); return err }},
		{"usage totals", func() error { q := q; q.Totals = true; _, err := db.InsightUsage(ctx, q); return err }},
		{"calls", func() error { _, err := db.InsightCalls(ctx, q); return err }},
		{"daily", func() error { _, err := db.DailySpend(ctx, q); return err }},
	} {
		for range 3 {
			t0, c0 := time.Now(), cpuTime()
			if err := step.fn(); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %s wall, %s cpu", step.name, time.Since(t0), cpuTime()-c0)
		}
	}
}
