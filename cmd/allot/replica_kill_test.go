package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	openaisdk "github.com/openai/openai-go/v3"
	openaiopt "github.com/openai/openai-go/v3/option"
	goredis "github.com/redis/go-redis/v9"

	"github.com/allot-dev/allot/upstreamsim"
)

// asCLIEnv makes the test binary run the allot CLI instead of the tests,
// so tests can start real `allot serve` processes (and kill -9 them)
// without a `go build`.
const asCLIEnv = "ALLOT_TEST_AS_CLI"

// TestMain runs the CLI when asCLIEnv is 1, else the tests.
func TestMain(m *testing.M) {
	if os.Getenv(asCLIEnv) == "1" {
		main() // exits 1 itself on error
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Timing of TestKilledReplicaReleasesReservations. The lease is short so
// the test is; upstream_timeout must stay below it (config.Validate).
const (
	killLeaseTTL      = 5 * time.Second
	killUpstreamLimit = 3 * time.Second
	killLimitTokens   = 50000 // the budget; the load spends a few thousand
	killMaxTokens     = 400   // each load call reserves its body bytes plus this
	killLongCalls     = 4     // slow streams on replica A, cut by the kill
	killWorkers       = 2     // short-call loops per replica
)

// TestKilledReplicaReleasesReservations is the "Scale out" acceptance
// point: two `allot serve` processes share one PostgreSQL ledger and Redis
// counters; replica A is killed with SIGKILL while calls are in flight on
// both. The reservations A held lapse with their lease (lease_ttl) and
// nothing else: until then a call needing the room they hold is refused,
// after it the same call is admitted, and the reserved amount returns to
// zero within lease_ttl of the kill. Every call whose client received a
// complete answer, from either replica, before or after the kill, is in
// the ledger exactly once once A restarted on its spool_dir (its journal
// holds what it had answered but not yet stored); calls cut by the kill
// are there at most once.
func TestKilledReplicaReleasesReservations(t *testing.T) {
	t.Parallel()
	dsn, redisAddr := os.Getenv("ALLOT_TEST_POSTGRES_DSN"), os.Getenv("ALLOT_TEST_REDIS_ADDR")
	if dsn == "" || redisAddr == "" {
		t.Skip("ALLOT_TEST_POSTGRES_DSN and ALLOT_TEST_REDIS_ADDR must both be set: skipping the replica kill test")
	}
	ctx := context.Background()
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	suffix := hex.EncodeToString(rnd[:])
	database := killTestDatabase(t, dsn, "allot_kill_"+suffix)
	budgetName := "kill-" + suffix // unique, so its Redis keys are this test's alone
	counters := killTestRedis(t, redisAddr, budgetName)

	sim := httptest.NewServer(upstreamsim.New(upstreamsim.Options{}))
	defer sim.Close()
	dir := t.TempDir()
	orgPath := filepath.Join(dir, "org.yaml")
	org := fmt.Sprintf(`name: acme
teams:
  - name: platform
users:
  - {name: alice, email: alice@acme.test, team: platform, role: admin}
  - {name: bob, email: bob@acme.test, team: platform, role: member}
budgets:
  - name: %s
    scope: user:bob
    limit_tokens: %d
    period: month
`, budgetName, killLimitTokens)
	if err := os.WriteFile(orgPath, []byte(org), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "apply", "-f", orgPath, "--database", database)
	bobKey := strings.TrimSpace(mustRun(t, "keys", "create", "--user", "bob", "--name", "load", "--database", database))
	aliceKey := strings.TrimSpace(mustRun(t, "keys", "create", "--user", "alice", "--name", "admin", "--database", database))

	// Both replicas start at once, as a scaled-out deployment does.
	var a, b *replica
	var wg sync.WaitGroup
	for _, r := range []**replica{&a, &b} {
		name := "A"
		if r == &b {
			name = "B"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			*r = startReplica(t, name, dir, sim.URL, database, counters, orgPath)
		}()
	}
	wg.Wait()
	if a == nil || b == nil {
		t.FailNow()
	}
	clientA, clientB := a.client(bobKey), b.client(bobKey)

	// Load: slow streams on A that the kill cuts, and short calls in a
	// loop on both replicas before and after the kill.
	var (
		mu      sync.Mutex
		results []killCall
	)
	keep := func(c killCall) {
		mu.Lock()
		results = append(results, c)
		mu.Unlock()
	}
	var longWorst atomic.Int64 // what the slow streams reserved, body bytes + max_tokens
	started := make(chan struct{}, killLongCalls)
	tLongSent := time.Now()
	var load sync.WaitGroup
	for range killLongCalls {
		load.Add(1)
		go func() {
			defer load.Done()
			c := sendCall(ctx, clientA, "A", 25, "100ms", killMaxTokens, func() { started <- struct{}{} })
			longWorst.Add(c.bodyLen + killMaxTokens)
			keep(c)
		}()
	}
	var stopA, stopB atomic.Bool
	doneOnA := make(chan struct{}, 1) // a short call on A just completed
	for _, w := range []struct {
		name   string
		client *openaisdk.Client
		stop   *atomic.Bool
	}{{"A", clientA, &stopA}, {"B", clientB, &stopB}} {
		for range killWorkers {
			load.Add(1)
			go func() {
				defer load.Done()
				for !w.stop.Load() {
					c := sendCall(ctx, w.client, w.name, 6, "20ms", killMaxTokens, nil)
					keep(c)
					if c.complete && w.name == "A" {
						select {
						case doneOnA <- struct{}{}:
						default:
						}
					}
				}
			}()
		}
	}
	for range killLongCalls {
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatalf("the slow streams on replica A did not start; A's log:\n%s", a.log())
		}
	}
	time.Sleep(400 * time.Millisecond) // short calls complete on both replicas
	// Kill A the moment one of its calls has completed at the client, the
	// hardest case for "every complete call is in the ledger".
	select {
	case <-doneOnA:
	default:
	}
	select {
	case <-doneOnA:
	case <-time.After(5 * time.Second):
		t.Fatalf("no call completed on replica A; A's log:\n%s", a.log())
	}
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill -9 replica A: %v", err)
	}
	tKill := time.Now()
	stopA.Store(true)
	_ = a.cmd.Wait()
	time.Sleep(400 * time.Millisecond) // B keeps serving after the kill
	stopB.Store(true)
	load.Wait()
	b.waitIdle(t)

	// A's leases still hold their room: a call needing more than what is
	// left beside them is refused.
	st := b.budget(t, aliceKey, budgetName)
	held, spent := st.Reserved, st.Spent
	tHeld := time.Now()
	if held < longWorst.Load() {
		t.Fatalf("right after the kill, %s reserved %d tokens; the %d slow streams cut on A alone reserved %d (lease_ttl %s from %s ago)",
			budgetName, held, killLongCalls, longWorst.Load(), killLeaseTTL, time.Since(tLongSent).Round(time.Millisecond))
	}
	// The big call's worst case (its body, under 300 bytes, plus max_tokens)
	// fits the limit minus spent, but not minus what A's leases hold.
	bigMax := killLimitTokens - spent - held/2 - 300
	big := sendCall(ctx, clientB, "B", 5, "0", bigMax, nil)
	if big.bodyLen >= 300 || held/2 < 300 {
		t.Fatalf("test setup: big call body %d bytes, held %d: the arithmetic below needs body < 300 and held >= 600", big.bodyLen, held)
	}
	if big.status != http.StatusTooManyRequests {
		t.Fatalf("a call reserving %d tokens while A's dead leases hold %d of %d (spent %d) got %d (%v), want 429",
			big.bodyLen+bigMax, held, killLimitTokens, spent, big.status, big.err)
	}
	keep(big)

	// The leases lapse: reserved returns to 0 (B is idle) within lease_ttl
	// of the kill, and not before lease_ttl after the slow streams began.
	var tFree time.Time
	for deadline := tKill.Add(killLeaseTTL + 2*time.Second); ; {
		if st = b.budget(t, aliceKey, budgetName); st.Reserved == 0 {
			tFree = time.Now()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still reserves %d tokens %s after replica A was killed (lease_ttl %s)",
				budgetName, st.Reserved, time.Since(tKill).Round(time.Millisecond), killLeaseTTL)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st.Spent != spent {
		t.Errorf("spent moved from %d to %d while only dead leases lapsed", spent, st.Spent)
	}
	if bound := killLeaseTTL + time.Second; tFree.Sub(tKill) > bound {
		t.Errorf("reservations released %s after the kill, want within %s", tFree.Sub(tKill), bound)
	}
	if early := tFree.Sub(tLongSent); early < killLeaseTTL-100*time.Millisecond {
		t.Errorf("reservations of the slow streams released %s after they were made, before their lease_ttl %s", early, killLeaseTTL)
	}
	again := sendCall(ctx, clientB, "B", 5, "0", bigMax, nil)
	keep(again)
	if !again.complete {
		t.Fatalf("after A's leases lapsed, the call reserving %d of the %d left got %d (%v), want a complete answer",
			again.bodyLen+bigMax, killLimitTokens-spent, again.status, again.err)
	}
	t.Logf("kill -9 of A: %d tokens held by its leases %s after the kill; released %s after the kill (lease_ttl %s; slow streams sent %s before the kill)",
		held, tHeld.Sub(tKill).Round(time.Millisecond), tFree.Sub(tKill).Round(time.Millisecond), killLeaseTTL, tKill.Sub(tLongSent).Round(time.Millisecond))

	b.waitIdle(t)
	counted := b.budget(t, aliceKey, budgetName).Spent
	b.stop(t) // SIGTERM: B writes every event it holds and exits 0
	// A comes back on its own spool_dir, as a restarted pod on its volume
	// does, and stores what its journal holds: the calls it had answered
	// in full before the kill and not yet written to the ledger.
	restarted := startReplica(t, "A", dir, sim.URL, database, counters, orgPath)
	if restarted == nil {
		t.FailNow()
	}
	// The calls in flight on A at the kill are recovered from their
	// intents, and count against the shared budget, which B had rebuilt
	// long before and A's lapsed reservations no longer hold.
	// The restarted writer appends them in the background: wait for them.
	recoveredCalls, recoveredTokens := ledgerCrashed(t, database)
	for deadline := time.Now().Add(15 * time.Second); recoveredCalls < killLongCalls && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		recoveredCalls, recoveredTokens = ledgerCrashed(t, database)
	}
	if recoveredCalls < killLongCalls {
		t.Errorf("%d calls in flight at the kill were recovered as estimated events, want at least the %d slow streams", recoveredCalls, killLongCalls)
	}
	if after := restarted.budget(t, aliceKey, budgetName).Spent; after != counted+recoveredTokens {
		t.Errorf("after A restarted %s spent %d tokens, want %d counted before + %d of the %d calls recovered",
			budgetName, after, counted, recoveredTokens, recoveredCalls)
	}
	restarted.stop(t)

	// The ledger: each complete call once, nothing twice.
	inLedger, ledgerTokens := ledgerIDs(t, database)
	for id, n := range inLedger {
		if n != 1 {
			t.Errorf("event %s is in the ledger %d times", id, n)
		}
	}
	var stats struct{ complete, cut, cutRecorded, refused [2]int }
	var missing []string
	for _, c := range results {
		i := 0
		if c.replica == "B" {
			i = 1
		}
		switch {
		case c.complete:
			stats.complete[i]++
			if inLedger[c.id] == 0 {
				missing = append(missing, fmt.Sprintf("%s on %s (ended %s before the kill)", c.id, c.replica, tKill.Sub(c.end).Round(time.Millisecond)))
			}
		case c.status == http.StatusTooManyRequests:
			stats.refused[i]++
		default:
			stats.cut[i]++
			if c.id != "" && inLedger[c.id] > 0 {
				stats.cutRecorded[i]++
			}
		}
	}
	t.Logf("calls complete A=%d B=%d, cut A=%d B=%d (of them in the ledger A=%d B=%d), refused A=%d B=%d; %d events in the ledger",
		stats.complete[0], stats.complete[1], stats.cut[0], stats.cut[1], stats.cutRecorded[0], stats.cutRecorded[1],
		stats.refused[0], stats.refused[1], len(inLedger))
	t.Logf("tokens spent: %d in the shared counters, %d in the ledger", counted, ledgerTokens)
	if stats.complete[0] == 0 || stats.complete[1] < 2 || stats.cut[0] < killLongCalls {
		t.Errorf("the load did not exercise the kill: want complete calls on both replicas and at least %d cut on A", killLongCalls)
	}
	if stats.cut[1] != 0 {
		t.Errorf("%d calls on replica B did not complete", stats.cut[1])
	}
	if len(missing) > 0 {
		t.Errorf("%d complete calls are not in the ledger:\n  %s", len(missing), strings.Join(missing, "\n  "))
	}
}

