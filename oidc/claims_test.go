package oidc

import (
	"strings"
	"testing"

	"github.com/allot-dev/allot"
)

func TestIdentify(t *testing.T) {
	t.Parallel()
	m := Mapping{AdminGroups: []string{"ai-admins"}, LeadGroups: []string{"eng-leads"}}
	tests := []struct {
		name    string
		m       Mapping
		claims  string
		want    Identity
		wantErr string
	}{
		{name: "groups make a lead and a team", m: m, claims: `{"sub":"1","email":"Dana@Acme.test","name":"Dana S","groups":["eng-leads","research"]}`,
			want: Identity{Subject: "1", Email: "dana@acme.test", Name: "Dana S", Groups: []string{"eng-leads", "research"}, Team: "research", Role: allot.RoleLead}},
		{name: "admin wins over lead", m: m, claims: `{"sub":"1","email":"a@b.test","groups":["eng-leads","ai-admins"]}`,
			want: Identity{Subject: "1", Email: "a@b.test", Name: "a@b.test", Groups: []string{"eng-leads", "ai-admins"}, Role: allot.RoleAdmin}},
		{name: "no matching group is a member", m: m, claims: `{"sub":"1","email":"a@b.test","groups":"design"}`,
			want: Identity{Subject: "1", Email: "a@b.test", Name: "a@b.test", Groups: []string{"design"}, Team: "design", Role: allot.RoleMember}},
		{name: "no role groups configured: no role", claims: `{"sub":"1","email":"a@b.test","given_name":"A","family_name":"B"}`,
			want: Identity{Subject: "1", Email: "a@b.test", Name: "A B"}},
		{name: "team from a claim, Entra's upn", m: Mapping{TeamFrom: "department", GroupsClaim: "roles"}, claims: `{"sub":"1","upn":"x@corp.test","department":"Finance","roles":["r"]}`,
			want: Identity{Subject: "1", Email: "x@corp.test", Name: "x@corp.test", Groups: []string{"r"}, Team: "Finance"}},
		{name: "unverified email", claims: `{"sub":"1","email":"a@b.test","email_verified":false}`, wantErr: "not verified"},
		{name: "no email", claims: `{"sub":"1","preferred_username":"dana"}`, wantErr: "no email"},
		{name: "no subject", claims: `{"email":"a@b.test"}`, wantErr: "subject"},
		{name: "groups not strings", claims: `{"sub":"1","email":"a@b.test","groups":[1]}`, wantErr: "not a string"},
		{name: "groups an object", claims: `{"sub":"1","email":"a@b.test","groups":{"a":1}}`, wantErr: "not a list"},
		{name: "too many groups", claims: `{"sub":"1","email":"a@b.test","groups":[` + strings.Repeat(`"g",`, MaxGroups) + `"g"]}`, wantErr: "at most"},
		{name: "not JSON", claims: `nope`, wantErr: "not a JSON object"},
		{name: "too large", claims: `{"sub":"` + strings.Repeat("x", MaxClaimsBytes) + `"}`, wantErr: "bytes"},
	}
	for _, tt := range tests {
		got, err := tt.m.Identify([]byte(tt.claims))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: error %v, want one naming %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got.Subject != tt.want.Subject || got.Email != tt.want.Email || got.Name != tt.want.Name || got.Team != tt.want.Team || got.Role != tt.want.Role || strings.Join(got.Groups, ",") != strings.Join(tt.want.Groups, ",") {
			t.Errorf("%s: got %+v\nwant %+v", tt.name, got, tt.want)
		}
	}
}

// FuzzIdentify: claims from a provider never panic the mapping, and what
// it accepts is bounded.
func FuzzIdentify(f *testing.F) {
	f.Add([]byte(`{"sub":"1","email":"a@b.test","groups":["eng-leads","research"]}`))
	f.Add([]byte(`{"sub":"1","upn":"x@corp.test","department":"Finance","groups":"g"}`))
	f.Add([]byte(`{"sub":"","email_verified":"false"}`))
	m := Mapping{AdminGroups: []string{"ai-admins"}, LeadGroups: []string{"eng-leads"}}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, mm := range []Mapping{m, {TeamFrom: "department"}} {
			id, err := mm.Identify(raw)
			if err != nil {
				continue
			}
			if id.Email == "" || id.Subject == "" || len(id.Email) > allot.MaxLabelBytes || len(id.Team) > allot.MaxLabelBytes || len(id.Name) > allot.MaxLabelBytes || len(id.Groups) > MaxGroups {
				t.Fatalf("accepted an unbounded identity %+v", id)
			}
			if id.Role != "" && !id.Role.Valid() {
				t.Fatalf("role %q", id.Role)
			}
		}
	})
}
