package web

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/provider"
)

// The dashboard's pages; each is served at "/"+name, My usage at "/".
const (
	pageMe       = "me"
	pageOrg      = "org"
	pageTeam     = "team"
	pageBudgets  = "budgets"
	pageRequests = "requests"
	pageInsights = "insights"
	pageKeys     = "keys"
	pageLogin    = "login"
	pageError    = "error"
)

var pageTitles = map[string]string{
	pageMe: "My usage", pageOrg: "Organization", pageTeam: "Team", pageBudgets: "Budgets",
	pageRequests: "Requests", pageInsights: "Insights", pageKeys: "Keys", pageLogin: "Sign in", pageError: "Not allowed",
}

// parsePages parses each page's template together with the layout.
func parsePages() map[string]*template.Template {
	out := map[string]*template.Template{}
	for name := range pageTitles {
		out[name] = template.Must(template.New("layout.html").ParseFS(files, "templates/layout.html", "templates/"+name+".html"))
	}
	return out
}

// navItem is one link of the navigation bar.
type navItem struct {
	Href, Label string
	Current     bool
}

// filterField is one input of a page's filter form.
type filterField struct {
	Name, Label, Value string
	Fixed              bool     // shown but not editable (a lead's own team)
	Options            []option // a choice from a list (a select) when set
}

// option is one choice of a select filter.
type option struct {
	Value, Label string
	Selected     bool
}

// pageData is what a page template renders.
type pageData struct {
	Page, Title string
	P           allot.Principal
	Signed      bool
	CSRF        string
	Nav         []navItem
	Query       url.Values
	Filters     []filterField
	Hidden      map[string]string // query values carried by the filter form unchanged
	RefreshMS   int64
	Message     string // sign-in and error pages
	Status      int
	Next        string // where sign-in leads
	Admin       bool
	SSO         bool // sign-in offers the identity provider
	KeySignIn   bool // sign-in offers the key form
}

func (d *Dashboard) render(w http.ResponseWriter, status int, data pageData) {
	if data.Title == "" {
		data.Title = pageTitles[data.Page]
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := d.pages[data.Page].Execute(w, data); err != nil {
		d.opts.Logger.Error("render dashboard page", "page", data.Page, "err", err)
	}
}

// page serves one of the signed-in pages: sign-in first when there is no
// session, 403 when the person may not see what the URL asks for.
func (d *Dashboard) page(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ss, p, err := d.current(r)
		if err != nil {
			d.opts.Logger.Error("dashboard session", "err", err)
			http.Error(w, "the dashboard cannot check your session right now; retry in a moment", http.StatusServiceUnavailable)
			return
		}
		if ss == nil {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		data := d.base(name, p, ss)
		data.Query = r.URL.Query()
		if err := d.allowed(r.Context(), p, name, data.Query); err != nil {
			data.Page, data.Title, data.Status, data.Message = pageError, pageTitles[pageError], provider.Status(err), allot.ErrorOf(err).Message
			d.render(w, data.Status, data)
			return
		}
		data.Filters, data.Hidden = filtersFor(name, p, data.Query, d.opts.Now())
		if name == pageInsights {
			data.Filters = d.insightFilters(r.Context(), p, data.Query)
		}
		d.render(w, http.StatusOK, data)
	})
}

// base fills what every signed-in page shows.
func (d *Dashboard) base(name string, p allot.Principal, ss *session) pageData {
	data := pageData{Page: name, P: p, Signed: true, CSRF: ss.csrf, RefreshMS: d.opts.RefreshEvery.Milliseconds(), Admin: p.Role == allot.RoleAdmin}
	add := func(page, href string) {
		data.Nav = append(data.Nav, navItem{Href: href, Label: pageTitles[page], Current: page == name})
	}
	add(pageMe, "/")
	if allot.CanSeeTeam(p, p.Team) {
		add(pageTeam, "/team")
	}
	if p.Role == allot.RoleAdmin {
		add(pageOrg, "/org")
	}
	add(pageBudgets, "/budgets")
	add(pageRequests, "/requests")
	add(pageInsights, "/insights")
	add(pageKeys, "/keys")
	return data
}

