package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/allot-dev/allot/config"
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
	root.PersistentFlags().StringVar(&g.database, "database", "", "SQLite database file (overrides the config's database)")
	root.AddCommand(
		newServeCmd(g), newDemoCmd(g), newApplyCmd(g), newKeysCmd(g),
		newReportCmd(g), newPricesCmd(g), newBudgetsCmd(g), newMeCmd(g),
		newAlertsCmd(g), newAuditCmd(g),
		newImportCmd(g), newPushCmd(g), newReconcileCmd(g), newMigrateCmd(g),
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

// open loads the config and opens its database.
func (g *globals) open(ctx context.Context) (config.Config, *sqlite.DB, error) {
	cfg, err := g.load()
	if err != nil {
		return cfg, nil, err
	}
	db, err := sqlite.Open(ctx, cfg.Database)
	if err != nil {
		return cfg, nil, fmt.Errorf("open database %s: %w", cfg.Database, err)
	}
	return cfg, db, nil
}
