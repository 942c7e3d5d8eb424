package gateway_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/gateway"
	"github.com/allot-dev/allot/pricing"
)

// outageDirectory is a key directory that can become unreachable: it
// then fails every lookup the way a store behind a cut network does.
type outageDirectory struct {
	mu    sync.Mutex
	keys  map[string]allot.Principal // by hex of the key's hash
	down  bool
	hang  bool          // lookups wait until their context ends, as over a dropped network
	hold  chan struct{} // if set, lookups wait until it is closed
	asked int           // lookups, answered or not
}

func (d *outageDirectory) PrincipalByKeyHash(ctx context.Context, hash []byte) (allot.Principal, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.asked++
	if hold := d.hold; hold != nil {
		d.mu.Unlock()
		<-hold
		d.mu.Lock()
	}
	if d.hang {
		d.mu.Unlock()
		<-ctx.Done()
		d.mu.Lock()
		return allot.Principal{}, fmt.Errorf("look up key: %w", ctx.Err())
	}
	if d.down {
		return allot.Principal{}, errors.New("look up key: dial tcp 127.0.0.1:5432: connect: connection refused")
	}
	if p, ok := d.keys[hex.EncodeToString(hash)]; ok {
		return p, nil
	}
	return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "invalid allot key")
}

func (d *outageDirectory) set(f func(d *outageDirectory)) {
	d.mu.Lock()
	f(d)
	d.mu.Unlock()
}

func (d *outageDirectory) lookups() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.asked
}

// testClock is a clock tests move by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type discardRecorder struct{}

func (discardRecorder) Record(allot.Event) {}

const (
	knownKey   = "ak-known-0000000000000000000000"
	unknownKey = "ak-never-seen-00000000000000000"
	outageTTL  = 10 * time.Second
)

var knownPrincipal = allot.Principal{Org: "acme", Team: "platform", User: "alice", KeyID: "k1", KeyLabel: "laptop"}

// outageGateway is a gateway over a directory holding knownKey, with a
// key cache TTL of outageTTL and lkg as last-known-good period.
func outageGateway(lkg time.Duration, ready func(context.Context) error) (*gateway.Gateway, *outageDirectory, *testClock) {
	dir := &outageDirectory{keys: map[string]allot.Principal{hex.EncodeToString(allot.HashKey(knownKey)): knownPrincipal}}
	clock := &testClock{t: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	gw := gateway.New(gateway.Options{
		Keys: dir, Pricer: pricing.Default(), MaxOutput: pricing.Default().MaxOutput, Recorder: discardRecorder{},
		KeyCacheTTL: outageTTL, KeyLastKnownGood: lkg, Ready: ready, Now: clock.now,
	})
	return gw, dir, clock
}

func authenticate(gw *gateway.Gateway, key string) (allot.Principal, error) {
	r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
	r.Header.Set("Authorization", "Bearer "+key)
	return gw.Authenticate(r)
}

// TestKeysDuringDirectoryOutage: once a key's cache entry is older than
// the TTL and the directory cannot be reached, fail_open (a last-known-good
// period) serves the keys the directory last said were valid within that
// period, and nothing else; fail_closed (none) serves no key it cannot
// check. What is not served is EUnavailable (503), never an internal error.
func TestKeysDuringDirectoryOutage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		lkg        time.Duration // 0: fail_closed
		key        string
		revoked    bool          // the key is revoked, and a call saw it so, before the outage
		outageAge  time.Duration // time from the key's last resolution to the call
		wantServed bool
	}{
		{name: "fail_open serves a key seen valid", lkg: 24 * time.Hour, key: knownKey, outageAge: time.Hour, wantServed: true},
		{name: "fail_open refuses a key never seen", lkg: 24 * time.Hour, key: unknownKey, outageAge: time.Hour},
		{name: "fail_open refuses a key seen revoked", lkg: 24 * time.Hour, key: knownKey, revoked: true, outageAge: time.Hour},
		{name: "fail_open refuses a key seen valid longer ago than last_known_good", lkg: time.Hour, key: knownKey, outageAge: time.Hour + time.Second},
		{name: "fail_closed refuses a key seen valid once its TTL passed", key: knownKey, outageAge: outageTTL},
		{name: "fail_closed serves a key within its TTL", key: knownKey, outageAge: outageTTL - time.Second, wantServed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gw, dir, clock := outageGateway(tt.lkg, nil)
			if _, err := authenticate(gw, knownKey); err != nil {
				t.Fatalf("before the outage: %v", err)
			}
			if tt.revoked {
				dir.set(func(d *outageDirectory) { clear(d.keys) })
				clock.advance(outageTTL)
				if _, err := authenticate(gw, knownKey); allot.CodeOf(err) != allot.EUnauthorized {
					t.Fatalf("revoked key before the outage: %v, want unauthorized", err)
				}
				clock.advance(-outageTTL)
			}
			dir.set(func(d *outageDirectory) { d.down = true })
			clock.advance(tt.outageAge)
			p, err := authenticate(gw, tt.key)
			if tt.wantServed {
				if err != nil || p != knownPrincipal {
					t.Fatalf("Authenticate = %+v, %v; want %+v served", p, err, knownPrincipal)
				}
				return
			}
			e := allot.ErrorOf(err)
			if err == nil || e.Code != allot.EUnavailable || e.RetryAfter <= 0 || !strings.Contains(e.Message, "unreachable") {
				t.Fatalf("Authenticate = %+v, %v; want unavailable saying the directory is unreachable, with a Retry-After", p, err)
			}
		})
	}
}

