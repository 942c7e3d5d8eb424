package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/api"
	"github.com/allot-dev/allot/budget"
)

// memStore keeps settings, grants and audit entries in memory.
type memStore struct {
	mu       sync.Mutex
	settings map[string][]byte
	grants   []allot.Grant
	audit    []allot.AuditEntry
}

func (m *memStore) Setting(_ context.Context, name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.settings[name], nil
}

func (m *memStore) SetSetting(_ context.Context, name string, v []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.settings[name] = v
	return nil
}

func (m *memStore) AddGrant(_ context.Context, g allot.Grant) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.grants = append(m.grants, g)
	return nil
}

func (m *memStore) Grants(context.Context, time.Time) ([]allot.Grant, error) { return m.grants, nil }

func (m *memStore) Audit(_ context.Context, e allot.AuditEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.audit = append(m.audit, e)
	return nil
}

func (m *memStore) AuditEntries(context.Context, time.Time, time.Time, int) ([]allot.AuditEntry, error) {
	return m.audit, nil
}

// emptyReports answers every report with no rows.
type emptyReports struct{}

func (emptyReports) Report(context.Context, allot.ReportQuery) ([]allot.ReportRow, error) {
	return nil, nil
}

// TestBudgetsAPI: members see their own budgets and cannot change any;
// admins create budgets and top-ups, each audited and applied at once.
func TestBudgetsAPI(t *testing.T) {
	t.Parallel()
	store := &memStore{settings: map[string][]byte{}}
	var (
		mu  sync.Mutex
		cur *budget.Rationer
	)
	refresh := func(ctx context.Context) error {
		var p allot.Policy
		if raw, _ := store.Setting(ctx, allot.PolicySetting); len(raw) > 0 {
			if err := json.Unmarshal(raw, &p); err != nil {
				return err
			}
		}
		r, err := budget.New(p, budget.NewMemoryCounters(), nil, nil)
		if err != nil {
			return err
		}
		for _, g := range store.grants {
			_ = r.Grant(g)
		}
		mu.Lock()
		cur = r
		mu.Unlock()
		return nil
	}
	if err := refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	b := &api.Server{
		Authenticate: func(r *http.Request) (allot.Principal, error) {
			if r.Header.Get("Authorization") == "Bearer admin" {
				return allot.Principal{User: "root", Team: "platform", Role: allot.RoleAdmin}, nil
			}
			return allot.Principal{User: "bob", Team: "data", Role: allot.RoleMember}, nil
		},
		Rationer: func() *budget.Rationer { mu.Lock(); defer mu.Unlock(); return cur },
		Reports:  emptyReports{}, Policy: store, Grants: store, Audit: store, Refresh: refresh,
	}
	mux := http.NewServeMux()
	b.Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	send := func(method, path, key, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}

	steps := []struct {
		name, method, path, key, body string
		status                        int
		says                          string
	}{
		{"member cannot create", "PUT", "/api/v1/budgets/data-monthly", "member", `{"scope":"team:data","limit_usd":"10"}`, 403, "for admins"},
		{"invalid budget", "PUT", "/api/v1/budgets/data-monthly", "admin", `{"scope":"team:data","limit_usd":"ten"}`, 400, "limit_usd"},
		{"unknown field", "PUT", "/api/v1/budgets/data-monthly", "admin", `{"scope":"team:data","limit":"10"}`, 400, "unknown field"},
		{"admin creates", "PUT", "/api/v1/budgets/data-monthly", "admin", `{"scope":"team:data","limit_usd":"10","alert_at":[80]}`, 200, `"data-monthly"`},
		{"admin edits", "PUT", "/api/v1/budgets/data-monthly", "admin", `{"scope":"team:data","limit_usd":"12"}`, 200, `"12"`},
		{"member sees it", "GET", "/api/v1/budgets", "member", ``, 200, `"limit_usd":12`},
		{"member's me", "GET", "/api/v1/me", "member", ``, 200, `"remaining_usd":12`},
		{"member cannot grant", "POST", "/api/v1/budgets/data-monthly/grants", "member", `{"usd":"5","reason":"x"}`, 403, "for admins"},
		{"grant to unknown budget", "POST", "/api/v1/budgets/nope/grants", "admin", `{"usd":"5","reason":"x"}`, 404, "nope"},
		{"admin grants", "POST", "/api/v1/budgets/data-monthly/grants", "admin", `{"usd":"5","reason":"launch"}`, 201, `"launch"`},
		{"grant applies at once", "GET", "/api/v1/budgets", "member", ``, 200, `"limit_usd":17`},
	}
	for _, s := range steps {
		status, body := send(s.method, s.path, s.key, s.body)
		if status != s.status || !strings.Contains(body, s.says) {
			t.Fatalf("%s: %s %s = %d %s, want %d containing %s", s.name, s.method, s.path, status, body, s.status, s.says)
		}
	}
	var actions []string
	for _, e := range store.audit {
		actions = append(actions, e.Actor+":"+e.Action)
	}
	if got := strings.Join(actions, ","); got != "root:budget.create,root:budget.update,root:budget.grant" {
		t.Fatalf("audit = %s", got)
	}
}
