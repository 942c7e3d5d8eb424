package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/sqlite"
)

// slowProvider is an OpenAI-compatible provider that counts the calls it
// receives, by their X-Test-Call header, and answers by X-Test-Mode:
// "fast" at once with usage; "stream" with headers and one chunk, then
// nothing until released; "hold" nothing at all until released.
type slowProvider struct {
	release chan struct{}
	held    chan string // a slow call arrived (and its first chunk went out)

	mu   sync.Mutex
	seen map[string]int
}

func (p *slowProvider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	call := r.Header.Get("X-Test-Call")
	p.mu.Lock()
	p.seen[call]++
	p.mu.Unlock()
	wait := func() {
		select {
		case <-p.release:
		case <-r.Context().Done():
		}
	}
	switch r.Header.Get("X-Test-Mode") {
	case "stream":
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Once"},"finish_reason":null}]}`+"\n\n")
		w.(http.Flusher).Flush()
		p.held <- call
		wait()
	case "hold":
		p.held <- call
		wait()
	default:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"c2","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Done."},"finish_reason":"stop"}],"usage":{"prompt_tokens":30,"completion_tokens":10,"total_tokens":40}}`)
	}
}

// Shape of TestKilledWithCallsInFlightLosesNoSpend.
const (
	crashFastCalls = 4   // complete before the kill
	crashSlowCalls = 8   // in flight at the kill: half streams, half held
	crashMaxTokens = 700 // each slow call's output limit: its worst case
)

// TestKilledWithCallsInFlightLosesNoSpend is the "nothing billed goes
// unrecorded" acceptance point: `allot serve` is killed with SIGKILL while
// calls are in flight at a provider that counts the calls it received;
// once restarted on the same spool_dir, every call the provider saw has
// exactly one event: the completed ones as recorded, the ones in flight
// recovered from their intents, flagged estimated with status 444, their
// input at four bytes a token of the request and their output the
// reservation's worst case (max_tokens). The budget's spent tokens after
// the restart count them: what was spent before the kill plus every
// recovered event.
func TestKilledWithCallsInFlightLosesNoSpend(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	provider := &slowProvider{release: make(chan struct{}), held: make(chan string, crashSlowCalls), seen: map[string]int{}}
	up := httptest.NewServer(provider)
	defer up.Close()
	defer close(provider.release) // before up.Close: let the held calls end

	dir := t.TempDir()
	db := filepath.Join(dir, "allot.db")
	orgPath := filepath.Join(dir, "org.yaml")
	if err := os.WriteFile(orgPath, []byte(`name: acme
teams:
  - name: platform
users:
  - {name: alice, email: alice@acme.test, team: platform, role: admin}
  - {name: bob, email: bob@acme.test, team: platform, role: member}
budgets:
  - name: bob-tokens
    scope: user:bob
    limit_tokens: 10000000
    period: month
`), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "apply", "-f", orgPath, "--database", db)
	bobKey := strings.TrimSpace(mustRun(t, "keys", "create", "--user", "bob", "--name", "load", "--database", db))
	aliceKey := strings.TrimSpace(mustRun(t, "keys", "create", "--user", "alice", "--name", "admin", "--database", db))
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
database: %q
org: %q
spool_dir: %q
upstream_timeout: 60s
shutdown_timeout: 10s
log_format: json
log_level: info
providers:
  - {name: openai, type: openai, base_url: %q}
`, db, orgPath, filepath.Join(dir, "spool"), up.URL+"/v1")
	a := startServe(t, "allot", dir, cfg)
	if a == nil {
		t.FailNow()
	}

	// bodies[call] is the request body of each call, by its X-Test-Call.
	bodies := map[string]string{}
	bodyOf := func(call, mode string) string {
		return fmt.Sprintf(`{"model":"gpt-4o","stream":%v,"max_tokens":%d,"messages":[{"role":"user","content":"Tell me about %s."}]}`,
			mode == "stream", crashMaxTokens, call)
	}
	send := func(call, mode, body string) (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+a.addr+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+bobKey)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Allot-Session", call)
		req.Header.Set("X-Test-Call", call)
		req.Header.Set("X-Test-Mode", mode)
		return (&http.Client{Timeout: 30 * time.Second}).Do(req)
	}
	for i := range crashFastCalls {
		call := fmt.Sprintf("fast-%d", i)
		bodies[call] = bodyOf(call, "fast")
		resp, err := send(call, "fast", bodies[call])
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("fast call: status %d", resp.StatusCode)
		}
	}
	a.waitIdle(t)
	before := a.budget(t, aliceKey, "bob-tokens")

	var clients sync.WaitGroup
	for i := range crashSlowCalls {
		mode := "stream"
		if i%2 == 1 {
			mode = "hold"
		}
		call := fmt.Sprintf("%s-%d", mode, i)
		body := bodyOf(call, mode)
		bodies[call] = body
		clients.Go(func() {
			if resp, err := send(call, mode, body); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body) // cut by the kill
				resp.Body.Close()
			}
		})
	}
	for range crashSlowCalls {
		select {
		case <-provider.held:
		case <-time.After(15 * time.Second):
			t.Fatalf("the slow calls did not all reach the provider; allot's log:\n%s", a.log())
		}
	}
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill -9 allot: %v", err)
	}
	_ = a.cmd.Wait()
	clients.Wait()

	// allot comes back on the same database and spool_dir.
	b := startServe(t, "allot-restarted", dir, cfg)
	if b == nil {
		t.FailNow()
	}
	after := b.budget(t, aliceKey, "bob-tokens")
	b.stop(t)

	store, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	events, err := store.Events(ctx, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), 1000)
	if err != nil {
		t.Fatal(err)
	}
	bySession := map[string][]allot.Event{}
	for _, e := range events {
		bySession[e.Session] = append(bySession[e.Session], e)
	}
	provider.mu.Lock()
	seen := provider.seen
	provider.mu.Unlock()
	if len(seen) != crashFastCalls+crashSlowCalls {
		t.Errorf("the provider saw %d calls, want %d", len(seen), crashFastCalls+crashSlowCalls)
	}
	var recovered int64
	for call := range seen {
		evs := bySession[call]
		if len(evs) != 1 {
			t.Errorf("call %s reached the provider and has %d events after the restart, want 1", call, len(evs))
			continue
		}
		e := evs[0]
		if strings.HasPrefix(call, "fast-") {
			if e.Estimated || e.Status != http.StatusOK || e.Tokens.Total() != 40 {
				t.Errorf("completed call %s: estimated=%v status=%d tokens=%+v, want its recorded event", call, e.Estimated, e.Status, e.Tokens)
			}
			continue
		}
		want := allot.Tokens{Input: int64(len(bodies[call])+3) / 4, Output: crashMaxTokens}
		if !e.Estimated || e.Status != allot.StatusCrashed || e.Tokens != want || !e.CostKnown || e.Cost <= 0 {
			t.Errorf("call %s in flight at the kill: estimated=%v status=%d tokens=%+v cost=%s, want estimated, status %d, tokens %+v, priced",
				call, e.Estimated, e.Status, e.Tokens, e.Cost, allot.StatusCrashed, want)
		}
		recovered += e.Tokens.Total()
	}
	if len(events) != len(seen) {
		t.Errorf("the ledger holds %d events for %d calls the provider saw", len(events), len(seen))
	}
	t.Logf("spent before the kill %d tokens (reserved %d); after the restart %d, of which %d recovered from %d calls in flight",
		before.Spent, before.Reserved, after.Spent, recovered, crashSlowCalls)
	if after.Spent != before.Spent+recovered {
		t.Errorf("budget bob-tokens spent %d tokens after the restart, want %d spent before the kill + %d of the calls in flight",
			after.Spent, before.Spent, recovered)
	}
}
