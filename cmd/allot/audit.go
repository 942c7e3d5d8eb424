package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/api"
)

func newAuditCmd(g *globals) *cobra.Command {
	var from, to, format string
	var limit int
	cmd := &cobra.Command{
		Use:   "audit [--from DATE] [--to DATE] [--format table|json]",
		Short: "Who changed the org, keys, budgets and grants, newest first",
		Long: `List the audit log: every allot apply, key created or revoked, budget
edited and grant given, with who did it (cli:<os user> for the CLI, the
admin's name for the API).
Dates are UTC days and --to is inclusive (default: the last 30 days);
RFC 3339 times are exact and --to is then exclusive.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkListFormat(format); err != nil {
				return err
			}
			start, end, err := api.ParseRange(from, to, time.Now().UTC())
			if err != nil {
				return err
			}
			_, db, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			var log allot.AuditLog = db
			entries, err := log.AuditEntries(cmd.Context(), start, end, max(limit, 0))
			if err != nil {
				return fmt.Errorf("list audit log: %w", err)
			}
			return writeAudit(cmd.OutOrStdout(), format, entries)
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "start date (2006-01-02) or time")
	cmd.Flags().StringVar(&to, "to", "", "end date (inclusive) or time (exclusive)")
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many, newest first (0: all)")
	return cmd
}

// writeAudit prints audit entries as a JSON array or an 80-column table.
func writeAudit(w io.Writer, format string, entries []allot.AuditEntry) error {
	if format == "json" {
		if entries == nil {
			entries = []allot.AuditEntry{}
		}
		return writeJSON(w, entries)
	}
	if len(entries) == 0 {
		_, err := fmt.Fprintln(w, "no audit entries in this range; widen it with --from and --to")
		return err
	}
	rows := [][]string{{"TIME", "ACTOR", "ACTION", "TARGET", "DETAIL"}}
	for _, e := range entries {
		detail := e.Detail
		if detail == "" {
			detail = "-"
		}
		rows = append(rows, []string{e.Time.UTC().Format("Jan 02 15:04"), clipRunes(e.Actor, 12), clipRunes(e.Action, 14), clipRunes(e.Target, 16), detail})
	}
	return writeFitTable(w, rows)
}
