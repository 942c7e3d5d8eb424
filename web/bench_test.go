package web_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/api"
	"github.com/allot-dev/allot/sqlite"
	"github.com/allot-dev/allot/web"
)

// The benchmark org: 1,000 people in 25 teams, each using a few of 12
// models, 30 tasks and 6 apps, and 10 million events over 90 days up to
// now (about 110 calls per person and day); ALLOT_BENCH_EVENTS and
// ALLOT_BENCH_DAYS change them, -short makes it 200k events.
// ALLOT_BENCH_DB=PATH keeps the generated database at PATH and reuses it
// on the next run (generating 10 million events takes tens of minutes).
const (
	benchPeople = 1000
	benchTeams  = 25
)

var benchDays = 90

var (
	benchOnce sync.Once
	benchDB   *sqlite.DB
	benchDir  string
	benchN    int
	benchErr  error
)

// benchLedger fills a database once per process with benchN events.
func benchLedger(b *testing.B) *sqlite.DB {
	benchOnce.Do(func() {
		benchN = 10_000_000
		if testing.Short() {
			benchN = 200_000
		}
		if v := os.Getenv("ALLOT_BENCH_EVENTS"); v != "" {
			benchN, _ = strconv.Atoi(v)
		}
		if v := os.Getenv("ALLOT_BENCH_DAYS"); v != "" {
			benchDays, _ = strconv.Atoi(v)
		}
		ctx := context.Background()
		path := os.Getenv("ALLOT_BENCH_DB")
		if path == "" {
			if benchDir, benchErr = os.MkdirTemp("", "allot-bench-web-"); benchErr != nil {
				return
			}
			path = filepath.Join(benchDir, "allot.db")
		}
		if benchDB, benchErr = sqlite.Open(ctx, path); benchErr != nil {
			return
		}
		if evs, err := benchDB.ListEvents(ctx, allot.EventQuery{Limit: 1}); err == nil && len(evs) == 1 {
			b.Logf("ledger: reusing %s (generated earlier; ALLOT_BENCH_EVENTS and _DAYS must match it)", path)
			return
		}
		org := allot.Org{Name: "bigco"}
		for t := range benchTeams {
			org.Teams = append(org.Teams, allot.Team{Name: fmt.Sprintf("team%02d", t)})
		}
		for u := range benchPeople {
			role := allot.RoleMember
			if u == 0 {
				role = allot.RoleAdmin
			}
			org.Users = append(org.Users, allot.User{Name: fmt.Sprintf("user%04d", u), Team: fmt.Sprintf("team%02d", u%benchTeams), Role: role})
		}
		if _, benchErr = benchDB.ApplyOrg(ctx, org); benchErr != nil {
			return
		}
		t0 := time.Now()
		end := time.Now().UTC().Add(-time.Minute)
		start := end.Add(-time.Duration(benchDays) * 24 * time.Hour)
		const batch = 20_000
		rng := rand.New(rand.NewPCG(1, 2))
		step := end.Sub(start) / time.Duration(benchN)
		evs := make([]allot.Event, 0, batch)
		for i := range benchN {
			evs = append(evs, benchEvent(rng, i, start.Add(time.Duration(i)*step)))
			if len(evs) == batch || i == benchN-1 {
				if _, benchErr = benchDB.Append(ctx, evs); benchErr != nil {
					return
				}
				evs = evs[:0]
			}
		}
		b.Logf("ledger: %d events of %d people over %d days in %s", benchN, benchPeople, benchDays, time.Since(t0).Round(time.Second))
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchDB
}

// benchEvent is one call of a person who sticks to a few favourite models,
// tasks and apps, as people do.
func benchEvent(rng *rand.Rand, i int, at time.Time) allot.Event {
	u := rng.IntN(benchPeople)
	fav := func(of, n int) int { return (u*7 + rng.IntN(n)) % of }
	models := []string{"gpt-4o", "gpt-4o-mini", "gpt-5", "o4-mini", "claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5",
		"text-embedding-3-small", "gpt-4.1", "gpt-4.1-mini", "o3", "my-finetune"}
	m := models[fav(len(models), 3)]
	provider := "openai"
	if strings.HasPrefix(m, "claude") {
		provider = "anthropic"
	}
	in := 200 + rng.Int64N(30000)
	t := allot.Tokens{Input: in, CacheRead: rng.Int64N(in / 2), Output: rng.Int64N(3000)}
	return allot.Event{
		ID: fmt.Sprintf("%032x", i), Time: at,
		Principal: allot.Principal{Org: "bigco", Team: fmt.Sprintf("team%02d", u%benchTeams), User: fmt.Sprintf("user%04d", u),
			KeyID: fmt.Sprintf("k%07d", u), KeyLabel: "laptop", Role: allot.RoleMember},
		Provider: provider, RequestedModel: m, ServedModel: m, Route: allot.RouteChat,
		Task: fmt.Sprintf("task%02d", fav(30, 4)), Session: fmt.Sprintf("s%d-%d", u, i/5000), App: fmt.Sprintf("app%d", fav(6, 2)),
		Source: allot.SourceGateway, Status: 200, Latency: time.Duration(rng.IntN(20_000)) * time.Millisecond,
		Tokens: t, Cost: allot.Money(t.Input*2000 + t.Output*8000), CostKnown: m != "my-finetune",
	}
}

// BenchmarkOrgPage measures the server time of the Organization page: its
// HTML and the overview it fetches (the default range, the last 30 days,
// and the whole 90 days), for an admin, over the benchmark ledger.
func BenchmarkOrgPage(b *testing.B) {
	db := benchLedger(b)
	mux := http.NewServeMux()
	dash := web.New(web.Options{Keys: db, Users: db})
	auth := dash.Authenticate(func(*http.Request) (allot.Principal, error) {
		return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "no key")
	})
	(&api.Server{Authenticate: auth, Reports: db, Events: db, People: db, Unpriced: db.Unpriced, Policy: db}).Routes(mux)
	dash.Routes(mux)
	secret, _, err := db.CreateKey(context.Background(), "user0000", fmt.Sprint("bench-", b.N, time.Now().UnixNano()))
	if err != nil {
		b.Fatal(err)
	}
	cookie := benchSignIn(b, mux, secret)
	get := func(path string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Cookie", cookie)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("%s: %d %s", path, rec.Code, rec.Body.String())
		}
	}
	// The first overview sums the past days into daily totals, once.
	t0 := time.Now()
	get("/api/v1/overview?scope=org&from=" + time.Now().UTC().AddDate(0, 0, -benchDays).Format("2006-01-02"))
	b.Logf("first overview (builds daily totals): %s", time.Since(t0).Round(time.Millisecond))
	for _, c := range []struct{ name, query string }{
		{"30d", ""},
		{"all", "&from=" + time.Now().UTC().AddDate(0, 0, -benchDays).Format("2006-01-02")},
	} {
		b.Run(c.name, func(b *testing.B) {
			cpu0 := cpuTime()
			for b.Loop() {
				get("/org")
				get("/api/v1/overview?scope=org" + c.query)
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/page")
			b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/page")
		})
	}
}

// cpuTime is the CPU time this process has used: on a shared machine it
// shows the work a page costs apart from the wait for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchSignIn signs in through the login form and returns the session cookie.
func benchSignIn(b *testing.B, mux *http.ServeMux, key string) string {
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/login", nil))
	var login string
	for _, c := range rec.Result().Cookies() {
		if c.Name == "allot_login" {
			login = c.Value
		}
	}
	form := url.Values{"csrf": {login}, "key": {key}}
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cookie", "allot_login="+login)
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.Name == "allot_session" {
			return "allot_session=" + c.Value
		}
	}
	b.Fatalf("sign-in failed: %d %s", rec.Code, rec.Body.String())
	return ""
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDB != nil {
		benchDB.Close()
	}
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}
