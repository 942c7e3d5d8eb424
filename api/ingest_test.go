package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/api"
	"github.com/allot-dev/allot/ingest"
	"github.com/allot-dev/allot/pricing"
	"github.com/allot-dev/allot/sqlite"
)

var usageKeys = map[string]allot.Principal{
	"ak-alice": {Org: "acme", Team: "platform", User: "alice", KeyID: "kalice", Role: allot.RoleAdmin},
	"ak-bob":   {Org: "acme", Team: "data", User: "bob", KeyID: "kbob", Role: allot.RoleMember},
}

func newUsageHandler(t *testing.T) (http.Handler, *sqlite.DB) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "allot.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := &api.Server{
		Authenticate: func(r *http.Request) (allot.Principal, error) {
			if p, ok := usageKeys[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]; ok {
				return p, nil
			}
			return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "invalid allot key")
		},
		Ledger: db, Pricer: func() allot.Pricer { return pricing.Default() },
		People:       usagePeople{},
		Now:          func() time.Time { return time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC) },
		MaxBodyBytes: 1 << 20,
	}
	mux := http.NewServeMux()
	s.Routes(mux)
	return mux, db
}

// usagePeople is the directory POST /api/v1/usage attributes an admin's records by.
type usagePeople struct{}

func (usagePeople) Users(context.Context) ([]allot.User, error) {
	return []allot.User{{Name: "carol", Team: "data", Role: allot.RoleMember}, {Name: "bob", Team: "data", Role: allot.RoleMember}}, nil
}

func (usagePeople) Keys(context.Context, string) ([]allot.Key, error) { return nil, nil }

func postUsage(t *testing.T, h http.Handler, key, body string) (int, api.UsageResult, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/usage", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	var res api.UsageResult
	if w.Code == http.StatusOK {
		if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
			t.Fatalf("answer %q: %v", w.Body, err)
		}
	}
	return w.Code, res, w.Body.String()
}

const usageBatch = `{"events":[
 {"id":"claude-code:msg_01:req_01","time":"2026-11-03T10:00:04Z","provider":"anthropic","model":"claude-sonnet-4-5-20250929",
  "app":"claude-cli","session":"s1","route":"anthropic.messages","latency_ms":5231,
  "tokens":{"input_tokens":17327,"cache_read_tokens":11203,"cache_write_5m_tokens":6120,"output_tokens":187}},
 {"id":"r-2","time":"2026-11-03T10:01:00Z","model":"acme-llm-70b","tokens":{"input_tokens":100,"output_tokens":10},"cost_usd":"0.0123"},
 {"id":"r-3","time":"2026-11-03T10:02:00Z","model":"acme-llm-70b","tokens":{"input_tokens":100,"output_tokens":10}},
 {"time":"2026-11-03T10:03:00Z","model":"gpt-4o","tokens":{"input_tokens":1,"output_tokens":1}},
 {"id":"r-5","time":"2026-11-03T10:04:00Z","model":"gpt-4o","tokens":{"input_tokens":1,"cache_read_tokens":5,"output_tokens":1}},
 {"id":"r-6","time":"2026-11-03T10:05:00Z","model":"gpt-4o","tokens":{"input_tokens":1,"output_tokens":1},"colour":"red"},
 {"id":"r-7","time":"2026-11-04T10:05:00Z","model":"gpt-4o","tokens":{"input_tokens":1,"output_tokens":1}},
 {"id":"r-8","time":"2026-11-03T10:05:00Z","model":"gpt-4o","tokens":{"input_tokens":1,"output_tokens":1},"cost_usd":"lots"}
]}`

