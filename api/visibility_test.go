package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/api"
	"github.com/allot-dev/allot/insights"
	"github.com/allot-dev/allot/pricing"
)

// seeOrg: team big has exactly allot.MinPeerGroup people, team small
// three (the case of the failure report); the admin is alone in ops.
var seeOrg = allot.Org{Name: "acme", Teams: []allot.Team{{Name: "big"}, {Name: "small"}, {Name: "ops"}}, Users: []allot.User{
	{Name: "lena", Team: "big", Role: allot.RoleLead}, {Name: "bob", Team: "big", Role: allot.RoleMember},
	{Name: "cara", Team: "big", Role: allot.RoleMember}, {Name: "dave", Team: "big", Role: allot.RoleMember},
	{Name: "erin", Team: "big", Role: allot.RoleMember},
	{Name: "sam", Team: "small", Role: allot.RoleLead}, {Name: "tia", Team: "small", Role: allot.RoleMember},
	{Name: "uma", Team: "small", Role: allot.RoleMember},
	{Name: "ada", Team: "ops", Role: allot.RoleAdmin},
}}

// seeSubjects is everyone of seeOrg plus someone the directory does not
// know (who still has calls on record).
var seeSubjects = append(userNames(seeOrg.Users), "ghost")

func userNames(us []allot.User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Name)
	}
	return out
}

var seeNow = time.Date(2026, 11, 20, 15, 30, 0, 0, time.UTC)

