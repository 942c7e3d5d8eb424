package config

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"
)

// OIDC is dashboard sign-in through an OpenID Connect provider (Okta,
// Entra ID, Google Workspace, Keycloak…); empty Issuer turns it off and
// allot serves sign-in with keys only, as without the section.
type OIDC struct {
	Issuer          string   `yaml:"issuer"`            // the provider's issuer URL, exactly as its discovery document says
	ClientID        string   `yaml:"client_id"`         // allot's client id at the provider; tokens must be for it
	ClientSecretEnv string   `yaml:"client_secret_env"` // env var holding the client secret (never in the file)
	RedirectURL     string   `yaml:"redirect_url"`      // https://allot.example.com/auth/callback, registered at the provider
	Scopes          []string `yaml:"scopes"`            // extra scopes beside openid, email, profile (e.g. groups for Keycloak or Okta)
	GroupsClaim     string   `yaml:"groups_claim"`      // claim holding group names (default groups)
	AdminGroups     []string `yaml:"admin_groups"`      // a member of one of these is an admin
	LeadGroups      []string `yaml:"lead_groups"`       // a member of one of these (not admin) is a lead
	TeamFrom        string   `yaml:"team_from"`         // group: the first group that is not an admin or lead group; else a claim name, e.g. department
	DefaultTeam     string   `yaml:"default_team"`      // team of a new person the claims name none for (default "default")
	KeySignIn       *bool    `yaml:"key_sign_in"`       // keep the paste-a-key sign-in (default true)
}

// Enabled reports whether OpenID Connect sign-in is configured.
func (o OIDC) Enabled() bool { return o.Issuer != "" }

// KeySignInAllowed reports whether the dashboard still signs people in
// with a pasted key (the default).
func (o OIDC) KeySignInAllowed() bool { return !o.Enabled() || o.KeySignIn == nil || *o.KeySignIn }

// ClientSecret reads the client secret from ClientSecretEnv; a
// confidential client without one is a configuration error.
func (o OIDC) ClientSecret(getenv func(string) string) (string, error) {
	if o.ClientSecretEnv == "" {
		return "", nil // a public client (PKCE only)
	}
	s := strings.TrimSpace(getenv(o.ClientSecretEnv))
	if s == "" {
		return "", fmt.Errorf("config: oidc.client_secret_env names %s, which is empty; set it to the client secret from your identity provider", o.ClientSecretEnv)
	}
	return s, nil
}

func (o OIDC) validate() error {
	if !o.Enabled() {
		return nil
	}
	for name, v := range map[string]string{"issuer": o.Issuer, "redirect_url": o.RedirectURL} {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("config: oidc.%s %q must be an http(s) URL", name, v)
		}
	}
	if o.ClientID == "" {
		return errors.New("config: oidc.client_id is empty; set the client id your identity provider gave allot")
	}
	if u, _ := url.Parse(o.RedirectURL); u.Path != "/auth/callback" {
		return fmt.Errorf("config: oidc.redirect_url %q must end in /auth/callback, where allot receives the provider's answer", o.RedirectURL)
	}
	return nil
}

// Keys bounds self-service keys (the dashboard's Keys page and
// /api/v1/keys). Admins are not bound by MaxPerPerson when they make keys
// for others with the CLI.
type Keys struct {
	MaxPerPerson int      `yaml:"max_per_person"` // live keys one person may hold (default 10)
	MaxLifetime  Duration `yaml:"max_lifetime"`   // longest expiry a person may set; 0: keys may live for ever
}

// DefaultMaxKeysPerPerson is keys.max_per_person when unset.
const DefaultMaxKeysPerPerson = 10

func (k Keys) validate() error {
	if k.MaxPerPerson < 0 || k.MaxPerPerson > 10000 {
		return fmt.Errorf("config: keys.max_per_person %d must be between 0 (default %d) and 10000", k.MaxPerPerson, DefaultMaxKeysPerPerson)
	}
	if k.MaxLifetime < 0 || time.Duration(k.MaxLifetime) > 100*365*24*time.Hour {
		return fmt.Errorf("config: keys.max_lifetime %s must be between 0 (no limit) and 100 years", time.Duration(k.MaxLifetime))
	}
	return nil
}

// validateAdmins checks that each of admins: is an email address.
func validateAdmins(admins []string) error {
	for i, a := range admins {
		if _, err := mail.ParseAddress(a); err != nil || !strings.Contains(a, "@") || strings.ContainsAny(a, "<> ") {
			return fmt.Errorf("config: admins[%d] %q is not an email address like alice@acme.test", i, a)
		}
	}
	return nil
}
