package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/config"
	"github.com/allot-dev/allot/postgres"
	"github.com/allot-dev/allot/sqlite"
)

// globals are the flags every subcommand shares.
type globals struct {
	configPath string
	database   string
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "allot",
		Short:         "Meter, price and ration every AI token your organization spends",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.configPath, "config", "", "config file (default ./allot.yaml when present)")
	root.PersistentFlags().StringVar(&g.database, "database", "", "SQLite database file or postgres:// URL (overrides the config's database)")
	root.AddCommand(
		newServeCmd(g), newDemoCmd(g), newApplyCmd(g), newKeysCmd(g),
		newReportCmd(g), newPricesCmd(g), newBudgetsCmd(g), newMeCmd(g),
		newAlertsCmd(g), newAuditCmd(g),
		newImportCmd(g), newPushCmd(g), newReconcileCmd(g), newMigrateCmd(g),
		newInsightsCmd(g), newTopCmd(g), newPricingPlansCmd(g), newExportCmd(g), newTasksCmd(g),
		newVersionCmd(),
		newAdminCmd(g),
	)
	root.Version = currentVersion()
	root.SetVersionTemplate("{{.Version}}\n")
	return root
}

// load reads the config, with --database applied.
func (g *globals) load() (config.Config, error) {
	cfg, err := config.Load(g.configPath)
	if err != nil {
		return cfg, err
	}
	if g.database != "" {
		cfg.Database = g.database
	}
	return cfg, nil
}

// isPostgres reports whether database names a PostgreSQL server.
func isPostgres(database string) bool {
	return strings.HasPrefix(database, "postgres://") || strings.HasPrefix(database, "postgresql://")
}

// openStore opens database: a postgres:// URL (migrated to the current
// schema) or a SQLite file, created when missing.
func openStore(ctx context.Context, database string) (allot.Store, error) {
	db, _, err := openDatabase(ctx, database)
	return db, err
}

// openDatabase is openStore that also returns the *postgres.DB when
// database is PostgreSQL (nil for SQLite), for what only PostgreSQL does
// and allot.Store therefore leaves out: budget counters shared by
// replicas, and ledger retention by monthly partitions.
func openDatabase(ctx context.Context, database string) (allot.Store, *postgres.DB, error) {
	if isPostgres(database) {
		db, err := postgres.Open(ctx, database, postgres.Options{Migrate: true})
		if err != nil {
			return nil, nil, fmt.Errorf("open PostgreSQL database: %w", err)
		}
		return db, db, nil
	}
	if err := checkSQLitePath(database, false); err != nil {
		return nil, nil, err
	}
	db, err := sqlite.Open(ctx, database) // its errors name the path already
	if err != nil {
		return nil, nil, err
	}
	return db, nil, nil
}

// checkSQLitePath says in one sentence why a SQLite database cannot be
// opened, before the driver answers with "unable to open database file
// (14)": a file that must exist and does not (commands that only read
// never create an empty database to report zeros from), a folder that
// does not exist, or a path that is a folder.
func checkSQLitePath(path string, mustExist bool) error {
	if path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil
	}
	if path == "" {
		return allot.Errorf(allot.EInvalid, "no database configured; pass --database or set database: in allot.yaml")
	}
	st, err := os.Stat(path)
	switch {
	case err == nil && st.IsDir():
		return allot.Errorf(allot.EInvalid, "%s is a folder, not an allot database; pass --database with the database file", path)
	case err == nil:
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return allot.Errorf(allot.EInvalid, "cannot open database %s: %v", path, errors.Unwrap(err))
	case mustExist:
		return allot.Errorf(allot.ENotFound, "no allot database at %s; run allot serve or allot apply first, or pass --database", path)
	}
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil {
		return allot.Errorf(allot.EInvalid, "cannot create database %s: the folder %s does not exist", path, dir)
	} else if !st.IsDir() {
		return allot.Errorf(allot.EInvalid, "cannot create database %s: %s is not a folder", path, dir)
	}
	return nil
}

// openStore loads the config and opens its existing database, whichever
// kind: the commands that read (and those that add to an org already
// applied) refuse to create one, so a typo in --database is an error
// rather than a report of zeros.
func (g *globals) openStore(ctx context.Context) (config.Config, allot.Store, error) {
	cfg, err := g.load()
	if err != nil {
		return cfg, nil, err
	}
	if !isPostgres(cfg.Database) {
		if err := checkSQLitePath(cfg.Database, true); err != nil {
			return cfg, nil, err
		}
	}
	db, err := openStore(ctx, cfg.Database)
	return cfg, db, err
}

// createStore is openStore for the commands that may start a database:
// apply and import (serve and demo open theirs in startServer).
func (g *globals) createStore(ctx context.Context) (config.Config, allot.Store, error) {
	cfg, err := g.load()
	if err != nil {
		return cfg, nil, err
	}
	db, err := openStore(ctx, cfg.Database)
	return cfg, db, err
}
