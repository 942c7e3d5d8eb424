package scim

import (
	"strings"
	"testing"

	"github.com/allot-dev/allot"
)

// TestPatchUserForms: every PATCH form Okta and Entra ID send, and the
// ones RFC 7644 allows, change the account as meant; bad ones are
// refused with their scimType.
func TestPatchUserForms(t *testing.T) {
	t.Parallel()
	base := allot.Account{ID: "1", UserName: "ann@acme.test", GivenName: "Ann", FamilyName: "Lee", DisplayName: "Ann Lee", ExternalID: "x1", Active: true}
	with := func(f func(a *allot.Account)) allot.Account { a := base; f(&a); return a }
	ops := func(list string) string {
		return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + list + `]}`
	}
	tests := []struct {
		name, body string
		want       allot.Account
		scimType   string // a refusal
	}{
		{"okta: replace without path, value object", ops(`{"op":"replace","value":{"active":false}}`), with(func(a *allot.Account) { a.Active = false }), ""},
		{"entra: Replace active path, string False", ops(`{"op":"Replace","path":"active","value":"False"}`), with(func(a *allot.Account) { a.Active = false }), ""},
		{"entra: string True", ops(`{"op":"Replace","path":"active","value":"True"}`), base, ""},
		{"bool false with path", ops(`{"op":"replace","path":"active","value":false}`), with(func(a *allot.Account) { a.Active = false }), ""},
		{"add active (sailpoint)", ops(`{"op":"add","value":{"active":false}}`), with(func(a *allot.Account) { a.Active = false }), ""},
		{"lower-case operations key", `{"operations":[{"op":"replace","path":"active","value":"false"}]}`, with(func(a *allot.Account) { a.Active = false }), ""},
		{"name sub-attributes", ops(`{"op":"Replace","path":"name.givenName","value":"Anne"},{"op":"Replace","path":"name.familyName","value":"Li"}`),
			with(func(a *allot.Account) { a.GivenName, a.FamilyName = "Anne", "Li" }), ""},
		{"name as object, replace", ops(`{"op":"replace","path":"name","value":{"givenName":"Anne"}}`), with(func(a *allot.Account) { a.GivenName, a.FamilyName = "Anne", "" }), ""},
		{"name as object, add keeps the rest", ops(`{"op":"add","path":"name","value":{"givenName":"Anne"}}`), with(func(a *allot.Account) { a.GivenName = "Anne" }), ""},
		{"entra: dotted keys in a value object", ops(`{"op":"Add","value":{"name.givenName":"Anne","displayName":"Anne L","emails[type eq \"work\"].value":"ann@acme.test"}}`),
			with(func(a *allot.Account) { a.GivenName, a.DisplayName = "Anne", "Anne L" }), ""},
		{"urn-prefixed path", ops(`{"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:name.familyName","value":"Li"}`),
			with(func(a *allot.Account) { a.FamilyName = "Li" }), ""},
		{"enterprise extension ignored", ops(`{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Sales"}`), base, ""},
		{"enterprise object ignored", ops(`{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"x"},"active":false}}`),
			with(func(a *allot.Account) { a.Active = false }), ""},
		{"emails array accepted, userName decides", ops(`{"op":"replace","path":"emails","value":[{"value":"other@acme.test","type":"work","primary":true}]}`), base, ""},
		{"emails filter path", ops(`{"op":"Replace","path":"emails[type eq \"work\"].value","value":"ann@acme.test"}`), base, ""},
		{"userName replaced", ops(`{"op":"replace","path":"userName","value":"ann.lee@acme.test"}`), with(func(a *allot.Account) { a.UserName = "ann.lee@acme.test" }), ""},
		{"remove displayName", ops(`{"op":"remove","path":"displayName"}`), with(func(a *allot.Account) { a.DisplayName = "" }), ""},
		{"externalId null", ops(`{"op":"replace","path":"externalId","value":null}`), with(func(a *allot.Account) { a.ExternalID = "" }), ""},
		{"unknown attribute accepted", ops(`{"op":"replace","path":"title","value":"Engineer"}`), base, ""},
		{"op in capitals", ops(`{"op":"REPLACE","path":"ACTIVE","value":false}`), with(func(a *allot.Account) { a.Active = false }), ""},
		{"bad op", ops(`{"op":"merge","path":"active","value":false}`), base, typeInvalidSyntax},
		{"active maybe", ops(`{"op":"replace","path":"active","value":"maybe"}`), base, typeInvalidValue},
		{"active number", ops(`{"op":"replace","path":"active","value":0}`), base, typeInvalidValue},
		{"remove active", ops(`{"op":"remove","path":"active"}`), base, typeMutability},
		{"remove without path", ops(`{"op":"remove"}`), base, typeNoTarget},
		{"no path, value not an object", ops(`{"op":"replace","value":[{"active":false}]}`), base, typeInvalidValue},
		{"bad path", ops(`{"op":"replace","path":"name..x","value":"a"}`), base, typeInvalidPath},
		{"unclosed filter", ops(`{"op":"replace","path":"emails[type eq \"work\"","value":"a"}`), base, typeInvalidPath},
		{"displayName not a string", ops(`{"op":"replace","path":"displayName","value":{"x":1}}`), base, typeInvalidValue},
		{"no operations", `{"schemas":[]}`, base, typeInvalidSyntax},
		{"too many operations", ops(strings.TrimSuffix(strings.Repeat(`{"op":"replace","path":"title","value":"x"},`, maxOperations+1), ",")), base, typeTooMany},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := base
			parsed, err := parsePatch([]byte(tt.body))
			if err == nil {
				err = applyUser(&a, parsed)
			}
			if wantSCIMType(t, err, tt.scimType) {
				return
			}
			if a != tt.want {
				t.Errorf("account = %+v\nwant      %+v", a, tt.want)
			}
		})
	}
}

