package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/insights"
)

func newPricingPlansCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pricing-plans",
		Short: "Compare paying per seat with paying for what is used",
	}
	var seat, period, format string
	var plans []string
	compare := &cobra.Command{
		Use:   "compare [--seat-usd 30] [--plan NAME=USD ...] [--period 30d] [--format table|json]",
		Short: "Each person's month on consumption against per-seat plans, and the org total under each choice",
		Long: `For every person, what the last --period days of usage cost scaled to a
30-day month, against each per-seat plan (--seat-usd adds a plan named
"seat"; --plan adds others, e.g. --plan pro=20 --plan max=100), who is
cheaper where, and what the org pays a month under each choice, including
each person on their cheapest option.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			days, err := insights.ParseDays(period)
			if err != nil {
				return err
			}
			specs := plans
			if seat != "" {
				specs = append([]string{"seat=" + seat}, specs...)
			}
			if len(specs) == 0 {
				return allot.Errorf(allot.EInvalid, "give a seat price with --seat-usd 30 or plans with --plan NAME=USD")
			}
			ps, err := insights.ParsePlans(specs)
			if err != nil {
				return err
			}
			if format != "table" && format != "json" {
				return allot.Errorf(allot.EInvalid, "unknown format %q; use table or json", format)
			}
			ctx := cmd.Context()
			env, err := openInsights(ctx, g, "")
			if err != nil {
				return err
			}
			defer env.db.Close()
			p := insights.LastDays(time.Now(), days)
			usage, err := env.db.InsightUsage(ctx, allot.InsightQuery{From: p.From, To: p.To})
			if err != nil {
				return err
			}
			c := insights.ComparePlans(usage, env.users, p, ps)
			if format == "json" {
				return insights.WriteJSON(cmd.OutOrStdout(), c)
			}
			return insights.WritePlans(cmd.OutOrStdout(), c)
		},
	}
	compare.Flags().StringVar(&seat, "seat-usd", "", "price of a seat per person per month, e.g. 30")
	compare.Flags().StringArrayVar(&plans, "plan", nil, "another plan as NAME=USD per seat per month (repeatable)")
	compare.Flags().StringVar(&period, "period", "30d", "usage period scaled to a month: days (30d) or weeks (4w)")
	compare.Flags().StringVar(&format, "format", "table", "table or json")
	cmd.AddCommand(compare)
	return cmd
}
