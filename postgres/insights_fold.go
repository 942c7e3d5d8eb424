package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/rollup"
)

// Insight rows (migration 0008) are folded from the events by package
// rollup, hour by hour. Appends and relabels mark the hours they change
// dirty in their own transactions (a trigger), so replicas append without
// waiting for one another; foldInsights refolds the marked hours one
// folder at a time. An hour's rows depend on its events and on what came
// before it: the calls of the DuplicateWindow before (repeats) and when
// each system prompt was last sent (insight_prompts, known prompts). A
// changed hour therefore also refolds the next one (a repeat may cross the
// hour) and the hours of the following PromptSeenWindow that sent prompts.

// callColumns and extrasColumns are the value columns of insight_calls
// and insight_extras, in rollup.Calls and rollup.Extras order.
const (
	callColumns   = `requests, input, cache_read, cache_write_5m, cache_write_1h, output, cost_nano, min_input, cache_misses, first_us, last_us, first_input, last_input, growing`
	extrasColumns = `failed_requests, failed_input, failed_output, failed_cost_nano, dup_requests, dup_input, dup_output, dup_cost_nano, nomax_requests, nomax_output, long0_requests, long0_output, long1_requests, long1_output, long2_requests, long2_output, long3_requests, long3_output`
)

// promptHours is how many hours back a prompt's last sending can make a
// call's prompt known: PromptSeenWindow, and the hour it starts in.
var promptHours = int64(rollup.PromptSeenWindow/time.Hour) + 1

// foldInsights refolds every hour marked dirty when it is called, so that
// a read after it sees every event committed before it. Folders take
// turns under an advisory lock; the marks are taken (deleted) before the
// events are read, so an event committed meanwhile keeps its mark for the
// next fold.
func (db *DB) foldInsights(ctx context.Context) error {
	var marked bool
	if err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM insight_dirty)`).Scan(&marked); err != nil || !marked {
		return wrapErr("fold insights", err)
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, db.lockID("insights")); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `DELETE FROM insight_dirty RETURNING hour`)
		var h int64
		var dirty []int64
		if _, err := pgx.ForEachRow(rows, []any{&h}, func() error { dirty = append(dirty, h); return nil }); err != nil {
			return err
		}
		if len(dirty) == 0 {
			return nil
		}
		slices.Sort(dirty)
		dirty = slices.Compact(dirty)
		refold := map[int64]bool{}
		for _, d := range dirty {
			refold[d], refold[d+1] = true, true
		}
		rows, _ = tx.Query(ctx, `SELECT DISTINCT hour FROM insight_prompts WHERE hour > $1 AND hour <= $2`, dirty[0]+1, dirty[len(dirty)-1]+promptHours)
		if _, err := pgx.ForEachRow(rows, []any{&h}, func() error {
			// A dirty hour d decides the known prompts of hours up to d+promptHours.
			i, _ := slices.BinarySearch(dirty, h-promptHours)
			if i < len(dirty) && dirty[i] < h {
				refold[h] = true
			}
			return nil
		}); err != nil {
			return err
		}
		hours := make([]int64, 0, len(refold))
		for h := range refold {
			hours = append(hours, h)
		}
		slices.Sort(hours)
		// Runs of consecutive hours, in order, a day at most at a time (a
		// ledger from before migration 0008 is all marked): each run's
		// known prompts come from insight_prompts as the runs before it
		// left them.
		for i := 0; i < len(hours); {
			j := i + 1
			for j < len(hours) && hours[j] == hours[j-1]+1 && j-i < 24 {
				j++
			}
			if err := refoldHours(ctx, tx, hours[i], hours[j-1]+1); err != nil {
				return err
			}
			i = j
		}
		return nil
	})
	return wrapErr("fold insights", err)
}

// refoldHours rewrites the insight rows of hours [h0, h1) from their
// events, in tx.
func refoldHours(ctx context.Context, tx pgx.Tx, h0, h1 int64) error {
	from, to := time.UnixMicro(h0*usPerHour).UTC(), time.UnixMicro(h1*usPerHour).UTC()
	evs, err := readFoldEvents(ctx, tx, `e.time >= $1 AND e.time < $2`, from, to)
	if err != nil {
		return err
	}
	check := rollup.NewCheck(nil)
	// The calls just before that a repeat may follow.
	before, err := readFoldEvents(ctx, tx, `e.time >= $1 AND e.time < $2 AND e.request_fp <> 0`, from.Add(-allot.DuplicateWindow), from)
	if err != nil {
		return err
	}
	for i := range before {
		check.Repeat(&before[i])
	}
	// When each of the run's prompts was last sent before it.
	sent := map[[2]int64]int64{} // fingerprint, hour -> the last call
	var fps []int64
	for i := range evs {
		if fp := evs[i].SystemFP; fp != 0 {
			k := [2]int64{fp, floorDiv(evs[i].T, usPerHour)}
			if _, ok := sent[k]; !ok && !slices.Contains(fps, fp) {
				fps = append(fps, fp)
			}
			sent[k] = max(sent[k], evs[i].T)
		}
	}
	if len(fps) > 0 {
		rows, _ := tx.Query(ctx, `SELECT system_fp, max(last_us) FROM insight_prompts WHERE system_fp = ANY ($1::int8[]) AND hour >= $2 AND hour < $3 GROUP BY 1`,
			fps, h0-promptHours, h0)
		var fp, last int64
		if _, err := pgx.ForEachRow(rows, []any{&fp, &last}, func() error {
			check.KnownPrompt(&rollup.Event{SystemFP: fp, T: last})
			return nil
		}); err != nil {
			return fmt.Errorf("read prompts sent before: %w", err)
		}
	}
	b := rollup.Fold(evs, check)
	for _, table := range []string{"insight_calls", "insight_extras", "insight_prompts"} {
		if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE hour >= $1 AND hour < $2`, h0, h1); err != nil {
			return fmt.Errorf("clear %s: %w", table, err)
		}
	}
	calls := make([][]any, len(b.CallKeys))
	for i, k := range b.CallKeys {
		row := []any{k.Hour, int32(k.Attr), int32(k.Session), k.FP}
		for _, v := range b.CallVals[i] {
			row = append(row, v)
		}
		calls[i] = row
	}
	extras := make([][]any, len(b.ExtrasKeys))
	for i, k := range b.ExtrasKeys {
		row := []any{k.Hour, int32(k.Attr)}
		for _, v := range b.ExtrasVals[i] {
			row = append(row, v)
		}
		extras[i] = row
	}
	prompts := make([][]any, 0, len(sent))
	for k, last := range sent {
		prompts = append(prompts, []any{k[0], k[1], last})
	}
	for _, c := range []struct {
		table string
		cols  string
		rows  [][]any
	}{
		{"insight_calls", "hour, attr, session, system_fp, " + callColumns, calls},
		{"insight_extras", "hour, attr, " + extrasColumns, extras},
		{"insight_prompts", "system_fp, hour, last_us", prompts},
	} {
		if len(c.rows) == 0 {
			continue
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{c.table}, splitColumns(c.cols), pgx.CopyFromRows(c.rows)); err != nil {
			return fmt.Errorf("write %s: %w", c.table, err)
		}
	}
	return nil
}

