package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// TestAddNoticeOnceAcrossReplicas: replicas sharing the database file (two
// handles here) raising the same notice at once store it exactly once,
// so exactly one of them delivers it.
func TestAddNoticeOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "allot.db")
	var dbs [2]*DB
	for i := range dbs {
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	at := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	const ids, tries = 5, 16
	var added [ids]atomic.Int32
	var wg sync.WaitGroup
	for g := range 2 * tries {
		wg.Go(func() {
			for i := range ids {
				n := allot.Notice{ID: fmt.Sprintf("threshold|b%d|80|2026-11-01T00:00:00Z", i), Time: at, Kind: allot.NoticeThreshold,
					Budget: fmt.Sprintf("b%d", i), Scope: "org", Message: "at 80%"}
				ok, err := dbs[g%2].AddNotice(ctx, n)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					added[i].Add(1)
				}
			}
		})
	}
	wg.Wait()
	for i := range added {
		if n := added[i].Load(); n != 1 {
			t.Errorf("notice %d reported added %d times, want once", i, n)
		}
	}
	got, err := dbs[1].Notices(ctx, time.Time{}, time.Time{}, 0)
	if err != nil || len(got) != ids {
		t.Fatalf("Notices = %d, %v; want %d", len(got), err, ids)
	}
}

func TestAddNoticeFields(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	before := time.Now().Add(-time.Second)
	tests := []struct {
		name     string
		n        allot.Notice
		wantCode allot.ErrorCode
	}{
		{"no id", allot.Notice{Kind: allot.NoticeRefusal, Budget: "b"}, allot.EInvalid},
		{"no time, no detail", allot.Notice{ID: "refusal|b|2026-11-01T00:00:00Z", Kind: allot.NoticeRefusal, Budget: "b", Scope: "org", Message: "refusing"}, ""},
		{"detail", allot.Notice{ID: "downgrade|b|2026-11-01T00:00:00Z", Time: before, Kind: allot.NoticeDowngrade, Budget: "b",
			Detail: map[string]any{"from": "gpt-4o", "to": "gpt-4o-mini", "n": float64(3)}}, ""},
	}
	for _, tc := range tests {
		added, err := db.AddNotice(ctx, tc.n)
		if tc.wantCode != "" {
			if allot.CodeOf(err) != tc.wantCode || added {
				t.Errorf("%s: AddNotice = %v, %v; want code %s", tc.name, added, err, tc.wantCode)
			}
			continue
		}
		if err != nil || !added {
			t.Fatalf("%s: AddNotice = %v, %v", tc.name, added, err)
		}
	}
	got, err := db.Notices(ctx, before.Add(-time.Minute), time.Now().Add(time.Minute), 0)
	if err != nil || len(got) != 2 {
		t.Fatalf("Notices = %+v, %v; want 2", got, err)
	}
	// Newest first: the one stamped now, then the one stamped before.
	if got[0].ID != tests[1].n.ID || got[0].Time.Before(before) || got[0].Detail != nil {
		t.Errorf("notice without time or detail read back as %+v", got[0])
	}
	if got[1].Detail["to"] != "gpt-4o-mini" || got[1].Detail["n"] != float64(3) || !got[1].Time.Equal(before.Truncate(time.Microsecond)) {
		t.Errorf("notice with detail read back as %+v", got[1])
	}
}

// TestGrantsSurviveReopen: grants are read back after a restart, expired
// ones left out, and at the zero time every grant is listed.
func TestGrantsSurviveReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "allot.db")
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	grants := []allot.Grant{
		{Budget: "data-monthly", Amount: allot.MustUSD("20.000000001"), Until: now.Add(time.Hour), Reason: "launch week"},
		{Budget: "tokens", Tokens: 5000, Until: now, Reason: "ends exactly now"},
		{Budget: "forever", Amount: allot.MustUSD("1")},
	}
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range grants {
		if err := db.AddGrant(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tests := []struct {
		at   time.Time
		want []allot.Grant
	}{
		{now.Add(-time.Minute), grants},
		{now, []allot.Grant{grants[0], grants[2]}},
		{now.Add(2 * time.Hour), []allot.Grant{grants[2]}},
		{time.Time{}, grants},
	}
	for _, tc := range tests {
		got, err := db.Grants(ctx, tc.at)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("Grants at %s = %+v\nwant %+v", tc.at, got, tc.want)
		}
	}
}

func TestAuditBoundsAndDefaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	t0 := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	for i, e := range []allot.AuditEntry{
		{Time: t0, Actor: "cli:root", Action: "budget.grant", Target: "data-monthly", Detail: `{"amount_usd":"20"}`},
		{Time: t0, Actor: "alice", Action: "key.revoke", Target: "k1"},
		{Actor: "cli:root", Action: "org.apply", Target: "org.yaml"}, // no time: now
	} {
		if err := db.Audit(ctx, e); err != nil {
			t.Fatalf("Audit #%d: %v", i, err)
		}
	}
	tests := []struct {
		name     string
		from, to time.Time
		limit    int
		want     []string // actions, newest first
	}{
		{"open bounds", time.Time{}, time.Time{}, 0, []string{"org.apply", "key.revoke", "budget.grant"}},
		{"ties: the later written first", t0, t0.Add(time.Second), 0, []string{"key.revoke", "budget.grant"}},
		{"limit", time.Time{}, time.Time{}, 1, []string{"org.apply"}},
		{"from only", t0.Add(time.Second), time.Time{}, 0, []string{"org.apply"}},
		{"to exclusive", time.Time{}, t0, 0, nil},
	}
	for _, tc := range tests {
		got, err := db.AuditEntries(ctx, tc.from, tc.to, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range got {
			actions = append(actions, e.Action)
		}
		if fmt.Sprint(actions) != fmt.Sprint(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, actions, tc.want)
		}
		if got == nil {
			t.Errorf("%s: nil slice; want empty (JSON [])", tc.name)
		}
	}
}
