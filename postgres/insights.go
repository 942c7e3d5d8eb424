package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allot-dev/allot"
)

// Insights on PostgreSQL are answered from the rollups (plain usage and
// daily spend) and, for what the rollups do not keep (failed, duplicate
// and unlimited calls, system prompts and sessions), from the insight
// rows that package rollup folds from the events (insights_fold.go), the
// same rows the SQLite store keeps: a read folds the hours marked changed
// first, then only reads rows. Calls form chains per hour, attribution,
// session and counted prompt; a day's hours follow one another, as do a
// session's days (rollup.Follow).

// dayBounds widens [from, to) to whole UTC days.
func dayBounds(from, to time.Time) (time.Time, time.Time) {
	d0 := floorDiv(from.UnixMicro(), usPerDay)
	d1 := floorDiv(to.UnixMicro()-1, usPerDay) + 1
	return time.UnixMicro(d0 * usPerDay).UTC(), time.UnixMicro(d1 * usPerDay).UTC()
}

// insightScope is whose events an insight query reads.
type insightScope struct {
	none  bool    // the query names a user or team never recorded, or one without calls
	attrs []int32 // the attributions of the query's people; nil for everyone
	users []int32 // every attribution of the same users, in any team (duplicates are per user)
}

// insightScope resolves q's user and team filters.
func (db *DB) insightScope(ctx context.Context, q allot.InsightQuery) (insightScope, error) {
	var s insightScope
	if q.User == "" && q.Team == "" {
		return s, nil
	}
	var ids [2]*int32 // user, team
	for i, name := range []string{q.User, q.Team} {
		if name == "" {
			continue
		}
		id, ok, err := db.dict.lookup(ctx, db.pool, name)
		if err != nil {
			return s, err
		}
		if !ok {
			s.none = true
			return s, nil
		}
		ids[i] = &id
	}
	rows, _ := db.pool.Query(ctx, `SELECT id, usr FROM attrs WHERE ($1::int4 IS NULL OR usr = $1) AND ($2::int4 IS NULL OR team = $2) ORDER BY id`, ids[0], ids[1])
	var id, usr int32
	var users []int32
	s.attrs = []int32{}
	if _, err := pgx.ForEachRow(rows, []any{&id, &usr}, func() error {
		s.attrs = append(s.attrs, id)
		if !slices.Contains(users, usr) {
			users = append(users, usr)
		}
		return nil
	}); err != nil {
		return s, fmt.Errorf("read attributions: %w", err)
	}
	if len(s.attrs) == 0 {
		s.none = true
		return s, nil
	}
	if q.Team == "" {
		s.users = s.attrs
		return s, nil
	}
	rows, _ = db.pool.Query(ctx, `SELECT id FROM attrs WHERE usr = ANY ($1::int4[]) ORDER BY id`, users)
	if _, err := pgx.ForEachRow(rows, []any{&id}, func() error {
		s.users = append(s.users, id)
		return nil
	}); err != nil {
		return s, fmt.Errorf("read attributions: %w", err)
	}
	return s, nil
}

// attrKeys are the InsightKeys and users of attributions.
type attrKeys struct {
	keys  map[int32]allot.InsightKey
	users map[int32]int32 // dict id of the user
}

// readAttrKeys reads, through q, the InsightKeys and users of the
// attributions ids, or of every attribution if ids is nil.
func (db *DB) readAttrKeys(ctx context.Context, q querier, ids []int32) (attrKeys, error) {
	out := attrKeys{keys: map[int32]allot.InsightKey{}, users: map[int32]int32{}}
	if ids != nil && len(ids) == 0 {
		return out, nil
	}
	query, args := `SELECT id, team, usr, provider, served_model, task, app FROM attrs`, []any{}
	if ids != nil {
		query, args = query+` WHERE id = ANY ($1::int4[])`, append(args, ids)
	}
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return out, fmt.Errorf("read attributions: %w", err)
	}
	var id int32
	var a [6]int32
	raw := map[int32][6]int32{}
	seen := map[int32]bool{}
	var strs []int32
	if _, err := pgx.ForEachRow(rows, []any{&id, &a[0], &a[1], &a[2], &a[3], &a[4], &a[5]}, func() error {
		raw[id] = a
		for _, s := range a {
			if !seen[s] {
				seen[s] = true
				strs = append(strs, s)
			}
		}
		return nil
	}); err != nil {
		return out, fmt.Errorf("read attributions: %w", err)
	}
	names, err := db.dict.names(ctx, q, strs)
	if err != nil {
		return out, err
	}
	for id, a := range raw {
		out.keys[id] = allot.InsightKey{Team: names[a[0]], User: names[a[1]], Provider: names[a[2]], Model: names[a[3]], Task: names[a[4]], App: names[a[5]]}
		out.users[id] = a[1]
	}
	for _, id := range ids {
		if _, ok := raw[id]; !ok {
			return out, fmt.Errorf("events refer to unknown attribution %d", id)
		}
	}
	return out, nil
}

