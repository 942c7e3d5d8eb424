package sqlite

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/allot-dev/allot"
)

var acme = allot.Org{
	Name:  "acme",
	Teams: []allot.Team{{Name: "platform"}, {Name: "research"}},
	Users: []allot.User{
		{Name: "alice", Email: "alice@acme.test", Team: "platform", Role: allot.RoleLead},
		{Name: "bob", Team: "research"}, // role defaults to member
		{Name: "root", Team: "platform", Role: allot.RoleAdmin},
	},
}

func TestApplyOrgIsDeclarativeAndIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	res, err := db.ApplyOrg(ctx, acme)
	if err != nil {
		t.Fatal(err)
	}
	if want := (allot.ApplyResult{TeamsCreated: 2, UsersCreated: 3}); res != want {
		t.Errorf("first apply: %+v, want %+v", res, want)
	}
	if res, err = db.ApplyOrg(ctx, acme); err != nil || res != (allot.ApplyResult{}) {
		t.Errorf("second identical apply: %+v, %v; want all zeros", res, err)
	}
	users, _ := db.Users(ctx)
	wantUsers := []allot.User{
		{Name: "alice", Email: "alice@acme.test", Team: "platform", Role: allot.RoleLead},
		{Name: "bob", Team: "research", Role: allot.RoleMember},
		{Name: "root", Team: "platform", Role: allot.RoleAdmin},
	}
	if !reflect.DeepEqual(users, wantUsers) {
		t.Errorf("Users = %+v, want %+v", users, wantUsers)
	}

	// bob leaves, research is dissolved, alice changes team, carol joins.
	next := allot.Org{
		Name:  "acme",
		Teams: []allot.Team{{Name: "platform"}, {Name: "infra"}},
		Users: []allot.User{
			{Name: "alice", Email: "alice@acme.test", Team: "infra", Role: allot.RoleLead},
			{Name: "root", Team: "platform", Role: allot.RoleAdmin},
			{Name: "carol", Team: "infra"},
		},
	}
	res, err = db.ApplyOrg(ctx, next)
	if err != nil {
		t.Fatal(err)
	}
	if want := (allot.ApplyResult{TeamsCreated: 1, TeamsRemoved: 1, UsersCreated: 1, UsersUpdated: 1, UsersRemoved: 1}); res != want {
		t.Errorf("changed apply: %+v, want %+v", res, want)
	}
	if res, _ = db.ApplyOrg(ctx, next); res != (allot.ApplyResult{}) {
		t.Errorf("repeat of changed apply: %+v, want zeros", res)
	}
	teams, _ := db.Teams(ctx)
	if want := []allot.Team{{Name: "infra"}, {Name: "platform"}}; !reflect.DeepEqual(teams, want) {
		t.Errorf("Teams = %v, want %v", teams, want)
	}
	users, _ = db.Users(ctx)
	var names []string
	for _, u := range users {
		names = append(names, u.Name)
	}
	if want := []string{"alice", "carol", "root"}; !reflect.DeepEqual(names, want) {
		t.Errorf("active users %v, want %v (bob deactivated, not listed)", names, want)
	}

	// bob returns: reactivated, counted as an update.
	back := next
	back.Teams = append(back.Teams, allot.Team{Name: "research"})
	back.Users = append(back.Users, allot.User{Name: "bob", Team: "research"})
	if res, _ = db.ApplyOrg(ctx, back); res != (allot.ApplyResult{TeamsCreated: 1, UsersUpdated: 1}) {
		t.Errorf("returning user: %+v, want one team created and one user updated", res)
	}
}

