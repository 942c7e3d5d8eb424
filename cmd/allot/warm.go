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

// warmStore reads the last warmDays of rollups once, so the stores' report
// caches hold them (a cold month-long report takes up to a second on 10
// million events, a warm one milliseconds), and prepares the insight
// aggregates where the store keeps them. It runs in the background after
// start; failures are only logged: reports then read what they need.
func warmStore(ctx context.Context, r allot.Reporter, logger *slog.Logger) {
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
	logger.Info("store warmed", "days", warmDays, "took", time.Since(t0).Round(time.Millisecond))
}
