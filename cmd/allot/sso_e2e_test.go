package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/config"
	"github.com/allot-dev/allot/upstreamsim"
)

// The OpenID provider of these tests is zitadel/oidc's (a certified
// implementation) with its example in-memory storage and login page,
// built once per test run from testdata/oidcop (a module of its own, so
// allot's go.mod does not carry it).
var (
	opOnce sync.Once
	opBin  string
	opErr  error
)

func buildOP(t *testing.T) string {
	t.Helper()
	opOnce.Do(func() {
		dir, err := os.MkdirTemp("", "allot-oidcop-")
		if err != nil {
			opErr = err
			return
		}
		opBin = filepath.Join(dir, "oidcop")
		cmd := exec.Command("go", "build", "-o", opBin, ".")
		cmd.Dir = "testdata/oidcop"
		cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			opErr = fmt.Errorf("build the OpenID provider: %v\n%s", err, out)
		}
	})
	if opErr != nil {
		t.Fatal(opErr)
	}
	return opBin
}

// opUser is one person the provider knows, in the example storage's format.
type opUser struct {
	ID, Username, Password, FirstName, LastName, Email string
	EmailVerified                                      bool
	groups                                             []string
}

// startOP starts the provider for a client "web" (secret "secret") that
// may return to redirect, and returns its issuer.
func startOP(t *testing.T, redirect string, users ...opUser) string {
	t.Helper()
	bin := buildOP(t)
	dir := t.TempDir()
	us, gs := map[string]opUser{}, map[string][]string{}
	for _, u := range users {
		us[u.ID], gs[u.ID] = u, u.groups
	}
	write := func(name string, v any) string {
		b, _ := json.Marshal(v)
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cmd := exec.Command(bin, "-users", write("users.json", us), "-groups", write("groups.json", gs), "-redirect", redirect)
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("the OpenID provider did not start: %v", err)
	}
	return strings.TrimSpace(line)
}

// freeAddr returns a loopback address with a free port.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

var (
	dana = opUser{ID: "u-dana", Username: "dana", Password: "verysecure", FirstName: "Dana", LastName: "Scully", Email: "dana@acme.test", EmailVerified: true,
		groups: []string{"eng-leads", "research"}}
	erin = opUser{ID: "u-erin", Username: "erin", Password: "alsosecure", FirstName: "Erin", LastName: "Reyes", Email: "Erin@acme.test", EmailVerified: true,
		groups: []string{"design"}}
)

