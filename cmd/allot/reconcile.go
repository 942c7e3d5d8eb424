package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/ingest/usagereport"
)

// reconcileRow compares one day and model.
type reconcileRow struct {
	day, model             string
	report, ledger         allot.Tokens
	reportN, ledgerN       int64 // provider requests (0 when the report has no count) and ledger events
	reportCost, ledgerCost allot.Money
	priced                 bool // the provider side could be priced
}

func (r *reconcileRow) differs() bool {
	return r.report.Input != r.ledger.Input || r.report.Output != r.ledger.Output || r.reportCost != r.ledgerCost
}

// writeReconcile prints the rows that differ (all with all), oldest day
// first, and the totals.
func writeReconcile(w io.Writer, rows map[[2]string]*reconcileRow, all bool, malformed int) error {
	list := make([]*reconcileRow, 0, len(rows))
	for _, r := range rows {
		list = append(list, r)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].day != list[j].day {
			return list[i].day < list[j].day
		}
		return list[i].model < list[j].model
	})
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "DAY\tMODEL\tREPORT IN\tALLOT IN\tDIFF IN\tREPORT OUT\tALLOT OUT\tDIFF OUT\tREPORT $\tALLOT $\tDIFF $\t")
	var total reconcileRow
	total.priced = true
	shown, differ := 0, 0
	for _, r := range list {
		total.report = total.report.Add(r.report)
		total.ledger = total.ledger.Add(r.ledger)
		total.reportCost = total.reportCost.Plus(r.reportCost)
		total.ledgerCost = total.ledgerCost.Plus(r.ledgerCost)
		total.priced = total.priced && r.priced
		if r.differs() {
			differ++
		}
		if !all && !r.differs() {
			continue
		}
		shown++
		writeReconcileRow(tw, r.day, r.model, r)
	}
	writeReconcileRow(tw, "total", "", &total)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d of %d day/model rows differ", differ, len(list))
	if !all && shown < len(list) {
		fmt.Fprint(w, " (--all shows the matching ones too)")
	}
	fmt.Fprintln(w)
	if !total.priced {
		fmt.Fprintln(w, "some report models have no price in allot's catalog: their REPORT $ counts 0 (see allot prices missing)")
	}
	if malformed > 0 {
		fmt.Fprintf(w, "%d results of the report could not be read and are left out\n", malformed)
	}
	return nil
}

func writeReconcileRow(w io.Writer, day, model string, r *reconcileRow) {
	fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%+d\t%d\t%d\t%+d\t%s\t%s\t%s\t\n", day, model,
		r.report.Input, r.ledger.Input, r.ledger.Input-r.report.Input,
		r.report.Output, r.ledger.Output, r.ledger.Output-r.report.Output,
		reconcileUSD(r.reportCost), reconcileUSD(r.ledgerCost), reconcileSignedUSD(r.ledgerCost.Plus(-r.reportCost)))
}

func reconcileUSD(m allot.Money) string { return "$" + m.String() }

func reconcileSignedUSD(m allot.Money) string {
	if m < 0 { // m.String() carries the sign; -m would wrap for the most negative amount
		return "-$" + strings.TrimPrefix(m.String(), "-")
	}
	return "+$" + m.String()
}

func newReconcileCmd(g *globals) *cobra.Command {
	var provider, providerName string
	var all bool
	cmd := &cobra.Command{
		Use:   "reconcile --provider openai|anthropic FILE",
		Short: "Compare a provider's organization usage report with the ledger, by day and model",
		Long: `Compare the provider's own usage report (the JSON pages of OpenAI's
/v1/organization/usage/completions or Anthropic's
/v1/organizations/usage_report/messages, 1d buckets) with what allot
recorded for that provider, by UTC day and model, and print the differences in
tokens and cost. The provider's tokens are priced with allot's catalog, so a
cost difference comes from tokens, not prices. Usage made with provider keys
that never went through allot shows up as a difference too.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := usagereport.NewParser(provider)
			if err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return fmt.Errorf("open report: %w", err)
			}
			err = p.Parse(args[0], f)
			f.Close()
			if err != nil {
				return err
			}
			if len(p.Rows()) == 0 {
				return allot.Errorf(allot.EInvalid, "%s holds no usage results (%s)", args[0], p.Summary())
			}
			env, err := openImport(cmd.Context(), g, "")
			if err != nil {
				return err
			}
			defer env.db.Close()
			if providerName == "" {
				providerName = provider
			}

			rows := map[[2]string]*reconcileRow{}
			row := func(day, model string) *reconcileRow {
				k := [2]string{day, model}
				if rows[k] == nil {
					rows[k] = &reconcileRow{day: day, model: model, priced: true}
				}
				return rows[k]
			}
			var from, to time.Time
			for _, r := range p.Rows() {
				day := r.Start.UTC().Truncate(24 * time.Hour)
				if from.IsZero() || day.Before(from) {
					from = day
				}
				if end := day.Add(24 * time.Hour); end.After(to) {
					to = end
				}
				model := r.Model
				if model == "" {
					model = "unknown"
				}
				rr := row(day.Format("2006-01-02"), model)
				rr.report = rr.report.Add(r.Tokens)
				rr.reportN += r.Requests
				cost, known := r.Cost(env.catalog)
				rr.reportCost = rr.reportCost.Plus(cost)
				rr.priced = rr.priced && known
			}
			ledgerRows, err := env.db.Report(cmd.Context(), allot.ReportQuery{
				By: []allot.Dimension{allot.DimDay, allot.DimModel}, From: from, To: to,
				Filter: map[allot.Dimension]string{allot.DimProvider: providerName},
			})
			if err != nil {
				return fmt.Errorf("report: %w", err)
			}
			for _, lr := range ledgerRows {
				rr := row(lr.Dims[0], lr.Dims[1])
				rr.ledger = lr.Tokens
				rr.ledgerN = lr.Requests
				rr.ledgerCost = lr.Cost
			}
			return writeReconcile(cmd.OutOrStdout(), rows, all, p.Summary().Malformed)
		},
	}
	cmd.Flags().StringVar(&provider, "provider", "", "openai or anthropic: the report's format")
	cmd.Flags().StringVar(&providerName, "provider-name", "", "the provider's name in allot's config (default: --provider)")
	cmd.Flags().BoolVar(&all, "all", false, "show matching rows too")
	return cmd
}
