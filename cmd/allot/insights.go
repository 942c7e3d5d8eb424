package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/budget"
	"github.com/allot-dev/allot/config"
	"github.com/allot-dev/allot/insights"
	"github.com/allot-dev/allot/pricing"
)

// insightsEnv is what the insight commands work with: the database, the
// directory's users, the price catalog, the options and who is asking.
type insightsEnv struct {
	db      allot.Store
	users   []allot.User
	catalog *pricing.Catalog
	opts    insights.Options
	viewer  allot.Principal
}

// insightOptions returns the insight options of cfg (its `insights:`)
// with the org's peer visibility (peerVisibility).
func insightOptions(ctx context.Context, cfg config.Config, settings settingReader) (insights.Options, error) {
	o, err := insights.OptionsFrom(cfg.Insights)
	if err != nil {
		return o, fmt.Errorf("config insights: %w", err)
	}
	if o.Visibility, err = peerVisibility(ctx, cfg, settings); err != nil {
		return o, err
	}
	return o, nil
}

// openInsights opens the database and resolves the viewer: the person
// whose key is given (their view is then limited as in the API), or the
// operator, who reads the database directly and sees everything.
func openInsights(ctx context.Context, g *globals, key string) (*insightsEnv, error) {
	cfg, db, err := g.openStore(ctx)
	if err != nil {
		return nil, err
	}
	env := &insightsEnv{db: db, viewer: allot.Principal{User: cliActor(), Role: allot.RoleAdmin}}
	fail := func(err error) (*insightsEnv, error) {
		db.Close()
		return nil, err
	}
	if env.catalog, err = loadCatalog(ctx, cfg, db); err != nil {
		return fail(err)
	}
	if env.opts, err = insightOptions(ctx, cfg, db); err != nil {
		return fail(err)
	}
	if env.users, err = db.Users(ctx); err != nil {
		return fail(err)
	}
	if key != "" {
		if env.viewer, err = db.PrincipalByKeyHash(ctx, allot.HashKey(key)); err != nil {
			return fail(err)
		}
	}
	return env, nil
}

// keyFlag adds --key, defaulting to $ALLOT_KEY.
func keyFlag(cmd *cobra.Command, key *string) {
	cmd.Flags().StringVar(key, "key", "", "act as the owner of this allot key, with their view (default $ALLOT_KEY; none: the operator, who sees all)")
	pre := cmd.PreRun
	cmd.PreRun = func(c *cobra.Command, args []string) {
		if *key == "" {
			*key = os.Getenv("ALLOT_KEY")
		}
		if pre != nil {
			pre(c, args)
		}
	}
}

func newInsightsCmd(g *globals) *cobra.Command {
	var user, team, period, limit, format, key string
	cmd := &cobra.Command{
		Use:   "insights [--user NAME] [--team NAME] [--period 30d] [--limit-usd N] [--format table|json]",
		Short: "Where the tokens go, how a person compares with peers, and what to change to spend less",
		Long: `Insights for one person, one team or (the default for admins) the whole org over
the last --period days: spend and its top tasks, percentiles among peers
(anonymous distributions; groups under 5 people are never shown), ranked
recommendations with the money each would save a month, the month's
forecast (the same as allot me and budgets status) with anomalies, and what the most efficient people of each task do.
With --key (or ALLOT_KEY) the view is that person's, exactly as in the API.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			days, err := insights.ParseDays(period)
			if err != nil {
				return err
			}
			req := insights.Request{Scope: insights.Scope{User: user, Team: team}, Days: days}
			if limit != "" {
				m, err := allot.ParseUSD(limit)
				if err != nil || m <= 0 {
					return allot.Errorf(allot.EInvalid, "--limit-usd %q is not a positive dollar amount such as 50", limit)
				}
				req.Limit = &m
			}
			if format != "table" && format != "json" {
				return allot.Errorf(allot.EInvalid, "unknown format %q; use table or json", format)
			}
			ctx := cmd.Context()
			env, err := openInsights(ctx, g, key)
			if err != nil {
				return err
			}
			defer env.db.Close()
			if req.Scope.User, err = allot.ResolveUser(ctx, env.db, req.Scope.User); err != nil {
				return err
			}
			now := time.Now()
			if req.Limit == nil { // the forecast runs out against the scope's own monthly budget, as in the API
				lr, err := budget.NewLive(ctx, env.db, budget.LiveOptions{Pricer: env.catalog, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
				if err != nil {
					return err
				}
				req.LimitFor = func(scope string) *allot.Money { return lr.Current().MonthLimit(scope, now) }
			}
			ins, err := insights.Build(ctx, env.db, env.users, env.catalog, env.viewer, req, env.opts, now)
			if err != nil {
				return err
			}
			if format == "json" {
				return insights.WriteJSON(cmd.OutOrStdout(), ins)
			}
			return insights.WriteInsights(cmd.OutOrStdout(), ins)
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "one person")
	cmd.Flags().StringVar(&team, "team", "", "one team")
	cmd.Flags().StringVar(&period, "period", "30d", "how far back: days (30d) or weeks (4w)")
	cmd.Flags().StringVar(&limit, "limit-usd", "", "forecast when this month's spend would reach this amount")
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	keyFlag(cmd, &key)
	return cmd
}
