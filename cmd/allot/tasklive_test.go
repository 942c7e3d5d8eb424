package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/upstreamsim"
)

// TestServeAppliesTaskRulesAndNewLabels: `tasks:` in the config names the
// task of untagged calls, and a label set with `allot tasks label` while
// allot serves applies to the next calls within seconds, without a restart.
func TestServeAppliesTaskRulesAndNewLabels(t *testing.T) {
	t.Parallel()
	sim := httptest.NewServer(upstreamsim.New(upstreamsim.Options{}))
	defer sim.Close()
	cfg := testServerConfig(t, sim.URL, filepath.Join(t.TempDir(), "allot.db"), "testdata/org.yaml")
	cfg.Tasks = allot.TaskRules{{Name: "code-review", When: allot.TaskMatch{App: "claude-cli", TextMatches: "(?i)review"}}}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	srv, err := startServer(ctx, cfg, serverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.wait(ctx) }()
	secret, _, err := srv.db.CreateKey(ctx, "bob", "test")
	if err != nil {
		t.Fatal(err)
	}
	// call sends one Anthropic message from claude-cli and returns the
	// task and system-prompt fingerprint the ledger recorded for it.
	call := func(system, text string) allot.Event {
		t.Helper()
		body := `{"model":"claude-haiku-4-5","max_tokens":20,"system":"` + system + `","messages":[{"role":"user","content":"` + text + `"}]}`
		req, _ := http.NewRequest(http.MethodPost, "http://"+srv.addr+"/v1/messages", strings.NewReader(body))
		req.Header.Set("x-api-key", secret)
		req.Header.Set("anthropic-version", "2023-06-01")
		req.Header.Set("X-Allot-App", "claude-cli")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		id := resp.Header.Get("X-Allot-Request-Id")
		if resp.StatusCode != 200 || id == "" {
			t.Fatalf("call: status %d, request id %q", resp.StatusCode, id)
		}
		if err := srv.writer.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		evs, err := srv.db.ListEvents(ctx, allot.EventQuery{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.ID == id {
				return e
			}
		}
		t.Fatalf("no event %s in the ledger", id)
		return allot.Event{}
	}

	if got := call("Be terse.", "Please review my patch").Task; got != "code-review" {
		t.Errorf("rule: task %q, want code-review", got)
	}
	first := call("You write release notes.", "Summarize the changes")
	if first.Task != allot.UntaggedTask || first.SystemFP == 0 {
		t.Fatalf("unmatched call: task %q fp %x, want untagged with a fingerprint", first.Task, first.SystemFP)
	}
	mustRun(t, "tasks", "label", allot.FormatFingerprint(first.SystemFP), "release-notes", "--database", cfg.Database)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := call("You write release notes.", "Summarize the changes").Task
		if got == "release-notes" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a label set while serving was not applied within 10s: task %q", got)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