// TestPatchGroupForms: the member changes of Okta (members[value eq …])
// and Entra ID (Remove with members as value), replace, rename.
func TestPatchGroupForms(t *testing.T) {
	t.Parallel()
	ops := func(list string) string { return `{"Operations":[` + list + `]}` }
	tests := []struct {
		name, body  string
		rename      string
		set         bool
		add, remove []string
		scimType    string
	}{
		{"okta add", ops(`{"op":"add","path":"members","value":[{"value":"u1","display":"a@x"}]}`), "", false, []string{"u1"}, nil, ""},
		{"okta remove by filter", ops(`{"op":"remove","path":"members[value eq \"u1\"]"}`), "", false, nil, []string{"u1"}, ""},
		{"okta replace members", ops(`{"op":"replace","path":"members","value":[{"value":"u2"}]}`), "", true, []string{"u2"}, nil, ""},
		{"okta rename without path", ops(`{"op":"replace","value":{"id":"g1","displayName":"New"}}`), "New", false, nil, nil, ""},
		{"entra add, capitalised", ops(`{"name":"addMember","op":"Add","path":"members","value":[{"displayName":"A","value":"u1"},{"value":"u2"}]}`), "", false, []string{"u1", "u2"}, nil, ""},
		{"entra remove with value", ops(`{"name":"removeMember","op":"Remove","path":"members","value":[{"value":"u1"}]}`), "", false, nil, []string{"u1"}, ""},
		{"entra rename", ops(`{"op":"Replace","path":"displayName","value":"Sales EMEA"}`), "Sales EMEA", false, nil, nil, ""},
		{"one member unwrapped", ops(`{"op":"add","path":"members","value":{"value":"u3"}}`), "", false, []string{"u3"}, nil, ""},
		{"remove every member", ops(`{"op":"remove","path":"members"}`), "", true, nil, nil, ""},
		{"add by filter", ops(`{"op":"add","path":"members[value eq \"u1\"]","value":[{"value":"u1"}]}`), "", false, nil, nil, typeInvalidPath},
		{"member without value", ops(`{"op":"add","path":"members","value":[{"display":"x"}]}`), "", false, nil, nil, typeInvalidValue},
		{"members not a list", ops(`{"op":"add","path":"members","value":"u1"}`), "", false, nil, nil, typeInvalidValue},
		{"remove displayName", ops(`{"op":"remove","path":"displayName"}`), "", false, nil, nil, typeMutability},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parsed, err := parsePatch([]byte(tt.body))
			var g groupPatch
			if err == nil {
				g, err = applyGroup(parsed)
			}
			if wantSCIMType(t, err, tt.scimType) {
				return
			}
			rename := ""
			if g.displayName != nil {
				rename = *g.displayName
			}
			if rename != tt.rename || g.set != tt.set || strings.Join(g.add, ",") != strings.Join(tt.add, ",") || strings.Join(g.remove, ",") != strings.Join(tt.remove, ",") {
				t.Errorf("patch = rename %q set %v add %v remove %v; want %q %v %v %v", rename, g.set, g.add, g.remove, tt.rename, tt.set, tt.add, tt.remove)
			}
		})
	}
}

