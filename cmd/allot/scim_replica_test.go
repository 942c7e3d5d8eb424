package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
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

	"github.com/allot-dev/allot/upstreamsim"
)

// leaveWithin is how soon a person who leaves must lose every key on
// every replica (issue 17, "Leaving is immediate").
const leaveWithin = 10 * time.Second

// TestLeavingIsImmediateOnEveryReplica: two `allot serve` replicas share
// PostgreSQL and Redis, with key_cache.ttl at 60s so only the revocation
// watch (gateway.WatchRevocations) can make it in time. A person SCIM
// provisioned on replica A, whose key replica B has cached, is
// deactivated through A's /scim/v2 (Okta's PATCH); B refuses the key
// with 401 within 10s. A person org.yaml drops (`allot apply`, another
// process) loses their key on B within 10s too.
func TestLeavingIsImmediateOnEveryReplica(t *testing.T) {
	t.Parallel()
	dsn, redisAddr := os.Getenv("ALLOT_TEST_POSTGRES_DSN"), os.Getenv("ALLOT_TEST_REDIS_ADDR")
	if dsn == "" || redisAddr == "" {
		t.Skip("ALLOT_TEST_POSTGRES_DSN and ALLOT_TEST_REDIS_ADDR must both be set: skipping the replica leaving test")
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	suffix := hex.EncodeToString(rnd[:])
	database := killTestDatabase(t, dsn, "allot_scim_"+suffix)
	counters := killTestRedis(t, redisAddr, "scim-"+suffix)
	tokenEnv := "SCIMTEST_TOKEN_" + strings.ToUpper(suffix) // not ALLOT_*: startServe passes it on
	token := "scim-" + suffix + "-0123456789abcdef0123456789abcdef"
	os.Setenv(tokenEnv, token)
	t.Cleanup(func() { os.Unsetenv(tokenEnv) })

	sim := httptest.NewServer(upstreamsim.New(upstreamsim.Options{}))
	defer sim.Close()
	dir := t.TempDir()
	orgPath := filepath.Join(dir, "org.yaml")
	writeOrg := func(users string) {
		t.Helper()
		if err := os.WriteFile(orgPath, []byte("name: acme\nteams:\n  - name: platform\nusers:\n"+users), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeOrg("  - {name: alice, email: alice@acme.test, team: platform, role: admin}\n  - {name: bob, email: bob@acme.test, team: platform}\n")
	mustRun(t, "apply", "-f", orgPath, "--database", database)

	var a, b *replica
	var wg sync.WaitGroup
	for i, r := range []**replica{&a, &b} {
		name := string(rune('A' + i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			rdir := filepath.Join(dir, "replica-"+name)
			if err := os.MkdirAll(rdir, 0o700); err != nil {
				t.Error(err)
				return
			}
			*r = startServe(t, name, rdir, fmt.Sprintf(`listen: 127.0.0.1:0
database: %q
counters: %q
spool_dir: %q
key_cache: {ttl: 60s}
log_format: json
scim: {token_env: %s, group_to_team: {Engineering: platform}}
providers:
  - {name: openai, type: openai, base_url: %q}
`, database, counters, filepath.Join(rdir, "spool"), tokenEnv, sim.URL+"/v1"))
		}()
	}
	wg.Wait()
	if a == nil || b == nil {
		t.FailNow()
	}

	// SCIM on A: the person arrives, gets a key, B serves it (and caches it).
	created := scimCall(t, a, token, "POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName":"leaver@acme.test","name":{"givenName":"Lee","familyName":"Ver"},"emails":[{"primary":true,"value":"leaver@acme.test","type":"work"}],"active":true}`, 201)
	id, _ := created["id"].(string)
	leaverKey := strings.TrimSpace(mustRun(t, "keys", "create", "--user", "leaver@acme.test", "--name", "laptop", "--database", database))
	bobKey := strings.TrimSpace(mustRun(t, "keys", "create", "--user", "bob", "--name", "laptop", "--database", database))
	for _, key := range []string{leaverKey, bobKey} {
		if code := leaveChat(t, b, key); code != http.StatusOK {
			t.Fatalf("a new key on replica B: %d\n%s", code, b.log())
		}
	}

	// Okta deactivates through A; B must refuse within 10s.
	start := time.Now()
	scimCall(t, a, token, "PATCH", "/scim/v2/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`, 200)
	took := waitRefused(t, b, leaverKey, start)
	t.Logf("SCIM deactivation on A: the key got 401 on B after %s", took.Round(time.Millisecond))
	if code := leaveChat(t, a, leaverKey); code != http.StatusUnauthorized {
		t.Errorf("the deactivated person's key on A: %d, want 401", code)
	}
	if code := leaveChat(t, b, bobKey); code != http.StatusOK {
		t.Errorf("bob's key on B after someone else left: %d, want 200", code)
	}

	// org.yaml drops bob, applied by another process; B must refuse within 10s.
	writeOrg("  - {name: alice, email: alice@acme.test, team: platform, role: admin}\n")
	start = time.Now()
	mustRun(t, "apply", "-f", orgPath, "--database", database)
	took = waitRefused(t, b, bobKey, start)
	t.Logf("org.yaml removal: the key got 401 on B after %s", took.Round(time.Millisecond))
}

// waitRefused polls replica r with key until it answers 401 and returns
// how long after start that was; it fails the test past leaveWithin.
func waitRefused(t *testing.T, r *replica, key string, start time.Time) time.Duration {
	t.Helper()
	for {
		code := leaveChat(t, r, key)
		took := time.Since(start)
		if code == http.StatusUnauthorized {
			if took > leaveWithin {
				t.Errorf("the key was refused after %s, more than %s", took, leaveWithin)
			}
			return took
		}
		if took > leaveWithin+5*time.Second {
			t.Fatalf("the key still answers %d on replica %s %s after it was revoked\n%s", code, r.name, took, r.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// leaveChat sends one small chat call through replica r with key and returns
// the status.
func leaveChat(t *testing.T, r *replica, key string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+r.addr+"/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4o-mini","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("call through replica %s: %v", r.name, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// scimCall sends a SCIM request to replica r and decodes the answer.
func scimCall(t *testing.T, r *replica, token, method, path, body string, want int) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+r.addr+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s on replica %s: %v", method, path, r.name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s on replica %s = %d %s, want %d", method, path, r.name, resp.StatusCode, b, want)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}
