package scim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/scim"
	"github.com/allot-dev/allot/sqlite"
)

const testToken = "0123456789abcdef0123456789abcdef-scim-test"

// world is a SCIM server over a fresh SQLite store.
type world struct {
	t   *testing.T
	db  *sqlite.DB
	mux *http.ServeMux
}

func newWorld(t *testing.T) *world {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "allot.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	mux := http.NewServeMux()
	scim.New(scim.Options{Store: db, Audit: db, Token: testToken, GroupToTeam: map[string]string{"Engineering": "eng"}}).Routes(mux)
	return &world{t: t, db: db, mux: mux}
}

// do sends a request with the token and returns the status and the body
// decoded as JSON (nil when empty).
func (w *world) do(method, path, body string) (int, map[string]any) {
	w.t.Helper()
	return w.doAs(testToken, method, path, body)
}

func (w *world) doAs(token, method, path, body string) (int, map[string]any) {
	w.t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/scim+json")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	w.mux.ServeHTTP(rec, r)
	b, _ := io.ReadAll(rec.Body)
	if len(b) == 0 {
		return rec.Code, nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		w.t.Fatalf("%s %s: body is not JSON: %s", method, path, b)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/scim+json" {
		w.t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	return rec.Code, m
}

// must sends a request and fails unless it answers want.
func (w *world) must(want int, method, path, body string) map[string]any {
	w.t.Helper()
	code, m := w.do(method, path, body)
	if code != want {
		w.t.Fatalf("%s %s = %d %v, want %d", method, path, code, m, want)
	}
	return m
}

// person is a user as the directory lists it, and whether active.
func (w *world) person(name string) (allot.User, bool) {
	w.t.Helper()
	users, err := w.db.Users(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	for _, u := range users {
		if u.Name == name {
			return u, true
		}
	}
	return allot.User{}, false
}

// wantPerson checks a person's team (active) or that they are not active ("").
func (w *world) wantPerson(step, name, team string) {
	w.t.Helper()
	u, ok := w.person(name)
	switch {
	case team == "" && ok:
		w.t.Errorf("%s: %s is active (team %s), want deactivated", step, name, u.Team)
	case team != "" && (!ok || u.Team != team):
		w.t.Errorf("%s: %s is %+v (active %v), want active in team %s", step, name, u, ok, team)
	}
}

// wantKey checks whether a key still resolves.
func (w *world) wantKey(step, secret string, works bool) {
	w.t.Helper()
	_, err := w.db.PrincipalByKeyHash(context.Background(), allot.HashKey(secret))
	if works && err != nil || !works && allot.CodeOf(err) != allot.EUnauthorized {
		w.t.Errorf("%s: the key resolves with %v, want working=%v", step, err, works)
	}
}

func (w *world) teams() []string {
	ts, err := w.db.Teams(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

func (w *world) key(user string) string {
	w.t.Helper()
	secret, _, err := w.db.CreateKey(context.Background(), user, "laptop")
	if err != nil {
		w.t.Fatal(err)
	}
	return secret
}

func q(s string) string { return url.QueryEscape(s) }

// TestOktaSequence replays what Okta sends (developer.okta.com, "Okta and
// SCIM Version 2.0"; the bodies are in docs/sso.md) and checks people,
// teams and keys after each step.
func TestOktaSequence(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// Test connection, then the existence check before creating.
	if m := w.must(200, "GET", "/scim/v2/Users?startIndex=1&count=2", ""); m["totalResults"] != 0.0 {
		t.Fatalf("empty directory lists %v", m)
	}
	w.must(200, "GET", "/scim/v2/Groups?startIndex=1&count=100", "")
	m := w.must(200, "GET", "/scim/v2/Users?filter="+q(`userName eq "test.user@okta.local"`)+"&startIndex=1&count=100", "")
	if m["totalResults"] != 0.0 || len(m["Resources"].([]any)) != 0 {
		t.Fatalf("filter before create = %v", m)
	}
	u := w.must(201, "POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"test.user@okta.local",
		"name":{"givenName":"Test","familyName":"User"},"emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],
		"displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7","groups":[],"password":"1mz050nq","active":true}`)
	id := u["id"].(string)
	if u["userName"] != "test.user@okta.local" || u["active"] != true || u["externalId"] != "00ujl29u0le5T6Aj10h7" {
		t.Errorf("created user = %v", u)
	}
	w.wantPerson("create", "test.user@okta.local", "unassigned")
	secret := w.key("test.user@okta.local")
	m = w.must(200, "GET", "/scim/v2/Users?filter="+q(`userName eq "test.user@okta.local"`)+"&startIndex=1&count=100", "")
	if m["totalResults"] != 1.0 || m["Resources"].([]any)[0].(map[string]any)["id"] != id {
		t.Errorf("filter after create = %v", m)
	}

	// Push group: create it, then add the member.
	g := w.must(201, "POST", "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Engineering","members":[]}`)
	gid := g["id"].(string)
	w.must(204, "PATCH", "/scim/v2/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations":[{"op":"add","path":"members","value":[{"value":"`+id+`","display":"test.user@okta.local"}]}]}`)
	w.wantPerson("add to group", "test.user@okta.local", "eng") // group_to_team
	w.wantKey("add to group", secret, true)

	// Deactivate: Okta's PATCH without a path.
	u = w.must(200, "PATCH", "/scim/v2/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`)
	if u["active"] != false {
		t.Errorf("after deactivation: %v", u)
	}
	w.wantPerson("deactivate", "test.user@okta.local", "")
	w.wantKey("deactivate", secret, false)

	// Reactivate: the person is back in their team; the old key is not.
	w.must(200, "PATCH", "/scim/v2/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true}}]}`)
	w.wantPerson("reactivate", "test.user@okta.local", "eng")
	w.wantKey("reactivate", secret, false)
	secret = w.key("test.user@okta.local")

	// Profile push (PUT, the whole user).
	u = w.must(200, "PUT", "/scim/v2/Users/"+id, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"`+id+`","userName":"test.user@okta.local",
		"name":{"givenName":"Another","familyName":"User"},"emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],"displayName":"Another User","active":true}`)
	if u["name"].(map[string]any)["givenName"] != "Another" || u["displayName"] != "Another User" {
		t.Errorf("after PUT: %v", u)
	}
	w.wantKey("PUT", secret, true)

	// Rename the group (Okta: replace without a path, id and displayName).
	w.must(204, "PATCH", "/scim/v2/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations":[{"op":"replace","value":{"id":"`+gid+`","displayName":"Platform"}}]}`)
	w.wantPerson("rename group", "test.user@okta.local", "Platform")
	if ts := w.teams(); slices.Contains(ts, "eng") || !slices.Contains(ts, "Platform") {
		t.Errorf("teams after the rename: %v", ts)
	}
	// Unassign from the group.
	w.must(204, "PATCH", "/scim/v2/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations":[{"op":"remove","path":"members[value eq \"`+id+`\"]"}]}`)
	w.wantPerson("remove from group", "test.user@okta.local", "unassigned")

	// Delete the user and the group.
	w.must(204, "DELETE", "/scim/v2/Users/"+id, "")
	w.wantPerson("delete", "test.user@okta.local", "")
	w.wantKey("delete", secret, false)
	if m := w.must(404, "GET", "/scim/v2/Users/"+id, ""); m["status"] != "404" {
		t.Errorf("GET after delete = %v", m)
	}
	w.must(204, "DELETE", "/scim/v2/Groups/"+gid, "")
	if ts := w.teams(); slices.Contains(ts, "Platform") {
		t.Errorf("teams after the group's deletion: %v", ts)
	}
	entries, err := w.db.AuditEntries(context.Background(), time.Time{}, time.Now().Add(time.Hour), 0)
	if err != nil || len(entries) < 6 {
		t.Errorf("audit entries: %d, %v", len(entries), err)
	}
}

// TestEntraSequence replays what Microsoft Entra ID sends (learn.microsoft
// .com, "Tutorial: Develop and plan provisioning for a SCIM endpoint";
// the bodies are in docs/sso.md): capitalised ops, "False" as a string,
// members removed with a value, groups read without members.
func TestEntraSequence(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.must(200, "GET", "/scim/v2/Users?filter="+q(`userName eq "Test_User@contoso.test"`), "")
	u := w.must(201, "POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		"externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"Test_User@contoso.test","active":true,
		"emails":[{"primary":true,"type":"work","value":"Test_User@contoso.test"}],"meta":{"resourceType":"User"},
		"name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},"roles":[],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales","manager":{"value":"x"}}}`)
	id := u["id"].(string)
	w.wantPerson("create", "Test_User@contoso.test", "unassigned")
	secret := w.key("Test_User@contoso.test")

	g := w.must(201, "POST", "/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
		"externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"Sales","meta":{"resourceType":"Group"}}`)
	gid := g["id"].(string)
	m := w.must(200, "GET", "/scim/v2/Groups?excludedAttributes=members&filter="+q(`displayName eq "Sales"`), "")
	if m["totalResults"] != 1.0 {
		t.Fatalf("group filter = %v", m)
	}
	if _, has := m["Resources"].([]any)[0].(map[string]any)["members"]; has {
		t.Errorf("excludedAttributes=members still lists members: %v", m)
	}
	w.must(204, "PATCH", "/scim/v2/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations":[{"name":"addMember","op":"Add","path":"members","value":[{"displayName":"Test User","value":"`+id+`"}]}]}`)
	w.wantPerson("add to group", "Test_User@contoso.test", "Sales")
	if g := w.must(200, "GET", "/scim/v2/Groups/"+gid, ""); len(g["members"].([]any)) != 1 {
		t.Errorf("group members = %v", g["members"])
	}

	u = w.must(200, "PATCH", "/scim/v2/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"Replace","path":"emails[type eq \"work\"].value","value":"Test_User@contoso.test"},
		{"op":"Replace","path":"name.familyName","value":"updatedFamilyName"},
		{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Marketing"}]}`)
	if u["name"].(map[string]any)["familyName"] != "updatedFamilyName" {
		t.Errorf("after the attribute PATCH: %v", u)
	}

	w.must(200, "PATCH", "/scim/v2/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`)
	w.wantPerson("deactivate", "Test_User@contoso.test", "")
	w.wantKey("deactivate", secret, false)
	// Entra ID reads the disabled user back and expects active false.
	m = w.must(200, "GET", "/scim/v2/Users?filter="+q(`userName eq "test_user@contoso.test"`), "")
	if r := m["Resources"].([]any); len(r) != 1 || r[0].(map[string]any)["active"] != false {
		t.Errorf("disabled user read back as %v", m)
	}
	w.must(200, "PATCH", "/scim/v2/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"True"}]}`)
	w.wantPerson("reactivate", "Test_User@contoso.test", "Sales")
	w.wantKey("reactivate", secret, false)

	w.must(204, "PATCH", "/scim/v2/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations":[{"name":"removeMember","op":"Remove","path":"members","value":[{"displayName":"Test User","value":"`+id+`"}]}]}`)
	w.wantPerson("remove from group", "Test_User@contoso.test", "unassigned")
	w.must(204, "PATCH", "/scim/v2/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations":[{"op":"Replace","path":"displayName","value":"Sales EMEA"}]}`)
	if g := w.must(200, "GET", "/scim/v2/Groups/"+gid, ""); g["displayName"] != "Sales EMEA" {
		t.Errorf("renamed group = %v", g)
	}
	w.must(204, "DELETE", "/scim/v2/Users/"+id, "")
	w.wantPerson("delete", "Test_User@contoso.test", "")
	w.must(204, "DELETE", "/scim/v2/Groups/"+gid, "")
	w.must(404, "GET", "/scim/v2/Groups/"+gid, "")
}

// TestErrors: every refusal is in SCIM's error shape with its status as
// a string and, where RFC 7644 names one, its scimType.
func TestErrors(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.must(201, "POST", "/scim/v2/Users", `{"userName":"a@acme.test"}`)
	huge := `{"userName":"b@acme.test","displayName":"` + strings.Repeat("x", 2<<20) + `"}`
	tests := []struct {
		name, token, method, path, body string
		status                          int
		scimType                        string
	}{
		{"no token", "", "GET", "/scim/v2/Users", "", 401, ""},
		{"wrong token", testToken + "x", "GET", "/scim/v2/Users", "", 401, ""},
		{"unknown endpoint", testToken, "GET", "/scim/v2/Widgets", "", 404, ""},
		{"unknown user", testToken, "GET", "/scim/v2/Users/nope", "", 404, ""},
		{"method not served", testToken, "POST", "/scim/v2/Users/x", "{}", 405, ""},
		{"filter on another attribute", testToken, "GET", "/scim/v2/Users?filter=" + q(`title eq "x"`), "", 400, "invalidFilter"},
		{"filter with another operator", testToken, "GET", "/scim/v2/Users?filter=" + q(`userName co "a"`), "", 400, "invalidFilter"},
		{"filter without quotes", testToken, "GET", "/scim/v2/Users?filter=" + q(`userName eq a`), "", 400, "invalidFilter"},
		{"bad count", testToken, "GET", "/scim/v2/Users?count=ten", "", 400, "invalidValue"},
		{"taken userName", testToken, "POST", "/scim/v2/Users", `{"userName":"A@acme.test"}`, 409, "uniqueness"},
		{"userName not an email", testToken, "POST", "/scim/v2/Users", `{"userName":"alice"}`, 400, "invalidValue"},
		{"not JSON", testToken, "POST", "/scim/v2/Users", `{"userName":`, 400, "invalidSyntax"},
		{"body too large", testToken, "POST", "/scim/v2/Users", huge, 413, ""},
		{"active neither true nor false", testToken, "POST", "/scim/v2/Users", `{"userName":"c@acme.test","active":"maybe"}`, 400, "invalidValue"},
		{"group without a name", testToken, "POST", "/scim/v2/Groups", `{"displayName":""}`, 400, "invalidValue"},
		{"PATCH without operations", testToken, "PATCH", "/scim/v2/Groups/x", `{"Operations":[]}`, 400, "invalidSyntax"},
	}
	for _, tt := range tests {
		code, m := w.doAs(tt.token, tt.method, tt.path, tt.body)
		if code != tt.status || m == nil || m["status"] != fmt.Sprint(tt.status) || fmt.Sprint(m["schemas"]) != "[urn:ietf:params:scim:api:messages:2.0:Error]" {
			t.Errorf("%s: %d %v, want %d in SCIM's error shape", tt.name, code, m, tt.status)
			continue
		}
		if got, _ := m["scimType"].(string); got != tt.scimType {
			t.Errorf("%s: scimType %q, want %q", tt.name, got, tt.scimType)
		}
	}
}

// TestDiscovery: ServiceProviderConfig, ResourceTypes and Schemas answer
// what identity providers read before provisioning.
func TestDiscovery(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	spc := w.must(200, "GET", "/scim/v2/ServiceProviderConfig", "")
	if spc["patch"].(map[string]any)["supported"] != true || spc["bulk"].(map[string]any)["supported"] != false {
		t.Errorf("ServiceProviderConfig = %v", spc)
	}
	if rt := w.must(200, "GET", "/scim/v2/ResourceTypes", ""); rt["totalResults"] != 2.0 {
		t.Errorf("ResourceTypes = %v", rt)
	}
	if rt := w.must(200, "GET", "/scim/v2/ResourceTypes/User", ""); rt["endpoint"] != "/Users" {
		t.Errorf("ResourceTypes/User = %v", rt)
	}
	if sc := w.must(200, "GET", "/scim/v2/Schemas", ""); sc["totalResults"] != 2.0 {
		t.Errorf("Schemas = %v", sc)
	}
	w.must(200, "GET", "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group", "")
	w.must(404, "GET", "/scim/v2/Schemas/urn:nope", "")
}

// TestPaging: startIndex is 1-based, count bounds a page, count=0 gives
// only the total.
func TestPaging(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for i := range 5 {
		w.must(201, "POST", "/scim/v2/Users", fmt.Sprintf(`{"userName":"u%d@acme.test"}`, i))
	}
	tests := []struct {
		query      string
		start, per int
		first      string
	}{
		{"", 1, 5, "u0@acme.test"},
		{"?startIndex=2&count=2", 2, 2, "u1@acme.test"},
		{"?startIndex=5&count=10", 5, 1, "u4@acme.test"},
		{"?startIndex=0&count=1", 1, 1, "u0@acme.test"},
		{"?startIndex=9", 9, 0, ""},
		{"?count=0", 1, 0, ""},
		{"?count=-3", 1, 0, ""},
	}
	for _, tt := range tests {
		m := w.must(200, "GET", "/scim/v2/Users"+tt.query, "")
		res := m["Resources"].([]any)
		if m["totalResults"] != 5.0 || m["startIndex"] != float64(tt.start) || m["itemsPerPage"] != float64(tt.per) || len(res) != tt.per {
			t.Errorf("%q: %v", tt.query, m)
			continue
		}
		if tt.per > 0 && res[0].(map[string]any)["userName"] != tt.first {
			t.Errorf("%q: first is %v, want %s", tt.query, res[0], tt.first)
		}
	}
}
