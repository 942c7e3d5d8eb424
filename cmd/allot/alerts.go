package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/api"
)

func newAlertsCmd(g *globals) *cobra.Command {
	var from, to, format string
	var limit int
	cmd := &cobra.Command{
		Use:   "alerts [--from DATE] [--to DATE] [--format table|json]",
		Short: "Budget alerts: thresholds crossed, downgrades and refusals, newest first",
		Long: `List the notices allot raised: a budget crossing one of its alert_at
percentages, starting to downgrade calls, or starting to refuse them. Each is
raised once per budget (and threshold) and period, stored here, and delivered
to the webhooks in allot.yaml.
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
			var store allot.NoticeStore = db
			notices, err := store.Notices(cmd.Context(), start, end, max(limit, 0))
			if err != nil {
				return fmt.Errorf("list alerts: %w", err)
			}
			return writeNotices(cmd.OutOrStdout(), format, notices)
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "start date (2006-01-02) or time")
	cmd.Flags().StringVar(&to, "to", "", "end date (inclusive) or time (exclusive)")
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many, newest first (0: all)")
	return cmd
}

// checkListFormat accepts the formats of the alerts and audit listings.
func checkListFormat(format string) error {
	switch format {
	case "table", "", "json":
		return nil
	}
	return allot.Errorf(allot.EInvalid, "unknown format %q; use table or json", format)
}

// writeJSON writes v indented, as the JSON formats of the CLI do.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeNotices prints notices as a JSON array (every field) or an
// 80-column table with one summary per notice.
func writeNotices(w io.Writer, format string, notices []allot.Notice) error {
	if format == "json" {
		if notices == nil {
			notices = []allot.Notice{}
		}
		return writeJSON(w, notices)
	}
	if len(notices) == 0 {
		_, err := fmt.Fprintln(w, "no alerts in this range; widen it with --from and --to")
		return err
	}
	t := newTable("TIME (UTC)", "KIND", "BUDGET", "USER", "WHAT")
	t.wrap = tableWidth
	for _, n := range notices {
		user := n.User
		if user == "" {
			user = "-"
		}
		t.add(n.Time.UTC().Format("2006-01-02 15:04"), string(n.Kind), n.Budget, user, api.NoticeSummary(n))
	}
	return t.write(w)
}