// seeWorld serves every endpoint that can name a person (usage views,
// request log, alerts, insights) over one SQLite store of seeOrg, with
// peer_visibility set to visibility; the bearer token is the caller's
// name.
func seeWorld(t *testing.T, visibility string) http.Handler {
	t.Helper()
	ctx := context.Background()
	db := openSQLite(t)
	if _, err := db.ApplyOrg(ctx, seeOrg); err != nil {
		t.Fatal(err)
	}
	people := map[string]allot.Principal{}
	for _, u := range seeOrg.Users {
		people[u.Name] = allot.Principal{Org: "acme", User: u.Name, Team: u.Team, Role: u.Role, KeyLabel: "laptop"}
	}
	// Everyone, ghost too (a departed member of small), calls every few
	// hours; each raises a notice on their own budget and on their team's
	// (ids n<i><k>: the i-th of seeSubjects, k 0 for their own budget).
	var evs []allot.Event
	for i, name := range seeSubjects {
		team := "small"
		if p, ok := people[name]; ok {
			team = p.Team
		}
		for j := range 6 {
			evs = append(evs, allot.Event{
				ID: fmt.Sprintf("%s-%d", name, j), Time: seeNow.Add(-time.Duration(3*j+i+1) * time.Hour),
				Principal: allot.Principal{Org: "acme", Team: team, User: name, KeyLabel: "laptop"},
				Provider:  "openai", RequestedModel: "gpt-4o", ServedModel: "gpt-4o", Route: allot.RouteChat,
				Task: "review", App: "codex", Source: allot.SourceGateway, Status: 200, MaxTokens: 1000,
				Tokens: allot.Tokens{Input: int64(1000 * (i + 1)), Output: 100}, Cost: allot.Money(int64(i+1) * 1_000_000_000), CostKnown: true,
			})
		}
		for k, scope := range []string{"user:" + name, "team:" + team} {
			n := allot.Notice{ID: fmt.Sprintf("n%02d%d", i, k), Time: seeNow.Add(-time.Duration(i+1) * time.Minute), Kind: allot.NoticeRefusal,
				Budget: strings.ReplaceAll(scope, ":", "-"), Scope: scope, User: name,
				Message: fmt.Sprintf("budget (%s) started refusing calls. The first refused was %s's call to gpt-4o.", scope, name),
				Detail:  map[string]any{"model": "gpt-4o"}}
			if _, err := db.AddNotice(ctx, n); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := db.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	auth := func(r *http.Request) (allot.Principal, error) {
		p, ok := people[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		if !ok {
			return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "unknown key")
		}
		return p, nil
	}
	mux := http.NewServeMux()
	(&api.Server{Authenticate: auth, Reports: db, Events: db, People: db, PeerVisibility: visibility, Notices: db,
		Source: db, Pricer: func() allot.Pricer { return pricing.Default() },
		Options: func() insights.Options {
			o := insights.DefaultOptions()
			o.Visibility = visibility
			return o
		},
		Now: func() time.Time { return seeNow }}).Routes(mux)
	return mux
}

// seeGet GETs path as user and returns the status and body.
func seeGet(h http.Handler, user, path string) (int, string) {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Authorization", "Bearer "+user)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func seePrincipal(name string) allot.Principal {
	for _, u := range seeOrg.Users {
		if u.Name == name {
			return allot.Principal{Org: "acme", User: u.Name, Team: u.Team, Role: u.Role, KeyLabel: "laptop"}
		}
	}
	panic("no user " + name)
}

// namesIn lists the people of seeSubjects whose name appears in body.
func namesIn(body string) []string {
	var out []string
	for _, name := range seeSubjects {
		if regexp.MustCompile(`\b` + name + `\b`).MatchString(body) {
			out = append(out, name)
		}
	}
	return out
}

// TestALeadOfATeamOfThreeSeesNoMemberByName is the failure report: in a
// team of three under peer_visibility: anonymous, the lead asked the
// overview, peers and request log about a member by name and got them,
// while insights refused. Every endpoint refuses, and no list names them.
func TestALeadOfATeamOfThreeSeesNoMemberByName(t *testing.T) {
	t.Parallel()
	w := seeWorld(t, allot.PeerAnonymous)
	for _, path := range []string{
		"/api/v1/overview?user=tia",
		"/api/v1/overview?scope=user&user=tia",
		"/api/v1/peers?user=tia",
		"/api/v1/requests?user=tia",
		"/api/v1/insights?user=tia",
	} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			if st, body := seeGet(w, "sam", path); st != http.StatusForbidden {
				t.Errorf("lead sam GET %s: %d %.300s, want 403", path, st, body)
			}
		})
	}
	for _, path := range []string{"/api/v1/requests?limit=1000", "/api/v1/requests?team=small&limit=1000", "/api/v1/overview?scope=team",
		"/api/v1/alerts", "/api/v1/insights?team=small"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			st, body := seeGet(w, "sam", path)
			if st != 200 {
				t.Fatalf("lead sam GET %s: %d %.300s", path, st, body)
			}
			for _, name := range namesIn(body) {
				if name != "sam" {
					t.Errorf("lead sam GET %s names %s: %.300s", path, name, body)
				}
			}
		})
	}
}

