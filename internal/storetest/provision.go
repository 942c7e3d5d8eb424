package storetest

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/allot-dev/allot"
)

// testProvisioning: accounts and groups as SCIM keeps them. A new
// account makes a person, an existing email is adopted; groups set
// teams (the group joined last wins, none: unassigned); deactivating or
// deleting revokes keys; org.yaml leaves SCIM's people active and sets
// only their role.
func testProvisioning(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	s := open(t)
	mustApply(t, s, testOrg(), allot.ApplyResult{TeamsCreated: 3, UsersCreated: 4})
	user := func(name string) (allot.User, bool) {
		t.Helper()
		users, err := s.Users(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range users {
			if u.Name == name {
				return u, true
			}
		}
		return allot.User{}, false
	}
	teams := func() []string {
		t.Helper()
		ts, err := s.Teams(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return names(ts, func(t allot.Team) string { return t.Name })
	}

	erin, err := s.CreateAccount(ctx, allot.Account{UserName: "erin@acme.test", ExternalID: "00u1", GivenName: "Erin", FamilyName: "Ng", Team: "unassigned", Active: true})
	if err != nil {
		t.Fatal(err)
	}
	if erin.ID == "" || erin.User != "erin@acme.test" || erin.Team != "unassigned" || !erin.Active || erin.GivenName != "Erin" || erin.Created.IsZero() {
		t.Errorf("CreateAccount = %+v", erin)
	}
	if u, ok := user("erin@acme.test"); !ok || u.Team != "unassigned" || u.Role != allot.RoleMember || u.Email != "erin@acme.test" {
		t.Errorf("the provisioned person is %+v (listed %v)", u, ok)
	}
	if !slices.Contains(teams(), "unassigned") {
		t.Errorf("teams %v lack the unassigned team", teams())
	}
	// An org.yaml person with the same email is adopted.
	bob, err := s.CreateAccount(ctx, allot.Account{UserName: "BOB@acme.test", Team: "unassigned", Active: true})
	if err != nil {
		t.Fatal(err)
	}
	if bob.User != "bob" || bob.Team != "data" || bob.UserName != "BOB@acme.test" {
		t.Errorf("adopting bob = %+v", bob)
	}
	_, err = s.CreateAccount(ctx, allot.Account{UserName: "erin@ACME.test", Team: "unassigned", Active: true})
	wantCode(t, "CreateAccount of a provisioned email", err, allot.EConflict)
	for _, bad := range []allot.Account{{UserName: "not-an-email", Team: "x"}, {UserName: "a@b", Team: "x", GivenName: string(make([]byte, 300))}} {
		_, err = s.CreateAccount(ctx, bad)
		wantCode(t, "CreateAccount of an invalid account", err, allot.EInvalid)
	}
	if got, err := s.Account(ctx, erin.ID); err != nil || !reflect.DeepEqual(got, erin) {
		t.Errorf("Account = %+v, %v; want %+v", got, err, erin)
	}
	_, err = s.Account(ctx, "nope")
	wantCode(t, "Account of an unknown id", err, allot.ENotFound)
	if list, total, err := s.Accounts(ctx, allot.Page{Name: "ERIN@acme.TEST"}); err != nil || total != 1 || len(list) != 1 || list[0].ID != erin.ID {
		t.Errorf("Accounts(erin) = %v, %d, %v", list, total, err)
	}
	if list, total, err := s.Accounts(ctx, allot.Page{Offset: 1, Limit: 1}); err != nil || total != 2 || len(list) != 1 || list[0].ID != bob.ID {
		t.Errorf("Accounts(page 2) = %v, %d, %v", list, total, err)
	}
	if list, total, err := s.Accounts(ctx, allot.Page{Name: "zed@acme.test"}); err != nil || total != 0 || list == nil || len(list) != 0 {
		t.Errorf("Accounts(nobody) = %v, %d, %v; want an empty, non-nil list", list, total, err)
	}

	// org.yaml no longer lists bob: SCIM decides, he stays; it makes him
	// a lead and moves him to web, and only the role changes.
	org := testOrg()
	org.Users = []allot.User{org.Users[0], org.Users[2], org.Users[3]}
	mustApply(t, s, org, allot.ApplyResult{})
	org = testOrg()
	org.Users[1] = allot.User{Name: "bob", Email: "bob@acme.test", Team: "web", Role: allot.RoleLead}
	mustApply(t, s, org, allot.ApplyResult{UsersUpdated: 1})
	if u, ok := user("bob"); !ok || u.Team != "data" || u.Role != allot.RoleLead {
		t.Errorf("bob after org.yaml = %+v (listed %v); want team data, role lead", u, ok)
	}

	// Groups set teams: the one joined last wins.
	eng, err := s.CreateGroup(ctx, allot.Group{DisplayName: "Engineering", Team: "eng", Members: []string{erin.ID, "unknown"}})
	if err != nil {
		t.Fatal(err)
	}
	if eng.ID == "" || !reflect.DeepEqual(eng.Members, []string{erin.ID}) || eng.Team != "eng" {
		t.Errorf("CreateGroup = %+v", eng)
	}
	_, err = s.CreateGroup(ctx, allot.Group{DisplayName: "Engineering", Team: "x"})
	wantCode(t, "CreateGroup of a taken name", err, allot.EConflict)
	if u, _ := user("erin@acme.test"); u.Team != "eng" {
		t.Errorf("erin is in %q, want eng", u.Team)
	}
	data, err := s.CreateGroup(ctx, allot.Group{DisplayName: "Data", Team: "data"})
	if err != nil {
		t.Fatal(err)
	}
	change := func(id string, c allot.GroupChange) allot.Group {
		t.Helper()
		c.Unassigned = "unassigned"
		g, err := s.UpdateGroup(ctx, id, c)
		if err != nil {
			t.Fatalf("UpdateGroup(%+v): %v", c, err)
		}
		return g
	}
	change(data.ID, allot.GroupChange{Add: []string{bob.ID, erin.ID}})
	if u, _ := user("erin@acme.test"); u.Team != "data" {
		t.Errorf("erin joined Data last but is in %q", u.Team)
	}
	change(data.ID, allot.GroupChange{Remove: []string{erin.ID}})
	if u, _ := user("erin@acme.test"); u.Team != "eng" {
		t.Errorf("erin left Data but is in %q, want eng", u.Team)
	}
	g := change(eng.ID, allot.GroupChange{SetMembers: true, Members: []string{bob.ID}})
	if u, _ := user("erin@acme.test"); u.Team != "unassigned" {
		t.Errorf("erin is in no group but in %q, want unassigned", u.Team)
	}
	if u, _ := user("bob"); u.Team != "eng" || !reflect.DeepEqual(g.Members, []string{bob.ID}) {
		t.Errorf("bob after Engineering's members were set: team %q, members %v", u.Team, g.Members)
	}
	ext := "grp-1"
	g = change(eng.ID, allot.GroupChange{DisplayName: "Platform Engineering", Team: "platform", ExternalID: &ext})
	if u, _ := user("bob"); u.Team != "platform" || g.DisplayName != "Platform Engineering" || g.ExternalID != "grp-1" {
		t.Errorf("after the rename: bob in %q, group %+v", u.Team, g)
	}
	if list, total, err := s.Groups(ctx, allot.Page{Name: "Data"}); err != nil || total != 1 || len(list) != 1 || list[0].ID != data.ID || !reflect.DeepEqual(list[0].Members, []string{bob.ID}) {
		t.Errorf("Groups(Data) = %+v, %d, %v", list, total, err)
	}
	_, err = s.UpdateGroup(ctx, "nope", allot.GroupChange{Unassigned: "unassigned"})
	wantCode(t, "UpdateGroup of an unknown group", err, allot.ENotFound)
	_, err = s.UpdateGroup(ctx, eng.ID, allot.GroupChange{DisplayName: "Data", Team: "data", Unassigned: "unassigned"})
	wantCode(t, "renaming a group to a taken name", err, allot.EConflict)

	// Deactivating revokes keys; reactivating brings none back.
	secret, _, err := s.CreateKey(ctx, "erin@acme.test", "laptop")
	if err != nil {
		t.Fatal(err)
	}
	erin.Active, erin.DisplayName = false, "Erin Ng"
	got, err := s.UpdateAccount(ctx, erin)
	if err != nil || got.Active || got.DisplayName != "Erin Ng" {
		t.Errorf("UpdateAccount(inactive) = %+v, %v", got, err)
	}
	_, err = s.PrincipalByKeyHash(ctx, allot.HashKey(secret))
	wantCode(t, "a deactivated account's key", err, allot.EUnauthorized)
	if _, ok := user("erin@acme.test"); ok {
		t.Error("a deactivated account's person is listed")
	}
	erin.Active, erin.UserName = true, "erin.ng@acme.test"
	if got, err = s.UpdateAccount(ctx, erin); err != nil || !got.Active || got.UserName != "erin.ng@acme.test" || got.User != "erin@acme.test" {
		t.Errorf("UpdateAccount(active, new email) = %+v, %v", got, err)
	}
	_, err = s.PrincipalByKeyHash(ctx, allot.HashKey(secret))
	wantCode(t, "a reactivated account's old key", err, allot.EUnauthorized)
	erin.UserName = "carol@acme.test"
	_, err = s.UpdateAccount(ctx, erin)
	wantCode(t, "UpdateAccount to another person's email", err, allot.EConflict)

	// Deleting forgets the account and its memberships; history stays.
	change(data.ID, allot.GroupChange{Add: []string{erin.ID}})
	if err := s.DeleteAccount(ctx, erin.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.Account(ctx, erin.ID)
	wantCode(t, "Account after DeleteAccount", err, allot.ENotFound)
	wantCode(t, "DeleteAccount twice", s.DeleteAccount(ctx, erin.ID), allot.ENotFound)
	if d, _ := s.Group(ctx, data.ID); !reflect.DeepEqual(d.Members, []string{bob.ID}) {
		t.Errorf("Data's members after erin's deletion: %v", d.Members)
	}
	if _, ok := user("erin@acme.test"); ok {
		t.Error("a deleted account's person is listed")
	}
	// Provisioned again, the same person comes back.
	again, err := s.CreateAccount(ctx, allot.Account{UserName: "erin.ng@acme.test", Team: "unassigned", Active: true})
	if err != nil || again.User != "erin@acme.test" || again.ID == erin.ID {
		t.Errorf("provisioning a deleted person again = %+v, %v", again, err)
	}

	// Deleting a group moves its members and drops its unused team.
	if err := s.DeleteGroup(ctx, eng.ID, "unassigned"); err != nil {
		t.Fatal(err)
	}
	if u, _ := user("bob"); u.Team != "data" {
		t.Errorf("bob after Platform Engineering went: %q, want data (his other group)", u.Team)
	}
	if ts := teams(); slices.Contains(ts, "eng") || !slices.Contains(ts, "platform") {
		t.Errorf("teams %v: eng (renamed away, unused) must go, platform (alice's) stay", ts)
	}
	wantCode(t, "DeleteGroup twice", s.DeleteGroup(ctx, eng.ID, "unassigned"), allot.ENotFound)
	temp, err := s.CreateGroup(ctx, allot.Group{DisplayName: "Temp", Team: "temp"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteGroup(ctx, temp.ID, "unassigned"); err != nil || slices.Contains(teams(), "temp") {
		t.Errorf("DeleteGroup of an empty group: %v, teams %v (temp must go)", err, teams())
	}
	if list, total, err := s.Groups(ctx, allot.Page{}); err != nil || total != 1 || len(list) != 1 {
		t.Errorf("Groups = %v, %d, %v", list, total, err)
	}
}
