package config

import (
	"strings"
	"testing"
	"time"
)

func TestIdentitySettings(t *testing.T) {
	t.Parallel()
	good := `
admins: [alice@acme.test]
oidc:
  issuer: https://login.acme.test
  client_id: allot
  client_secret_env: ALLOT_OIDC_CLIENT_SECRET
  redirect_url: https://allot.acme.test/auth/callback
  groups_claim: groups
  admin_groups: [ai-admins]
  lead_groups: [eng-leads]
  team_from: department
  key_sign_in: false
keys: {max_per_person: 3, max_lifetime: 90d}
`
	c := Default()
	if err := Parse([]byte(good), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !c.OIDC.Enabled() || c.OIDC.KeySignInAllowed() || c.OIDC.TeamFrom != "department" || c.Keys.MaxPerPerson != 3 ||
		time.Duration(c.Keys.MaxLifetime) != 90*24*time.Hour || c.Admins[0] != "alice@acme.test" {
		t.Errorf("parsed %+v %+v %v", c.OIDC, c.Keys, c.Admins)
	}
	if s, err := c.OIDC.ClientSecret(func(string) string { return " s3cret " }); err != nil || s != "s3cret" {
		t.Errorf("ClientSecret = %q, %v", s, err)
	}
	if _, err := c.OIDC.ClientSecret(func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "ALLOT_OIDC_CLIENT_SECRET") {
		t.Errorf("an empty secret env: %v", err)
	}
	if d := Default(); d.OIDC.Enabled() || !d.OIDC.KeySignInAllowed() {
		t.Error("without oidc: sign-in must stay as it was (keys)")
	}

	for _, bad := range []struct{ yaml, want string }{
		{"oidc: {issuer: 'login.acme.test', client_id: a, redirect_url: 'https://x.test/auth/callback'}", "issuer"},
		{"oidc: {issuer: 'https://l.test', redirect_url: 'https://x.test/auth/callback'}", "client_id"},
		{"oidc: {issuer: 'https://l.test', client_id: a, redirect_url: 'https://x.test/callback'}", "/auth/callback"},
		{"oidc: {issuer: 'https://l.test', client_id: a}", "redirect_url"},
		{"keys: {max_per_person: -1}", "max_per_person"},
		{"keys: {max_lifetime: 40000d}", "max_lifetime"},
		{"admins: [alice]", "admins[0]"},
		{"admins: ['Alice <alice@acme.test>']", "admins[0]"},
	} {
		c := Default()
		err := Parse([]byte(bad.yaml), &c)
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v, want an error naming %s", bad.yaml, err, bad.want)
		}
	}
}
