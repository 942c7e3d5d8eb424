package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/allot-dev/allot"
)

// startChromium starts headless Chromium from ALLOT_TEST_CHROMIUM with a
// fresh profile, or skips when it is unset. A set but broken Chromium
// fails the test.
func startChromium(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("ALLOT_TEST_CHROMIUM")
	if path == "" {
		t.Skip("browser tests need Chromium: set ALLOT_TEST_CHROMIUM=/usr/bin/chromium")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("ALLOT_TEST_CHROMIUM=%s is set but Chromium does not start: %v", path, err)
	}
	return ctx
}

// tab is one signed-in person's browser window (its own cookie jar).
type tab struct {
	t      *testing.T
	ctx    context.Context
	base   string
	shots  string
	name   string
	mu     sync.Mutex
	errors []string
}

func newTab(t *testing.T, browser context.Context, base, shots, name string) *tab {
	tb := &tab{t: t, base: base, shots: shots, name: name}
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext(), chromedp.WithListener(func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			tb.mu.Lock()
			d := e.ExceptionDetails
			msg := fmt.Sprintf("%s at %s:%d:%d", d.Text, d.URL, d.LineNumber+1, d.ColumnNumber+1)
			if d.Exception != nil {
				msg += ": " + d.Exception.Description
			}
			tb.errors = append(tb.errors, msg)
			tb.mu.Unlock()
		}
	}))
	t.Cleanup(cancel)
	tb.ctx = ctx
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, e := range tb.errors {
			t.Errorf("%s: script error in the page: %s", name, e)
		}
	})
	return tb
}

func (b *tab) timeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, 40*time.Second)
}

// open loads a page and returns its HTTP status; a dashboard page is
// waited for until its data is drawn.
func (b *tab) open(path string) int64 {
	b.t.Helper()
	ctx, cancel := b.timeout()
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(b.base+path))
	if err != nil {
		b.t.Fatalf("open %s: %v", path, err)
	}
	if resp.Status == 200 {
		b.waitLoaded(ctx, path)
	}
	return resp.Status
}

func (b *tab) waitLoaded(ctx context.Context, path string) {
	b.t.Helper()
	var err error
	// A poll started while the page replaced its document (a redirect, a
	// busy machine) loses its JavaScript context: poll again in the new one.
	for range 5 {
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](`!document.body.dataset.page || document.body.dataset.page === 'login' || document.body.dataset.page === 'error' || Number(document.body.dataset.loaded || 0) >= 1`, chromedp.WithPollingInterval(50*time.Millisecond)))
		if err == nil || !strings.Contains(err.Error(), "Cannot find context with specified id") && !strings.Contains(err.Error(), "context was destroyed") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		b.t.Fatalf("wait for %s to load: %v", path, err)
	}
}

// js evaluates an expression (awaiting a promise) into T.
func js[T any](b *tab, expr string) T {
	b.t.Helper()
	ctx, cancel := b.timeout()
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("%s: evaluate %s: %v", b.name, expr, err)
	}
	return v
}

// value reads the exact value a money or count element carries.
func (b *tab) value(sel string) string {
	b.t.Helper()
	return js[string](b, fmt.Sprintf(`(document.querySelector(%q) || {dataset: {value: 'missing: ' + %q}}).dataset.value`, sel, sel))
}

func (b *tab) shot(name string) {
	b.t.Helper()
	ctx, cancel := b.timeout()
	defer cancel()
	img, err := chromedp.Run(ctx, chromedp.FullScreenshot(70)) // JPEG: a PNG takes seconds on a busy machine
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, b.name+"-"+name+".jpg"), img, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func (b *tab) signIn(key string) {
	b.t.Helper()
	if st := b.open("/login"); st != 200 {
		b.t.Fatalf("/login: %d", st)
	}
	ctx, cancel := b.timeout()
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Steps(
		chromedp.SendKeys(`input[name="key"]`, key),
		chromedp.Submit(`form[action="/login"]`)))
	if err != nil || resp.Status != 200 {
		b.t.Fatalf("sign in: %v %v", resp, err)
	}
	b.waitLoaded(ctx, "/")
}

// noProblems fails when a section shows an error.
func (b *tab) noProblems(page string) {
	b.t.Helper()
	if msg := js[string](b, `[...document.querySelectorAll('.problem')].map(e => e.textContent).join(' | ')`); msg != "" {
		b.t.Errorf("%s %s shows errors: %s", b.name, page, msg)
	}
}

// alertRows reads the Budgets page's alerts table as budget|kind|what|who rows.
const alertRows = `[...document.querySelectorAll('#alerts table[data-table="alerts"] tbody tr')].map(tr => [...tr.cells].slice(1).map(c => c.textContent).join('|')).join(',')`