// subject returns user as the directory knows them, for allot.CanSee;
// without a directory no one is known, so leads see only themselves.
func (d *Dashboard) subject(ctx context.Context, user string) (allot.Subject, error) {
	if d.opts.Users == nil {
		return allot.Subject{User: user}, nil
	}
	users, err := d.opts.Users.Users(ctx)
	if err != nil {
		return allot.Subject{}, err
	}
	return allot.NewRoster(users).Subject(user), nil
}

// allowed applies the access rules (allot.CanSee, allot.CanSeeTeam) to
// a page and its query; the API applies the same rules to the data, so
// this only spares people a page of errors.
func (d *Dashboard) allowed(ctx context.Context, p allot.Principal, page string, q url.Values) error {
	user, team := q.Get("user"), q.Get("team")
	if v := q.Get("view"); v != "" {
		user, team = viewScope(v)
	}
	forbid := func(format string, args ...any) error { return allot.Errorf(allot.EForbidden, format, args...) }
	checkUser := func() error {
		if user == "" || user == p.User {
			return nil
		}
		who, err := d.subject(ctx, user)
		if err != nil {
			return err
		}
		if !allot.CanSee(p, who, d.opts.PeerVisibility) {
			return forbid("%s may not see %s by name: members see themselves, leads their team's members only under peer_visibility: named in a team of at least %d people, admins everyone.", p.User, user, allot.MinPeerGroup)
		}
		return nil
	}
	switch page {
	case pageOrg:
		if p.Role != allot.RoleAdmin {
			return forbid("The organization page is for admins; %s is a %s.", p.User, p.Role)
		}
	case pageTeam:
		if team == "" {
			team = p.Team
		}
		if !allot.CanSeeTeam(p, team) {
			return forbid("%s (%s) may not see team %s: leads see their own team, admins every team.", p.User, p.Role, team)
		}
	case pageMe, pageInsights:
		if team != "" && !allot.CanSeeTeam(p, team) {
			return forbid("%s (%s) may not see team %s.", p.User, p.Role, team)
		}
		return checkUser()
	case pageRequests:
		if p.Role != allot.RoleAdmin && team != "" && team != p.Team {
			return forbid("%s may see the requests of team %s only.", p.User, p.Team)
		}
		return checkUser()
	}
	return nil
}

// DefaultRange is the range every page shows when the address sets none:
// this calendar month (UTC) up to today, as dates (2006-01-02). The
// script applies the same default (app.js defaultRange).
func DefaultRange(now time.Time) (from, to string) {
	now = now.UTC()
	return time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).Format(time.DateOnly), now.Format(time.DateOnly)
}

// filtersFor lists a page's filter inputs with their current values (the
// date inputs show the range applied, DefaultRange when none is set),
// and the query values the form keeps as they are.
func filtersFor(page string, p allot.Principal, q url.Values, now time.Time) ([]filterField, map[string]string) {
	var names []string
	switch page {
	case pageMe:
		names = []string{"task", "model", "app"}
	case pageOrg:
		names = []string{"team", "task", "model", "app"}
	case pageTeam:
		names = []string{"team", "task", "model", "app"}
	case pageRequests:
		names = []string{"user", "team", "task", "model", "app", "provider"}
	default:
		return nil, nil
	}
	from, to := q.Get("from"), q.Get("to")
	if from == "" && to == "" {
		from, to = DefaultRange(now)
	}
	fields := []filterField{{Name: "from", Label: "From", Value: from}, {Name: "to", Label: "To", Value: to}}
	hidden := map[string]string{}
	for _, n := range names {
		f := filterField{Name: n, Label: n, Value: q.Get(n)}
		switch {
		case n == "team" && p.Role != allot.RoleAdmin && page == pageTeam:
			f.Value, f.Fixed = p.Team, true
		case n == "team" && p.Role != allot.RoleAdmin:
			continue
		case n == "user" && p.Role == allot.RoleMember:
			continue
		}
		fields = append(fields, f)
	}
	for _, keep := range []string{"user", "stack", "scope"} {
		if v := q.Get(keep); v != "" && !(keep == "user" && page == pageRequests) {
			hidden[keep] = v
		}
	}
	return fields, hidden
}