// TestKeyDirectoryIsNotHammeredWhileDown: during an outage calls do not
// wait on the directory each time: it is asked at most once a second, in
// the background for keys it serves from the last-known-good cache, and
// as soon as it answers again keys are resolved from it (a key revoked
// meanwhile is refused).
func TestKeyDirectoryIsNotHammeredWhileDown(t *testing.T) {
	t.Parallel()
	gw, dir, clock := outageGateway(24*time.Hour, nil)
	if _, err := authenticate(gw, knownKey); err != nil {
		t.Fatal(err)
	}
	dir.set(func(d *outageDirectory) { d.down = true })
	clock.advance(outageTTL)
	before := dir.lookups()
	for range 100 {
		if _, err := authenticate(gw, knownKey); err != nil {
			t.Fatalf("known key during the outage: %v", err)
		}
		if _, err := authenticate(gw, unknownKey); allot.CodeOf(err) != allot.EUnavailable {
			t.Fatalf("unknown key during the outage: %v, want unavailable", err)
		}
	}
	if n := dir.lookups() - before; n != 1 {
		t.Fatalf("200 calls within a second of the outage asked the directory %d times, want 1", n)
	}
	dir.set(func(d *outageDirectory) { d.down = false; clear(d.keys) })
	clock.advance(time.Second)
	// The next call is still served while the directory is asked in the
	// background; once it answered, the key revoked meanwhile is refused.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		_, err := authenticate(gw, knownKey)
		if allot.CodeOf(err) == allot.EUnauthorized {
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("key revoked during the outage, after it: %v, want unauthorized", err)
		}
	}
	if n := dir.lookups() - before; n > 3 {
		t.Errorf("the directory was asked %d times for the outage and the recovery, want at most 3", n)
	}
	if _, err := authenticate(gw, unknownKey); allot.CodeOf(err) != allot.EUnauthorized {
		t.Fatalf("unknown key after the outage: %v, want unauthorized", err)
	}
}

// TestKeyOutageAnswersInProtocolShape: a call refused because its key
// cannot be checked gets 503 with Retry-After in its protocol's error
// shape, with the reason.
func TestKeyOutageAnswersInProtocolShape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path, wantType string
	}{
		{"/v1/chat/completions", "service_unavailable"},
		{"/v1/messages", "overloaded_error"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			gw, dir, _ := outageGateway(0, nil)
			dir.set(func(d *outageDirectory) { d.down = true })
			mux := http.NewServeMux()
			gw.Routes(mux)
			r := httptest.NewRequest(http.MethodPost, tt.path, strings.NewReader(`{"model":"gpt-4o","messages":[]}`))
			r.Header.Set("Authorization", "Bearer "+knownKey)
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, r)
			var body struct {
				Error struct{ Type, Message string }
			}
			_ = json.Unmarshal(w.Body.Bytes(), &body)
			if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" ||
				body.Error.Type != tt.wantType || !strings.Contains(body.Error.Message, "fail_closed") {
				t.Fatalf("%s = %d Retry-After %q %s; want 503 with Retry-After, type %s and the reason",
					tt.path, w.Code, w.Header().Get("Retry-After"), w.Body, tt.wantType)
			}
		})
	}
}

