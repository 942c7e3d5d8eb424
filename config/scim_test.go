package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSCIM: scim is off without token_env; its token must be long
// enough; the unassigned team defaults; group_to_team names are bounded.
func TestSCIM(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("t", 40)
	tests := []struct {
		name, yaml     string
		token          string // what token_env's variable holds
		wantOn         bool
		wantUnassigned string
		wantTeam       string // group_to_team[Engineering]
		wantErr        string // from Load
		wantTokenErr   string
	}{
		{name: "off by default", wantUnassigned: "unassigned"},
		{name: "on", yaml: "scim: {token_env: SCIM_TOKEN, group_to_team: {Engineering: eng}, unassigned_team: people}\n", token: long,
			wantOn: true, wantUnassigned: "people", wantTeam: "eng"},
		{name: "short token", yaml: "scim: {token_env: SCIM_TOKEN}\n", token: "short", wantOn: true, wantUnassigned: "unassigned", wantTokenErr: "at least 32"},
		{name: "empty token", yaml: "scim: {token_env: SCIM_TOKEN}\n", wantOn: true, wantUnassigned: "unassigned", wantTokenErr: "holds 0 characters"},
		{name: "empty team", yaml: "scim: {token_env: X, group_to_team: {Engineering: \"\"}}\n", wantErr: "group_to_team"},
		{name: "long unassigned team", yaml: "scim: {token_env: X, unassigned_team: " + strings.Repeat("u", 201) + "}\n", wantErr: "unassigned_team"},
		{name: "unknown key", yaml: "scim: {token: abc}\n", wantErr: "token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(t.TempDir(), "allot.yaml")
			if err := os.WriteFile(p, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := loadWith(p, nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.SCIM.Enabled() != tt.wantOn || c.SCIM.Unassigned() != tt.wantUnassigned || c.SCIM.GroupToTeam["Engineering"] != tt.wantTeam {
				t.Errorf("scim = %+v", c.SCIM)
			}
			if !tt.wantOn {
				return
			}
			tok, err := c.SCIM.Token(func(string) string { return tt.token })
			if tt.wantTokenErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantTokenErr) {
					t.Errorf("Token err = %v, want %q", err, tt.wantTokenErr)
				}
				return
			}
			if err != nil || tok != tt.token {
				t.Errorf("Token = %q, %v", tok, err)
			}
		})
	}
}