// TestEveryEndpointAgreesWithCanSee runs every endpoint that can name a
// person through viewer × subject × peer_visibility: a view of one person
// is answered exactly when allot.CanSee allows it, and no answer names
// anyone allot.CanSee hides from the caller.
func TestEveryEndpointAgreesWithCanSee(t *testing.T) {
	t.Parallel()
	roster := allot.NewRoster(seeOrg.Users)
	for _, vis := range []string{allot.PeerAnonymous, allot.PeerNamed} {
		t.Run(vis, func(t *testing.T) {
			t.Parallel()
			w := seeWorld(t, vis)
			for _, viewer := range seeOrg.Users {
				t.Run(viewer.Name, func(t *testing.T) {
					t.Parallel()
					v := seePrincipal(viewer.Name)
					sees := func(name string) bool { return allot.CanSee(v, roster.Subject(name), vis) }
					var visible []string
					for _, s := range seeSubjects {
						if sees(s) {
							visible = append(visible, s)
						}
					}
					// Views of one person: answered exactly when CanSee says so.
					for _, s := range seeSubjects {
						for _, path := range []string{"/api/v1/overview?scope=user&user=", "/api/v1/peers?user=", "/api/v1/requests?user=", "/api/v1/insights?user="} {
							st, body := seeGet(w, viewer.Name, path+url.QueryEscape(s))
							want := http.StatusForbidden
							if sees(s) {
								want = 200
								if s == "ghost" && strings.Contains(path, "insights") {
									want = http.StatusNotFound // insights know only the directory's people
								}
							}
							if st != want {
								t.Errorf("%s GET %s%s: %d, want %d (CanSee %v): %.300s", viewer.Name, path, s, st, want, sees(s), body)
							}
						}
					}
					// Lists and group views: they name no one CanSee hides.
					paths := []string{"/api/v1/overview", "/api/v1/peers", "/api/v1/requests?limit=1000", "/api/v1/alerts?limit=1000", "/api/v1/insights"}
					if viewer.Role != allot.RoleMember {
						paths = append(paths, "/api/v1/overview?scope=team&team="+viewer.Team, "/api/v1/overview?scope=team&stack=user&team="+viewer.Team,
							"/api/v1/insights?team="+viewer.Team)
					}
					if viewer.Role == allot.RoleAdmin {
						paths = append(paths, "/api/v1/overview?scope=org&top=1000", "/api/v1/overview?scope=team&team=small", "/api/v1/insights?team=small")
					}
					for _, path := range paths {
						st, body := seeGet(w, viewer.Name, path)
						if st == http.StatusForbidden && strings.Contains(path, "stack=user") {
							continue // a team stacked by person, where people are not named
						}
						if st != 200 {
							t.Errorf("%s GET %s: %d %.300s", viewer.Name, path, st, body)
							continue
						}
						for _, name := range namesIn(body) {
							if !sees(name) {
								t.Errorf("%s GET %s names %s, whom CanSee hides under %s", viewer.Name, path, name, vis)
							}
						}
					}
					// The request log lists exactly the calls of the people CanSee shows.
					_, body := seeGet(w, viewer.Name, "/api/v1/requests?limit=1000")
					var page api.RequestPage
					if err := json.Unmarshal([]byte(body), &page); err != nil {
						t.Fatalf("requests: %v %s", err, body)
					}
					var callers []string
					for _, r := range page.Requests {
						if !slices.Contains(callers, r.User) {
							callers = append(callers, r.User)
						}
					}
					slices.Sort(callers)
					if want := slices.Sorted(slices.Values(visible)); !slices.Equal(callers, want) {
						t.Errorf("%s's request log has the calls of %v, want those of %v", viewer.Name, callers, want)
					}
					// Alerts: the notices of a person's own budget exactly for those CanSee shows.
					_, body = seeGet(w, viewer.Name, "/api/v1/alerts?limit=1000")
					var alerts api.AlertPage
					if err := json.Unmarshal([]byte(body), &alerts); err != nil {
						t.Fatalf("alerts: %v %s", err, body)
					}
					var owners []string
					for _, a := range alerts.Alerts {
						if u, ok := strings.CutPrefix(a.Scope, "user:"); ok {
							owners = append(owners, u)
						}
						i, _ := strconv.Atoi(a.ID[1:3])
						if raiser := seeSubjects[i]; a.User != "" && !sees(a.User) || a.UserHidden && sees(raiser) {
							t.Errorf("%s sees alert %s with user %q (hidden %v)", viewer.Name, a.ID, a.User, a.UserHidden)
						}
					}
					slices.Sort(owners)
					if want := slices.Sorted(slices.Values(visible)); !slices.Equal(owners, want) {
						t.Errorf("%s sees the own-budget notices of %v, want those of %v", viewer.Name, owners, want)
					}
					// A team view names its people exactly when CanSee shows the team's members.
					if viewer.Role == allot.RoleMember {
						return
					}
					_, body = seeGet(w, viewer.Name, "/api/v1/overview?scope=team&team="+viewer.Team)
					var ov api.Overview
					if err := json.Unmarshal([]byte(body), &ov); err != nil {
						t.Fatalf("overview: %v %s", err, body)
					}
					if want := allot.CanSee(v, roster.Members(viewer.Team), vis); ov.PeopleNamed != want {
						t.Errorf("%s's team view: people named %v, want %v", viewer.Name, ov.PeopleNamed, want)
					}
				})
			}
		})
	}
}
