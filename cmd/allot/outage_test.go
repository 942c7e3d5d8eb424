package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allot-dev/allot/config"
	"github.com/allot-dev/allot/internal/tcpproxy"
	"github.com/allot-dev/allot/upstreamsim"
)

// Timing of the store outage tests: the key cache TTL is short so that
// an outage of a couple of seconds outlasts it many times over.
const (
	outageKeyTTL  = 200 * time.Millisecond
	outageLength  = 2 * time.Second
	outageWorkers = 4
	outageBudget  = "bob-tokens"
)

// outageOrg has a token budget on bob, so every call is rationed through
// the budget counters, which live in PostgreSQL too.
const outageOrg = `name: acme
teams:
  - name: data
users:
  - {name: alice, email: alice@acme.test, team: data, role: admin}
  - {name: bob, email: bob@acme.test, team: data, role: member}
  - {name: carol, email: carol@acme.test, team: data, role: member}
budgets:
  - name: ` + outageBudget + `
    scope: user:bob
    limit_tokens: 100000000
    period: month
`

// outage is an in-process allot serve whose PostgreSQL is reached
// through a TCP proxy the test cuts and restores.
type outage struct {
	srv    *server
	proxy  *tcpproxy.Proxy
	direct string // the database URL without the proxy, for checks
	log    *lockedBuffer
	bob    string // a key used before the outage
	carol  string // a valid key first presented during the outage
	alice  string // an admin key, for the budgets API
	client *http.Client
}

// startOutage starts allot serve on PostgreSQL behind a proxy with the
// given failure_policy and a short key cache TTL; it skips without
// ALLOT_TEST_POSTGRES_DSN.
func startOutage(t *testing.T, policy string) *outage {
	t.Helper()
	direct := postgresTestDatabase(t, "allot_outage")
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatal(err)
	}
	proxy := tcpproxy.New(t, u.Host)
	u.Host = proxy.Addr
	sim := httptest.NewServer(upstreamsim.New(upstreamsim.Options{}))
	t.Cleanup(sim.Close)
	orgPath := filepath.Join(t.TempDir(), "org.yaml")
	if err := os.WriteFile(orgPath, []byte(outageOrg), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testServerConfig(t, sim.URL, u.String(), orgPath)
	cfg.SpoolDir = t.TempDir()
	cfg.FailurePolicy = policy
	cfg.KeyCache.TTL = config.Duration(outageKeyTTL)
	logs := &lockedBuffer{}
	ctx, stop := context.WithCancel(context.Background())
	srv, err := startServer(ctx, cfg, serverOptions{logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		stop()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.wait(ctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("allot serve stopped with %v", err)
		}
	})
	o := &outage{srv: srv, proxy: proxy, direct: direct, log: logs, client: &http.Client{Timeout: 15 * time.Second}}
	for _, k := range []struct {
		user string
		key  *string
	}{{"bob", &o.bob}, {"carol", &o.carol}, {"alice", &o.alice}} {
		if *k.key, _, err = srv.db.CreateKey(ctx, k.user, "outage"); err != nil {
			t.Fatal(err)
		}
	}
	return o
}

// outageCall is what a client saw of one call.
type outageCall struct {
	status     int
	id         string // X-Allot-Request-Id
	retryAfter string
	body       string
	err        error
}

