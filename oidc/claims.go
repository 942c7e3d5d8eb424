package oidc

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"slices"
	"strings"

	"github.com/allot-dev/allot"
)

// Bounds on what a provider's claims may hold; a token past them is
// refused rather than truncated, since a cut group list could change a
// role.
const (
	MaxClaimsBytes = 64 << 10 // the merged claims of one sign-in, as JSON
	MaxGroups      = 1000     // groups in the groups claim
)

// Mapping says how claims become a person: where groups come from, which
// groups make admins and leads, and where the team comes from.
type Mapping struct {
	GroupsClaim string   // claim holding group names (default "groups")
	AdminGroups []string // a member of one of these is an admin
	LeadGroups  []string // a member of one of these, not an admin, is a lead
	// TeamFrom is "group" (the first group, in the claim's order, that is
	// not an admin or lead group) or a claim's name (e.g. "department").
	TeamFrom string
}

// Identity is what the provider says about the person who signed in.
type Identity struct {
	Subject string   // the provider's stable id of the person
	Email   string   // lower-cased
	Name    string   // display name (the email when the provider gives none)
	Groups  []string // as the groups claim lists them
	Team    string   // "" when the mapping finds none
	// Role is the role the groups give: admin, lead, or "" when no admin
	// or lead group is configured (then the role is not the provider's
	// to decide, and a stored person keeps theirs).
	Role allot.Role
}

// Identify reads the claims of one sign-in (the ID token's, merged over
// the userinfo endpoint's) as m says. The email comes from "email", else
// from "preferred_username" or "upn" when they are addresses (Entra ID);
// an email the provider marks unverified is refused.
func (m Mapping) Identify(raw []byte) (Identity, error) {
	if len(raw) > MaxClaimsBytes {
		return Identity{}, fmt.Errorf("the identity provider's claims are %d bytes; at most %d are read", len(raw), MaxClaimsBytes)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		return Identity{}, fmt.Errorf("the identity provider's claims are not a JSON object: %w", err)
	}
	str := func(name string) string {
		s, _ := claims[name].(string)
		return strings.TrimSpace(s)
	}
	var id Identity
	id.Subject = str("sub")
	if id.Subject == "" {
		return Identity{}, fmt.Errorf("the ID token has no subject (sub)")
	}
	for _, c := range []string{"email", "preferred_username", "upn"} {
		if e := str(c); isEmail(e) {
			id.Email = strings.ToLower(e)
			break
		}
	}
	if id.Email == "" {
		return Identity{}, fmt.Errorf("the identity provider sent no email address (claims email, preferred_username or upn); ask for the email scope")
	}
	if v, ok := claims["email_verified"]; ok && (v == false || v == "false") {
		return Identity{}, fmt.Errorf("the identity provider says %s is not verified; verify it there and sign in again", id.Email)
	}
	id.Name = str("name")
	if id.Name == "" {
		id.Name = strings.TrimSpace(str("given_name") + " " + str("family_name"))
	}
	if id.Name == "" {
		id.Name = id.Email
	}
	id.Name = allot.CapLabel(id.Name)

	groups, err := stringList(claims[m.groupsClaim()])
	if err != nil {
		return Identity{}, fmt.Errorf("claim %s: %w", m.groupsClaim(), err)
	}
	id.Groups = groups
	switch {
	case intersects(groups, m.AdminGroups):
		id.Role = allot.RoleAdmin
	case intersects(groups, m.LeadGroups):
		id.Role = allot.RoleLead
	case len(m.AdminGroups) > 0 || len(m.LeadGroups) > 0:
		id.Role = allot.RoleMember
	}
	switch m.TeamFrom {
	case "", "group":
		for _, g := range groups {
			if !slices.Contains(m.AdminGroups, g) && !slices.Contains(m.LeadGroups, g) {
				id.Team = g
				break
			}
		}
	default:
		id.Team = str(m.TeamFrom)
	}
	if len(id.Team) > allot.MaxLabelBytes {
		return Identity{}, fmt.Errorf("the team the identity provider names is %d bytes; team names are at most %d", len(id.Team), allot.MaxLabelBytes)
	}
	return id, nil
}

func (m Mapping) groupsClaim() string {
	if m.GroupsClaim == "" {
		return "groups"
	}
	return m.GroupsClaim
}

// isEmail reports whether s is a bare address within allot's label cap.
func isEmail(s string) bool {
	if s == "" || len(s) > allot.MaxLabelBytes || strings.ContainsAny(s, "<> \t\r\n") {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s
}

// stringList reads a claim that is a list of strings, or one string (some
// providers send a single group so); absent is an empty list.
func stringList(v any) ([]string, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		if v = strings.TrimSpace(v); v == "" {
			return nil, nil
		}
		if len(v) > allot.MaxLabelBytes {
			return nil, fmt.Errorf("a group name is %d bytes; at most %d", len(v), allot.MaxLabelBytes)
		}
		return []string{v}, nil
	case []any:
		if len(v) > MaxGroups {
			return nil, fmt.Errorf("%d groups; at most %d are read (send only the groups allot needs)", len(v), MaxGroups)
		}
		out := make([]string, 0, len(v))
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("a group is %T, not a string", x)
			}
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			if len(s) > allot.MaxLabelBytes {
				return nil, fmt.Errorf("a group name is %d bytes; at most %d", len(s), allot.MaxLabelBytes)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("is %T, not a list of group names", v)
}

func intersects(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}
