package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/allot-dev/allot"
)

// orgFile is org.yaml: the organization's teams and users, and its
// rationing policy (budgets, defaults, rate_limits, access).
type orgFile struct {
	Name           string       `yaml:"name"`
	Teams          []allot.Team `yaml:"teams"`
	Users          []orgUser    `yaml:"users"`
	PeerVisibility string       `yaml:"peer_visibility,omitempty"` // named | anonymous (default): may leads see their team by name
	allot.Policy   `yaml:",inline"`
}

// orgUser is a user in org.yaml, with the provider-side ids that map
// provider usage reports to them.
type orgUser struct {
	allot.User  `yaml:",inline"`
	ProviderIDs map[string]string `yaml:"provider_ids,omitempty"` // e.g. openai_user, openai_api_key, anthropic_api_key
}

// Org returns the declared organization.
func (f orgFile) Org() allot.Org {
	org := allot.Org{Name: f.Name, Teams: f.Teams}
	for _, u := range f.Users {
		org.Users = append(org.Users, u.User)
	}
	return org
}

// Settings stored by apply next to the org.
const (
	peerVisibilitySetting = "peer_visibility" // "named" or "anonymous"
	providerIDsSetting    = "provider_ids"    // user -> provider id kind -> id, JSON
)

// readOrgFile parses org.yaml, refusing unknown fields so typos surface.
func readOrgFile(path string) (orgFile, error) {
	var f orgFile
	b, err := os.ReadFile(path)
	if err != nil {
		return f, fmt.Errorf("read org file: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return f, fmt.Errorf("org file %s: %w", path, err)
	}
	if f.Name == "" {
		f.Name = "default"
	}
	if err := f.Policy.Validate(); err != nil {
		return f, fmt.Errorf("org file %s: %w", path, err)
	}
	switch f.PeerVisibility {
	case "", "named", "anonymous":
	default:
		return f, fmt.Errorf("org file %s: peer_visibility %q must be named or anonymous", path, f.PeerVisibility)
	}
	return f, nil
}

// applyResult says what applying org.yaml changed.
type applyResult struct {
	allot.ApplyResult
	PolicyChanged bool
}

// applyOrgFile applies org.yaml: the org to the directory, the policy and
// the other settings to settings, with audit entries for what changed.
func applyOrgFile(ctx context.Context, dir allot.Store, path string) (applyResult, error) {
	f, err := readOrgFile(path)
	if err != nil {
		return applyResult{}, err
	}
	var res applyResult
	res.ApplyResult, err = dir.ApplyOrg(ctx, f.Org())
	if err != nil {
		return res, fmt.Errorf("apply %s: %w", path, err)
	}
	resolved, err := f.Policy.ResolveUsers(ctx, dir) // people may be named by email
	if err != nil {
		return res, fmt.Errorf("apply %s: %w", path, err)
	}
	policy, err := json.Marshal(resolved)
	if err != nil {
		return res, fmt.Errorf("encode policy: %w", err)
	}
	ids := map[string]map[string]string{}
	for _, u := range f.Users {
		if len(u.ProviderIDs) > 0 {
			ids[u.Name] = u.ProviderIDs
		}
	}
	idsJSON, err := json.Marshal(ids)
	if err != nil {
		return res, fmt.Errorf("encode provider ids: %w", err)
	}
	vis := f.PeerVisibility
	if vis == "" {
		vis = "anonymous"
	}
	for _, s := range []struct {
		name  string
		value []byte
	}{{allot.PolicySetting, policy}, {peerVisibilitySetting, []byte(vis)}, {providerIDsSetting, idsJSON}} {
		old, err := dir.Setting(ctx, s.name)
		if err != nil {
			return res, fmt.Errorf("read setting %s: %w", s.name, err)
		}
		if bytes.Equal(old, s.value) {
			continue
		}
		if err := dir.SetSetting(ctx, s.name, s.value); err != nil {
			return res, fmt.Errorf("store setting %s: %w", s.name, err)
		}
		if s.name == allot.PolicySetting {
			res.PolicyChanged = true
			audit(ctx, dir, "policy.apply", path, fmt.Sprintf("%d budgets, %d rate limits, %d access rules, default user budget: %t",
				len(f.Budgets), len(f.RateLimits), len(f.Access), f.Defaults.UserBudget != nil))
		}
	}
	if res.TeamsCreated+res.TeamsRemoved+res.UsersCreated+res.UsersUpdated+res.UsersRemoved > 0 {
		audit(ctx, dir, "org.apply", path, fmt.Sprintf("teams +%d -%d; users +%d ~%d -%d",
			res.TeamsCreated, res.TeamsRemoved, res.UsersCreated, res.UsersUpdated, res.UsersRemoved))
	}
	return res, nil
}

// audit appends an audit entry; a failure is reported on stderr, as the
// change itself is done.
func audit(ctx context.Context, al allot.AuditLog, action, target, detail string) {
	e := allot.AuditEntry{Time: time.Now().UTC(), Actor: cliActor(), Action: action, Target: target, Detail: detail}
	if err := al.Audit(ctx, e); err != nil {
		fmt.Fprintf(os.Stderr, "warning: could not write the audit log: %v\n", err)
	}
}

// cliActor names the person running the CLI, for the audit log.
func cliActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	return "cli"
}

func newApplyCmd(g *globals) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "apply -f org.yaml",
		Short: "Make the stored organization (teams, users) match org.yaml",
		Long: `Apply org.yaml declaratively and idempotently:
  name: acme
  teams: [{name: platform}, {name: data}]
  users:
    - {name: alice, email: alice@acme.test, team: platform, role: admin}
    - {name: bob, team: data, role: member}      # member | lead | admin
Users no longer listed are deactivated (their history stays).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return fmt.Errorf("name the org file with -f org.yaml")
			}
			_, db, err := g.createStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			res, err := applyOrgFile(cmd.Context(), db, file)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "teams: %d created, %d removed; users: %d created, %d updated, %d deactivated\n",
				res.TeamsCreated, res.TeamsRemoved, res.UsersCreated, res.UsersUpdated, res.UsersRemoved)
			if res.PolicyChanged {
				fmt.Fprintln(cmd.OutOrStdout(), "policy: budgets, rate limits and access rules updated (a running allot picks them up within seconds)")
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "org.yaml to apply")
	return cmd
}