func TestApplyOrgDefaultsTheOrgName(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	org := acme
	org.Name = ""
	if _, err := db.ApplyOrg(ctx, org); err != nil {
		t.Fatal(err)
	}
	secret, _, err := db.CreateKey(ctx, "bob", "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := db.PrincipalByKeyHash(ctx, allot.HashKey(secret))
	if err != nil || p.Org != DefaultOrg {
		t.Errorf("principal %+v, %v; want org %q", p, err, DefaultOrg)
	}
}

func TestApplyOrgRejectsInvalidOrgs(t *testing.T) {
	t.Parallel()
	teams := []allot.Team{{Name: "platform"}}
	tests := []struct {
		name    string
		org     allot.Org
		message string
	}{
		{"unknown team", allot.Org{Teams: teams, Users: []allot.User{{Name: "a", Team: "ghosts"}}}, `team "ghosts", which is not in the teams list`},
		{"no team", allot.Org{Teams: teams, Users: []allot.User{{Name: "a"}}}, `user "a" has no team`},
		{"bad role", allot.Org{Teams: teams, Users: []allot.User{{Name: "a", Team: "platform", Role: "owner"}}}, `role "owner"; use member, lead or admin`},
		{"unnamed user", allot.Org{Teams: teams, Users: []allot.User{{Team: "platform"}}}, "user #1 has no name"},
		{"unnamed team", allot.Org{Teams: []allot.Team{{Name: " "}}}, "team #1 has no name"},
		{"duplicate user", allot.Org{Teams: teams, Users: []allot.User{{Name: "a", Team: "platform"}, {Name: "a", Team: "platform"}}}, `user "a" is listed twice`},
		{"duplicate team", allot.Org{Teams: []allot.Team{{Name: "x"}, {Name: "x"}}}, `team "x" is listed twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := openTest(t)
			_, err := db.ApplyOrg(context.Background(), tt.org)
			if allot.CodeOf(err) != allot.EInvalid || !strings.Contains(err.Error(), tt.message) {
				t.Errorf("err %v, want EInvalid containing %q", err, tt.message)
			}
			if teams, _ := db.Teams(context.Background()); len(teams) != 0 {
				t.Errorf("an invalid org stored teams %v", teams)
			}
		})
	}
}

func TestKeyLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	if _, err := db.ApplyOrg(ctx, acme); err != nil {
		t.Fatal(err)
	}
	secret, key, err := db.CreateKey(ctx, "alice", "laptop")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, allot.KeyPrefix) || key.User != "alice" || key.Label != "laptop" || !reflect.DeepEqual(key.Hash, allot.HashKey(secret)) {
		t.Errorf("CreateKey = %q, %+v", secret, key)
	}
	_, other, err := db.CreateKey(ctx, "bob", "")
	if err != nil || other.Label != DefaultKeyLabel {
		t.Fatalf("CreateKey without label: %+v, %v; want label %q", other, err, DefaultKeyLabel)
	}

	p, err := db.PrincipalByKeyHash(ctx, allot.HashKey(secret))
	want := allot.Principal{Org: "acme", Team: "platform", User: "alice", KeyID: key.ID, KeyLabel: "laptop", Role: allot.RoleLead}
	if err != nil || p != want {
		t.Errorf("PrincipalByKeyHash = %+v, %v; want %+v", p, err, want)
	}

	keys, _ := db.Keys(ctx, "alice")
	if len(keys) != 1 || keys[0].ID != key.ID || !keys[0].CreatedAt.Equal(key.CreatedAt) || keys[0].RevokedAt != nil {
		t.Errorf("Keys(alice) = %+v, want just %+v", keys, key)
	}
	if all, _ := db.Keys(ctx, ""); len(all) != 2 {
		t.Errorf("Keys(\"\") lists %d keys, want 2", len(all))
	}

	if err := db.RevokeKey(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.RevokeKey(ctx, key.ID); err != nil {
		t.Errorf("revoking twice: %v, want nil", err)
	}
	if _, err := db.PrincipalByKeyHash(ctx, allot.HashKey(secret)); allot.CodeOf(err) != allot.EUnauthorized {
		t.Errorf("revoked key: %v, want EUnauthorized", err)
	}
	if keys, _ = db.Keys(ctx, "alice"); len(keys) != 1 || keys[0].RevokedAt == nil {
		t.Errorf("revoked key listed as %+v, want RevokedAt set", keys)
	}
}

func TestKeyErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	if _, err := db.ApplyOrg(ctx, acme); err != nil {
		t.Fatal(err)
	}
	bobSecret, _, err := db.CreateKey(ctx, "bob", "x")
	if err != nil {
		t.Fatal(err)
	}
	gone := acme
	gone.Users = acme.Users[:1] // bob and root are removed
	if _, err := db.ApplyOrg(ctx, gone); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		run  func() error
		code allot.ErrorCode
		msg  string
	}{
		{"key for an unknown user", func() error { _, _, err := db.CreateKey(ctx, "mallory", ""); return err }, allot.ENotFound, `no user "mallory"; add them to org.yaml and run allot apply`},
		{"key for a deactivated user", func() error { _, _, err := db.CreateKey(ctx, "bob", ""); return err }, allot.ENotFound, `no user "bob"`},
		{"revoke an unknown key", func() error { return db.RevokeKey(ctx, "knothing") }, allot.ENotFound, `no key "knothing"`},
		{"unknown key hash", func() error { _, err := db.PrincipalByKeyHash(ctx, allot.HashKey("ak-nope")); return err }, allot.EUnauthorized, "invalid allot key"},
		{"key of a deactivated user", func() error { _, err := db.PrincipalByKeyHash(ctx, allot.HashKey(bobSecret)); return err }, allot.EUnauthorized, "invalid allot key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if allot.CodeOf(err) != tt.code || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err %v, want %s containing %q", err, tt.code, tt.msg)
			}
		})
	}
}

func TestSettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t)
	if v, err := db.Setting(ctx, "prices"); err != nil || v != nil {
		t.Errorf("unset setting = %q, %v; want nil, nil", v, err)
	}
	for _, v := range [][]byte{[]byte(`{"a":1}`), {0, 1, 2, 255}, {}} {
		if err := db.SetSetting(ctx, "prices", v); err != nil {
			t.Fatal(err)
		}
		got, err := db.Setting(ctx, "prices")
		if err != nil || got == nil || string(got) != string(v) {
			t.Errorf("Setting after SetSetting(%q) = %q, %v", v, got, err)
		}
	}
}
