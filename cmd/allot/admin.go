package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/allot-dev/allot"
)

func newAdminCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "admin", Short: "Make people admins (bootstrap without pasting keys around)"}
	var team string
	add := &cobra.Command{
		Use:   "add EMAIL [--team NAME]",
		Short: "Make the person with EMAIL an admin, creating them when unknown; they sign in with single sign-on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, db, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			u, changed, err := allot.EnsureAdmin(cmd.Context(), db, args[0], team)
			if err != nil {
				return err
			}
			if !changed {
				fmt.Fprintf(cmd.OutOrStdout(), "%s (%s) is an admin already\n", u.Name, u.Email)
				return nil
			}
			audit(cmd.Context(), db, "user.admin", u.Name, fmt.Sprintf("%s (%s) made an admin", u.Name, u.Email))
			fmt.Fprintf(cmd.OutOrStdout(), "%s (%s) is now an admin in team %s\n", u.Name, u.Email, u.Team)
			return nil
		},
	}
	add.Flags().StringVar(&team, "team", "", "team of a person not known yet (default \"default\")")
	cmd.AddCommand(add)
	return cmd
}
