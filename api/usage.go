package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/allot-dev/allot"
)

// People is the part of the directory the usage views read: who is in
// which team (for leads' access and peer groups) and whose keys are whose.
type People interface {
	Users(ctx context.Context) ([]allot.User, error)
	Keys(ctx context.Context, user string) ([]allot.Key, error)
}

// Who a view is about: one user, one team, or the whole org.
const (
	ScopeUser = "user"
	ScopeTeam = "team"
	ScopeOrg  = "org"
)

// subject is whose data a request reads, after the access rules.
type subject struct {
	scope string // ScopeUser, ScopeTeam or ScopeOrg
	user  string // for ScopeUser
	team  string // for ScopeTeam; for ScopeUser the user's team if known
}

// roster returns the directory as allot.CanSee needs it; without a
// directory no one is known, so leads see only themselves.
func (u *Server) roster(ctx context.Context) (allot.Roster, error) {
	if u.People == nil {
		return allot.NewRoster(nil), nil
	}
	users, err := u.People.Users(ctx)
	if err != nil {
		return allot.Roster{}, err
	}
	return allot.NewRoster(users), nil
}

// resolve applies the access rules to a requested scope, user and team:
// one person's views as allot.CanSee allows, a team's as
// allot.CanSeeTeam, the org's for admins.
func (u *Server) resolve(p allot.Principal, roster allot.Roster, scope, user, team string) (subject, error) {
	switch scope {
	case "", "me", ScopeUser:
		if user == "" {
			user = p.User
		}
		who := roster.Subject(user)
		if user == p.User {
			who.Team = p.Team
		}
		s := subject{scope: ScopeUser, user: user, team: who.Team}
		if !allot.CanSee(p, who, u.peerVisibility()) {
			return s, forbidPerson(p, user)
		}
		return s, nil
	case ScopeTeam:
		if team == "" {
			team = p.Team
		}
		if !allot.CanSeeTeam(p, team) {
			return subject{}, allot.Errorf(allot.EForbidden, "user %q (%s) may not see team %q: leads see their own team, admins every team", p.User, p.Role, team)
		}
		return subject{scope: ScopeTeam, team: team}, nil
	case ScopeOrg:
		if p.Role != allot.RoleAdmin {
			return subject{}, allot.Errorf(allot.EForbidden, "the organization view is for admins; user %q has role %q", p.User, p.Role)
		}
		return subject{scope: ScopeOrg, team: team}, nil
	}
	return subject{}, allot.Errorf(allot.EInvalid, "scope %q is not user, team or org", scope)
}

// forbidPerson is the refusal of a view of user that allot.CanSee denies p.
func forbidPerson(p allot.Principal, user string) error {
	return allot.Errorf(allot.EForbidden, "user %q may not see %q by name: members see only themselves, leads their team's members only under peer_visibility: named in a team of at least %d people, admins everyone", p.User, user, allot.MinPeerGroup)
}

// filter returns the report filter of s plus the query's model, task, app
// and provider filters.
func (s subject) filter(r *http.Request) map[allot.Dimension]string {
	f := map[allot.Dimension]string{}
	q := r.URL.Query()
	for _, d := range []allot.Dimension{allot.DimModel, allot.DimTask, allot.DimApp, allot.DimProvider} {
		if v := q.Get(string(d)); v != "" {
			f[d] = v
		}
	}
	switch s.scope {
	case ScopeUser:
		f[allot.DimUser] = s.user
	case ScopeTeam, ScopeOrg:
		if s.team != "" {
			f[allot.DimTeam] = s.team
		}
	}
	return f
}

// whoamiView is the caller as the API knows them.
type whoamiView struct {
	Org            string     `json:"org"`
	User           string     `json:"user"`
	Team           string     `json:"team"`
	Role           allot.Role `json:"role"`
	KeyID          string     `json:"key_id"`
	KeyLabel       string     `json:"key_label"`
	PeerVisibility string     `json:"peer_visibility"`
}

// whoami answers GET /api/v1/whoami.
func (u *Server) whoami(w http.ResponseWriter, _ *http.Request, p allot.Principal) error {
	writeJSON(w, whoamiView{Org: p.Org, User: p.User, Team: p.Team, Role: p.Role, KeyID: p.KeyID, KeyLabel: p.KeyLabel, PeerVisibility: u.peerVisibility()})
	return nil
}

func (u *Server) peerVisibility() string {
	if u.PeerVisibility == allot.PeerNamed {
		return allot.PeerNamed
	}
	return allot.PeerAnonymous
}

// grants answers GET /api/v1/grants (admins): the top-ups in force.
func (u *Server) grants(w http.ResponseWriter, r *http.Request, p allot.Principal) error {
	if u.Grants == nil {
		return allot.Errorf(allot.ENotFound, "this store keeps no grants")
	}
	if p.Role != allot.RoleAdmin {
		return allot.Errorf(allot.EForbidden, "grants are listed for admins; user %q has role %q", p.User, p.Role)
	}
	gs, err := u.Grants.Grants(r.Context(), u.now())
	if err != nil {
		return err
	}
	if gs == nil {
		gs = []allot.Grant{}
	}
	writeJSON(w, gs)
	return nil
}

// policy answers GET /api/v1/policy (admins): the stored rationing policy
// (budgets, defaults, rate limits, access rules) as declared.
func (u *Server) policy(w http.ResponseWriter, r *http.Request, p allot.Principal) error {
	if u.Policy == nil {
		return allot.Errorf(allot.ENotFound, "this allot keeps no stored policy")
	}
	if p.Role != allot.RoleAdmin {
		return allot.Errorf(allot.EForbidden, "the policy is shown to admins; user %q has role %q", p.User, p.Role)
	}
	raw, err := u.Policy.Setting(r.Context(), allot.PolicySetting)
	if err != nil {
		return err
	}
	var pol allot.Policy
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &pol); err != nil {
			return fmt.Errorf("decode stored policy: %w", err)
		}
	}
	if pol.Budgets == nil {
		pol.Budgets = []allot.Budget{}
	}
	writeJSON(w, pol)
	return nil
}

// budgetScope names s as a budget scope ("user:NAME", "team:NAME",
// "org"), whose monthly budget its forecast runs out against; "" for an
// org view narrowed to a team.
func (s subject) budgetScope() string {
	switch s.scope {
	case ScopeUser:
		return "user:" + s.user
	case ScopeTeam:
		return "team:" + s.team
	case ScopeOrg:
		if s.team == "" {
			return "org"
		}
	}
	return ""
}

// monthLimit is the budget the month forecast of scope runs out against
// (budget.Rationer.MonthLimit); nil without a rationer or such a budget.
func (u *Server) monthLimit(scope string, now time.Time) *allot.Money {
	if u.Rationer == nil || scope == "" {
		return nil
	}
	r := u.Rationer()
	if r == nil {
		return nil
	}
	return r.MonthLimit(scope, now)
}