// TestFilters: the filters identity providers send, and refusals.
func TestFilters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, attr, value string
		ok              bool
	}{
		{`userName eq "ann@acme.test"`, "username", "ann@acme.test", true},
		{`USERNAME EQ "ann@acme.test"`, "username", "ann@acme.test", true},
		{`userName eq "a \"quoted\" name"`, "username", `a "quoted" name`, true},
		{`emails[type eq "work"].value eq "ann@acme.test"`, "emails.value", "ann@acme.test", true},
		{`displayName eq "Sales EMEA"`, "displayname", "Sales EMEA", true},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a@b"`, "username", "a@b", true},
		{`userName  eq  "x"`, "username", "x", true},
		{`userName co "a"`, "", "", false},
		{`userName eq a`, "", "", false},
		{`userName eq "a" and active eq true`, "", "", false},
		{`userName`, "", "", false},
		{`emails[type eq "work" eq "x"`, "", "", false},
		{strings.Repeat("a", maxFilterBytes+1), "", "", false},
	}
	for _, tt := range tests {
		f, err := parseFilter(tt.in)
		if (err == nil) != tt.ok || tt.ok && (f.attr != tt.attr || f.value != tt.value) {
			t.Errorf("parseFilter(%q) = %+v, %v; want %s %q ok=%v", tt.in, f, err, tt.attr, tt.value, tt.ok)
		}
		if err != nil {
			if se, ok := err.(*Error); !ok || se.SCIMType != typeInvalidFilter {
				t.Errorf("parseFilter(%q) refused with %v, want invalidFilter", tt.in, err)
			}
		}
	}
}

// FuzzPatch: no PATCH body or filter, however malformed, panics; what
// is accepted stays within bounds.
func FuzzPatch(f *testing.F) {
	for _, s := range []string{
		`{"Operations":[{"op":"replace","value":{"active":false}}]}`,
		`{"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
		`{"Operations":[{"op":"remove","path":"members[value eq \"u1\"]"}]}`,
		`{"Operations":[{"op":"Add","path":"members","value":[{"value":"u1"}]}]}`,
		`{"Operations":[{"op":"add","value":{"name.givenName":"A","emails[type eq \"work\"].value":"a@b"}}]}`,
		`userName eq "a@b"`, `emails[type eq "work"].value eq "x"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = parseFilter(s)
		_, _ = parsePath(s)
		ops, err := parsePatch([]byte(s))
		if err != nil {
			return
		}
		if len(ops) > maxOperations {
			t.Fatalf("%d operations accepted", len(ops))
		}
		a := allot.Account{UserName: "a@b", Active: true}
		_ = applyUser(&a, ops)
		g, err := applyGroup(ops)
		if err == nil && len(g.add)+len(g.remove) > allot.MaxGroupChange {
			t.Fatalf("%d member changes accepted", len(g.add)+len(g.remove))
		}
	})
}

// wantSCIMType fails t unless err is a SCIM error of type want, or, with
// want "", nil; it says whether an error was expected.
func wantSCIMType(t *testing.T, err error, want string) bool {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatal(err)
		}
		return false
	}
	if se, ok := err.(*Error); !ok || se.SCIMType != want {
		t.Fatalf("err = %v, want scimType %s", err, want)
	}
	return true
}