func TestUsageAPI(t *testing.T) {
	t.Parallel()
	h, db := newUsageHandler(t)
	code, res, body := postUsage(t, h, "ak-bob", usageBatch)
	if code != http.StatusOK || res.Read != 8 || res.Imported != 3 || res.Duplicate != 0 || res.Malformed != 5 {
		t.Fatalf("first post: %d %s", code, body)
	}
	for _, p := range []string{"events[3] (): id is missing", "events[4] (r-5): cache tokens (5) exceed", `events[5]: not a usage record: json: unknown field "colour"`, "events[6] (r-7): time 2026-11-04T10:05:00Z is in the future", "events[7] (r-8): cost_usd"} {
		if !strings.Contains(strings.Join(res.Problems, "\n"), p) {
			t.Errorf("problems %q lack %q", res.Problems, p)
		}
	}
	code, res, body = postUsage(t, h, "ak-bob", usageBatch)
	if code != http.StatusOK || res.Imported != 0 || res.Duplicate != 3 || res.Malformed != 5 {
		t.Fatalf("resend: %d %s", code, body)
	}
	events, err := db.Events(context.Background(), time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 4, 0, 0, 0, 0, time.UTC), 0)
	if err != nil || len(events) != 3 {
		t.Fatalf("%d events, %v", len(events), err)
	}
	e := events[0]
	// The id is the one a local import of the same record would store.
	if e.ID != ingest.ID("bob", "claude-code:msg_01:req_01") || e.User != "bob" || e.Team != "data" || e.Source != allot.SourceImport ||
		e.Route != allot.RouteMessages || e.Latency != 5231*time.Millisecond || e.Status != 200 || !e.CostKnown || e.Cost <= 0 {
		t.Errorf("event %+v", e)
	}
	if events[1].Cost != allot.MustUSD("0.0123") || !events[1].CostKnown || events[2].CostKnown || events[2].App != "api" || events[2].Task != allot.UntaggedTask {
		t.Errorf("unknown model events %+v %+v", events[1], events[2])
	}
}

func TestUsageAPIAttribution(t *testing.T) {
	t.Parallel()
	rec := func(user string) string {
		return fmt.Sprintf(`{"events":[{"id":"x-%s","user":%q,"time":"2026-11-03T10:00:00Z","model":"gpt-4o","tokens":{"input_tokens":10,"output_tokens":1}}]}`, user, user)
	}
	h, db := newUsageHandler(t)
	if code, _, body := postUsage(t, h, "ak-bob", rec("carol")); code != http.StatusForbidden || !strings.Contains(body, "only admins") {
		t.Errorf("member for another user: %d %s", code, body)
	}
	if code, res, body := postUsage(t, h, "ak-bob", rec("bob")); code != http.StatusOK || res.Imported != 1 {
		t.Errorf("member for themselves: %d %s", code, body)
	}
	if code, res, body := postUsage(t, h, "ak-alice", rec("carol")); code != http.StatusOK || res.Imported != 1 {
		t.Errorf("admin for carol: %d %s", code, body)
	}
	if code, res, body := postUsage(t, h, "ak-alice", rec("mallory")); code != http.StatusOK || res.Malformed != 1 || !strings.Contains(body, "not an active allot user") {
		t.Errorf("admin for an unknown user: %d %s", code, body)
	}
	events, _ := db.Events(context.Background(), time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 4, 0, 0, 0, 0, time.UTC), 0)
	users := map[string]string{}
	for _, e := range events {
		users[e.User] = e.KeyID
	}
	if len(users) != 2 || users["bob"] != "kbob" || users["carol"] != "kalice" {
		t.Errorf("events by user (key) %v", users)
	}
}

func TestUsageAPIErrors(t *testing.T) {
	t.Parallel()
	h, _ := newUsageHandler(t)
	many := `{"events":[` + strings.TrimSuffix(strings.Repeat(`{},`, api.MaxUsageRecords+1), ",") + `]}`
	for _, tc := range []struct {
		name, key, body string
		status          int
		says            string
	}{
		{"bad key", "ak-nobody", usageBatch, 401, "invalid allot key"},
		{"not json", "ak-bob", "events: []", 400, "body is not"},
		{"unknown envelope field", "ak-bob", `{"records":[]}`, 400, "unknown field"},
		{"too many", "ak-bob", many, 413, "at most 5000"},
		{"too large", "ak-bob", `{"events":[` + strings.Repeat(" ", 1<<20) + `]}`, 413, "over 1048576 bytes"},
	} {
		code, _, body := postUsage(t, h, tc.key, tc.body)
		if code != tc.status || !strings.Contains(body, tc.says) {
			t.Errorf("%s: %d %s", tc.name, code, body)
		}
	}
	req := httptest.NewRequest(http.MethodGet, "/api/v1/usage", bytes.NewReader(nil))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", w.Code)
	}
}
