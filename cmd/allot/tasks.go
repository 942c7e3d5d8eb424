package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/api"
	"github.com/allot-dev/allot/insights"
)

func newTasksCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tasks",
		Short: "Name the tasks of calls that declare none, by their system prompt",
		Long: `Most tools cannot send X-Allot-Task. allot tasks untagged lists the system
prompts (by fingerprint) of untagged calls with their spend; allot tasks label
names one, and the gateway then tags new calls sending it; allot tasks relabel
moves past untagged calls with a labelled prompt to their task.`,
	}
	cmd.AddCommand(newTasksUntaggedCmd(g), newTasksLabelCmd(g), newTasksLabelsCmd(g), newTasksRelabelCmd(g))
	return cmd
}

// readTaskLabels reads the stored fingerprint labels.
func readTaskLabels(ctx context.Context, store allot.Directory) (allot.TaskLabels, error) {
	b, err := store.Setting(ctx, allot.TaskLabelsSetting)
	if err != nil {
		return nil, fmt.Errorf("read task labels: %w", err)
	}
	return allot.ParseTaskLabels(b)
}

func newTasksUntaggedCmd(g *globals) *cobra.Command {
	var period, format string
	var limit int
	cmd := &cobra.Command{
		Use:   "untagged [--period 30d] [--limit 20] [--format table|json]",
		Short: "Spend without a task, and the system prompts that carry most of it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			days, err := insights.ParseDays(period)
			if err != nil {
				return err
			}
			if format != "table" && format != "json" {
				return allot.Errorf(allot.EInvalid, "unknown format %q; use table or json", format)
			}
			ctx := cmd.Context()
			_, db, err := g.openStore(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			p := insights.LastDays(time.Now(), days)
			q := allot.InsightQuery{From: p.From, To: p.To}
			usage, err := db.InsightUsage(ctx, q)
			if err != nil {
				return err
			}
			prompts, err := db.PromptUsage(ctx, q)
			if err != nil {
				return err
			}
			labels, err := readTaskLabels(ctx, db)
			if err != nil {
				return err
			}
			r := insights.Untagged(usage, prompts, labels, p, limit)
			if format == "json" {
				return insights.WriteJSON(cmd.OutOrStdout(), r)
			}
			return insights.WriteUntagged(cmd.OutOrStdout(), r)
		},
	}
	cmd.Flags().StringVar(&period, "period", "30d", "how far back: days (30d) or weeks (4w)")
	cmd.Flags().IntVar(&limit, "limit", 20, "at most this many prompts (0: all)")
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	return cmd
}

func newTasksLabelCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "label FINGERPRINT NAME",
		Short: "Name the task of calls sending this system prompt (NAME \"-\" removes the label)",
		Long: `Label a system prompt fingerprint (from allot tasks untagged) with a task name.
A running gateway tags new untagged calls that send it; run allot tasks relabel
to move past ones. Calls that declare a task keep it.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			fp, err := allot.ParseFingerprint(args[0])
			if err != nil {
				return err
			}
			name := strings.TrimSpace(args[1])
			if name == "" || name == allot.UntaggedTask {
				return allot.Errorf(allot.EInvalid, "task name %q cannot be a label; give a name such as code-review, or - to remove the label", args[1])
			}
			ctx := cmd.Context()
			_, db, err := g.openStore(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			labels, err := readTaskLabels(ctx, db)
			if err != nil {
				return err
			}
			if name == "-" {
				delete(labels, fp)
			} else {
				labels[fp] = name
			}
			b, err := json.Marshal(labels)
			if err != nil {
				return err
			}
			if err := db.SetSetting(ctx, allot.TaskLabelsSetting, b); err != nil {
				return err
			}
			audit(ctx, db, "task.label", allot.FormatFingerprint(fp), name)
			if name == "-" {
				fmt.Fprintf(cmd.OutOrStdout(), "removed the label of %s\n", allot.FormatFingerprint(fp))
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "calls sending system prompt %s are now task %q; run allot tasks relabel for past calls\n", allot.FormatFingerprint(fp), name)
			}
			return nil
		},
	}
}

func newTasksLabelsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "labels",
		Short: "List the fingerprint labels",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, db, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			labels, err := readTaskLabels(cmd.Context(), db)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "FINGERPRINT\tTASK")
			for _, fp := range labels.Sorted() {
				fmt.Fprintf(tw, "%s\t%s\n", allot.FormatFingerprint(fp), labels[fp])
			}
			return tw.Flush()
		},
	}
}

func newTasksRelabelCmd(g *globals) *cobra.Command {
	var from, to string
	cmd := &cobra.Command{
		Use:   "relabel [--from DATE] [--to DATE]",
		Short: "Give past untagged calls the task their system prompt is labelled with",
		Long: `Move past untagged calls whose system prompt has a label to that task, and
rebuild the reports and insight aggregates of the days they fall on. Calls
that declared a task keep it; rules over prompt text apply only to new calls
(no text is stored). Default range: the last 30 days; --to is inclusive.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
			labels, err := readTaskLabels(ctx, db)
			if err != nil {
				return err
			}
			if len(labels) == 0 {
				return allot.Errorf(allot.EInvalid, "no labels yet; name a prompt with allot tasks label FINGERPRINT NAME (see allot tasks untagged)")
			}
			n, err := db.RelabelTasks(ctx, labels, start, end)
			if err != nil {
				return err
			}
			audit(ctx, db, "task.relabel", fmt.Sprintf("%s..%s", start.Format(time.RFC3339), end.Format(time.RFC3339)), fmt.Sprintf("%d events", n))
			fmt.Fprintf(cmd.OutOrStdout(), "relabelled %d calls\n", n)
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "start date (2006-01-02) or time")
	cmd.Flags().StringVar(&to, "to", "", "end date (inclusive) or time (exclusive)")
	return cmd
}
