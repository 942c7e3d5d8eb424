package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
)

// A daily_totals blob lists, in increasing attrs id, one entry per
// attribution active that day: the id as the unsigned varint difference
// from the previous id, then the ten sums as signed varints.

// dailyEntry is one attribution's totals for a day.
type dailyEntry struct {
	attr int64
	sums sums
}

// encodeDaily packs entries, which must be sorted by attr.
func encodeDaily(entries []dailyEntry) []byte {
	b := make([]byte, 0, len(entries)*24)
	var prev int64
	for _, e := range entries {
		b = binary.AppendUvarint(b, uint64(e.attr-prev))
		prev = e.attr
		for _, v := range e.sums {
			b = binary.AppendVarint(b, v)
		}
	}
	return b
}

var errBadDaily = errors.New("corrupt daily totals blob")

// decodeDaily calls fn for every entry of b.
func decodeDaily(b []byte, fn func(attr int64, s *sums)) error {
	var attr int64
	var s sums
	for len(b) > 0 {
		d, n := binary.Uvarint(b)
		if n <= 0 {
			return errBadDaily
		}
		b = b[n:]
		attr += int64(d)
		for i := range s {
			v, n := binary.Varint(b)
			if n <= 0 {
				return errBadDaily
			}
			s[i] = v
			b = b[n:]
		}
		fn(attr, &s)
	}
	return nil
}

// ensureDaily makes sure daily_totals holds every day in [from, to), all of
// them before today: it sums the missing ones from rollups_hourly, in one
// write transaction so that no Append can slip in between reading the
// hours and storing their total.
func (db *DB) ensureDaily(ctx context.Context, from, to int64) error {
	if from >= to {
		return nil
	}
	missing, err := missingDays(ctx, db.r, from, to)
	if err != nil || len(missing) == 0 {
		return err
	}
	db.wmu.Lock()
	defer db.wmu.Unlock()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("daily totals: %w", err)
	}
	defer tx.Rollback()
	if missing, err = missingDays(ctx, tx, from, to); err != nil || len(missing) == 0 {
		return err
	}
	lo, hi := missing[0], missing[len(missing)-1]+1
	byDay := map[int64][]dailyEntry{}
	err = eachRow(ctx, tx, `SELECT hour / 24, attr, `+sumOfSumColumns+` FROM rollups_hourly
		WHERE hour >= ? AND hour < ? GROUP BY 1, 2 ORDER BY 1, 2`, []any{lo * 24, hi * 24}, func(rows *sql.Rows) error {
		var day int64
		var e dailyEntry
		s := &e.sums
		if err := rows.Scan(&day, &e.attr, &s[0], &s[1], &s[2], &s[3], &s[4], &s[5], &s[6], &s[7], &s[8], &s[9]); err != nil {
			return err
		}
		byDay[day] = append(byDay[day], e)
		return nil
	})
	if err != nil {
		return fmt.Errorf("daily totals: %w", err)
	}
	for _, day := range missing {
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO daily_totals (day, data) VALUES (?, ?)`, day, encodeDaily(byDay[day])); err != nil {
			return fmt.Errorf("daily totals: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("daily totals: %w", err)
	}
	return nil
}

// missingDays lists the days in [from, to) that daily_totals lacks.
func missingDays(ctx context.Context, q querier, from, to int64) ([]int64, error) {
	have := map[int64]bool{}
	err := eachRow(ctx, q, `SELECT day FROM daily_totals WHERE day >= ? AND day < ?`, []any{from, to}, func(rows *sql.Rows) error {
		var d int64
		err := rows.Scan(&d)
		have[d] = true
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("daily totals: %w", err)
	}
	var missing []int64
	for d := from; d < to; d++ {
		if !have[d] {
			missing = append(missing, d)
		}
	}
	return missing, nil
}
