// Package warm keeps a store's report cache and insight aggregates warm,
// so the first dashboard after a restart, or after midnight UTC, reads
// them from memory instead of rebuilding them while someone waits. Both
// stores are warmed the same way, through allot.Store's Reporter and
// Warmer.
package warm

import (
	"context"
	"log/slog"
	"time"

	"github.com/allot-dev/allot"
)

// Days is how far back a starting server reads its store ahead of the
// first visitor: the dashboard's default range is 30 days.
const Days = 35

// Store is what warming reads: reports, and the insight aggregates.
type Store interface {
	allot.Reporter
	allot.Warmer
}

// Every is how often a running server warms its store again: after
// midnight UTC (a new period) or a late call into a past day, the next
// org insights would otherwise rebuild their sums while someone waits.
// Warming a store that is warm already costs milliseconds.
const Every = 5 * time.Minute

// Keep warms the store at start and then every every, until ctx ends.
func Keep(ctx context.Context, r Store, logger *slog.Logger, every time.Duration) {
	Once(ctx, r, logger, slog.LevelInfo)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			Once(ctx, r, logger, slog.LevelDebug)
		}
	}
}

// Once reads the last Days of rollups once, so the stores' report caches
// hold them (a cold month-long report takes up to a second on 10 million
// events, a warm one milliseconds), and prepares the insight aggregates,
// logging success at level. It runs in the background; failures are only
// logged: reports then read what they need.
func Once(ctx context.Context, r Store, logger *slog.Logger, level slog.Level) {
	t0 := time.Now()
	end := time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	if _, err := r.Report(ctx, allot.ReportQuery{From: end.AddDate(0, 0, -Days), To: end}); err != nil {
		if ctx.Err() == nil {
			logger.Warn("warm the report cache", "err", err)
		}
		return
	}
	if err := r.WarmInsights(ctx, Days); err != nil {
		if ctx.Err() == nil {
			logger.Warn("warm the insight aggregates", "err", err)
		}
		return
	}
	logger.Log(ctx, level, "store warmed", "days", Days, "took", time.Since(t0).Round(time.Millisecond))
}
