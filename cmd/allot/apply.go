package main

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/allot-dev/allot"
)

// orgFile is org.yaml: the organization's teams and users.
type orgFile struct {
	allot.Org `yaml:",inline"`
}

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
	return f, nil
}

func applyOrgFile(ctx context.Context, dir allot.Directory, path string) (allot.ApplyResult, error) {
	f, err := readOrgFile(path)
	if err != nil {
		return allot.ApplyResult{}, err
	}
	res, err := dir.ApplyOrg(ctx, f.Org)
	if err != nil {
		return res, fmt.Errorf("apply %s: %w", path, err)
	}
	return res, nil
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
			_, db, err := g.open(cmd.Context())
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
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "org.yaml to apply")
	return cmd
}
