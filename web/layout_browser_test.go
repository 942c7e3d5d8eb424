package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/allot-dev/allot"
)

// pageProblems lists what a visitor must never see on the page drawn now:
// raw JSON, NaN, undefined, null, [object …], decimals with more than four
// places, the page wider than the screen, and tables or controls whose
// box leaves the viewport or the card they sit in.
const pageProblems = `(() => {
  const bad = [];
  const text = document.body.innerText;
  const around = (i) => JSON.stringify(text.slice(Math.max(0, i - 40), i + 40));
  for (const re of [/\{"/, /\bNaN\b/, /\bundefined\b/, /\bnull\b/, /\[object/, /\d\.\d{5,}/]) {
    const m = re.exec(text);
    if (m) bad.push('visible text matches ' + re + ': ' + around(m.index));
  }
  const vw = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > vw + 1) bad.push('the page is ' + document.documentElement.scrollWidth + ' px wide on a ' + vw + ' px screen');
  const name = (el) => el.tagName.toLowerCase() + (el.dataset.table ? '[' + el.dataset.table + ']' : '') + (el.textContent ? ' "' + el.textContent.trim().slice(0, 30) + '"' : '') + (el.closest('[id]') ? ' in #' + el.closest('[id]').id : '');
  for (const el of document.querySelectorAll('table, button, select, input:not([type=hidden])')) {
    if (el.offsetParent === null) continue; // not shown (a closed details, a hidden section)
    const r = el.getBoundingClientRect();
    if (r.width === 0) continue;
    if (r.right > vw + 1 || r.left < -1) bad.push(name(el) + ' spans ' + Math.round(r.left) + '–' + Math.round(r.right) + ' px, outside the ' + vw + ' px viewport');
    const box = el.closest('.card, .kpi, .filters, header');
    if (box) {
      const c = box.getBoundingClientRect();
      if (r.right > c.right + 1 || r.left < c.left - 1) bad.push(name(el) + ' spans ' + Math.round(r.left) + '–' + Math.round(r.right) + ' px, outside its card (' + Math.round(c.left) + '–' + Math.round(c.right) + ')');
    }
  }
  return bad;
})()`

// apiJSON calls the API with who's key and decodes the answer, keeping
// numbers exact.
func (w *world) apiJSON(t *testing.T, who, path string, out any) {
	t.Helper()
	req, _ := http.NewRequest("GET", w.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+w.keys[who])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("%s GET %s: %d", who, path, res.StatusCode)
	}
	dec := json.NewDecoder(res.Body)
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		t.Fatalf("%s GET %s: %v", who, path, err)
	}
}

// budgetJSON is what the gauge colour depends on in GET /api/v1/budgets.
type budgetJSON struct {
	Name                          string
	Percent                       json.Number
	LimitUSD, SpentUSD, Projected json.Number
	LimitTokens, SpentTokens      json.Number
	ProjectedTokens               json.Number
}

func (b *budgetJSON) UnmarshalJSON(raw []byte) error {
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return err
	}
	n := func(k string) json.Number { v, _ := m[k].(json.Number); return v }
	b.Name, _ = m["name"].(string)
	b.Percent, b.LimitUSD, b.SpentUSD, b.Projected = n("percent"), n("limit_usd"), n("spent_usd"), n("projected_usd")
	b.LimitTokens, b.SpentTokens, b.ProjectedTokens = n("limit_tokens"), n("spent_tokens"), n("projected_tokens")
	return nil
}

// wantState is the colour a budget's gauge must have: "over" once its
// limit is reached, "warn" when the projection passes the limit.
func (b budgetJSON) wantState(t *testing.T) string {
	amt := func(n json.Number) int64 {
		if n == "" {
			return -1
		}
		m, err := allot.ParseUSD(n.String())
		if err != nil {
			t.Fatalf("budget %s: %q: %v", b.Name, n, err)
		}
		return int64(m)
	}
	lim, spent, proj := amt(b.LimitUSD), amt(b.SpentUSD), amt(b.Projected)
	if b.LimitUSD == "" {
		lim, spent, proj = amt(b.LimitTokens), amt(b.SpentTokens), amt(b.ProjectedTokens)
	}
	pct, _ := b.Percent.Float64()
	switch {
	case lim < 0:
		return ""
	case spent >= lim || pct >= 100:
		return "over"
	case proj > lim:
		return "warn"
	}
	return ""
}