func TestBrowser(t *testing.T) {
	browser := startChromium(t)
	w := newWorld(t)
	shots := os.Getenv("ALLOT_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", shots)
	from, to := w.dayRange(t)
	rng := "?from=" + w.from + "&to=" + w.to
	report := func(filter map[allot.Dimension]string) allot.ReportRow {
		return w.report(t, allot.ReportQuery{From: from, To: to, Filter: filter})
	}
	checkTotals := func(b *tab, page string, want allot.ReportRow) {
		t.Helper()
		if got := b.value(`[data-testid="total-cost"] .money`); got != want.Cost.String() {
			t.Errorf("%s %s: spend %s, want %s (allot report)", b.name, page, got, want.Cost)
		}
		if got := b.value(`[data-testid="total-requests"] .count`); got != fmt.Sprint(want.Requests) {
			t.Errorf("%s %s: requests %s, want %d", b.name, page, got, want.Requests)
		}
		if got := b.value(`[data-testid="total-input"] .count`); got != fmt.Sprint(want.Tokens.Input) {
			t.Errorf("%s %s: input tokens %s, want %d", b.name, page, got, want.Tokens.Input)
		}
		if got := b.value(`[data-testid="total-output"] .count`); got != fmt.Sprint(want.Tokens.Output) {
			t.Errorf("%s %s: output tokens %s, want %d", b.name, page, got, want.Tokens.Output)
		}
		if got := js[string](b, `document.querySelector('[data-testid="range"]').dataset.from`); got != from.Format(time.RFC3339) {
			t.Errorf("%s %s: range from %s, want %s", b.name, page, got, from.Format(time.RFC3339))
		}
	}
	status := func(b *tab, method, path, body string) int {
		return js[int](b, fmt.Sprintf(`fetch(%q, {method: %q, headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: %s}).then(r => r.status)`,
			path, method, map[bool]string{true: "null", false: fmt.Sprintf("%q", body)}[body == ""]))
	}

	t.Run("member", func(t *testing.T) {
		b := newTab(t, browser, w.srv.URL, shots, "member-grace")
		b.signIn(w.keys["grace"])
		if st := b.open("/" + rng); st != 200 {
			t.Fatalf("/: %d", st)
		}
		checkTotals(b, "my usage", report(map[allot.Dimension]string{allot.DimUser: "grace"}))
		if n := js[int](b, `document.querySelectorAll('#daily svg rect.col').length`); n == 0 {
			t.Error("my usage: the daily chart has no bars")
		}
		if got := js[string](b, `document.querySelector('[data-testid="percentile-team"]').textContent`); !strings.HasSuffix(got, "%") {
			t.Errorf("my usage: no team percentile (platform has 6 people): %q", got)
		}
		if n := js[int](b, `document.querySelectorAll('#peers svg .you-label').length`); n != 2 {
			t.Errorf("my usage: %d \"you\" markers, want 2 (team and org)", n)
		}
		if n := js[int](b, `document.querySelectorAll('#budget-gauges figure.gauge').length`); n == 0 {
			t.Error("my usage: no budget gauge")
		}
		if got := js[string](b, `document.querySelector('#keys table tbody th').textContent`); !strings.HasPrefix(got, "k") {
			t.Errorf("my usage: keys table shows %q", got)
		}
		b.noProblems("my usage")
		b.shot("my-usage")

		for _, path := range []string{"/?user=ken", "/org", "/team", "/requests?user=ken", "/insights?user=ken"} {
			if st := b.open(path); st != 403 {
				t.Errorf("member opened %s: %d, want 403", path, st)
			}
		}
		b.shot("forbidden")
		b.open("/budgets")
		for _, c := range []struct{ method, path string }{
			{"POST", "/budgets/save"}, {"POST", "/logout"}, {"PUT", "/api/v1/budgets/x"},
		} {
			if st := status(b, c.method, c.path, "name=x&scope=org&limit_usd=1"); st != 403 {
				t.Errorf("%s %s without a CSRF token: %d, want 403", c.method, c.path, st)
			}
		}
		for _, path := range []string{"/api/v1/overview?scope=org", "/api/v1/overview?user=ken", "/api/v1/requests?user=ken", "/api/v1/report"} {
			if st := status(b, "GET", path, ""); st != 403 {
				t.Errorf("member GET %s: %d, want 403", path, st)
			}
		}

		b.open("/requests" + rng)
		want, err := w.db.ListEvents(context.Background(), allot.EventQuery{From: from, To: to, Filter: map[allot.Dimension]string{allot.DimUser: "grace"}, Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		if n := js[int](b, `document.querySelectorAll('table[data-table="requests"] tbody tr').length`); n != len(want) {
			t.Errorf("requests: %d rows, want %d", n, len(want))
		}
		if got := b.value(`table[data-table="requests"] tbody tr td.usd .money`); got != want[0].Cost.String() {
			t.Errorf("requests: newest cost %s, want %s", got, want[0].Cost)
		}
		if users := js[string](b, `[...new Set([...document.querySelectorAll('table[data-table="requests"] tbody tr td:nth-child(2)')].map(td => td.textContent))].join(',')`); users != "grace" {
			t.Errorf("requests of a member show users %q", users)
		}
		b.noProblems("requests")
		b.shot("requests")
		b.open("/budgets")
		// Alerts of the budgets that cover grace, without naming the people who raised them.
		if got := js[string](b, alertRows); got != "platform-monthly|threshold|80%: $720.50 of $900.00|someone else,org-monthly|threshold|50%: $720.50 of $900.00|someone else" {
			t.Errorf("budgets: alerts shown to a member: %q", got)
		}
		b.noProblems("budgets")
		b.shot("budgets")
		b.open("/insights")
		b.noProblems("insights")
	})

	t.Run("lead", func(t *testing.T) {
		b := newTab(t, browser, w.srv.URL, shots, "lead-linus")
		b.signIn(w.keys["linus"])
		if st := b.open("/team" + rng); st != 200 {
			t.Fatalf("/team: %d", st)
		}
		checkTotals(b, "team", report(map[allot.Dimension]string{allot.DimTeam: "platform"}))
		if got := b.value(`[data-testid="forecast"] .money`); !strings.Contains(got, ".") {
			t.Errorf("team: no forecast (%q)", got)
		}
		if n := js[int](b, `document.querySelectorAll('#people table tbody tr').length`); n != 6 {
			t.Errorf("team: %d members listed, want 6", n)
		}
		if you := js[string](b, `document.querySelector('#people tr.you th').textContent`); you != "linus" {
			t.Errorf("team: the lead's own row is %q", you)
		}
		if named := js[int](b, `[...document.querySelectorAll('#people tbody th')].filter(th => th.textContent === 'grace').length`); named != 0 {
			t.Error("team: members are named although peer_visibility is anonymous")
		}
		b.noProblems("team")
		b.shot("team")
		// Under anonymous a lead sees no member by name (allot.CanSee).
		for _, path := range []string{"/?user=grace", "/?user=edsger", "/team?team=data", "/org"} {
			if st := b.open(path); st != 403 {
				t.Errorf("lead opened %s: %d, want 403", path, st)
			}
		}
		b.open("/requests" + rng)
		if teams := js[string](b, `[...new Set([...document.querySelectorAll('table[data-table="requests"] tbody tr td:nth-child(3)')].map(td => td.textContent))].join(',')`); teams != "platform" {
			t.Errorf("requests of a lead show teams %q", teams)
		}
	})

	t.Run("admin", func(t *testing.T) {
		b := newTab(t, browser, w.srv.URL, shots, "admin-ada")
		b.signIn(w.keys["ada"])
		if st := b.open("/org" + rng); st != 200 {
			t.Fatalf("/org: %d", st)
		}
		checkTotals(b, "org", report(nil))
		rows, err := w.db.Report(context.Background(), allot.ReportQuery{By: []allot.Dimension{allot.DimTeam}, From: from, To: to})
		if err != nil {
			t.Fatal(err)
		}
		var shown map[string]string
		if err := json.Unmarshal([]byte(js[string](b, `JSON.stringify(Object.fromEntries([...document.querySelectorAll('#by-team tbody tr')].map(tr => [tr.querySelector('th').textContent, tr.querySelector('.money').dataset.value])))`)), &shown); err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if shown[r.Dims[0]] != r.Cost.String() {
				t.Errorf("org by team: %s shows %s, want %s", r.Dims[0], shown[r.Dims[0]], r.Cost)
			}
		}
		if got := js[string](b, `document.querySelector('#unpriced tbody th').textContent`); got != "my-finetune" {
			t.Errorf("org: unpriced models show %q", got)
		}
		if n := js[int](b, `document.querySelectorAll('#daily svg rect.col').length`); n == 0 {
			t.Error("org: no bars in the spend chart")
		}
		if n := js[int](b, `document.querySelectorAll('#forecast tbody tr').length`); n < 3 {
			t.Errorf("org: forecast vs budgets lists %d budgets", n)
		}
		b.noProblems("org")
		b.shot("org")

		// Keyboard: the first Tab reaches the skip link.
		ctx, cancel := b.timeout()
		if err := chromedp.Do(ctx, chromedp.KeyEvent("\t")); err != nil {
			t.Fatal(err)
		}
		cancel()
		if !js[bool](b, `document.activeElement.classList.contains('skip')`) {
			t.Error("the first Tab does not reach the skip link")
		}

		if st := b.open("/team?team=data&" + rng[1:]); st != 200 {
			t.Fatalf("/team?team=data: %d", st)
		}
		checkTotals(b, "team data", report(map[allot.Dimension]string{allot.DimTeam: "data"}))
		if st := b.open("/?user=edsger&" + rng[1:]); st != 200 {
			t.Fatalf("/?user=edsger: %d", st)
		}
		checkTotals(b, "edsger's usage", report(map[allot.Dimension]string{allot.DimUser: "edsger"}))
		b.noProblems("edsger's usage")

		// Edit a budget with the form: its declaration loads, one field changes.
		b.open("/budgets")
		if got := js[string](b, alertRows); got != "data-premium|downgrade|gpt-4o → gpt-4o-mini|edsger,platform-monthly|threshold|80%: $720.50 of $900.00|ken,org-monthly|threshold|50%: $720.50 of $900.00|edsger" {
			t.Errorf("budgets: alerts shown to an admin: %q", got)
		}
		ctx, cancel = b.timeout()
		resp, err := chromedp.RunResponse(ctx, chromedp.Steps(
			chromedp.Click(`button[aria-label="Edit platform-monthly"]`),
			chromedp.SetValue(`#budget-form input[name="limit_usd"]`, "950"),
			chromedp.Submit(`#budget-form`)))
		cancel()
		if err != nil || resp.Status != 200 {
			t.Fatalf("submit the budget form: %v %v", resp, err)
		}
		ctx, cancel = b.timeout()
		b.waitLoaded(ctx, "/budgets")
		cancel()
		if done := js[string](b, `(document.querySelector('[data-testid="done"]') || {}).textContent || (document.querySelector('[data-testid="problem"]') || {}).textContent`); !strings.Contains(done, "saved budget platform-monthly") {
			t.Fatalf("after saving: %q", done)
		}
		if got := js[string](b, `[...document.querySelectorAll('#budgets table tbody tr')].find(r => r.querySelector('th').textContent === 'platform-monthly').querySelectorAll('.money')[1].dataset.value`); got != "950.000000000" {
			t.Errorf("platform-monthly limit after the edit: %s", got)
		}
		raw, _ := w.db.Setting(context.Background(), "policy")
		var pol allot.Policy
		_ = json.Unmarshal(raw, &pol)
		for _, bd := range pol.Budgets {
			if bd.Name == "platform-monthly" && (bd.LimitUSD != "950" || len(bd.AlertAt) != 2 || bd.Scope != "team:platform") {
				t.Errorf("stored after the edit: %+v (alerts and scope must be kept)", bd)
			}
		}
		b.noProblems("budgets")
		b.shot("budgets-edited")

		b.open("/requests?team=product&" + rng[1:])
		if teams := js[string](b, `[...new Set([...document.querySelectorAll('table[data-table="requests"] tbody tr td:nth-child(3)')].map(td => td.textContent))].join(',')`); teams != "product" {
			t.Errorf("requests filtered to product show teams %q", teams)
		}
		if js[int](b, `document.querySelectorAll('a[rel="next"]').length`) != 1 {
			t.Error("requests: no link to older calls")
		}

		// Live: a new call shows up in the totals without a reload.
		b.open("/org")
		before, err := allot.ParseUSD(b.value(`[data-testid="total-cost"] .money`))
		if err != nil {
			t.Fatal(err)
		}
		ev := w.events[0]
		ev.ID, ev.Time, ev.Cost, ev.CostKnown = "live-1", time.Now().UTC().Add(-time.Minute), allot.USD, true
		if _, err := w.db.Append(context.Background(), []allot.Event{ev}); err != nil {
			t.Fatal(err)
		}
		want := (before + allot.USD).String()
		ctx, cancel = context.WithTimeout(b.ctx, 20*time.Second)
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(`document.querySelector('[data-testid="total-cost"] .money').dataset.value === %q`, want), chromedp.WithPollingInterval(200*time.Millisecond)))
		cancel()
		if err != nil {
			t.Errorf("the org total did not move to %s without a reload: %v", want, err)
		}

		// A phone: nothing wider than the screen; and dark mode.
		ctx, cancel = b.timeout()
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulatePortrait)); err != nil {
			t.Fatal(err)
		}
		cancel()
		b.open("/org" + rng)
		if !js[bool](b, `document.documentElement.scrollWidth <= window.innerWidth + 1`) {
			t.Errorf("on a phone the org page is %d px wide", js[int](b, `document.documentElement.scrollWidth`))
		}
		b.shot("org-phone")
		ctx, cancel = b.timeout()
		err = chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
			return err
		}))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		b.open("/" + rng)
		if bg := js[string](b, `getComputedStyle(document.body).backgroundColor`); bg != "rgb(17, 20, 24)" {
			t.Errorf("dark mode background %s", bg)
		}
		b.shot("my-usage-dark")
	})
}
