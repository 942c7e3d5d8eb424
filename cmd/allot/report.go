package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
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
RFC 3339 times are exact and --to is then exclusive.
Rows are ordered by date when day or hour is a dimension, else by cost.
The table shows dollars to the cent; json and csv carry the exact cost
to nine places.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dims, err := allot.ParseDimensions(by)
			if err != nil {
				return err
			}
			if format != "table" && !slices.Contains(api.ReportFormats, format) {
				return allot.Errorf(allot.EInvalid, "unknown format %q; use table, json or csv", format)
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
			if len(rows) == 0 {
				if err := checkFilterNames(cmd.Context(), db, q.Filter[allot.DimUser], q.Filter[allot.DimTeam]); err != nil {
					return err
				}
			}
			sortByTime(dims, rows)
			if format == "table" {
				return writeReportTable(cmd.OutOrStdout(), dims, rows)
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

// sortByTime orders rows by their day or hour (oldest first) when one is
// a dimension, keeping the store's order (cost, highest first) within a
// date: a time series reads down the page.
func sortByTime(by []allot.Dimension, rows []allot.ReportRow) {
	var at []int
	for i, d := range by {
		if d == allot.DimDay || d == allot.DimHour {
			at = append(at, i)
		}
	}
	if len(at) == 0 {
		return
	}
	slices.SortStableFunc(rows, func(a, b allot.ReportRow) int {
		for _, i := range at {
			if c := strings.Compare(a.Dims[i], b.Dims[i]); c != 0 {
				return c
			}
		}
		return 0
	})
}

// writeReportTable prints a report for people: every dimension value
// whole, token counts in plain digits with separators (one unit per
// column), cost to the cent, and a total line.
func writeReportTable(w io.Writer, by []allot.Dimension, rows []allot.ReportRow) error {
	header := make([]string, 0, len(by)+5)
	for _, d := range by {
		header = append(header, strings.ToUpper(string(d)))
	}
	t := newTable(append(header, "REQUESTS|>", "INPUT|>", "CACHED|>", "OUTPUT|>", "COST|>")...)
	var total allot.ReportRow
	add := func(dims []string, r allot.ReportRow) {
		t.add(append(dims, allot.GroupDigits(r.Requests), allot.GroupDigits(r.Tokens.Input), allot.GroupDigits(r.Tokens.CacheRead),
			allot.GroupDigits(r.Tokens.Output), r.Cost.Dollars())...)
	}
	for _, r := range rows {
		add(slices.Clone(r.Dims), r)
		total.Requests = allot.SatAdd(total.Requests, r.Requests)
		total.Tokens = total.Tokens.Add(r.Tokens)
		total.Cost = total.Cost.Plus(r.Cost)
	}
	label := make([]string, len(by))
	if len(label) > 0 {
		label[0] = "TOTAL"
	}
	add(label, total)
	return t.write(w)
}
