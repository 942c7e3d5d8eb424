package allot_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/allot-dev/allot"
)

// directory is an in-memory allot.People.
type directory struct {
	users map[string]allot.User // by name
	off   map[string]bool
}

func (d *directory) UpsertUser(_ context.Context, u allot.User) (bool, error) {
	u, err := u.Check()
	if err != nil {
		return false, err
	}
	_, had := d.users[u.Name]
	d.users[u.Name] = u
	return !had, nil
}

func (d *directory) UserByEmail(_ context.Context, email string) (allot.User, error) {
	for _, u := range d.users {
		if strings.EqualFold(u.Email, strings.TrimSpace(email)) {
			if d.off[u.Name] {
				return u, allot.Errorf(allot.EForbidden, "deactivated")
			}
			return u, nil
		}
	}
	return allot.User{}, allot.Errorf(allot.ENotFound, "none")
}

func newDirectory() *directory {
	return &directory{users: map[string]allot.User{
		"alice": {Name: "alice", Email: "alice@acme.test", Team: "platform", Role: allot.RoleMember},
		"gone":  {Name: "gone", Email: "gone@acme.test", Team: "platform", Role: allot.RoleMember},
	}, off: map[string]bool{"gone": true}}
}

func TestEnsureAdmin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newDirectory()
	tests := []struct {
		email, team string
		want        allot.User
		changed     bool
		code        allot.ErrorCode
	}{
		{email: "Alice@acme.test", want: allot.User{Name: "alice", Email: "alice@acme.test", Team: "platform", Role: allot.RoleAdmin}, changed: true},
		{email: "alice@acme.test", want: allot.User{Name: "alice", Email: "alice@acme.test", Team: "platform", Role: allot.RoleAdmin}},
		{email: "New@acme.test", want: allot.User{Name: "new@acme.test", Email: "New@acme.test", Team: allot.DefaultTeam, Role: allot.RoleAdmin}, changed: true},
		{email: "ops@acme.test", team: "ops", want: allot.User{Name: "ops@acme.test", Email: "ops@acme.test", Team: "ops", Role: allot.RoleAdmin}, changed: true},
		{email: "gone@acme.test", code: allot.EForbidden},
		{email: "alice", code: allot.EInvalid},
	}
	for _, tt := range tests {
		u, changed, err := allot.EnsureAdmin(ctx, d, tt.email, tt.team)
		if allot.CodeOf(err) != tt.code {
			t.Errorf("%s: error %v, want code %q", tt.email, err, tt.code)
			continue
		}
		if tt.code == "" && (u != tt.want || changed != tt.changed || d.users[u.Name] != tt.want) {
			t.Errorf("%s: %+v changed %v (stored %+v), want %+v changed %v", tt.email, u, changed, d.users[u.Name], tt.want, tt.changed)
		}
	}
}

func TestResolveUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newDirectory()
	for in, want := range map[string]string{"alice": "alice", "ALICE@acme.test": "alice", "gone@acme.test": "gone", "sso@acme.test": "sso@acme.test", "": ""} {
		if got, err := allot.ResolveUser(ctx, d, in); err != nil || got != want {
			t.Errorf("ResolveUser(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	p := allot.Policy{
		Budgets:    []allot.Budget{{Name: "a", Scope: "user:alice@acme.test"}, {Name: "b", Scope: "team:platform"}},
		RateLimits: []allot.RateLimit{{Scope: "user:Alice@acme.test"}},
		Access:     []allot.ModelAccess{{Scope: "user:bob"}},
	}
	got, err := p.ResolveUsers(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if got.Budgets[0].Scope != "user:alice" || got.Budgets[1].Scope != "team:platform" || got.RateLimits[0].Scope != "user:alice" || got.Access[0].Scope != "user:bob" {
		t.Errorf("ResolveUsers = %+v", got)
	}
	if p.Budgets[0].Scope != "user:alice@acme.test" {
		t.Error("ResolveUsers changed the policy it was given")
	}
}

// TestUserWithEmail: the checks and errors every store's UserByEmail
// gives, whatever its lookup.
func TestUserWithEmail(t *testing.T) {
	t.Parallel()
	dan := allot.User{Name: "dan", Email: "dan@acme.test"}
	tests := []struct {
		name, email   string
		active, found bool
		err           error
		want          allot.ErrorCode
		asked         string
	}{
		{"found", " dan@acme.test ", true, true, nil, "", "dan@acme.test"},
		{"empty", "  ", true, true, nil, allot.ENotFound, ""},
		{"none", "x@acme.test", false, false, nil, allot.ENotFound, "x@acme.test"},
		{"deactivated", "dan@acme.test", false, true, nil, allot.EForbidden, "dan@acme.test"},
		{"store error", "dan@acme.test", true, true, errors.New("disk"), allot.EInternal, "dan@acme.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			asked := ""
			u, err := allot.UserWithEmail(tt.email, func(email string) (allot.User, bool, bool, error) {
				asked = email
				return dan, tt.active, tt.found, tt.err
			})
			if allot.CodeOf(err) != tt.want || asked != tt.asked {
				t.Fatalf("UserWithEmail(%q) = %v (code %q), asked %q; want code %q, asked %q", tt.email, err, allot.CodeOf(err), asked, tt.want, tt.asked)
			}
			if tt.want == "" && u != dan {
				t.Errorf("user = %+v, want %+v", u, dan)
			}
		})
	}
}
