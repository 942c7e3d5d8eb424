package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/postgres"
	"github.com/allot-dev/allot/sqlite"
)

// isPostgresURL reports whether a database setting names PostgreSQL.
func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

func newMigrateCmd(g *globals) *cobra.Command {
	var from, to, schema string
	var batch int
	cmd := &cobra.Command{
		Use:   "migrate [--from sqlite:FILE] [--to postgres://…]",
		Short: "Bring the database schema up to date, or copy a SQLite database into PostgreSQL",
		Long: `Without --from, apply the pending schema migrations to the configured
database (or --to): PostgreSQL needs this before the first start and after
an upgrade; replicas starting at once are safe, one applies and the others wait.

With --from sqlite:FILE --to postgres://USER@HOST:5432/DB, copy everything
from the SQLite file into PostgreSQL: org, teams, users (deactivated ones
too), keys with their hashes (so they keep working), settings, every usage
event (in batches), the audit log, grants and notices. Nothing is lost or
counted twice: run it again, even after an interruption, and it adds only
what is missing. Stop the gateway (or point it at PostgreSQL) before the
final run so no event arrives in SQLite afterwards.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo}))
			target := to
			if target == "" {
				cfg, err := g.load()
				if err != nil {
					return err
				}
				target = cfg.Database
			}
			if from == "" {
				return migrateSchema(ctx, out, logger, target, schema)
			}
			src, ok := strings.CutPrefix(from, "sqlite:")
			if !ok && isPostgresURL(from) {
				return allot.Errorf(allot.EInvalid, "--from %q: only a SQLite file can be copied; write --from sqlite:./allot.db", from)
			}
			if !isPostgresURL(target) {
				return allot.Errorf(allot.EInvalid, "the database to copy into (%q) is not PostgreSQL; give --to postgres://USER@HOST:5432/DB", target)
			}
			if err := checkSQLitePath(src, true); err != nil {
				var e *allot.Error
				if errors.As(err, &e) {
					err = errors.New(e.Message)
				}
				return allot.Errorf(allot.EInvalid, "--from %q: %v; give the SQLite file to copy, e.g. --from sqlite:./allot.db", from, err)
			}
			lite, err := sqlite.Open(ctx, src)
			if err != nil {
				return err
			}
			defer lite.Close()
			pg, err := postgres.Open(ctx, target, postgres.Options{Schema: schema, Migrate: true, Logger: logger})
			if err != nil {
				return err
			}
			defer pg.Close()
			return copyToPostgres(ctx, out, newProgress(cmd.ErrOrStderr(), "events"), lite, pg, batch)
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "copy from this SQLite database (sqlite:FILE)")
	cmd.Flags().StringVar(&to, "to", "", "the PostgreSQL database (postgres://…); default the configured database")
	cmd.Flags().StringVar(&schema, "schema", "", "PostgreSQL schema (default the URL's search_path, else public)")
	cmd.Flags().IntVar(&batch, "batch", 5000, "events per batch when copying")
	return cmd
}

// migrateSchema applies pending migrations to the database target.
func migrateSchema(ctx context.Context, out io.Writer, logger *slog.Logger, target, schema string) error {
	if !isPostgresURL(target) {
		path := strings.TrimPrefix(target, "sqlite:")
		db, err := sqlite.Open(ctx, path) // SQLite brings its schema up to date at every open
		if err != nil {
			return err
		}
		db.Close()
		fmt.Fprintf(out, "SQLite database %s is up to date\n", path)
		return nil
	}
	db, err := postgres.Open(ctx, target, postgres.Options{Schema: schema, Migrate: true, Logger: logger})
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintf(out, "PostgreSQL schema %s is up to date\n", db.Schema())
	return nil
}

// copyToPostgres copies everything in src into dst, adding only what dst
// lacks, and checks that the ledgers' totals then agree. prog shows the
// events copied against the source's total.
func copyToPostgres(ctx context.Context, out io.Writer, prog *progress, src *sqlite.DB, dst *postgres.DB, batch int) error {
	if batch <= 0 {
		batch = 5000
	}
	// The directory first: events name users, keys need their users.
	var d postgres.Directory
	var err error
	if d.Org, err = src.OrgName(ctx); err != nil {
		return err
	}
	if d.Teams, err = src.Teams(ctx); err != nil {
		return err
	}
	users, err := src.AllUsers(ctx)
	if err != nil {
		return err
	}
	for _, u := range users {
		d.Users = append(d.Users, postgres.UserRecord{User: u.User, Active: u.Active, Source: u.Source})
	}
	if d.Keys, err = src.Keys(ctx, ""); err != nil {
		return err
	}
	if err := dst.ImportDirectory(ctx, d); err != nil {
		return err
	}
	fmt.Fprintf(out, "directory: %d teams, %d users, %d keys\n", len(d.Teams), len(d.Users), len(d.Keys))

	settings, err := src.Settings(ctx)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(settings))
	for name := range settings {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := dst.SetSetting(ctx, name, settings[name]); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "settings: %d\n", len(names))

	var read, added int
	var first, last time.Time
	if all, err := src.Report(ctx, allot.ReportQuery{From: time.Unix(0, 0), To: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}); err == nil {
		var total int64
		for _, r := range all {
			total = allot.SatAdd(total, r.Requests)
		}
		prog.setTotal(total)
	}
	for after := int64(0); ; {
		evs, next, err := src.EventsAfter(ctx, after, batch)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			break
		}
		n, err := dst.Append(ctx, evs)
		if err != nil {
			return fmt.Errorf("copy events after #%d: %w", after, err)
		}
		for _, e := range evs {
			if first.IsZero() || e.Time.Before(first) {
				first = e.Time
			}
			if e.Time.After(last) {
				last = e.Time
			}
		}
		read, added, after = read+len(evs), added+n, next
		prog.addRows(len(evs))
	}
	prog.finish()
	fmt.Fprintf(out, "events: %d read, %d new\n", read, added)

	far := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	entries, err := src.AuditEntries(ctx, time.Time{}, far, 0)
	if err != nil {
		return err
	}
	slices.Reverse(entries) // oldest first, so they keep their order
	n, err := dst.ImportAudit(ctx, entries)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "audit log: %d entries, %d new\n", len(entries), n)
	grants, err := src.Grants(ctx, time.Time{}) // at the zero time nothing has expired: all of them
	if err != nil {
		return err
	}
	if n, err = dst.ImportGrants(ctx, grants); err != nil {
		return err
	}
	fmt.Fprintf(out, "grants: %d, %d new\n", len(grants), n)
	notices, err := src.Notices(ctx, time.Time{}, far, 0)
	if err != nil {
		return err
	}
	n = 0
	for _, no := range notices {
		added, err := dst.AddNotice(ctx, no)
		if err != nil {
			return err
		}
		if added {
			n++
		}
	}
	fmt.Fprintf(out, "notices: %d, %d new\n", len(notices), n)

	if read == 0 {
		return nil
	}
	q := allot.ReportQuery{From: first.Truncate(time.Hour), To: last.Truncate(time.Hour).Add(time.Hour)}
	a, err := src.Report(ctx, q)
	if err != nil {
		return err
	}
	b, err := dst.Report(ctx, q)
	if err != nil {
		return err
	}
	if len(a) != 1 || len(b) != 1 || a[0].Requests != b[0].Requests || a[0].Cost != b[0].Cost || a[0].Tokens != b[0].Tokens {
		return fmt.Errorf("copy check: the SQLite ledger holds %v but PostgreSQL %v from %s to %s; events may have arrived in PostgreSQL from elsewhere",
			a, b, q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	fmt.Fprintf(out, "checked: both ledgers hold %d requests costing $%s from %s to %s\n", a[0].Requests, a[0].Cost,
		q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	return nil
}