// ledgerCrashed counts the events of the ledger at database recovered
// from intents (status 444), and sums their tokens (input and output).
func ledgerCrashed(t *testing.T, database string) (calls, tokens int64) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, database)
	if err != nil {
		t.Fatalf("read the ledger: %v", err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, "SELECT count(*), coalesce(sum(input + output), 0)::int8 FROM events WHERE status = 444").Scan(&calls, &tokens); err != nil {
		t.Fatalf("read the ledger: %v", err)
	}
	return calls, tokens
}

// killCall is what a client saw of one call.
type killCall struct {
	replica  string
	id       string // X-Allot-Request-Id, "" without a response
	status   int
	complete bool // the whole stream arrived: finish reason, usage and [DONE]
	err      error
	bodyLen  int64 // request body bytes: the input part of the worst case
	end      time.Time
}

// sendCall streams one chat call with the official SDK: outTokens chunks
// delay apart, reserving its body bytes plus maxTokens. started, if set,
// runs when the first chunk arrives.
func sendCall(ctx context.Context, client *openaisdk.Client, replica string, outTokens int, delay string, maxTokens int64, started func()) killCall {
	c := killCall{replica: replica}
	var raw *http.Response
	measure := func(req *http.Request, next openaiopt.MiddlewareNext) (*http.Response, error) {
		if req.Body != nil {
			body, err := io.ReadAll(req.Body)
			if err != nil {
				return nil, err
			}
			c.bodyLen = int64(len(body))
			req.Body = io.NopCloser(bytes.NewReader(body))
		}
		return next(req)
	}
	s := client.Chat.Completions.NewStreaming(ctx, openaisdk.ChatCompletionNewParams{
		Model:         "gpt-4o",
		Messages:      []openaisdk.ChatCompletionMessageParamUnion{openaisdk.UserMessage("Summarize the incident review.")},
		MaxTokens:     openaisdk.Int(maxTokens),
		StreamOptions: openaisdk.ChatCompletionStreamOptionsParam{IncludeUsage: openaisdk.Bool(true)},
	}, openaiopt.WithResponseInto(&raw), openaiopt.WithMiddleware(measure),
		openaiopt.WithHeader("x-sim-output-tokens", strconv.Itoa(outTokens)), openaiopt.WithHeader("x-sim-chunk-delay", delay))
	finished, usage := false, false
	for s.Next() {
		ch := s.Current()
		if started != nil && len(ch.Choices) > 0 {
			started()
			started = nil
		}
		for _, choice := range ch.Choices {
			finished = finished || choice.FinishReason != ""
		}
		usage = usage || ch.Usage.TotalTokens > 0
	}
	c.err = s.Err()
	_ = s.Close()
	if started != nil {
		started() // never started: let the test go on and fail on what it sees
	}
	c.end = time.Now()
	if raw != nil {
		c.id, c.status = raw.Header.Get("X-Allot-Request-Id"), raw.StatusCode
	}
	var apiErr *openaisdk.Error
	if errors.As(c.err, &apiErr) {
		c.status = apiErr.StatusCode
	}
	c.complete = c.err == nil && c.status == http.StatusOK && finished && usage && c.id != ""
	return c
}