// call sends one chat call with key.
func (o *outage) call(key string) outageCall {
	req, _ := http.NewRequest(http.MethodPost, "http://"+o.srv.addr+"/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4o","max_tokens":50,"messages":[{"role":"user","content":"Summarize the outage review."}]}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("x-sim-output-tokens", "20")
	resp, err := o.client.Do(req)
	if err != nil {
		return outageCall{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return outageCall{status: resp.StatusCode, id: resp.Header.Get("X-Allot-Request-Id"),
		retryAfter: resp.Header.Get("Retry-After"), body: string(body), err: err}
}

// readyz returns the status and body of GET /readyz.
func (o *outage) readyz(t *testing.T) (int, string) {
	t.Helper()
	resp, err := o.client.Get("http://" + o.srv.addr + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// waitReady polls /readyz until it answers want, and returns how long
// that took; it fails the test after limit.
func (o *outage) waitReady(t *testing.T, want int, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		code, body := o.readyz(t)
		if code == want {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("/readyz = %d %q after %s, want %d", code, body, limit, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFailOpenServesThroughAPostgresOutage is the fail_open acceptance
// point of issue #14: allot serve on PostgreSQL behind a proxy that is
// cut for ten key cache TTLs and more. Throughout, a key seen before the
// outage is served (every call succeeds) and rationed on local counters;
// a key first presented during it, valid or not, gets 503 with the
// reason, never 500; /readyz says 503. After the proxy is restored
// /readyz says 200 again, every call answered during the outage is in
// the ledger exactly once (spooled, then replayed), and the budget's
// spend in PostgreSQL equals the ledger's.
func TestFailOpenServesThroughAPostgresOutage(t *testing.T) {
	t.Parallel()
	o := startOutage(t, "fail_open")
	var answered []string // ids of calls answered 200
	for range 5 {
		c := o.call(o.bob)
		if c.status != http.StatusOK {
			t.Fatalf("call before the outage: %d %v %s", c.status, c.err, c.body)
		}
		answered = append(answered, c.id)
	}
	if code, body := o.readyz(t); code != http.StatusOK {
		t.Fatalf("/readyz before the outage = %d %q", code, body)
	}

	o.proxy.Cut()
	tCut := time.Now()
	var (
		mu      sync.Mutex
		during  []outageCall
		stopped atomic.Bool
		load    sync.WaitGroup
	)
	for range outageWorkers {
		load.Add(1)
		go func() {
			defer load.Done()
			for !stopped.Load() {
				c := o.call(o.bob)
				mu.Lock()
				during = append(during, c)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(2 * outageKeyTTL) // the cached keys expire
	unready := o.waitReady(t, http.StatusServiceUnavailable, outageLength)
	_, why := o.readyz(t)
	for _, k := range []struct{ name, key string }{{"a valid key first seen now", o.carol}, {"an unknown key", "ak-unknown-0000000000000000000"}} {
		c := o.call(k.key)
		if c.status != http.StatusServiceUnavailable || c.retryAfter == "" || !strings.Contains(c.body, "unreachable") {
			t.Errorf("%s during the outage: %d Retry-After %q %v %s; want 503 with Retry-After and the reason", k.name, c.status, c.retryAfter, c.err, c.body)
		}
	}
	time.Sleep(time.Until(tCut.Add(outageLength)))
	stopped.Store(true)
	load.Wait()
	// The store refuses the events: they wait on disk, not in memory.
	spooled := o.srv.writer.Spooled()
	if spooled == 0 {
		t.Errorf("no usage event was spooled during the outage")
	}
	tRestore := time.Now()
	o.proxy.Restore()
	recovered := o.waitReady(t, http.StatusOK, 30*time.Second)

	served := 0
	for _, c := range during {
		if c.status == http.StatusOK {
			served++
			answered = append(answered, c.id)
		} else {
			t.Errorf("call with a key seen before the outage: %d %v %s; want 200", c.status, c.err, c.body)
		}
	}
	for _, k := range []struct {
		name, key string
		want      int
	}{{"the key first seen during the outage", o.carol, 200}, {"the unknown key", "ak-unknown-0000000000000000000", 401}} {
		if c := o.call(k.key); c.status != k.want {
			t.Errorf("%s after the outage: %d %s; want %d", k.name, c.status, c.body, k.want)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := o.srv.writer.Flush(ctx); err != nil {
		t.Fatalf("the ledger writer did not store every event within 30s of the restore: %v", err)
	}
	drained := time.Since(tRestore)
	inLedger, ledgerTokens := ledgerIDs(t, o.direct)
	lost := 0
	for _, id := range answered {
		if inLedger[id] != 1 {
			lost++
			t.Errorf("call %s answered 200 is %d times in the ledger, want once", id, inLedger[id])
		}
	}
	// The budget counters reconcile: bob's spend in PostgreSQL is what
	// the ledger holds for him (carol's call is not under his budget).
	bobTokens := ledgerTokens - o.tokensOf(t, "carol")
	var spent int64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		spent = (&replica{name: "in-process", addr: o.srv.addr}).budget(t, o.alice, outageBudget).Spent
		if spent == bobTokens || time.Now().After(deadline) {
			break
		}
	}
	if spent != bobTokens {
		t.Errorf("budget %s spent %d tokens after the outage, the ledger holds %d of bob's", outageBudget, spent, bobTokens)
	}
	if n := strings.Count(o.log.String(), "key directory unreachable"); n != 1 {
		t.Errorf("the outage was logged %d times, want once:\n%s", n, o.log)
	}
	t.Logf("fail_open outage of %s (key cache TTL %s): %d calls during it, %d served, %d lost (%d events spooled); /readyz 503 (%q) %s after the cut, 200 %s after the restore; ledger complete %s after the restore; budget spent %d tokens = ledger",
		tRestore.Sub(tCut).Round(time.Millisecond), outageKeyTTL, len(during), served, lost, spooled, why,
		(2*outageKeyTTL + unready).Round(time.Millisecond), recovered.Round(time.Millisecond), drained.Round(time.Millisecond), spent)
	if len(during) < 10 {
		t.Errorf("only %d calls during the outage: the test did not exercise it", len(during))
	}
}

// TestFailClosedRefusesWithTheReasonInAPostgresOutage: under fail_closed
// a call whose key cannot be checked gets 503 with the reason and a
// Retry-After, not 500, /readyz says 503; once the proxy is restored the
// same key is served again and /readyz says 200.
func TestFailClosedRefusesWithTheReasonInAPostgresOutage(t *testing.T) {
	t.Parallel()
	o := startOutage(t, "fail_closed")
	if c := o.call(o.bob); c.status != http.StatusOK {
		t.Fatalf("call before the outage: %d %v %s", c.status, c.err, c.body)
	}
	o.proxy.Cut()
	time.Sleep(2 * outageKeyTTL)
	for _, key := range []string{o.bob, o.carol} {
		c := o.call(key)
		if c.status != http.StatusServiceUnavailable || c.retryAfter == "" ||
			!strings.Contains(c.body, "unreachable") || !strings.Contains(c.body, "fail_closed") {
			t.Errorf("call during the outage: %d Retry-After %q %v %s; want 503 with Retry-After and the reason", c.status, c.retryAfter, c.err, c.body)
		}
	}
	o.waitReady(t, http.StatusServiceUnavailable, outageLength)
	tRestore := time.Now()
	o.proxy.Restore()
	o.waitReady(t, http.StatusOK, 30*time.Second)
	t.Logf("fail_closed: ready again %s after the restore", time.Since(tRestore).Round(time.Millisecond))
	if c := o.call(o.bob); c.status != http.StatusOK {
		t.Errorf("call after the outage: %d %v %s", c.status, c.err, c.body)
	}
}

// tokensOf sums the input and output tokens of user's events in the ledger.
func (o *outage) tokensOf(t *testing.T, user string) int64 {
	t.Helper()
	out := mustRun(t, "report", "--by", "user", "--format", "json", "--database", o.direct)
	var rows []struct {
		User   string `json:"user"`
		Input  int64  `json:"input_tokens"`
		Output int64  `json:"output_tokens"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	for _, r := range rows {
		if r.User == user {
			return r.Input + r.Output
		}
	}
	return 0
}

// lockedBuffer is a bytes.Buffer safe for the server's concurrent logging.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
