package allot

import (
	"context"
	"fmt"
	"strings"
)

// People is the part of the directory that names people from outside
// org.yaml: OpenID Connect sign-in, `admins:` and `allot admin add`
// (and SCIM).
type People interface {
	UpsertUser(ctx context.Context, u User) (created bool, err error)
	UserByEmail(ctx context.Context, email string) (User, error)
}

// UserWithEmail is how every store answers UserByEmail: find runs the
// store's lookup of the user with email, without case (the active one
// first, when an old deactivated one shares the email), and says
// whether there is one; the checks and the errors are here.
func UserWithEmail(email string, find func(email string) (u User, active, found bool, err error)) (User, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return User{}, Errorf(ENotFound, "no user with an empty email")
	}
	u, active, found, err := find(email)
	switch {
	case err != nil:
		return User{}, fmt.Errorf("find user by email: %w", err)
	case !found:
		return User{}, Errorf(ENotFound, "no user with email %q", CapLabel(email))
	case !active:
		return u, Errorf(EForbidden, "user %q (%s) is deactivated; an allot admin can restore them", u.Name, u.Email)
	}
	return u, nil
}

// DefaultTeam is the team of a person created outside org.yaml when
// nothing names theirs.
const DefaultTeam = "default"

// EnsureAdmin makes the person with email an admin: a known person keeps
// their name and team, an unknown one is created with the email as name,
// in team (DefaultTeam when ""). A deactivated person is refused
// (EForbidden): restoring them is org.yaml's or SCIM's call. changed is
// false when they were an admin already. Callers audit.
func EnsureAdmin(ctx context.Context, d People, email, team string) (u User, changed bool, err error) {
	email = strings.TrimSpace(email)
	if !strings.Contains(email, "@") {
		return User{}, false, Errorf(EInvalid, "%q is not an email address", CapLabel(email))
	}
	u, err = d.UserByEmail(ctx, email)
	switch CodeOf(err) {
	case "":
		if u.Role == RoleAdmin {
			return u, false, nil
		}
	case ENotFound:
		if team == "" {
			team = DefaultTeam
		}
		u = User{Name: strings.ToLower(email), Email: email, Team: team}
	default:
		return u, false, err
	}
	u.Role = RoleAdmin
	if _, err := d.UpsertUser(ctx, u); err != nil {
		return u, false, err
	}
	return u, true, nil
}

// ResolveUser turns how a person is named (their user name, or their
// email) into their user name: a name containing "@" that is some
// person's email is theirs (also when they were deactivated, since their
// history stays in reports); anything else is taken as a name.
func ResolveUser(ctx context.Context, d People, nameOrEmail string) (string, error) {
	if d == nil || !strings.Contains(nameOrEmail, "@") {
		return nameOrEmail, nil
	}
	u, err := d.UserByEmail(ctx, nameOrEmail)
	switch CodeOf(err) {
	case "", EForbidden:
		return u.Name, nil
	case ENotFound:
		return nameOrEmail, nil // people created by sign-in are named by their email
	}
	return "", err
}

// ResolveUsers returns p with every "user:EMAIL" scope (budgets, rate
// limits, access rules) turned into "user:NAME" of the person with that
// email (ResolveUser), so org.yaml may name people by email.
func (p Policy) ResolveUsers(ctx context.Context, d People) (Policy, error) {
	resolve := func(scope *string) error {
		who, ok := strings.CutPrefix(*scope, "user:")
		if !ok || !strings.Contains(who, "@") {
			return nil
		}
		name, err := ResolveUser(ctx, d, who)
		if err != nil {
			return err
		}
		*scope = "user:" + name
		return nil
	}
	p.Budgets = append([]Budget(nil), p.Budgets...)
	p.RateLimits = append([]RateLimit(nil), p.RateLimits...)
	p.Access = append([]ModelAccess(nil), p.Access...)
	for i := range p.Budgets {
		if err := resolve(&p.Budgets[i].Scope); err != nil {
			return p, err
		}
	}
	for i := range p.RateLimits {
		if err := resolve(&p.RateLimits[i].Scope); err != nil {
			return p, err
		}
	}
	for i := range p.Access {
		if err := resolve(&p.Access[i].Scope); err != nil {
			return p, err
		}
	}
	return p, nil
}