// ssoServer starts allot with OpenID Connect sign-in through a fresh
// provider, and upstreamsim behind the gateway.
func ssoServer(t *testing.T) (*server, string) {
	t.Helper()
	sim := httptest.NewServer(upstreamsim.New(upstreamsim.Options{}))
	t.Cleanup(sim.Close)
	addr := freeAddr(t)
	issuer := startOP(t, "http://"+addr+"/auth/callback", dana, erin)
	cfg := testServerConfig(t, sim.URL, filepath.Join(t.TempDir(), "allot.db"), "testdata/org.yaml")
	cfg.Listen = addr
	t.Setenv("ALLOT_TEST_OIDC_SECRET", "secret")
	cfg.OIDC = config.OIDC{Issuer: issuer, ClientID: "web", ClientSecretEnv: "ALLOT_TEST_OIDC_SECRET", RedirectURL: "http://" + addr + "/auth/callback",
		LeadGroups: []string{"eng-leads"}, AdminGroups: []string{"ai-admins"}, TeamFrom: "group"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	srv, err := startServer(ctx, cfg, serverOptions{})
	if err != nil {
		stop()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.wait(ctx) }()
	t.Cleanup(func() { stop(); <-done })
	return srv, addr
}

// TestSSOSignInThroughARealProvider: a browser signs in through the
// OpenID provider's own login form, comes back signed in as a lead of
// team research (from the groups claim), makes a key on the Keys page and
// calls the gateway with it; a member cannot see or revoke that key; once
// deactivated the member's session ends and they cannot sign in again.
func TestSSOSignInThroughARealProvider(t *testing.T) {
	path := os.Getenv("ALLOT_TEST_CHROMIUM")
	if path == "" {
		t.Skip("the single sign-on browser test needs Chromium: set ALLOT_TEST_CHROMIUM=/usr/bin/chromium")
	}
	srv, addr := ssoServer(t)
	base := "http://" + addr
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.UserDataDir(t.TempDir()))
	defer cancelAlloc()
	bctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	bctx, cancelT := context.WithTimeout(bctx, 90*time.Second)
	defer cancelT()

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return strings.TrimSpace(v)
	}
	eval := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		return v
	}
	providerLogin := func(u opUser) {
		t.Helper()
		do("sign in as "+u.Username+" through the provider",
			chromedp.Navigate(base+"/login"),
			chromedp.Click(`[data-testid="sso-login"]`),
			chromedp.WaitVisible(`#username`),
			chromedp.SendKeys(`#username`, u.Username),
			chromedp.SendKeys(`#password`, u.Password),
			chromedp.Click(`button[type="submit"]`))
	}
	signIn := func(u opUser) string {
		t.Helper()
		providerLogin(u)
		do("come back signed in", chromedp.WaitVisible(`[data-testid="whoami"]`))
		return text(`[data-testid="whoami"]`)
	}
	if who := signIn(dana); who != "dana@acme.test · lead · research" {
		t.Fatalf("signed in as %q, want dana@acme.test · lead · research (from the groups eng-leads and research)", who)
	}

	do("create a key on the Keys page",
		chromedp.Navigate(base+"/keys"),
		chromedp.WaitVisible(`[data-testid="key-label"]`),
		chromedp.SendKeys(`[data-testid="key-label"]`, "claude-code"),
		chromedp.Click(`[data-testid="key-create"]`),
		chromedp.WaitVisible(`[data-testid="key-secret"]`),
		chromedp.WaitVisible(`[data-testid="keys-table"]`))
	secret := text(`[data-testid="key-secret"]`)
	if !strings.HasPrefix(secret, allot.KeyPrefix) {
		t.Fatalf("the Keys page showed %q, want a new key", secret)
	}
	if code := chat(t, addr, secret, "gpt-4o"); code != http.StatusOK {
		t.Fatalf("the gateway answered %d to the new key, want 200", code)
	}
	keys, err := srv.db.Keys(context.Background(), "dana@acme.test")
	if err != nil || len(keys) != 1 || keys[0].ExpiresAt == nil {
		t.Fatalf("dana's keys = %+v, %v; want one that expires (the page's default is 30 days)", keys, err)
	}
	danaKey := keys[0].ID

	// A member: sees only their own keys, cannot list or revoke dana's.
	do("sign out", chromedp.Navigate(base+"/"), chromedp.Click(`form[action="/logout"] button`), chromedp.WaitVisible(`[data-testid="sso-login"]`))
	if who := signIn(erin); who != "erin@acme.test · member · design" {
		t.Fatalf("signed in as %q, want erin@acme.test · member · design", who)
	}
	do("open the Keys page", chromedp.Navigate(base+"/keys"), chromedp.WaitVisible(`#keys .empty`))
	listed := eval(`fetch('/api/v1/keys?user=dana@acme.test').then(r => String(r.status))`)
	revoke := eval(`fetch('/api/v1/keys/` + danaKey + `', {method: 'DELETE', headers: {'X-CSRF-Token': document.querySelector('meta[name="csrf-token"]').content}}).then(r => String(r.status))`)
	if listed != "403" || revoke != "404" {
		t.Errorf("a member listing dana's keys got %s, revoking one %s; want 403 and 404", listed, revoke)
	}
	do("open dana's keys as a member", chromedp.Navigate(base+"/keys?user=dana@acme.test"), chromedp.WaitVisible(`#keys .problem`))
	if code := chat(t, addr, secret, "gpt-4o"); code != http.StatusOK {
		t.Errorf("dana's key answers %d after the member's attempts, want 200", code)
	}

	// An org.yaml that does not list the people who came by sign-in
	// leaves them alone (docs/sso.md); erin is then deactivated, as an
	// admin or SCIM does: her session ends within 10 s and she cannot
	// sign in again.
	if _, err := srv.db.ApplyOrg(context.Background(), mustOrg(t)); err != nil {
		t.Fatal(err)
	}
	if status := eval(`fetch('/api/v1/whoami').then(r => String(r.status))`); status != "200" {
		t.Fatalf("after an org.yaml that does not list erin her session answers %s, want 200", status)
	}
	erinUser, err := srv.db.UserByEmail(context.Background(), "erin@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.db.SetUserActive(context.Background(), erinUser.Name, false); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(12 * time.Second)
	for {
		status := eval(`fetch('/api/v1/whoami').then(r => String(r.status))`)
		if status == "401" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a deactivated person's session still answers %s after 12 s", status)
		}
		time.Sleep(500 * time.Millisecond)
	}
	providerLogin(erin)
	do("be refused", chromedp.WaitVisible(`[data-testid="login-problem"]`))
	if problem := text(`[data-testid="login-problem"]`); !strings.Contains(problem, "deactivated") {
		t.Errorf("a deactivated person signing in is told %q", problem)
	}
}

