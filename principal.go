package allot

import (
	"strings"
	"time"
)

// Role is what a person may see and change.
type Role string

// Roles, from least to most powerful.
const (
	RoleMember Role = "member" // sees their own usage
	RoleLead   Role = "lead"   // also sees their team
	RoleAdmin  Role = "admin"  // sees and manages everything
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleMember || r == RoleLead || r == RoleAdmin }

// Principal is who a call is attributed to: resolved from a virtual key.
type Principal struct {
	Org      string `json:"org"`
	Team     string `json:"team"`
	User     string `json:"user"`
	KeyID    string `json:"key_id"`    // public id of the key, safe to show and log
	KeyLabel string `json:"key_label"` // the name its owner gave it
	Role     Role   `json:"role"`
}

// Team is a group of users that shares budgets and reports.
type Team struct {
	Name string `json:"name" yaml:"name"`
}

// User is a person who calls AI providers through allot.
type User struct {
	Name  string `json:"name" yaml:"name"`
	Email string `json:"email,omitempty" yaml:"email"`
	Team  string `json:"team" yaml:"team"`
	Role  Role   `json:"role" yaml:"role"`
}

// Org is the declared organization structure, as applied from org.yaml.
type Org struct {
	Name  string `json:"name" yaml:"name"`
	Teams []Team `json:"teams" yaml:"teams"`
	Users []User `json:"users" yaml:"users"`
}

// Key is a virtual key as stored: its secret is kept only as a hash
// (design invariant 8).
type Key struct {
	ID        string     `json:"id"`    // public id, e.g. "k7f3a9c2"
	User      string     `json:"user"`  // owner
	Label     string     `json:"label"` // owner's name for it
	Hash      []byte     `json:"-"`     // SHA-256 of the whole secret key
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"` // nil: never expires
}

// Live reports whether k still works at now: not revoked, not expired.
func (k Key) Live(now time.Time) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || now.Before(*k.ExpiresAt))
}

// ExpiredKeyMessage is what a caller presenting an expired key is told.
const ExpiredKeyMessage = "this allot key has expired; make a new one on the dashboard's Keys page (/keys) or with POST /api/v1/keys, or ask your allot admin"

// Check validates one user as org.yaml's users are checked (name, email
// and team present and capped, role valid; an empty role is member) and
// returns it normalized.
func (u User) Check() (User, error) {
	if strings.TrimSpace(u.Name) == "" {
		return u, Errorf(EInvalid, "user has no name; every user needs a name")
	}
	if len(u.Name) > MaxLabelBytes || len(u.Email) > MaxLabelBytes || len(u.Team) > MaxLabelBytes {
		return u, Errorf(EInvalid, "user %q: name, email or team is over %d bytes; shorten it", CapLabel(u.Name), MaxLabelBytes)
	}
	if strings.TrimSpace(u.Team) == "" {
		return u, Errorf(EInvalid, "user %q has no team; every user needs a team", u.Name)
	}
	if u.Role == "" {
		u.Role = RoleMember
	}
	if !u.Role.Valid() {
		return u, Errorf(EInvalid, "user %q has role %q; use member, lead or admin", u.Name, u.Role)
	}
	return u, nil
}

// DefaultOrgName names an org declared without a name.
const DefaultOrgName = "default"

// Normalize checks an org before a store keeps it and fills defaults (the
// org name DefaultOrgName, the member role), so every store applies the
// same rules. Problems are EInvalid.
func (org Org) Normalize() (Org, error) {
	if strings.TrimSpace(org.Name) == "" {
		org.Name = DefaultOrgName
	}
	if len(org.Name) > MaxLabelBytes {
		return org, Errorf(EInvalid, "org: name is %d bytes; names are at most %d", len(org.Name), MaxLabelBytes)
	}
	teams := map[string]bool{}
	for i, t := range org.Teams {
		if strings.TrimSpace(t.Name) == "" {
			return org, Errorf(EInvalid, "org: team #%d has no name; every team needs a name", i+1)
		}
		if len(t.Name) > MaxLabelBytes {
			return org, Errorf(EInvalid, "org: team #%d's name is %d bytes; names are at most %d", i+1, len(t.Name), MaxLabelBytes)
		}
		if teams[t.Name] {
			return org, Errorf(EInvalid, "org: team %q is listed twice; list each team once", t.Name)
		}
		teams[t.Name] = true
	}
	users := map[string]bool{}
	out := make([]User, len(org.Users))
	for i, u := range org.Users {
		if strings.TrimSpace(u.Name) == "" {
			return org, Errorf(EInvalid, "org: user #%d has no name; every user needs a name", i+1)
		}
		if len(u.Name) > MaxLabelBytes || len(u.Email) > MaxLabelBytes {
			return org, Errorf(EInvalid, "org: user #%d's name or email is over %d bytes; shorten it", i+1, MaxLabelBytes)
		}
		if users[u.Name] {
			return org, Errorf(EInvalid, "org: user %q is listed twice; list each user once", u.Name)
		}
		users[u.Name] = true
		if u.Team == "" {
			return org, Errorf(EInvalid, "org: user %q has no team; set team to one of the org's teams", u.Name)
		}
		if !teams[u.Team] {
			return org, Errorf(EInvalid, "org: user %q is in team %q, which is not in the teams list; add the team or fix the name", u.Name, u.Team)
		}
		if u.Role == "" {
			u.Role = RoleMember
		}
		if !u.Role.Valid() {
			return org, Errorf(EInvalid, "org: user %q has role %q; use member, lead or admin", u.Name, u.Role)
		}
		out[i] = u
	}
	org.Users = out
	return org, nil
}