// viewScope reads the Insights page's view choice: "user:NAME",
// "team:NAME" or "" (the viewer's default).
func viewScope(v string) (user, team string) {
	kind, name, _ := strings.Cut(v, ":")
	switch kind {
	case "user":
		return name, ""
	case "team":
		return "", name
	}
	return "", ""
}

// insightDays are the look-back periods the Insights page offers.
var insightDays = []string{"7", "30", "90"}

// insightFilters are the Insights page's choices: whose insights (for
// admins and leads: the people and teams allot.CanSee and
// allot.CanSeeTeam let them see) and over how many days. The date range
// and the task, model and app filters of other pages do not apply to it.
func (d *Dashboard) insightFilters(ctx context.Context, p allot.Principal, q url.Values) []filterField {
	var out []filterField
	cur := q.Get("view")
	if cur == "" {
		switch {
		case q.Get("user") != "":
			cur = "user:" + q.Get("user")
		case q.Get("team") != "":
			cur = "team:" + q.Get("team")
		}
	}
	if p.Role != allot.RoleMember {
		add := func(opts []option, value, label string) []option {
			return append(opts, option{Value: value, Label: label, Selected: value == cur})
		}
		var opts []option
		if p.Role == allot.RoleAdmin {
			opts = add(opts, "", "The whole organization")
			opts = add(opts, "user:"+p.User, "Me ("+p.User+")")
		} else {
			opts = add(opts, "", "Me ("+p.User+")")
		}
		var users []allot.User
		if d.opts.Users != nil {
			var err error
			if users, err = d.opts.Users.Users(ctx); err != nil {
				d.opts.Logger.Error("list users for the insights view", "err", err)
			}
		}
		teams := map[string]bool{}
		var teamNames []string
		for _, u := range users {
			if u.Team != "" && !teams[u.Team] && allot.CanSeeTeam(p, u.Team) {
				teams[u.Team] = true
				teamNames = append(teamNames, u.Team)
			}
		}
		if len(teamNames) == 0 && p.Team != "" && allot.CanSeeTeam(p, p.Team) {
			teamNames = []string{p.Team}
		}
		slices.Sort(teamNames)
		for _, t := range teamNames {
			opts = add(opts, "team:"+t, "Team "+t)
		}
		roster := allot.NewRoster(users)
		for _, u := range users {
			if u.Name != p.User && allot.CanSee(p, roster.Subject(u.Name), d.opts.PeerVisibility) {
				opts = add(opts, "user:"+u.Name, u.Name+" ("+u.Team+")")
			}
		}
		if cur != "" && !slices.ContainsFunc(opts, func(o option) bool { return o.Selected }) {
			opts = add(opts, cur, cur)
		}
		out = append(out, filterField{Name: "view", Label: "Whose insights", Value: cur, Options: opts})
	}
	days := q.Get("days")
	if days == "" {
		days = "30"
	}
	var dopts []option
	for _, n := range insightDays {
		dopts = append(dopts, option{Value: n, Label: "Last " + n + " days", Selected: n == days})
	}
	if !slices.Contains(insightDays, days) {
		dopts = append(dopts, option{Value: days, Label: "Last " + days + " days", Selected: true})
	}
	return append(out, filterField{Name: "days", Label: "Habits over", Value: days, Options: dopts})
}
