package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/allot-dev/allot"
)

func newKeysCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Create, list and revoke virtual keys"}
	var user, label string
	create := &cobra.Command{
		Use:   "create --user NAME [--name LABEL]",
		Short: "Create a key for a user; prints the key alone on stdout, once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if user == "" {
				return fmt.Errorf("name the key's owner with --user NAME")
			}
			_, db, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			name, err := allot.ResolveUser(cmd.Context(), db, user)
			if err != nil {
				return err
			}
			secret, key, err := db.CreateKey(cmd.Context(), name, label)
			if err != nil {
				return err
			}
			audit(cmd.Context(), db, "key.create", key.ID, fmt.Sprintf("key %s (%s) for %s", key.ID, key.Label, key.User))
			fmt.Fprintln(cmd.OutOrStdout(), secret)
			fmt.Fprintf(cmd.ErrOrStderr(), "created key %s (%s) for %s; it is shown only this once\n", key.ID, key.Label, key.User)
			return nil
		},
	}
	create.Flags().StringVar(&user, "user", "", "owner of the key (user name or email)")
	create.Flags().StringVar(&label, "name", "", "a label for the key, e.g. laptop or ci")

	var listUser string
	list := &cobra.Command{
		Use:   "list [--user NAME]",
		Short: "List keys (ids and labels; secrets are never stored)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, db, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			name, err := allot.ResolveUser(cmd.Context(), db, listUser)
			if err != nil {
				return err
			}
			keys, err := db.Keys(cmd.Context(), name)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tUSER\tLABEL\tCREATED\tSTATUS")
			for _, k := range keys {
				status := "active"
				switch {
				case k.RevokedAt != nil:
					status = "revoked " + k.RevokedAt.Format("2006-01-02")
				case !k.Live(time.Now()):
					status = "expired " + k.ExpiresAt.Format("2006-01-02")
				case k.ExpiresAt != nil:
					status = "active until " + k.ExpiresAt.Format("2006-01-02")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.User, k.Label, k.CreatedAt.Format("2006-01-02 15:04"), status)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&listUser, "user", "", "only this user's keys")

	revoke := &cobra.Command{
		Use:   "revoke KEY_ID",
		Short: "Revoke a key by its id (see keys list); it stops working within 10 seconds",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, db, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			if err := db.RevokeKey(cmd.Context(), args[0]); err != nil {
				return err
			}
			audit(cmd.Context(), db, "key.revoke", args[0], "key "+args[0]+" revoked")
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %s\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
