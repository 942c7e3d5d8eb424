package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/api"
	"github.com/allot-dev/allot/budget"
	"github.com/allot-dev/allot/insights"
	"github.com/allot-dev/allot/internal/storetest"
	"github.com/allot-dev/allot/pricing"
)

// TestHugeLedgerStillAnswers serves every read of the API over a ledger
// one member filled with calls of allot.MaxMoney and 1e15 tokens and more
// (issue #14): each must answer 200 for everyone, with saturated amounts
// and never a negative one.
func TestHugeLedgerStillAnswers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openSQLite(t)
	org := allot.Org{Name: "acme", Teams: []allot.Team{{Name: "platform"}, {Name: "data"}}, Users: []allot.User{
		{Name: "alice", Team: "platform"}, {Name: "arno", Team: "platform"}, {Name: "cleo", Team: "platform"},
		{Name: "dirk", Team: "platform"}, {Name: "emma", Team: "platform", Role: allot.RoleLead},
		{Name: "bob", Team: "data"}, {Name: "root", Team: "data", Role: allot.RoleAdmin},
	}}
	if _, err := db.ApplyOrg(ctx, org); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 12, 12, 0, 0, 0, time.UTC)
	evs := storetest.HugeEvents(now.Add(-42 * time.Hour))
	for i, u := range org.Users[1:5] { // ordinary peers
		e := evs[len(evs)-1]
		e.ID, e.User, e.Team, e.Time = fmt.Sprintf("peer-%d", i), u.Name, u.Team, now.Add(-time.Duration(i+3)*time.Hour)
		evs = append(evs, e)
	}
	if _, err := db.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	policy := allot.Policy{Budgets: []allot.Budget{
		{Name: "alice", Scope: "user:alice", LimitUSD: "100", Period: "month"},
		{Name: "platform", Scope: "team:platform", LimitTokens: 1 << 40, Period: "month"},
	}}
	rationer, err := budget.New(policy, budget.NewMemoryCounters(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var hours []allot.Event // the budget rebuild at start: the ledger's hourly sums replayed
	if err := db.EachHour(ctx, now.Add(-32*24*time.Hour), now.Add(time.Hour), func(e allot.Event) error {
		hours = append(hours, e)
		return nil
	}); err != nil {
		t.Fatalf("EachHour: %v", err)
	}
	if err := rationer.Replay(ctx, hours); err != nil {
		t.Fatalf("Replay: %v", err)
	}

	roles := map[string]allot.Principal{}
	for _, u := range org.Users {
		roles[u.Name] = allot.Principal{Org: "acme", Team: u.Team, User: u.Name, Role: u.Role}
	}
	auth := func(r *http.Request) (allot.Principal, error) {
		p, ok := roles[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		if !ok {
			return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "unknown key")
		}
		return p, nil
	}
	clock := func() time.Time { return now }
	mux := http.NewServeMux()
	(&api.Server{Authenticate: auth, Reports: db, Events: db, People: db, Unpriced: db.Unpriced, Policy: db,
		PeerVisibility: allot.PeerNamed, Rationer: func() *budget.Rationer { return rationer },
		Source: db, Pricer: func() allot.Pricer { return pricing.Default() },
		Options: func() insights.Options {
			o := insights.DefaultOptions()
			o.Visibility, o.Floor = allot.PeerNamed, 0
			return o
		}, Now: clock}).Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	const saturated = "9223372036.854775807"
	tests := []struct {
		user, path string
		wantMax    bool // the answer shows the saturated amount
	}{
		{"root", "/api/v1/report?by=user,day&from=2026-11-01&to=2026-11-13", true},
		{"root", "/api/v1/report?by=team&from=2026-11-01&to=2026-11-13&format=csv", true},
		{"root", "/api/v1/overview?scope=org", true},
		{"root", "/api/v1/overview?scope=team&team=platform", true},
		{"alice", "/api/v1/overview", true},
		{"bob", "/api/v1/overview", false},
		{"emma", "/api/v1/overview?scope=team", true},
		{"alice", "/api/v1/peers", true},
		{"bob", "/api/v1/peers", false},
		{"alice", "/api/v1/me", true},
		{"bob", "/api/v1/me", false},
		{"root", "/api/v1/budgets", true},
		{"root", "/api/v1/insights", true},
		{"alice", "/api/v1/insights", true},
		{"emma", "/api/v1/insights?scope=team", true},
	}
	for _, tt := range tests {
		resp := get(t, srv.URL+tt.path, tt.user)
		var body bytes.Buffer
		if _, err := body.ReadFrom(resp.Body); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s as %s: status %d: %.300s", tt.path, tt.user, resp.StatusCode, body.String())
			continue
		}
		if tt.wantMax && !strings.Contains(body.String(), saturated) {
			t.Errorf("%s as %s: no saturated amount %s in %.600s", tt.path, tt.user, saturated, body.String())
		}
		if strings.Contains(tt.path, "format=csv") {
			if strings.Contains(body.String(), ",-") {
				t.Errorf("%s as %s: a negative amount in\n%s", tt.path, tt.user, body.String())
			}
			continue
		}
		dec := json.NewDecoder(strings.NewReader(body.String()))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Errorf("%s as %s: %v", tt.path, tt.user, err)
			continue
		}
		for _, neg := range negativeAmounts(v, "") {
			t.Errorf("%s as %s: negative %s", tt.path, tt.user, neg)
		}
	}
}

// negativeAmounts lists the paths of the negative sums in a JSON value:
// amounts, token and request counts, which no ledger makes negative.
func negativeAmounts(v any, path string) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			out = append(out, negativeAmounts(e, path+"."+k)...)
		}
	case []any:
		for i, e := range x {
			out = append(out, negativeAmounts(e, fmt.Sprintf("%s[%d]", path, i))...)
		}
	case json.Number:
		name := path[strings.LastIndex(path, ".")+1:]
		amount := strings.Contains(name, "usd") || strings.Contains(name, "tokens") || strings.Contains(name, "requests") ||
			strings.Contains(name, "spend") || strings.Contains(name, "cost")
		if amount && !strings.Contains(name, "change") && !strings.Contains(name, "delta") && strings.HasPrefix(string(x), "-") {
			out = append(out, path+" = "+string(x))
		}
	}
	return out
}
