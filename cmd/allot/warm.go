package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/allot-dev/allot"
)

// warmDays is how far back a starting server reads its store ahead of the
// first visitor: the dashboard's default range is 30 days.
const warmDays = 35

// insightWarmer is a store that can prepare its insight aggregates ahead
// of time (the SQLite store packs past days).
type insightWarmer interface {
	WarmInsights(ctx context.Context, days int) error
}

// warmEvery is how often a running server warms its store again: after
// midnight UTC (a new period) or a late call into a past day, the next
// org insights would otherwise rebuild their sums while someone waits.
// Warming a store that is warm already costs milliseconds.
const warmEvery = 5 * time.Minute

// keepWarm warms the store at start and then every every, until ctx ends.
func keepWarm(ctx context.Context, r allot.Reporter, logger *slog.Logger, every time.Duration) {
	warmStore(ctx, r, logger, slog.LevelInfo)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			warmStore(ctx, r, logger, slog.LevelDebug)
		}
	}
}

// warmStore reads the last warmDays of rollups once, so the stores' report
// caches hold them (a cold month-long report takes up to a second on 10
// million events, a warm one milliseconds), and prepares the insight
// aggregates where the store keeps them, logging success at level. It
// runs in the background; failures are only logged: reports then read
// what they need.
func warmStore(ctx context.Context, r allot.Reporter, logger *slog.Logger, level slog.Level) {
	t0 := time.Now()
	end := time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	if _, err := r.Report(ctx, allot.ReportQuery{From: end.AddDate(0, 0, -warmDays), To: end}); err != nil {
		if ctx.Err() == nil {
			logger.Warn("warm the report cache", "err", err)
		}
		return
	}
	if w, ok := r.(insightWarmer); ok {
		if err := w.WarmInsights(ctx, warmDays); err != nil {
			if ctx.Err() == nil {
				logger.Warn("warm the insight aggregates", "err", err)
			}
			return
		}
	}
	logger.Log(ctx, level, "store warmed", "days", warmDays, "took", time.Since(t0).Round(time.Millisecond))
}