// cmpInsightKey orders keys by team, user, provider, model, task and app.
func cmpInsightKey(a, b *allot.InsightKey) int {
	return cmp.Or(strings.Compare(a.Team, b.Team), strings.Compare(a.User, b.User), strings.Compare(a.Provider, b.Provider),
		strings.Compare(a.Model, b.Model), strings.Compare(a.Task, b.Task), strings.Compare(a.App, b.App))
}

// InsightUsage sums usage per InsightKey over the days overlapping
// [q.From, q.To): the report totals from the rollups, in the report's
// order, plus failed, duplicate and unlimited calls from the events
// (unless q.Totals asks for the totals only).
func (db *DB) InsightUsage(ctx context.Context, q allot.InsightQuery) ([]allot.InsightUsage, error) {
	from, to := dayBounds(q.From, q.To)
	out, index, err := allot.ReportInsightUsage(ctx, db, q, from, to)
	if err != nil {
		return nil, fmt.Errorf("insight usage: %w", err)
	}
	if q.Totals {
		return out, nil
	}
	s, err := db.insightScope(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("insight usage: %w", err)
	}
	if s.none {
		return out, nil
	}
	if err := db.foldInsights(ctx); err != nil {
		return nil, fmt.Errorf("insight usage: %w", err)
	}
	extras, keys, err := db.insightExtras(ctx, from, to, s)
	if err != nil {
		return nil, fmt.Errorf("insight usage: %w", err)
	}
	for _, x := range extras { // in attribution order
		k := keys.keys[x.attr]
		i, ok := index[k]
		if !ok { // only if rollups were removed under the events
			i = len(out)
			index[k] = i
			out = append(out, allot.InsightUsage{InsightKey: k})
		}
		x.v.SetUsage(&out[i])
	}
	return out, nil
}

// wrapErr wraps a non-nil err with what failed.
func wrapErr(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// PromptUsage is InsightCalls' prompts.
func (db *DB) PromptUsage(ctx context.Context, q allot.InsightQuery) ([]allot.PromptUsage, error) {
	c, err := db.InsightCalls(ctx, q)
	return c.Prompts, err
}

// SessionUsage is InsightCalls' sessions.
func (db *DB) SessionUsage(ctx context.Context, q allot.InsightQuery) ([]allot.SessionUsage, error) {
	c, err := db.InsightCalls(ctx, q)
	return c.Sessions, err
}

// DailySpend returns each person's usage per UTC day over the days
// overlapping [q.From, q.To), from the rollups, sorted by day, team and
// user.
func (db *DB) DailySpend(ctx context.Context, q allot.InsightQuery) ([]allot.DailySpend, error) {
	from, to := dayBounds(q.From, q.To)
	out := []allot.DailySpend{}
	if !from.Before(to) {
		return out, nil
	}
	rq := allot.ReportQuery{By: []allot.Dimension{allot.DimDay, allot.DimTeam, allot.DimUser}, From: from, To: to, Filter: map[allot.Dimension]string{}}
	if q.User != "" {
		rq.Filter[allot.DimUser] = q.User
	}
	if q.Team != "" {
		rq.Filter[allot.DimTeam] = q.Team
	}
	rows, err := db.Report(ctx, rq)
	if err != nil {
		return nil, fmt.Errorf("daily spend: %w", err)
	}
	for _, r := range rows {
		day, err := time.Parse(time.DateOnly, r.Dims[0])
		if err != nil {
			return nil, fmt.Errorf("daily spend: %w", err)
		}
		out = append(out, allot.DailySpend{Day: day, Team: r.Dims[1], User: r.Dims[2], Requests: r.Requests,
			Tokens: r.Tokens.Total(), Cost: r.Cost})
	}
	slices.SortFunc(out, func(a, b allot.DailySpend) int {
		return cmp.Or(a.Day.Compare(b.Day), strings.Compare(a.Team, b.Team), strings.Compare(a.User, b.User))
	})
	return out, nil
}
