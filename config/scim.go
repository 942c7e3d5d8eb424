package config

import (
	"fmt"
	"strings"

	"github.com/allot-dev/allot"
)

// SCIM turns on provisioning by an identity provider at /scim/v2
// (docs/sso.md): people and groups pushed by Okta, Entra ID and the like.
type SCIM struct {
	// TokenEnv names the environment variable holding the bearer token
	// the identity provider sends; SCIM is off when it is empty.
	TokenEnv string `yaml:"token_env"`
	// GroupToTeam maps a group's displayName to the team its members are
	// in; a group not listed is a team of its own name.
	GroupToTeam map[string]string `yaml:"group_to_team"`
	// UnassignedTeam is the team of people in no group (default
	// "unassigned").
	UnassignedTeam string `yaml:"unassigned_team"`
}

// DefaultUnassignedTeam is the team of provisioned people in no group.
const DefaultUnassignedTeam = "unassigned"

// Enabled reports whether SCIM is configured.
func (s SCIM) Enabled() bool { return s.TokenEnv != "" }

// Token reads the SCIM bearer token from TokenEnv; an error when it is
// empty or too short to resist guessing.
func (s SCIM) Token(getenv func(string) string) (string, error) {
	tok := strings.TrimSpace(getenv(s.TokenEnv))
	if len(tok) < 32 {
		return "", fmt.Errorf("config: scim.token_env names %s, which holds %d characters; set it to a random token of at least 32 (e.g. openssl rand -hex 32)", s.TokenEnv, len(tok))
	}
	return tok, nil
}

// Unassigned returns the team of people in no group.
func (s SCIM) Unassigned() string {
	if s.UnassignedTeam == "" {
		return DefaultUnassignedTeam
	}
	return s.UnassignedTeam
}

// Validate checks the team names.
func (s SCIM) Validate() error {
	if len(s.UnassignedTeam) > allot.MaxLabelBytes {
		return fmt.Errorf("config: scim.unassigned_team is over %d bytes", allot.MaxLabelBytes)
	}
	for g, team := range s.GroupToTeam {
		if strings.TrimSpace(g) == "" || strings.TrimSpace(team) == "" || len(g) > allot.MaxLabelBytes || len(team) > allot.MaxLabelBytes {
			return fmt.Errorf("config: scim.group_to_team: %q: %q needs a group and a team of at most %d bytes each", allot.CapLabel(g), allot.CapLabel(team), allot.MaxLabelBytes)
		}
	}
	return nil
}
