package main

import (
	"context"
	"fmt"
	"strings"
	"time"

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

// store is what allot keeps in its database, SQLite or PostgreSQL.
type store interface {
	allot.Store
	allot.UsageByHour
	// Events lists events in [from, to), oldest first, at most limit.
	Events(ctx context.Context, from, to time.Time, limit int) ([]allot.Event, error)
}

// isPostgres reports whether database names a PostgreSQL server.
func isPostgres(database string) bool {
	return strings.HasPrefix(database, "postgres://") || strings.HasPrefix(database, "postgresql://")
}

// openStore opens database: a postgres:// URL (migrated to the current
// schema) or a SQLite file.
func openStore(ctx context.Context, database string) (store, error) {
	if isPostgres(database) {
		db, err := postgres.Open(ctx, database, postgres.Options{Migrate: true})
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL database: %w", err)
		}
		return db, nil
	}
	db, err := sqlite.Open(ctx, database)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", database, err)
	}
	return db, nil
}

// openStore loads the config and opens its database, whichever kind.
func (g *globals) openStore(ctx context.Context) (config.Config, store, error) {
	cfg, err := g.load()
	if err != nil {
		return cfg, nil, err
	}
	db, err := openStore(ctx, cfg.Database)
	return cfg, db, err
}

// insightStore is a store that also keeps the aggregates insights are
// computed from.
type insightStore interface {
	store
	allot.InsightSource
	// PromptUsage sums the calls per system prompt fingerprint.
	PromptUsage(ctx context.Context, q allot.InsightQuery) ([]allot.PromptUsage, error)
	// RelabelTasks moves past untagged calls with a labelled prompt to their task.
	RelabelTasks(ctx context.Context, labels allot.TaskLabels, from, to time.Time) (int64, error)
}

// Both stores keep insight aggregates.
var (
	_ insightStore = (*sqlite.DB)(nil)
	_ insightStore = (*postgres.DB)(nil)
)

// openInsightStore loads the config and opens its database for the commands
// that read insight aggregates.
func (g *globals) openInsightStore(ctx context.Context) (config.Config, insightStore, error) {
	cfg, db, err := g.openStore(ctx)
	if err != nil {
		return cfg, nil, err
	}
	is, ok := db.(insightStore)
	if !ok {
		db.Close()
		return cfg, nil, allot.Errorf(allot.EInvalid, "this database keeps no insight aggregates; insights need the SQLite or PostgreSQL store of this version")
	}
	return cfg, is, nil
}
