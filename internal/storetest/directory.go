package storetest

import (
	"bytes"
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// testOrg is the organization the directory tests apply.
func testOrg() allot.Org {
	return allot.Org{
		Name:  "acme",
		Teams: []allot.Team{{Name: "platform"}, {Name: "data"}, {Name: "web"}},
		Users: []allot.User{
			{Name: "alice", Email: "alice@acme.test", Team: "platform", Role: allot.RoleAdmin},
			{Name: "bob", Email: "bob@acme.test", Team: "data"},
			{Name: "Zoë", Email: "zoe@acme.test", Team: "data", Role: allot.RoleLead},
			{Name: "carol", Email: "carol@acme.test", Team: "web"},
		},
	}
}

func mustApply(t *testing.T, s Store, org allot.Org, want allot.ApplyResult) {
	t.Helper()
	got, err := s.ApplyOrg(context.Background(), org)
	if err != nil {
		t.Fatalf("ApplyOrg: %v", err)
	}
	if got != want {
		t.Errorf("ApplyOrg = %+v, want %+v", got, want)
	}
}

func names[T any](items []T, name func(T) string) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, name(it))
	}
	return out
}

func testApplyOrg(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	s := open(t)
	org := testOrg()
	mustApply(t, s, org, allot.ApplyResult{TeamsCreated: 3, UsersCreated: 4})
	mustApply(t, s, org, allot.ApplyResult{}) // idempotent

	users, err := s.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantUsers := []allot.User{ // byte order: upper case first
		{Name: "Zoë", Email: "zoe@acme.test", Team: "data", Role: allot.RoleLead},
		{Name: "alice", Email: "alice@acme.test", Team: "platform", Role: allot.RoleAdmin},
		{Name: "bob", Email: "bob@acme.test", Team: "data", Role: allot.RoleMember},
		{Name: "carol", Email: "carol@acme.test", Team: "web", Role: allot.RoleMember},
	}
	if !reflect.DeepEqual(users, wantUsers) {
		t.Errorf("Users = %+v\nwant %+v", users, wantUsers)
	}
	teams, err := s.Teams(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(teams, func(t allot.Team) string { return t.Name }); !reflect.DeepEqual(got, []string{"data", "platform", "web"}) {
		t.Errorf("Teams = %v", got)
	}

	// carol leaves, bob changes team and role, team web goes (no active
	// users left), team ops arrives.
	next := testOrg()
	next.Teams = []allot.Team{{Name: "platform"}, {Name: "data"}, {Name: "ops"}}
	next.Users = []allot.User{next.Users[0], {Name: "bob", Email: "bob@acme.test", Team: "ops", Role: allot.RoleLead}, next.Users[2]}
	mustApply(t, s, next, allot.ApplyResult{TeamsCreated: 1, TeamsRemoved: 1, UsersUpdated: 1, UsersRemoved: 1})
	mustApply(t, s, next, allot.ApplyResult{})
	users, _ = s.Users(ctx)
	if got := names(users, func(u allot.User) string { return u.Name + "/" + u.Team }); !reflect.DeepEqual(got, []string{"Zoë/data", "alice/platform", "bob/ops"}) {
		t.Errorf("Users after the change = %v", got)
	}
	teams, _ = s.Teams(ctx)
	if got := names(teams, func(t allot.Team) string { return t.Name }); !reflect.DeepEqual(got, []string{"data", "ops", "platform"}) {
		t.Errorf("Teams after the change = %v", got)
	}

	// carol returns (reactivated, counted as an update), bob goes back,
	// web returns and ops goes.
	back := testOrg()
	mustApply(t, s, back, allot.ApplyResult{TeamsCreated: 1, TeamsRemoved: 1, UsersUpdated: 2})

	for _, bad := range []allot.Org{
		{Teams: []allot.Team{{Name: "a"}, {Name: "a"}}},
		{Teams: []allot.Team{{Name: ""}}},
		{Teams: []allot.Team{{Name: "a"}}, Users: []allot.User{{Name: "x", Team: "b"}}},
		{Teams: []allot.Team{{Name: "a"}}, Users: []allot.User{{Name: "x"}}},
		{Teams: []allot.Team{{Name: "a"}}, Users: []allot.User{{Name: "x", Team: "a", Role: "boss"}}},
		{Teams: []allot.Team{{Name: "a"}}, Users: []allot.User{{Name: "x", Team: "a"}, {Name: "x", Team: "a"}}},
	} {
		_, err := s.ApplyOrg(ctx, bad)
		wantCode(t, "ApplyOrg of an invalid org", err, allot.EInvalid)
	}
	users, _ = s.Users(ctx)
	if len(users) != 4 {
		t.Errorf("an invalid org changed the users: %v", users)
	}
}

func testKeys(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	s := open(t)
	mustApply(t, s, testOrg(), allot.ApplyResult{TeamsCreated: 3, UsersCreated: 4})

	secret, key, err := s.CreateKey(ctx, "bob", "laptop")
	if err != nil {
		t.Fatal(err)
	}
	if key.ID == "" || key.User != "bob" || key.Label != "laptop" || key.CreatedAt.IsZero() || !bytes.Equal(key.Hash, allot.HashKey(secret)) {
		t.Errorf("CreateKey returned %+v", key)
	}
	secret2, key2, err := s.CreateKey(ctx, "alice", "")
	if err != nil {
		t.Fatal(err)
	}
	if key2.Label != "default" {
		t.Errorf("a key created without a label is labelled %q, want default", key2.Label)
	}
	_, _, err = s.CreateKey(ctx, "nobody", "x")
	wantCode(t, "CreateKey for an unknown user", err, allot.ENotFound)

	p, err := s.PrincipalByKeyHash(ctx, allot.HashKey(secret))
	if err != nil {
		t.Fatal(err)
	}
	want := allot.Principal{Org: "acme", Team: "data", User: "bob", KeyID: key.ID, KeyLabel: "laptop", Role: allot.RoleMember}
	if p != want {
		t.Errorf("PrincipalByKeyHash = %+v, want %+v", p, want)
	}
	_, err = s.PrincipalByKeyHash(ctx, allot.HashKey("ak-unknown-key"))
	wantCode(t, "PrincipalByKeyHash of an unknown key", err, allot.EUnauthorized)

	all, err := s.Keys(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := names(all, func(k allot.Key) string { return k.User + "/" + k.Label }); !reflect.DeepEqual(got, []string{"bob/laptop", "alice/default"}) {
		t.Errorf("Keys = %v (oldest first)", got)
	}
	for _, k := range all {
		if k.ID == key.ID && (!k.CreatedAt.Equal(key.CreatedAt) || !bytes.Equal(k.Hash, key.Hash) || k.RevokedAt != nil) {
			t.Errorf("listed key %+v, created %+v", k, key)
		}
	}
	bobs, err := s.Keys(ctx, "bob")
	if err != nil || len(bobs) != 1 || bobs[0].ID != key.ID {
		t.Errorf("Keys(bob) = %v, %v", bobs, err)
	}
	if none, err := s.Keys(ctx, "carol"); err != nil || none == nil || len(none) != 0 {
		t.Errorf("Keys(carol) = %v, %v; want an empty, non-nil list", none, err)
	}

	if err := s.RevokeKey(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeKey(ctx, key.ID); err != nil {
		t.Errorf("revoking twice: %v", err)
	}
	wantCode(t, "RevokeKey of an unknown key", s.RevokeKey(ctx, "k-nothing"), allot.ENotFound)
	_, err = s.PrincipalByKeyHash(ctx, allot.HashKey(secret))
	wantCode(t, "PrincipalByKeyHash of a revoked key", err, allot.EUnauthorized)
	bobs, _ = s.Keys(ctx, "bob")
	if len(bobs) != 1 || bobs[0].RevokedAt == nil {
		t.Errorf("the revoked key lists as %+v", bobs)
	}

	// A user org.yaml drops has every key revoked: leaving is immediate
	// (replicas learn it from RevokedKeys), and a return brings no key back.
	if _, err := s.PrincipalByKeyHash(ctx, allot.HashKey(secret2)); err != nil {
		t.Fatal(err)
	}
	org := testOrg()
	org.Users = org.Users[1:]
	if _, err := s.ApplyOrg(ctx, org); err != nil {
		t.Fatal(err)
	}
	_, err = s.PrincipalByKeyHash(ctx, allot.HashKey(secret2))
	wantCode(t, "PrincipalByKeyHash of a removed user's key", err, allot.EUnauthorized)
	_, _, err = s.CreateKey(ctx, "alice", "x")
	wantCode(t, "CreateKey for a removed user", err, allot.ENotFound)
	if _, err := s.ApplyOrg(ctx, testOrg()); err != nil {
		t.Fatal(err)
	}
	_, err = s.PrincipalByKeyHash(ctx, allot.HashKey(secret2))
	wantCode(t, "PrincipalByKeyHash of a returning user's old key", err, allot.EUnauthorized)
	if alices, _ := s.Keys(ctx, "alice"); len(alices) != 1 || alices[0].RevokedAt == nil {
		t.Errorf("a removed user's keys list as %+v, want revoked", alices)
	}
	revoked, err := s.RevokedKeys(ctx, time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !containsHash(revoked, key.Hash) || !containsHash(revoked, key2.Hash) || len(revoked) != 2 {
		t.Errorf("RevokedKeys = %d hashes, want bob's and alice's", len(revoked))
	}
	if one, _ := s.RevokedKeys(ctx, time.Minute, 1); len(one) != 1 {
		t.Errorf("RevokedKeys with limit 1 = %d hashes", len(one))
	}
	if secret3, _, err := s.CreateKey(ctx, "alice", "new"); err != nil {
		t.Fatal(err)
	} else if p, err := s.PrincipalByKeyHash(ctx, allot.HashKey(secret3)); err != nil || p.Role != allot.RoleAdmin {
		t.Errorf("a returning user's new key resolves to %+v, %v", p, err)
	}
}

func containsHash(hashes [][]byte, h []byte) bool {
	for _, x := range hashes {
		if bytes.Equal(x, h) {
			return true
		}
	}
	return false
}

// testPeopleOutsideOrg: people who come from sign-in (UpsertUser) are
// found by email, deactivated with their keys revoked, and left alone by
// an org.yaml that does not list them.
func testPeopleOutsideOrg(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	s := open(t)
	mustApply(t, s, testOrg(), allot.ApplyResult{TeamsCreated: 3, UsersCreated: 4})

	created, err := s.UpsertUser(ctx, allot.User{Name: "dan@acme.test", Email: "Dan@Acme.test", Team: "research"})
	if err != nil || !created {
		t.Fatalf("UpsertUser(new) = %v, %v", created, err)
	}
	created, err = s.UpsertUser(ctx, allot.User{Name: "dan@acme.test", Email: "dan@acme.test", Team: "data", Role: allot.RoleLead})
	if err != nil || created {
		t.Fatalf("UpsertUser(existing) = %v, %v", created, err)
	}
	u, err := s.UserByEmail(ctx, "DAN@acme.TEST")
	if want := (allot.User{Name: "dan@acme.test", Email: "dan@acme.test", Team: "data", Role: allot.RoleLead}); err != nil || u != want {
		t.Errorf("UserByEmail = %+v, %v; want %+v", u, err, want)
	}
	_, err = s.UserByEmail(ctx, "nobody@acme.test")
	wantCode(t, "UserByEmail of an unknown email", err, allot.ENotFound)
	for _, bad := range []allot.User{{Name: "", Team: "a"}, {Name: "x"}, {Name: "x", Team: "a", Role: "boss"}, {Name: strings.Repeat("x", 201), Team: "a"}} {
		_, err := s.UpsertUser(ctx, bad)
		wantCode(t, "UpsertUser of an invalid user", err, allot.EInvalid)
	}
	if teams, _ := s.Teams(ctx); !slices.Contains(names(teams, func(t allot.Team) string { return t.Name }), "research") {
		t.Errorf("UpsertUser did not create its team: %v", teams)
	}

	// org.yaml does not list dan: he stays (research, empty, goes).
	mustApply(t, s, testOrg(), allot.ApplyResult{TeamsRemoved: 1})
	if _, err := s.UserByEmail(ctx, "dan@acme.test"); err != nil {
		t.Fatal(err)
	}
	if users, _ := s.Users(ctx); !slices.Contains(names(users, func(u allot.User) string { return u.Name }), "dan@acme.test") {
		t.Errorf("org.yaml deactivated a person who signed in: %v", users)
	}
	secret, _, err := s.CreateKey(ctx, "dan@acme.test", "laptop")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetUserActive(ctx, "dan@acme.test", false); err != nil {
		t.Fatal(err)
	}
	_, err = s.PrincipalByKeyHash(ctx, allot.HashKey(secret))
	wantCode(t, "a deactivated person's key", err, allot.EUnauthorized)
	if users, _ := s.Users(ctx); slices.Contains(names(users, func(u allot.User) string { return u.Name }), "dan@acme.test") {
		t.Errorf("a deactivated person is listed: %v", users)
	}
	if revoked, _ := s.RevokedKeys(ctx, time.Minute, 10); len(revoked) != 1 || !bytes.Equal(revoked[0], allot.HashKey(secret)) {
		t.Errorf("RevokedKeys after a deactivation = %d hashes, want dan's key", len(revoked))
	}
	if err := s.SetUserActive(ctx, "dan@acme.test", true); err != nil {
		t.Fatal(err)
	}
	_, err = s.PrincipalByKeyHash(ctx, allot.HashKey(secret))
	wantCode(t, "a reactivated person's old key", err, allot.EUnauthorized)
	wantCode(t, "SetUserActive of an unknown user", s.SetUserActive(ctx, "nobody", false), allot.ENotFound)
}

func testSettings(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	s := open(t)
	if v, err := s.Setting(ctx, "policy"); err != nil || v != nil {
		t.Errorf("unset setting = %q, %v; want nil", v, err)
	}
	for _, v := range [][]byte{[]byte(`{"a":1}`), []byte("second"), {0, 1, 2, 255}} {
		if err := s.SetSetting(ctx, "policy", v); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Setting(ctx, "policy"); err != nil || !bytes.Equal(got, v) {
			t.Errorf("Setting = %q, %v; want %q", got, err, v)
		}
	}
	if err := s.SetSetting(ctx, "empty", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Setting(ctx, "empty"); err != nil || got == nil || len(got) != 0 {
		t.Errorf("empty setting = %#v, %v; want a non-nil empty value", got, err)
	}
}

func testKeyExpiry(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	s := open(t)
	mustApply(t, s, testOrg(), allot.ApplyResult{TeamsCreated: 3, UsersCreated: 4})

	later := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	live, key, err := s.CreateKeyExpiring(ctx, "bob", "ci", later)
	if err != nil {
		t.Fatal(err)
	}
	if key.ExpiresAt == nil || !key.ExpiresAt.Equal(later) {
		t.Errorf("CreateKeyExpiring returned expiry %v, want %v", key.ExpiresAt, later)
	}
	if _, err := s.PrincipalByKeyHash(ctx, allot.HashKey(live)); err != nil {
		t.Errorf("a key that expires in an hour: %v", err)
	}
	gone, old, err := s.CreateKeyExpiring(ctx, "bob", "old", time.Now().Add(-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.PrincipalByKeyHash(ctx, allot.HashKey(gone))
	wantCode(t, "PrincipalByKeyHash of an expired key", err, allot.EUnauthorized)
	if msg := allot.ErrorOf(err).Message; msg != allot.ExpiredKeyMessage {
		t.Errorf("an expired key is refused with %q, want the message saying how to make a new one", msg)
	}
	keys, err := s.Keys(ctx, "bob")
	if err != nil || len(keys) != 2 {
		t.Fatalf("Keys(bob) = %v, %v", keys, err)
	}
	for _, k := range keys {
		switch k.ID {
		case key.ID:
			if k.ExpiresAt == nil || !k.ExpiresAt.Equal(later) || !k.Live(time.Now()) {
				t.Errorf("listed %+v, want it live until %v", k, later)
			}
		case old.ID:
			if k.ExpiresAt == nil || k.Live(time.Now()) {
				t.Errorf("listed %+v, want it expired", k)
			}
		}
	}
	_, plain, err := s.CreateKey(ctx, "bob", "plain")
	if err != nil || plain.ExpiresAt != nil {
		t.Errorf("CreateKey = %+v, %v; want no expiry", plain, err)
	}
}

func testUpsertUser(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	s := open(t)
	mustApply(t, s, testOrg(), allot.ApplyResult{TeamsCreated: 3, UsersCreated: 4})

	created, err := s.UpsertUser(ctx, allot.User{Name: "dana@acme.test", Email: "Dana@Acme.test", Team: "research"})
	if err != nil || !created {
		t.Fatalf("UpsertUser(new) = %v, %v; want created", created, err)
	}
	u, err := s.UserByEmail(ctx, "dana@ACME.test")
	if err != nil {
		t.Fatal(err)
	}
	if want := (allot.User{Name: "dana@acme.test", Email: "Dana@Acme.test", Team: "research", Role: allot.RoleMember}); u != want {
		t.Errorf("UserByEmail = %+v, want %+v", u, want)
	}
	teams, _ := s.Teams(ctx)
	if got := names(teams, func(t allot.Team) string { return t.Name }); !reflect.DeepEqual(got, []string{"data", "platform", "research", "web"}) {
		t.Errorf("UpsertUser did not create the missing team: %v", got)
	}
	if _, _, err := s.CreateKey(ctx, "dana@acme.test", "laptop"); err != nil {
		t.Errorf("a person created by UpsertUser cannot get a key: %v", err)
	}

	// An org.yaml person found by email; an update changes team and role.
	bob, err := s.UserByEmail(ctx, " BOB@acme.test ")
	if err != nil || bob.Name != "bob" {
		t.Fatalf("UserByEmail(bob) = %+v, %v", bob, err)
	}
	bob.Team, bob.Role = "web", allot.RoleLead
	if created, err := s.UpsertUser(ctx, bob); err != nil || created {
		t.Fatalf("UpsertUser(existing) = %v, %v; want updated", created, err)
	}
	if got, _ := s.UserByEmail(ctx, "bob@acme.test"); got != bob {
		t.Errorf("after the update UserByEmail = %+v, want %+v", got, bob)
	}

	_, err = s.UserByEmail(ctx, "nobody@acme.test")
	wantCode(t, "UserByEmail of an unknown email", err, allot.ENotFound)
	_, err = s.UserByEmail(ctx, "")
	wantCode(t, "UserByEmail of an empty email", err, allot.ENotFound)

	// A deactivated person is found, with EForbidden, and stays
	// deactivated through an update.
	org := testOrg()
	org.Users = org.Users[:3] // carol leaves
	if _, err := s.ApplyOrg(ctx, org); err != nil {
		t.Fatal(err)
	}
	carol, err := s.UserByEmail(ctx, "carol@acme.test")
	wantCode(t, "UserByEmail of a deactivated user", err, allot.EForbidden)
	if carol.Name != "carol" {
		t.Errorf("a deactivated user comes back as %+v", carol)
	}
	if created, err := s.UpsertUser(ctx, carol); err != nil || created {
		t.Errorf("UpsertUser(deactivated) = %v, %v", created, err)
	}
	if _, err := s.UserByEmail(ctx, "carol@acme.test"); allot.CodeOf(err) != allot.EForbidden {
		t.Errorf("UpsertUser reactivated a deactivated user: %v", err)
	}

	for _, bad := range []allot.User{
		{Name: "", Team: "a"},
		{Name: "x"},
		{Name: "x", Team: "a", Role: "boss"},
		{Name: string(make([]byte, allot.MaxLabelBytes+1)), Team: "a"},
	} {
		_, err := s.UpsertUser(ctx, bad)
		wantCode(t, "UpsertUser of an invalid user", err, allot.EInvalid)
	}
}
