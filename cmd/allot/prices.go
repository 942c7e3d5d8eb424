package main

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/allot-dev/allot/pricing"
)

// pricesSetting is where `allot prices update` stores a newer feed.
const pricesSetting = "pricing.feed"

func newPricesCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "prices", Short: "Inspect and update the price catalog"}
	missing := &cobra.Command{
		Use:   "missing",
		Short: "List models recorded without a price (cost_known=false); add them under prices: in the config",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, db, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			models, err := db.Unpriced(cmd.Context())
			if err != nil {
				return err
			}
			if len(models) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "every recorded model has a price")
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PROVIDER\tMODEL\tREQUESTS\tINPUT\tOUTPUT\tLAST SEEN")
			for _, m := range models {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", m.Provider, m.Model, m.Requests, m.Tokens.Input, m.Tokens.Output, m.LastSeen.UTC().Format("2006-01-02 15:04"))
			}
			return tw.Flush()
		},
	}
	update := &cobra.Command{
		Use:   "update FILE",
		Short: "Load a newer price feed (genai-prices v2 format); used from the next start",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("read price feed: %w", err)
			}
			cat, err := pricing.Load(b)
			if err != nil {
				return fmt.Errorf("price feed %s: %w", args[0], err)
			}
			_, db, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			if err := db.SetSetting(cmd.Context(), pricesSetting, b); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "stored a feed of %d model prices; restart allot serve to use it\n", cat.Models())
			return nil
		},
	}
	cmd.AddCommand(missing, update)
	return cmd
}
