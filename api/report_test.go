package api_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/api"
)

// reportServer serves the API over a ledger of known events; the bearer
// token names the caller: "admin" or "member".
func reportServer(t *testing.T) (*httptest.Server, []allot.Event) {
	t.Helper()
	ctx := context.Background()
	db := openSQLite(t)
	day := time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC)
	var evs []allot.Event
	for i := range 30 {
		team, user := "platform", "alice"
		if i%3 == 0 {
			team, user = "data", "bob"
		}
		evs = append(evs, allot.Event{
			ID: fmt.Sprintf("e%d", i), Time: day.Add(time.Duration(i) * 37 * time.Minute),
			Principal: allot.Principal{Org: "acme", Team: team, User: user},
			Provider:  "openai", RequestedModel: "gpt-4o", ServedModel: "gpt-4o", Route: allot.RouteChat,
			Task: "chat", App: "openai-go", Source: allot.SourceGateway, Status: 200,
			Tokens: allot.Tokens{Input: int64(100 + i), CacheRead: 10, Output: int64(7 * i), Reasoning: int64(i)},
			Cost:   allot.Money(123456789 + i), CostKnown: true, Estimated: i == 4,
		})
	}
	if _, err := db.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	s := &api.Server{
		Authenticate: func(r *http.Request) (allot.Principal, error) {
			switch r.Header.Get("Authorization") {
			case "Bearer admin":
				return allot.Principal{User: "root", Role: allot.RoleAdmin}, nil
			case "Bearer member":
				return allot.Principal{User: "bob", Role: allot.RoleMember}, nil
			}
			return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "unknown key")
		},
		Reports: db,
		Now:     func() time.Time { return day.Add(48 * time.Hour) },
	}
	mux := http.NewServeMux()
	s.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, evs
}

func get(t *testing.T, url, key string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestReportAPI: the admin report's rows sum exactly to the events, in
// JSON and CSV, and everyone else gets a clear error.
func TestReportAPI(t *testing.T) {
	t.Parallel()
	srv, evs := reportServer(t)
	var want allot.Money
	var wantOut int64
	for _, e := range evs {
		want += e.Cost
		wantOut += e.Tokens.Output
	}

	resp := get(t, srv.URL+"/api/v1/report?by=team,day&from=2026-11-10&to=2026-11-11", "admin")
	if resp.StatusCode != 200 {
		t.Fatalf("admin report: %d", resp.StatusCode)
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	var rows []map[string]any
	if err := dec.Decode(&rows); err != nil {
		t.Fatal(err)
	}
	var got allot.Money
	var gotOut, estimated int64
	for _, r := range rows {
		c, err := allot.ParseUSD(r["cost_usd"].(json.Number).String())
		if err != nil {
			t.Fatal(err)
		}
		got += c
		n, _ := r["output_tokens"].(json.Number).Int64()
		gotOut += n
		e, _ := r["estimated_requests"].(json.Number).Int64()
		estimated += e
		if r["team"] == nil || r["day"] == nil {
			t.Errorf("row %v lacks its dimensions", r)
		}
	}
	if got != want || gotOut != wantOut || estimated != 1 {
		t.Fatalf("report sums cost %s out %d estimated %d, events hold %s, %d, 1", got, gotOut, estimated, want, wantOut)
	}

	resp = get(t, srv.URL+"/api/v1/report?by=user&from=2026-11-10&to=2026-11-11&format=csv", "admin")
	recs, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil || len(recs) != 3 || recs[0][0] != "user" || !strings.Contains(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv report = %v (%v)", recs, err)
	}

	for _, tc := range []struct {
		name, url, key string
		status         int
		says           string
	}{
		{"no key", "/api/v1/report?by=user", "", 401, "unknown key"},
		{"member", "/api/v1/report?by=user", "member", 403, "for admins"},
		{"bad dimension", "/api/v1/report?by=colour", "admin", 400, "unknown report dimension"},
		{"bad date", "/api/v1/report?by=user&from=yesterday", "admin", 400, "is not a date"},
		{"bad format", "/api/v1/report?by=user&format=xml", "admin", 400, "unknown format"},
		{"unknown route", "/api/v1/nope", "admin", 404, "docs/api.md"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := get(t, srv.URL+tc.url, tc.key)
			var body struct {
				Error struct{ Code, Message string }
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tc.status || !strings.Contains(body.Error.Message, tc.says) {
				t.Fatalf("%s: %d %+v, want %d saying %q", tc.url, resp.StatusCode, body, tc.status, tc.says)
			}
		})
	}
}
