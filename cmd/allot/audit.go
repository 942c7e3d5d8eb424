package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
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
	t := newTable("TIME (UTC)", "ACTOR", "ACTION", "TARGET", "DETAIL")
	t.wrap = tableWidth
	for _, e := range entries {
		t.add(e.Time.UTC().Format("2006-01-02 15:04"), e.Actor, e.Action, e.Target, auditDetail(e.Detail))
	}
	return t.write(w)
}

// auditDetail turns an entry's detail, a JSON object as stored, into
// key=value pairs for a terminal, sorted by key. Any other detail is
// shown as stored. The exact detail stays in --format json.
func auditDetail(detail string) string {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(detail), &obj); err != nil || len(obj) == 0 {
		return detail
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+auditValue(k, obj[k]))
	}
	return strings.Join(parts, " ")
}

// auditValue writes one detail value: dollars to the cent for *_usd
// amounts, times in UTC to the minute, strings bare, anything else as
// compact JSON.
func auditValue(key string, raw json.RawMessage) string {
	var str string
	if json.Unmarshal(raw, &str) == nil {
		if t, err := time.Parse(time.RFC3339Nano, str); err == nil {
			return t.UTC().Format("2006-01-02T15:04Z")
		}
		return str
	}
	if strings.HasSuffix(key, "_usd") {
		if m, err := allot.ParseUSD(string(raw)); err == nil {
			return m.Dollars()
		}
	}
	var c bytes.Buffer
	if json.Compact(&c, raw) == nil {
		return c.String()
	}
	return string(raw)
}