// readFoldEvents reads what folding needs of the events matching where
// (over events e, with arguments from and to), in time and then id order.
func readFoldEvents(ctx context.Context, tx pgx.Tx, where string, from, to time.Time) ([]rollup.Event, error) {
	rows, _ := tx.Query(ctx, `SELECT e.id, a.usr, e.time, e.attr, e.session, e.status, e.max_tokens, e.system_fp, e.request_fp,
		e.input, e.cache_read, e.cache_write_5m, e.cache_write_1h, e.output, e.cost_nano
		FROM events e JOIN attrs a ON a.id = e.attr WHERE `+where+` ORDER BY e.time, e.id`, from, to)
	var evs []rollup.Event
	var e rollup.Event
	var id []byte
	var usr, attr, session int32
	var status int16
	var at time.Time
	users := map[int32]string{}
	t := &e.Tokens
	_, err := pgx.ForEachRow(rows, []any{&id, &usr, &at, &attr, &session, &status, &e.MaxTokens, &e.SystemFP, &e.RequestFP,
		&t.Input, &t.CacheRead, &t.CacheWrite5m, &t.CacheWrite1h, &t.Output, &e.Cost}, func() error {
		u, ok := users[usr]
		if !ok {
			u = strconv.Itoa(int(usr))
			users[usr] = u
		}
		e.ID, e.User, e.T, e.Attr, e.Session, e.Status = string(id), u, at.UnixMicro(), int64(attr), int64(session), int64(status)
		evs = append(evs, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read events to fold: %w", err)
	}
	return evs, nil
}

// splitColumns splits a column list.
func splitColumns(cols string) []string {
	var out []string
	for _, c := range strings.Split(cols, ",") {
		out = append(out, strings.TrimSpace(c))
	}
	return out
}
