package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allot-dev/allot/config"
	"github.com/allot-dev/allot/upstreamsim"
)

// TestAlertsReachWebhooksAndTheLedger: a team that exhausts its budget
// raises threshold and refusal notices; each is stored once (allot alerts)
// and delivered once to a generic JSON webhook and to a Slack one.
func TestAlertsReachWebhooksAndTheLedger(t *testing.T) {
	t.Parallel()
	sim := httptest.NewServer(upstreamsim.New(upstreamsim.Options{}))
	defer sim.Close()
	var mu sync.Mutex
	got := map[string][]string{}
	hook := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			got[name] = append(got[name], string(b))
			mu.Unlock()
		}))
	}
	jsonHook, slackHook := hook("json"), hook("slack")
	defer jsonHook.Close()
	defer slackHook.Close()

	dbPath := filepath.Join(t.TempDir(), "allot.db")
	cfg := testServerConfig(t, sim.URL, dbPath, "testdata/org_budgets.yaml")
	cfg.Webhooks = []config.Webhook{{URL: jsonHook.URL, Format: "json"}, {URL: slackHook.URL, Format: "slack", Kinds: []string{"refusal"}}}
	ctx, stop := context.WithCancel(context.Background())
	srv, err := startServer(ctx, cfg, serverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.wait(ctx) }()
	bob, _, err := srv.db.CreateKey(ctx, "bob", "laptop")
	if err != nil {
		t.Fatal(err)
	}
	refusals := 0
	for range 200 {
		if chat(t, srv.addr, bob, "gpt-4o") == http.StatusTooManyRequests {
			if refusals++; refusals == 3 {
				break
			}
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	var kinds []string
	for _, body := range got["json"] {
		var n struct{ Kind, Budget string }
		if err := json.Unmarshal([]byte(body), &n); err != nil {
			t.Fatalf("json webhook body %q: %v", body, err)
		}
		kinds = append(kinds, n.Kind+":"+n.Budget)
	}
	joined := strings.Join(kinds, ",")
	if strings.Count(joined, "refusal:data-monthly") != 1 || !strings.Contains(joined, "threshold:data-monthly") {
		t.Fatalf("json webhook got %v, want threshold notices and exactly one refusal for data-monthly", kinds)
	}
	if len(got["slack"]) != 1 || !strings.Contains(got["slack"][0], `"text"`) || !strings.Contains(got["slack"][0], "data-monthly") {
		t.Fatalf("slack webhook got %v, want one refusal as text", got["slack"])
	}
	var stored []map[string]any
	out := mustRun(t, "alerts", "--format", "json", "--from", time.Now().UTC().Format("2006-01-02"), "--database", dbPath)
	if err := json.Unmarshal([]byte(out), &stored); err != nil {
		t.Fatalf("allot alerts JSON: %v\n%s", err, out)
	}
	if len(stored) != len(got["json"]) {
		t.Fatalf("allot alerts lists %d notices, the webhook got %d", len(stored), len(got["json"]))
	}
}
