package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// A month is numbered year*12 + (month-1), UTC; its partition is named
// events_pYYYYMM and holds [first day 00:00 UTC, next month's first day).

// monthOf returns the month number of t.
func monthOf(t time.Time) int {
	t = t.UTC()
	return t.Year()*12 + int(t.Month()) - 1
}

// monthStart returns the first instant of month m.
func monthStart(m int) time.Time {
	return time.Date(m/12, time.Month(m%12+1), 1, 0, 0, 0, 0, time.UTC)
}

// partitionName names the partition of month m.
func partitionName(m int) string {
	return fmt.Sprintf("events_p%04d%02d", m/12, m%12+1)
}

// parsePartition reads a month back from a partition name.
func parsePartition(name string) (int, bool) {
	s, ok := strings.CutPrefix(name, "events_p")
	if !ok || len(s) != 6 {
		return 0, false
	}
	y, err1 := strconv.Atoi(s[:4])
	mo, err2 := strconv.Atoi(s[4:])
	if err1 != nil || err2 != nil || mo < 1 || mo > 12 {
		return 0, false
	}
	return y*12 + mo - 1, true
}

// ensurePartitions makes sure every month in months has its partition.
// Creating one takes a lock on the events table, so it happens in its own
// short transaction before the batch's, under an advisory lock so that
// replicas meeting a new month at once create it once.
func (db *DB) ensurePartitions(ctx context.Context, months []int) error {
	db.partMu.Lock()
	var missing []int
	for _, m := range months {
		if !db.parts[m] && !slices.Contains(missing, m) {
			missing = append(missing, m)
		}
	}
	db.partMu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		// Wait for days being closed, and keep new closings out until
		// the drop committed (see closeDay).
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, db.lockID("retention")); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, db.lockID("partitions")); err != nil {
			return err
		}
		have, err := db.partitions(ctx, tx)
		if err != nil {
			return err
		}
		for _, m := range missing {
			if have[m] {
				continue
			}
			from, to := monthStart(m), monthStart(m+1)
			ddl := fmt.Sprintf(`CREATE TABLE %s PARTITION OF events FOR VALUES FROM ('%s') TO ('%s')`,
				pgx.Identifier{db.schema, partitionName(m)}.Sanitize(), from.Format(time.RFC3339), to.Format(time.RFC3339))
			if _, err := tx.Exec(ctx, ddl); err != nil {
				return fmt.Errorf("create partition %s: %w", partitionName(m), err)
			}
			db.logger.Info("created ledger partition", "schema", db.schema, "partition", partitionName(m))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ledger partitions: %w", err)
	}
	db.partMu.Lock()
	for _, m := range missing {
		db.parts[m] = true
	}
	db.partMu.Unlock()
	return nil
}

// forgetPartitions empties the cache of known partitions, after another
// replica may have dropped some.
func (db *DB) forgetPartitions() {
	db.partMu.Lock()
	clear(db.parts)
	db.partMu.Unlock()
}

// partitions lists the months that have a partition.
func (db *DB) partitions(ctx context.Context, q querier) (map[int]bool, error) {
	rows, err := q.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = to_regclass($1)`, pgx.Identifier{db.schema, "events"}.Sanitize())
	if err != nil {
		return nil, err
	}
	out := map[int]bool{}
	var name string
	_, err = pgx.ForEachRow(rows, []any{&name}, func() error {
		if m, ok := parsePartition(name); ok {
			out[m] = true
		}
		return nil
	})
	return out, err
}

// DropBefore drops every monthly partition of the ledger that ends at or
// before t, with the rollups of those months, in one transaction: the
// retention policy (ledger_retention). It returns how many months were
// dropped. Dropping a partition is instant, unlike deleting its rows.
// Unpriced totals, being all-time, keep what they counted.
func (db *DB) DropBefore(ctx context.Context, t time.Time) (int, error) {
	dropped := 0
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		// Wait for days being closed, and keep new closings out until
		// the drop committed (see closeDay).
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, db.lockID("retention")); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, db.lockID("partitions")); err != nil {
			return err
		}
		have, err := db.partitions(ctx, tx)
		if err != nil {
			return err
		}
		var months []int
		for m := range have {
			if !monthStart(m + 1).After(t) {
				months = append(months, m)
			}
		}
		if len(months) == 0 {
			return nil
		}
		slices.Sort(months)
		for _, m := range months {
			if _, err := tx.Exec(ctx, `DROP TABLE `+pgx.Identifier{db.schema, partitionName(m)}.Sanitize()); err != nil {
				return fmt.Errorf("drop partition %s: %w", partitionName(m), err)
			}
		}
		end := monthStart(months[len(months)-1] + 1)
		hour := end.Unix() / 3600
		for _, table := range []string{"rollups_hourly", "rollups_hours", "insight_calls", "insight_extras", "insight_prompts", "insight_dirty"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE hour < $1`, hour); err != nil {
				return fmt.Errorf("drop hourly rollups: %w", err)
			}
		}
		for _, table := range []string{"rollups_daily", "rollups_user_daily", "rollups_days"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE day < $1`, hour/24); err != nil {
				return fmt.Errorf("drop daily rollups: %w", err)
			}
		}
		dropped = len(months)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("drop ledger before %s: %w", t.Format(time.RFC3339), err)
	}
	if dropped > 0 {
		db.forgetPartitions()
		db.logger.Info("dropped ledger partitions", "schema", db.schema, "months", dropped, "before", t.UTC().Format(time.RFC3339))
	}
	return dropped, nil
}

// KeepRetention drops the ledger's months older than keep at once and
// then daily, until ctx ends: the retention policy (ledger_retention). A
// failure is logged and tried again the next day; DropBefore logs what
// it dropped.
func (db *DB) KeepRetention(ctx context.Context, keep time.Duration) {
	for {
		if _, err := db.DropBefore(ctx, time.Now().Add(-keep)); err != nil && ctx.Err() == nil {
			db.logger.Error("ledger retention", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(24 * time.Hour):
		}
	}
}
