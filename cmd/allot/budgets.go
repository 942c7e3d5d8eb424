package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/api"
	"github.com/allot-dev/allot/budget"
)

// cliRationer rebuilds the stored policy's budgets from the ledger, for
// CLI views. Reservations of calls in flight live in the serving process
// (or in Redis), so the CLI shows settled spend with reserved 0 unless
// counters are shared.
func cliRationer(ctx context.Context, g *globals) (allot.Store, *budget.Live, error) {
	cfg, db, err := g.openStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	cat, err := loadCatalog(ctx, cfg, db)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	lr, err := budget.NewLive(ctx, db, budget.LiveOptions{Pricer: cat, Logger: quiet})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, lr, nil
}

func newBudgetsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "budgets",
		Short: "Budget status and top-ups (budgets themselves are declared in org.yaml)",
	}
	cmd.AddCommand(newBudgetsStatusCmd(g), newBudgetsGrantCmd(g))
	return cmd
}

func newBudgetsStatusCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "status [--format table|json]",
		Short: "Every budget's spend, limit, period and burn-rate projection",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			db, lr, err := cliRationer(ctx, g)
			if err != nil {
				return err
			}
			defer db.Close()
			st, err := lr.Current().Status(ctx, time.Now())
			if err != nil {
				return err
			}
			return writeBudgetStatus(cmd.OutOrStdout(), format, st)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	return cmd
}

// writeBudgetStatus prints statuses as JSON (an array) or an 80-column table.
func writeBudgetStatus(w io.Writer, format string, st []budget.BudgetStatus) error {
	switch format {
	case "json":
		if st == nil {
			st = []budget.BudgetStatus{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	case "table", "":
	default:
		return allot.Errorf(allot.EInvalid, "unknown format %q; use table or json", format)
	}
	if len(st) == 0 {
		_, err := fmt.Fprintln(w, "no budgets: declare them under budgets: in org.yaml and run allot apply")
		return err
	}
	t := newTable("BUDGET", "SPENT|>", "LIMIT|>", "USED|>", "PROJECTED|>", "RESETS", "RUNS OUT")
	for _, s := range st {
		out := "not this period"
		if s.RunsOutAt != nil {
			out = s.RunsOutAt.UTC().Format("Jan 02 15:04")
		}
		resets := "rolling"
		if !strings.HasPrefix(s.Period, "rolling") {
			resets = s.PeriodEnd.UTC().Format("Jan 02")
		}
		t.add(s.Name, shortAmount(s.USD, s.Spent), shortAmount(s.USD, s.Limit), fmt.Sprintf("%.0f%%", s.Percent),
			shortAmount(s.USD, s.Projected), resets, out)
	}
	return t.write(w)
}

// shortAmount formats a budget amount for people: dollars to the cent
// (the JSON keeps every digit) or a token count.
func shortAmount(usd bool, v int64) string {
	if !usd {
		return allot.GroupDigits(v) + " tokens"
	}
	return allot.Money(v).Dollars()
}

// untilAsWritten echoes a grant's end the way the user gave it: a date is
// the last day the grant counts (stored as the next midnight UTC), a time
// is exact; with no --until it is the end of the period.
func untilAsWritten(until string, t time.Time) string {
	if _, err := time.Parse("2006-01-02", until); err == nil {
		return "until the end of " + until + " (UTC)"
	}
	if until != "" {
		return "until " + until
	}
	return "until " + t.UTC().Format("2006-01-02 15:04") + " UTC (the end of the period)"
}

func newBudgetsGrantCmd(g *globals) *cobra.Command {
	var name, usd, until, reason string
	var tokens int64
	cmd := &cobra.Command{
		Use:   `grant --budget NAME (--usd 20 | --tokens N) [--until 2026-12-31] --reason "..."`,
		Short: "Raise a budget for a while (a top-up), recorded in the audit log",
		Long: `A grant raises a budget's limit until --until (a date is the end of that UTC
day; default the end of the current period). The running allot applies it
within seconds. Name one user's default budget as user-default:alice.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" || reason == "" {
				return allot.Errorf(allot.EInvalid, "name the budget with --budget and say why with --reason")
			}
			gr := allot.Grant{Budget: name, Tokens: tokens, Reason: reason}
			if usd != "" {
				m, err := allot.ParseUSD(usd)
				if err != nil {
					return allot.Errorf(allot.EInvalid, "--usd %q is not a dollar amount such as 20 or 12.50", usd)
				}
				gr.Amount = m
			}
			if until != "" {
				t, err := time.Parse("2006-01-02", until)
				if err != nil {
					if t, err = time.Parse(time.RFC3339, until); err != nil {
						return allot.Errorf(allot.EInvalid, "--until %q is not a date (2006-01-02) or time (RFC 3339)", until)
					}
				} else {
					t = t.AddDate(0, 0, 1)
				}
				gr.Until = t
			}
			ctx := cmd.Context()
			db, lr, err := cliRationer(ctx, g)
			if err != nil {
				return err
			}
			defer db.Close()
			gr, err = budget.CheckGrant(lr.Current(), gr)
			if err != nil {
				return err
			}
			if err := db.AddGrant(ctx, gr); err != nil {
				return fmt.Errorf("store grant: %w", err)
			}
			detail, _ := json.Marshal(gr)
			audit(ctx, db, "budget.grant", gr.Budget, string(detail))
			amount := allot.GroupDigits(gr.Tokens) + " tokens"
			if gr.Amount > 0 {
				amount = gr.Amount.Dollars()
			}
			fmt.Fprintf(cmd.OutOrStdout(), "granted %s to %s %s\n", amount, gr.Budget, untilAsWritten(until, gr.Until))
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "budget", "", "budget name")
	cmd.Flags().StringVar(&usd, "usd", "", "dollars to add (USD budgets)")
	cmd.Flags().Int64Var(&tokens, "tokens", 0, "tokens to add (token budgets)")
	cmd.Flags().StringVar(&until, "until", "", "last day (inclusive) or time the grant counts; default the end of the period")
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit log")
	return cmd
}

func newMeCmd(g *globals) *cobra.Command {
	var key, format string
	cmd := &cobra.Command{
		Use:   "me --key KEY [--format table|json]",
		Short: "Your own budgets, spend this month and what remains",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if key == "" {
				return allot.Errorf(allot.EInvalid, "give your allot key with --key (or ALLOT_KEY)")
			}
			ctx := cmd.Context()
			db, lr, err := cliRationer(ctx, g)
			if err != nil {
				return err
			}
			defer db.Close()
			p, err := db.PrincipalByKeyHash(ctx, allot.HashKey(key))
			if err != nil {
				return err
			}
			me, err := api.MeOf(ctx, lr.Current(), db, p, time.Now())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(me)
			}
			fmt.Fprintf(out, "%s (team %s, %s): %s calls, %s input and %s output tokens, %s since %s\n",
				me.User, me.Team, me.Role, allot.GroupDigits(me.Requests), allot.GroupDigits(me.InputTokens), allot.GroupDigits(me.OutputTokens),
				me.SpendUSD.Dollars(), me.PeriodStart.Format("Jan 02"))
			if me.RemainingUSD != nil {
				fmt.Fprintf(out, "remaining in your tightest budget: %s\n", me.RemainingUSD.Dollars())
			}
			return writeBudgetStatus(out, "table", me.Budgets)
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "your allot key (default $ALLOT_KEY)")
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	cmd.PreRun = func(*cobra.Command, []string) {
		if key == "" {
			key = os.Getenv("ALLOT_KEY")
		}
	}
	return cmd
}