// TestReadyzFailsWhileAStoreIsUnreachable: /readyz answers 503 with the
// reason while the key directory cannot be reached, or while the Ready
// check reports a store unreachable, and 200 again once they recover,
// without a call having to find out.
func TestReadyzFailsWhileAStoreIsUnreachable(t *testing.T) {
	t.Parallel()
	var (
		mu       sync.Mutex
		spooling error
	)
	ready := func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		return spooling
	}
	gw, dir, clock := outageGateway(24*time.Hour, ready)
	mux := http.NewServeMux()
	gw.Routes(mux)
	readyz := func() (int, string) {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		clock.advance(time.Second) // the next /readyz asks the directory again
		return w.Code, w.Body.String()
	}
	steps := []struct {
		name       string
		change     func()
		wantStatus int
		wantBody   string
	}{
		{"all stores answer", func() {}, 200, "ready"},
		{"the key directory is unreachable", func() { dir.set(func(d *outageDirectory) { d.down = true }) }, 503, "key directory"},
		{"the key directory answers again", func() { dir.set(func(d *outageDirectory) { d.down = false }) }, 200, "ready"},
		{"the ledger spools", func() { mu.Lock(); spooling = errors.New("the ledger store is unreachable"); mu.Unlock() }, 503, "ledger store"},
		{"the spool is replayed", func() { mu.Lock(); spooling = nil; mu.Unlock() }, 200, "ready"},
		{"draining", gw.Drain, 503, "draining"},
	}
	for _, s := range steps {
		s.change()
		if code, body := readyz(); code != s.wantStatus || !strings.Contains(body, s.wantBody) {
			t.Fatalf("%s: /readyz = %d %q, want %d %q", s.name, code, body, s.wantStatus, s.wantBody)
		}
	}
}

// TestReadyzFailsWhenTheKeyDirectoryDoesNotAnswer: a directory that
// never answers (a dropped network, not a refused connection) fails
// /readyz once the probe's deadline passes, and the calls after it are
// served from the last-known-good cache without waiting.
func TestReadyzFailsWhenTheKeyDirectoryDoesNotAnswer(t *testing.T) {
	t.Parallel()
	gw, dir, clock := outageGateway(24*time.Hour, nil)
	if _, err := authenticate(gw, knownKey); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	gw.Routes(mux)
	dir.set(func(d *outageDirectory) { d.hang = true })
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "key directory") {
		t.Fatalf("/readyz with a directory that does not answer = %d %q, want 503 naming the key directory", w.Code, w.Body)
	}
	clock.advance(outageTTL)
	start := time.Now()
	if p, err := authenticate(gw, knownKey); err != nil || p != knownPrincipal {
		t.Fatalf("known key after the probe found the directory down: %+v, %v; want it served", p, err)
	}
	if waited := time.Since(start); waited > 100*time.Millisecond {
		t.Errorf("the call waited %s on a directory known to be down", waited)
	}
}

// TestConcurrentCallsShareOneKeyLookup: calls presenting the same key
// while it is being looked up wait for that one lookup: a burst at start
// or at the end of a busy key's TTL costs the directory one question.
func TestConcurrentCallsShareOneKeyLookup(t *testing.T) {
	t.Parallel()
	gw, dir, _ := outageGateway(24*time.Hour, nil)
	hold := make(chan struct{})
	dir.set(func(d *outageDirectory) { d.hold = hold })
	const calls = 50
	errs := make(chan error, calls)
	for range calls {
		go func() {
			_, err := authenticate(gw, knownKey)
			errs <- err
		}()
	}
	for dir.lookups() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // the other calls arrive meanwhile
	close(hold)
	for range calls {
		if err := <-errs; err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
	}
	if n := dir.lookups(); n != 1 {
		t.Fatalf("%d concurrent calls with one key asked the directory %d times, want once", calls, n)
	}
}
