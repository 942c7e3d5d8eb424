package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/api"
)

func newReportCmd(g *globals) *cobra.Command {
	var by, from, to, format string
	filter := map[allot.Dimension]*string{}
	cmd := &cobra.Command{
		Use:   "report --by DIMS [--from DATE] [--to DATE] [--format table|json|csv]",
		Short: "Usage and exact cost grouped by user, team, model, task, app, provider, day or hour",
		Long: `Report usage from the ledger's hourly rollups.
DIMS is a comma list of user,team,model,task,app,provider,day,hour.
Dates are UTC days and --to is inclusive (default: the last 30 days);
RFC 3339 times are exact and --to is then exclusive.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dims, err := allot.ParseDimensions(by)
			if err != nil {
				return err
			}
			start, end, err := api.ParseRange(from, to, time.Now().UTC())
			if err != nil {
				return err
			}
			q := allot.ReportQuery{By: dims, From: start, To: end, Filter: map[allot.Dimension]string{}}
			for d, v := range filter {
				if *v != "" {
					q.Filter[d] = *v
				}
			}
			if err := q.Validate(); err != nil {
				return err
			}
			_, db, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			if v := q.Filter[allot.DimUser]; v != "" {
				if q.Filter[allot.DimUser], err = allot.ResolveUser(cmd.Context(), db, v); err != nil {
					return err
				}
			}
			rows, err := db.Report(cmd.Context(), q)
			if err != nil {
				return fmt.Errorf("report: %w", err)
			}
			return api.WriteReport(cmd.OutOrStdout(), format, dims, rows)
		},
	}
	cmd.Flags().StringVar(&by, "by", "user", "comma list of dimensions")
	cmd.Flags().StringVar(&from, "from", "", "start date (2006-01-02) or time")
	cmd.Flags().StringVar(&to, "to", "", "end date (inclusive) or time (exclusive)")
	cmd.Flags().StringVar(&format, "format", "table", "table, json or csv")
	for _, d := range []allot.Dimension{allot.DimUser, allot.DimTeam, allot.DimModel, allot.DimTask, allot.DimApp, allot.DimProvider} {
		filter[d] = cmd.Flags().String(string(d), "", "only this "+string(d)+map[bool]string{true: " (a name or an email)"}[d == allot.DimUser])
	}
	return cmd
}