// replica is one `allot serve` process: the test binary re-executed as
// the CLI.
type replica struct {
	name string
	cmd  *exec.Cmd
	addr string

	mu     sync.Mutex
	stderr bytes.Buffer
}

// startReplica writes name's allot.yaml and starts `allot serve` with it,
// returning once it listens (nil after t.Error if it did not).
func startReplica(t *testing.T, name, dir, simURL, database, counters, orgPath string) *replica {
	t.Helper()
	rdir := filepath.Join(dir, "replica-"+name)
	if err := os.MkdirAll(rdir, 0o700); err != nil {
		t.Error(err)
		return nil
	}
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
database: %q
counters: %q
org: %q
spool_dir: %q
upstream_timeout: %s
lease_ttl: %s
shutdown_timeout: 10s
log_format: json
log_level: info
providers:
  - {name: openai, type: openai, base_url: %q}
`, database, counters, orgPath, filepath.Join(rdir, "spool"), killUpstreamLimit, killLeaseTTL, simURL+"/v1")
	return startServe(t, name, rdir, cfg)
}

// startServe writes cfg as allot.yaml in rdir and starts `allot serve`
// with it there, returning once it listens (nil after t.Error if it did
// not).
func startServe(t *testing.T, name, rdir, cfg string) *replica {
	t.Helper()
	cfgPath := filepath.Join(rdir, "allot.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Error(err)
		return nil
	}
	r := &replica{name: name}
	r.cmd = exec.Command(os.Args[0], "serve", "--config", cfgPath)
	r.cmd.Dir = rdir
	for _, kv := range os.Environ() { // no ALLOT_* of the test's environment
		if !strings.HasPrefix(kv, "ALLOT_") {
			r.cmd.Env = append(r.cmd.Env, kv)
		}
	}
	r.cmd.Env = append(r.cmd.Env, asCLIEnv+"=1")
	pipe, err := r.cmd.StderrPipe()
	if err != nil {
		t.Error(err)
		return nil
	}
	if err := r.cmd.Start(); err != nil {
		t.Errorf("start replica %s: %v", name, err)
		return nil
	}
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			_ = r.cmd.Process.Kill()
			_ = r.cmd.Wait()
		}
	})
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			r.mu.Lock()
			r.stderr.Write(line)
			r.stderr.WriteByte('\n')
			r.mu.Unlock()
			var rec struct{ Msg, Listen string }
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "allot is serving" {
				listening <- strings.TrimPrefix(rec.Listen, "http://")
			}
		}
		close(listening)
	}()
	select {
	case addr, ok := <-listening:
		if !ok {
			t.Errorf("replica %s exited before serving:\n%s", name, r.log())
			return nil
		}
		r.addr = addr
	case <-time.After(30 * time.Second):
		t.Errorf("replica %s did not start serving in 30s:\n%s", name, r.log())
		return nil
	}
	return r
}

// log is what the replica wrote to stderr so far.
func (r *replica) log() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stderr.String()
}

// client is an OpenAI SDK client of the replica with key, on a transport
// of its own (so a dead replica's connections touch no other), without
// retries (a retry would be a second call).
func (r *replica) client(key string) *openaisdk.Client {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	c := openaisdk.NewClient(openaiopt.WithBaseURL("http://"+r.addr+"/v1"), openaiopt.WithAPIKey(key),
		openaiopt.WithMaxRetries(0), openaiopt.WithHTTPClient(hc), openaiopt.WithRequestTimeout(20*time.Second))
	return &c
}

// killBudget is a token budget's status as GET /api/v1/budgets shows it.
type killBudget struct {
	Name     string `json:"name"`
	Spent    int64  `json:"spent_tokens"`
	Reserved int64  `json:"reserved_tokens"`
	Limit    int64  `json:"limit_tokens"`
}

// budget reads budget name from the replica's admin API with an admin key.
func (r *replica) budget(t *testing.T, key, name string) killBudget {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+r.addr+"/api/v1/budgets", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /api/v1/budgets on %s: %v", r.name, err)
	}
	defer resp.Body.Close()
	var list []killBudget
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/budgets on %s: %d %v", r.name, resp.StatusCode, err)
	}
	for _, b := range list {
		if b.Name == name {
			return b
		}
	}
	t.Fatalf("GET /api/v1/budgets on %s has no %s: %+v", r.name, name, list)
	return killBudget{}
}

// waitIdle waits until the replica proxies no call: every call it took
// has settled its reservation (the gauge drops after settling).
func (r *replica) waitIdle(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err := http.Get("http://" + r.addr + "/metrics")
		if err != nil {
			t.Fatalf("GET /metrics on %s: %v", r.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(body), "\n") {
			if line == "allot_in_flight_requests 0" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s still has calls in flight after 10s", r.name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends the replica with SIGTERM and checks it exits 0 (drained,
// every event written, and no data race reported).
func (r *replica) stop(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM replica %s: %v", r.name, err)
	}
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("replica %s exited with %v after SIGTERM:\n%s", r.name, err, r.log())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("replica %s did not exit within 15s of SIGTERM", r.name)
	}
}

// killTestDatabase returns dsn in a fresh schema, dropped at the end; it
// fails the test when PostgreSQL does not answer.
func killTestDatabase(t *testing.T, dsn, schema string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("ALLOT_TEST_POSTGRES_DSN=%s is set but PostgreSQL is unreachable: %v", dsn, err)
	}
	t.Cleanup(func() {
		// A replica killed a moment ago may still have a backend finishing
		// its last statement (an insight fold, a revocation poll): the drop
		// can deadlock with it, so it is tried again for a few seconds.
		var err error
		for try := 0; try < 20; try++ {
			if _, err = conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err == nil {
				break
			}
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || (pgErr.Code != "40P01" && pgErr.Code != "55P03") {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		conn.Close(context.Background())
	})
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema
}

// killTestRedisDB is the Redis database the replicas keep counters in; the
// test's keys carry its unique budget name and are deleted at the end.
const killTestRedisDB = 5

// killTestRedis returns the counters URL for the replicas; it fails the
// test when Redis does not answer, and deletes the keys of budget at the end.
func killTestRedis(t *testing.T, addr, budget string) string {
	t.Helper()
	rc := goredis.NewClient(&goredis.Options{Addr: addr, DB: killTestRedisDB})
	if err := rc.Ping(context.Background()).Err(); err != nil {
		rc.Close()
		t.Fatalf("ALLOT_TEST_REDIS_ADDR=%s is set but Redis is unreachable: %v", addr, err)
	}
	t.Cleanup(func() {
		defer rc.Close()
		ctx := context.Background()
		iter := rc.Scan(ctx, 0, "allot:*"+budget+"*", 100).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("list the test's Redis keys: %v", err)
		}
		if len(keys) > 0 {
			if err := rc.Del(ctx, keys...).Err(); err != nil {
				t.Errorf("delete the test's Redis keys: %v", err)
			}
		}
	})
	return fmt.Sprintf("redis://%s/%d", addr, killTestRedisDB)
}

// ledgerIDs counts the events of the ledger at database by id, and sums
// their tokens (input and output).
func ledgerIDs(t *testing.T, database string) (map[string]int, int64) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, database)
	if err != nil {
		t.Fatalf("read the ledger: %v", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT encode(id, 'hex'), count(*), sum(input + output)::int8 FROM events GROUP BY id")
	if err != nil {
		t.Fatalf("read the ledger: %v", err)
	}
	out, tokens := map[string]int{}, int64(0)
	for rows.Next() {
		var id string
		var n int
		var sum int64
		if err := rows.Scan(&id, &n, &sum); err != nil {
			t.Fatalf("read the ledger: %v", err)
		}
		out[id] = n
		tokens += sum
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read the ledger: %v", err)
	}
	return out, tokens
}