func mustOrg(t *testing.T) allot.Org {
	t.Helper()
	f, err := readOrgFile("testdata/org.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return f.Org()
}

// httpSignIn runs the flow without a browser: allot's /auth/login, the
// provider's login form, and back, stopping before allot's callback,
// whose URL it returns (with the client that holds the cookies).
func httpSignIn(t *testing.T, base string, u opUser) (*http.Client, *url.URL) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	var callback *url.URL
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Path == "/auth/callback" && req.URL.Host == strings.TrimPrefix(base, "http://") {
			callback = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := c.Get(base + "/auth/login")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	loginPage := resp.Request.URL // the provider's /login/username?authRequestID=…
	id := loginPage.Query().Get("authRequestID")
	if id == "" {
		t.Fatalf("allot's /auth/login led to %s, not the provider's login page", loginPage)
	}
	resp, err = c.PostForm(loginPage.Scheme+"://"+loginPage.Host+"/login/username", url.Values{"id": {id}, "username": {u.Username}, "password": {u.Password}})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if callback == nil {
		t.Fatalf("the provider did not send the browser back to allot (status %d at %s)", resp.StatusCode, resp.Request.URL)
	}
	return c, callback
}

// get fetches u with c, returning the status and the body.
func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSSOCallbackRefusals: through the real provider, a callback whose
// state was changed, a callback replayed, and a code replayed under a new
// sign-in are each refused; the untouched callback signs in.
func TestSSOCallbackRefusals(t *testing.T) {
	_, addr := ssoServer(t)
	base := "http://" + addr

	c, cb := httpSignIn(t, base, dana)
	tampered := *cb
	q := tampered.Query()
	q.Set("state", q.Get("state")+"x")
	tampered.RawQuery = q.Encode()
	if code, body := get(t, c, tampered.String()); code != http.StatusForbidden || !strings.Contains(body, "state") {
		t.Errorf("a tampered state: %d %q, want 403 naming the state", code, body)
	}

	c, cb = httpSignIn(t, base, dana)
	if code, body := get(t, c, cb.String()); code != http.StatusOK || !strings.Contains(body, "Signed in") {
		t.Fatalf("the callback: %d %q, want the signed-in page", code, body)
	}
	if code, body := get(t, c, base+"/api/v1/whoami"); code != http.StatusOK || !strings.Contains(body, `"role":"lead"`) {
		t.Errorf("whoami after sign-in: %d %s", code, body)
	}
	if code, _ := get(t, c, cb.String()); code != http.StatusForbidden {
		t.Errorf("a replayed callback: %d, want 403", code)
	}
	// The same code under a fresh sign-in of this browser: the provider
	// refuses to exchange it twice.
	c2, cb2 := httpSignIn(t, base, dana)
	replay := *cb2
	q = replay.Query()
	q.Set("code", cb.Query().Get("code"))
	replay.RawQuery = q.Encode()
	if code, body := get(t, c2, replay.String()); code != http.StatusForbidden || !strings.Contains(body, "authorization code") {
		t.Errorf("a replayed code: %d %q, want 403 naming the code", code, body)
	}
}
