package oidc

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/allot-dev/allot"
)

// Directory is what a sign-in needs of allot's directory.
type Directory interface {
	allot.People
	Audit(ctx context.Context, e allot.AuditEntry) error
}

// Enroller turns who the provider says signed in into an allot person.
type Enroller struct {
	Dir         Directory
	Admins      []string // emails that are admins whatever their groups (allot.yaml admins:)
	DefaultTeam string   // team of a new person the claims name none for (allot.DefaultTeam when "")
	Issuer      string   // named in the audit log
}

// Enroll returns the person id is. Someone allot knows by email (from
// org.yaml, SCIM or an earlier sign-in) keeps their user name; their team
// and role follow the provider when the mapping yields them. Someone new
// is created with their email as user name. A deactivated person is
// refused (EForbidden). Creations and changes are audited.
func (e Enroller) Enroll(ctx context.Context, id Identity) (allot.User, error) {
	u, err := e.Dir.UserByEmail(ctx, id.Email)
	created := false
	switch allot.CodeOf(err) {
	case "":
	case allot.ENotFound:
		created = true
		u = allot.User{Name: id.Email, Email: id.Email, Team: e.defaultTeam(), Role: allot.RoleMember}
	case allot.EForbidden:
		return allot.User{}, allot.Errorf(allot.EForbidden, "%s is deactivated in allot and cannot sign in; ask an allot admin", id.Email)
	default:
		return allot.User{}, fmt.Errorf("look up %s: %w", id.Email, err)
	}
	want := u
	if id.Team != "" {
		want.Team = id.Team
	}
	if id.Role != "" {
		want.Role = id.Role
	}
	if slices.ContainsFunc(e.Admins, func(a string) bool { return strings.EqualFold(strings.TrimSpace(a), id.Email) }) {
		want.Role = allot.RoleAdmin
	}
	if !created && want == u {
		return u, nil
	}
	if _, err := e.Dir.UpsertUser(ctx, want); err != nil {
		return allot.User{}, fmt.Errorf("record %s: %w", id.Email, err)
	}
	action, detail := "user.update", fmt.Sprintf("sign-in through %s changed %s: team %s → %s, role %s → %s", e.Issuer, u.Name, u.Team, want.Team, u.Role, want.Role)
	if created {
		action, detail = "user.create", fmt.Sprintf("first sign-in through %s: %s (%s), team %s, role %s", e.Issuer, want.Name, id.Name, want.Team, want.Role)
	}
	_ = e.Dir.Audit(ctx, allot.AuditEntry{Actor: "oidc:" + want.Name, Action: action, Target: want.Name, Detail: detail})
	return want, nil
}

func (e Enroller) defaultTeam() string {
	if e.DefaultTeam == "" {
		return allot.DefaultTeam
	}
	return e.DefaultTeam
}
