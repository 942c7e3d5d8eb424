package main

import (
	"context"
	"fmt"
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
		newAdminCmd(g),
	)
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
// schema) or a SQLite file.
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
	db, err := sqlite.Open(ctx, database)
	if err != nil {
		return nil, nil, fmt.Errorf("open database %s: %w", database, err)
	}
	return db, nil, nil
}

// openStore loads the config and opens its database, whichever kind.
func (g *globals) openStore(ctx context.Context) (config.Config, allot.Store, error) {
	cfg, err := g.load()
	if err != nil {
		return cfg, nil, err
	}
	db, err := openStore(ctx, cfg.Database)
	return cfg, db, err
}