// TestBrowserLayout visits every page as an admin, a lead and a member at
// 1440, 1280 and 390 px: nothing a visitor sees may be raw data or sit
// outside the screen or its card, gauges are coloured by their
// projection, the forecast is the API's one number everywhere, and
// recommendations are grouped (named for the admin, the member's own for
// the member). Screenshots go to $ALLOT_SCREENSHOTS or a temporary folder.
func TestBrowserLayout(t *testing.T) {
	browser := startChromium(t)
	w := newWorld(t)
	shots := os.Getenv("ALLOT_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", shots)
	widths := []int64{1440, 1280, 390}
	people := []struct {
		who   string
		pages []string
	}{
		{"ada", []string{"/", "/org", "/team?team=data", "/budgets", "/requests", "/insights", "/insights?view=team:platform"}},
		{"linus", []string{"/", "/team", "/budgets", "/requests", "/insights", "/insights?view=team:platform"}},
		{"grace", []string{"/", "/budgets", "/requests", "/insights"}},
	}
	for _, p := range people {
		t.Run(p.who, func(t *testing.T) {
			t.Parallel()
			b := newTab(t, browser, w.srv.URL, shots, p.who)
			b.signIn(w.keys[p.who])
			var budgets []budgetJSON
			w.apiJSON(t, p.who, "/api/v1/budgets", &budgets)
			for _, path := range p.pages {
				// Each page loads once, at 1440 px; narrower widths are the
				// same page resized, which must redraw for the new width.
				for i, width := range widths {
					ctx, cancel := b.timeout()
					before := 0
					if i > 0 {
						before = js[int](b, `Number(document.body.dataset.loaded || 0)`)
					}
					if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 900)); err != nil {
						t.Fatal(err)
					}
					if i == 0 {
						if st := b.open(path); st != 200 {
							t.Fatalf("%s: %d", path, st)
						}
					} else if _, err := chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(`Number(document.body.dataset.loaded || 0) > %d`, before), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
						t.Fatalf("%s: not redrawn for %d px: %v", path, width, err)
					}
					cancel()
					where := fmt.Sprintf("%s %s at %d px", p.who, path, width)
					for _, problem := range js[[]string](b, pageProblems) {
						t.Errorf("%s: %s", where, problem)
					}
					b.noProblems(where)
					shot := strings.NewReplacer("/", "_", "?", "_", "=", "-", ":", "-").Replace(strings.TrimPrefix(path, "/"))
					if shot == "" {
						shot = "my-usage"
					}
					b.shot(fmt.Sprintf("%s-%d", shot, width))
					if width != 1440 {
						continue
					}
					// Gauges and the Used column are coloured by their projection.
					var shown []struct{ Name, State string }
					if err := json.Unmarshal([]byte(js[string](b, `JSON.stringify([...document.querySelectorAll('figure.gauge')].map(f => ({Name: f.dataset.budget, State: f.dataset.state})).concat([...document.querySelectorAll('#budgets tbody tr, #forecast tbody tr')].map(tr => ({Name: tr.querySelector('th').textContent, State: tr.querySelector('td.used').dataset.state}))))`)), &shown); err != nil {
						t.Fatal(err)
					}
					for _, g := range shown {
						for _, bj := range budgets {
							if bj.Name == g.Name && g.State != bj.wantState(t) {
								t.Errorf("%s: budget %s is coloured %q, want %q (percent %s, projected %s%s of %s%s)", where, g.Name, g.State, bj.wantState(t), bj.Percent, bj.Projected, bj.ProjectedTokens, bj.LimitUSD, bj.LimitTokens)
							}
						}
					}
					// A budget whose limit is reached has run out: it shows when
					// it resets, never a "runs out" time.
					if over := js[string](b, `[...document.querySelectorAll('#budgets tbody tr, figure.gauge')].filter(e => (e.matches('figure') ? e.dataset.state : e.querySelector('td.used').dataset.state) === 'over' && e.textContent.includes('runs out')).map(e => e.matches('figure') ? e.dataset.budget : e.querySelector('th').textContent).join(', ')`); over != "" {
						t.Errorf("%s: budgets past their limit still say when they run out: %s", where, over)
					}
				}
			}
		})
	}

	t.Run("api", func(t *testing.T) {
		t.Parallel()
		apiChecks(t, browser, w, shots)
	})
}

