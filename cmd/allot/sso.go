package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/config"
	"github.com/allot-dev/allot/oidc"
	"github.com/allot-dev/allot/web"
)

// singleSignOn builds the dashboard's OpenID Connect sign-in from
// allot.yaml's oidc: section; nil without one, so allot serves as before.
func singleSignOn(cfg config.Config, db allot.Store) (*web.SSO, error) {
	o := cfg.OIDC
	if !o.Enabled() {
		return nil, nil
	}
	secret, err := o.ClientSecret(os.Getenv)
	if err != nil {
		return nil, err
	}
	client := oidc.New(oidc.Config{
		Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: secret, RedirectURL: o.RedirectURL, Scopes: o.Scopes,
		Mapping: oidc.Mapping{GroupsClaim: o.GroupsClaim, AdminGroups: o.AdminGroups, LeadGroups: o.LeadGroups, TeamFrom: o.TeamFrom},
	})
	return &web.SSO{
		Client:    client,
		Enroller:  oidc.Enroller{Dir: db, Admins: cfg.Admins, DefaultTeam: o.DefaultTeam, Issuer: o.Issuer},
		KeySignIn: o.KeySignInAllowed(),
	}, nil
}

// bootstrapAdmins makes each of allot.yaml's admins: an admin (creating
// them when unknown), audited; a deactivated one is left so and warned
// about.
func bootstrapAdmins(ctx context.Context, cfg config.Config, db allot.Store, warn func(string, ...any)) error {
	for _, email := range cfg.Admins {
		u, changed, err := allot.EnsureAdmin(ctx, db, email, cfg.OIDC.DefaultTeam)
		switch {
		case allot.CodeOf(err) == allot.EForbidden:
			warn("admins: lists a deactivated person; left deactivated", "email", email)
			continue
		case err != nil:
			return fmt.Errorf("admins: %s: %w", email, err)
		case changed:
			_ = db.Audit(ctx, allot.AuditEntry{Time: time.Now().UTC(), Actor: "config:admins", Action: "user.admin", Target: u.Name,
				Detail: fmt.Sprintf("%s (%s) made an admin by allot.yaml admins:", u.Name, email)})
		}
	}
	return nil
}
