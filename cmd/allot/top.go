package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/insights"
)

func newTopCmd(g *globals) *cobra.Command {
	var by, period, format, key, user, team string
	var limit int
	cmd := &cobra.Command{
		Use:   "top --by task|user|team|model|app [--period 30d] [--limit 20] [--format table|json]",
		Short: "The largest consumers with their share, trend and tokens per request",
		Long: `Rank consumers over the last --period days by spend, with their share of the
total, the change against the period before, and tokens per request.
With --key (or ALLOT_KEY) only what that person may see is ranked: their own
usage, or their team's for a lead (by person only under peer_visibility: named).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			days, err := insights.ParseDays(period)
			if err != nil {
				return err
			}
			dim := allot.Dimension(by)
			if format != "table" && format != "json" {
				return allot.Errorf(allot.EInvalid, "unknown format %q; use table or json", format)
			}
			ctx := cmd.Context()
			env, err := openInsights(ctx, g, key)
			if err != nil {
				return err
			}
			defer env.db.Close()
			if user, err = allot.ResolveUser(cmd.Context(), env.db, user); err != nil {
				return err
			}
			scope, err := insights.Authorize(env.viewer, insights.Scope{User: user, Team: team}, env.users, env.opts.Visibility)
			if err != nil {
				return err
			}
			p := insights.LastDays(time.Now(), days)
			d, err := insights.Load(ctx, env.db, env.users, scope, p, time.Now())
			if err != nil {
				return err
			}
			rows, err := insights.Top(scopedUsage(d.Usage, scope), scopedUsage(d.Previous, scope), dim, limit)
			if err != nil {
				return err
			}
			if dim == allot.DimUser {
				who := make([]string, len(rows))
				for i, r := range rows {
					who[i] = r.Name
				}
				if !insights.NamesVisible(env.viewer, who, env.users, env.opts) {
					return allot.Errorf(allot.EForbidden, "ranking people by name is not allowed for %s here; rank by task, model or app", env.viewer.User)
				}
			}
			if format == "json" {
				if rows == nil {
					rows = []insights.TopRow{}
				}
				return insights.WriteJSON(cmd.OutOrStdout(), rows)
			}
			return insights.WriteTop(cmd.OutOrStdout(), dim, rows)
		},
	}
	cmd.Flags().StringVar(&by, "by", "task", "task, user, team, model, app or provider")
	cmd.Flags().StringVar(&period, "period", "30d", "how far back: days (30d) or weeks (4w)")
	cmd.Flags().IntVar(&limit, "limit", 20, "at most this many rows (0: all)")
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	cmd.Flags().StringVar(&user, "user", "", "only this person's usage")
	cmd.Flags().StringVar(&team, "team", "", "only this team's usage")
	keyFlag(cmd, &key)
	return cmd
}

// scopedUsage keeps the usage of scope.
func scopedUsage(usage []allot.InsightUsage, s insights.Scope) []allot.InsightUsage {
	var out []allot.InsightUsage
	for _, u := range usage {
		if (s.User == "" || u.User == s.User) && (s.Team == "" || u.Team == s.Team) {
			out = append(out, u)
		}
	}
	return out
}