func apiChecks(t *testing.T, browser context.Context, w *world, shots string) {
	// One forecast: My usage, Budgets and Insights show GET /api/v1/me's,
	// which GET /api/v1/insights also carries. The projection moves with
	// the clock (this month's pace so far), so the pages must show the
	// API's number to the cent, read just before or just after them.
	t.Run("forecast", func(t *testing.T) {
		type forecast struct {
			Forecast *struct {
				ProjectedUSD json.Number `json:"projected_usd"`
				Basis        string      `json:"basis"`
			} `json:"forecast"`
		}
		cents := func(n json.Number) int64 {
			m, err := allot.ParseUSD(n.String())
			if err != nil {
				t.Fatalf("forecast %q: %v", n, err)
			}
			return int64(m) / 10_000_000
		}
		read := func(path string) (int64, string) {
			var f forecast
			w.apiJSON(t, "grace", path, &f)
			if f.Forecast == nil || f.Forecast.ProjectedUSD == "" {
				t.Fatalf("GET %s carries no forecast.projected_usd (the one forecast of issue 16)", path)
			}
			if f.Forecast.Basis == "" {
				t.Errorf("GET %s: the forecast has no basis", path)
			}
			return cents(f.Forecast.ProjectedUSD), f.Forecast.Basis
		}
		me, basis := read("/api/v1/me")
		if ins, _ := read("/api/v1/insights"); ins != me {
			if again, _ := read("/api/v1/me"); again != ins {
				t.Errorf("GET /api/v1/insights forecasts %d¢, GET /api/v1/me %d¢", ins, me)
			}
		}
		b := newTab(t, browser, w.srv.URL, shots, "forecast-grace")
		b.signIn(w.keys["grace"])
		for _, path := range []string{"/", "/budgets", "/insights"} {
			b.open(path)
			got := cents(json.Number(b.value(`[data-testid="forecast"] .money`)))
			if got != me {
				if after, _ := read("/api/v1/me"); got != after {
					t.Errorf("%s shows the forecast %d¢, GET /api/v1/me %d¢", path, got, after)
				}
			}
		}
		if got := js[string](b, `(document.querySelector('[data-testid="forecast-basis"]') || {}).textContent || ''`); got != basis {
			if _, after := read("/api/v1/insights"); got != after {
				t.Errorf("insights: the forecast's basis reads %q, want %q", got, after)
			}
		}
	})

	// Filters: the date inputs show the range applied (this month by
	// default, and the page says so), every shown filter changes what is
	// shown, and Insights offers only the choices that apply to it.
	t.Run("filters", func(t *testing.T) {
		b := newTab(t, browser, w.srv.URL, shots, "filters-ada")
		b.signIn(w.keys["ada"])
		now := time.Now().UTC()
		first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
		for _, path := range []string{"/", "/org", "/team", "/requests"} {
			b.open(path)
			if got := js[string](b, `document.querySelector('input[name=from]').value + '|' + document.querySelector('input[name=to]').value`); got != first.Format(time.DateOnly)+"|"+now.Format(time.DateOnly) {
				t.Errorf("%s: the date inputs show %q, want this month", path, got)
			}
			if path != "/requests" && !strings.HasPrefix(js[string](b, `document.getElementById('range').textContent`), "This month (the default range)") {
				t.Errorf("%s does not say it shows this month by default: %q", path, js[string](b, `document.getElementById('range').textContent`))
			}
		}
		b.open("/org?task=chat")
		want := w.report(t, allot.ReportQuery{From: first, To: first.AddDate(0, 1, 0), Filter: map[allot.Dimension]string{allot.DimTask: "chat"}})
		if got := b.value(`[data-testid="total-cost"] .money`); got != want.Cost.String() {
			t.Errorf("org filtered to task chat: spend %s, want %s", got, want.Cost)
		}
		b.open("/insights?view=team:data&days=7")
		if got := js[string](b, `document.getElementById('ins-title').textContent + '|' + [...document.querySelectorAll('form.filters [name]')].map(e => e.name + '=' + e.value).join('&')`); got != "Insights for team data|view=team:data&days=7" {
			t.Errorf("insights picker: %q", got)
		}
		if got := js[string](b, `document.getElementById('range').textContent`); !strings.Contains(got, "last 7 days") {
			t.Errorf("insights over 7 days says %q", got)
		}
	})

	// Recommendations: grouped with names for the admin, the member's own
	// for the member.
	t.Run("recommendations", func(t *testing.T) {
		type group struct {
			Kind, Task, Model string
			People            []string `json:"people"`
			PeopleCount       int      `json:"people_count"`
		}
		var org struct {
			Groups *[]group `json:"recommendation_groups"`
		}
		w.apiJSON(t, "ada", "/api/v1/insights", &org)
		if org.Groups == nil {
			t.Fatal("GET /api/v1/insights of the org carries no recommendation_groups (issue 16 point 2)")
		}
		b := newTab(t, browser, w.srv.URL, shots, "recs-ada")
		b.signIn(w.keys["ada"])
		b.open("/insights")
		var shown []string
		if err := json.Unmarshal([]byte(js[string](b, `JSON.stringify([...document.querySelectorAll('#recs li')].map(li => (li.querySelector('[data-testid="rec-people"]') || {}).textContent || ''))`)), &shown); err != nil {
			t.Fatal(err)
		}
		if len(shown) != len(*org.Groups) {
			t.Fatalf("the admin's insights show %d recommendations, the API %d groups", len(shown), len(*org.Groups))
		}
		named := 0
		for _, g := range *org.Groups {
			if len(g.People) > 0 {
				named++
			}
		}
		if len(*org.Groups) > 0 && named == 0 {
			t.Error("no recommendation group names its people for an admin")
		}
		want := map[string]bool{}
		for _, g := range *org.Groups {
			want[strings.Join(g.People, ", ")] = true
		}
		for _, s := range shown {
			if !want[s] {
				t.Errorf("the admin's insights show a recommendation for %q, which no group of the API names", s)
			}
		}

		// A lead under anonymous peers sees the changes and how many people, not who.
		l := newTab(t, browser, w.srv.URL, shots, "recs-linus")
		l.signIn(w.keys["linus"])
		l.open("/insights?view=team:platform")
		if n := js[int](l, `document.querySelectorAll('#recs [data-testid="rec-people"]').length`); n != 0 {
			t.Error("a lead's team recommendations name people under peer_visibility: anonymous")
		}
		if n := js[int](l, `document.querySelectorAll('#recs li').length - document.querySelectorAll('#recs [data-testid="rec-count"]').length`); n != 0 {
			t.Errorf("%d of the lead's team recommendations say neither who nor how many", n)
		}

		var mine struct {
			Recs []struct {
				User string `json:"user"`
			} `json:"recommendations"`
		}
		w.apiJSON(t, "grace", "/api/v1/insights", &mine)
		for _, r := range mine.Recs {
			if r.User != "" && r.User != "grace" {
				t.Errorf("grace's insights carry a recommendation for %s", r.User)
			}
		}
		m := newTab(t, browser, w.srv.URL, shots, "recs-grace")
		m.signIn(w.keys["grace"])
		m.open("/insights")
		if n := js[int](m, `document.querySelectorAll('#recs li').length`); n != len(mine.Recs) {
			t.Errorf("grace's insights show %d recommendations, the API %d", n, len(mine.Recs))
		}
		if n := js[int](m, `document.querySelectorAll('#recs [data-testid="rec-people"]').length`); n != 0 {
			t.Error("a member's recommendations name people")
		}
	})
}
