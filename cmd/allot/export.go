package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/api"
	"github.com/allot-dev/allot/insights"
)

func newExportCmd(g *globals) *cobra.Command {
	var format, from, to, output, account string
	cmd := &cobra.Command{
		Use:   "export --format csv|focus [--from DATE] [--to DATE] [--output FILE]",
		Short: "Usage and exact cost per day, team, person, model, task and app, as CSV or FinOps FOCUS",
		Long: `Export the ledger's daily totals for chargeback: --format csv writes allot's
own columns, --format focus the FinOps FOCUS 1.2 columns (one Usage charge
per day, team, person, provider, model, task and app; the team is the
SubAccount, the model the SkuId, the rest in Tags). Dates are UTC days and
--to is inclusive (default: the last 30 days).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains(insights.ExportFormats, format) {
				return allot.Errorf(allot.EInvalid, "unknown format %q; use csv or focus", format)
			}
			start, end, err := api.ParseRange(from, to, time.Now().UTC())
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			_, db, err := g.openStore(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			rows, err := db.Report(ctx, allot.ReportQuery{By: insights.ExportDims, From: start, To: end})
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			var w io.Writer = cmd.OutOrStdout()
			if output != "" {
				f, err := os.Create(output)
				if err != nil {
					return fmt.Errorf("export: %w", err)
				}
				defer f.Close()
				w = f
				if err := insights.WriteExport(w, format, account, rows); err != nil {
					return fmt.Errorf("export to %s: %w", output, err)
				}
				return f.Close()
			}
			return insights.WriteExport(w, format, account, rows)
		},
	}
	cmd.Flags().StringVar(&format, "format", "csv", "csv or focus")
	cmd.Flags().StringVar(&from, "from", "", "start date (2006-01-02) or time")
	cmd.Flags().StringVar(&to, "to", "", "end date (inclusive) or time (exclusive)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of stdout")
	cmd.Flags().StringVar(&account, "account", "allot", "FOCUS BillingAccountId/Name, e.g. your org")
	return cmd
}
