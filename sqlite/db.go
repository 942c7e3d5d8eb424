// Package sqlite is allot's embedded store: the usage ledger with its hourly
// rollups, reports over them, and the directory of teams, users, keys and
// settings, in one SQLite file (WAL) through the pure-Go modernc driver so
// the binary stays static.
//
// One connection writes (SQLite allows one writer at a time, so queuing in
// Go is cheaper than retrying on SQLITE_BUSY); a separate pool reads, and
// in WAL mode readers never wait for the writer.
//
// Schema (migrations/0001_init.sql): events rows are compact (about 100
// bytes, 165 with their indexes and rollups): strings are interned in dict,
// an event's context (who, what model, which task and app…) in attrs, so a
// row holds one attrs id; ids of 32 hex characters are stored as 16 bytes,
// times and durations as microseconds. rollups_hourly sums events per hour
// and attrs id in the same transaction; daily_totals caches whole past days
// of it, packed, for month-long reports. Reports group in Go over those,
// and keep the days and hours they read in memory while their versions
// (rollup_hour_versions, rollup_day_versions) say they are unchanged.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"runtime"
	"sync"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/internal/periodcache"
	"github.com/allot-dev/allot/internal/rollupcache"
	"github.com/allot-dev/allot/rollup"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// DB is an open allot database. It is a whole allot.Store and is safe for
// concurrent use.
type DB struct {
	// Provisioner makes the SCIM provisioning changes (allot.Provisioning)
	// through InProvisionTx (provision_tx.go); provision.go has the reads.
	allot.Provisioner

	path string
	w    *sql.DB // the one writer connection
	r    *sql.DB // readers

	dict    *dict
	attrs   *attrCache
	rcache  *rollupcache.Cache                           // reports' blocks of rollups (report.go)
	ihours  *insightHours                                // completed hours' insight rows (insights_hours.go)
	pextras *periodcache.Cache[map[int64]*rollup.Extras] // the org's extras over past days (insights_period.go)
	pdaily  *periodcache.Cache[[]allot.DailySpend]       // the org's daily spend on past days
	pcalls  *periodcache.Cache[*keptCalls]               // the org's call sums over past days (insights_calls.go)
	clock   func() time.Time                             // insights' now, when not time.Now (tests)
	ckpt    *checkpointer                                // copies the WAL into the file in the background (checkpoint.go)

	wmu   sync.Mutex           // held by every write: one transaction at a time on w
	stmts map[string]*sql.Stmt // Append's statements, prepared on w at Open, by SQL
}

var _ allot.Store = (*DB)(nil)

// Open opens (creating if needed) the database at path and brings its
// schema up to date.
func Open(ctx context.Context, path string) (*DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "cache_size(-16000)")
	q.Add("_pragma", "temp_store(MEMORY)") // statement journals and sorts stay off disk
	wq := url.Values{}
	for k, v := range q {
		wq[k] = v
	}
	wq.Add("_pragma", "wal_autocheckpoint(0)")        // checkpoints run beside the writer (checkpoint.go)
	wq.Add("_pragma", "journal_size_limit(67108864)") // a WAL that starts over shrinks to 64 MB
	wq.Set("_txlock", "immediate")                    // take the write lock at BEGIN: no deadlocked upgrades
	w, err := sql.Open("sqlite", path+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	db := &DB{path: path, w: w, stmts: map[string]*sql.Stmt{}, rcache: rollupcache.New(reportCacheBytes)}
	db.Provisioner = allot.Provisioner{Store: db}
	err = migrate(ctx, w)
	if err == nil {
		err = db.prepare(ctx)
	}
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}

	rq := url.Values{}
	for k, v := range q {
		rq[k] = v
	}
	rq.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", path+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	db.r = r

	if db.ckpt, err = startCheckpointer(path, path+"?"+q.Encode(), &db.wmu); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}

	db.dict, db.attrs, db.ihours, db.pextras, db.pdaily = newDict(), newAttrCache(), newInsightHours(), &periodcache.Cache[map[int64]*rollup.Extras]{}, &periodcache.Cache[[]allot.DailySpend]{}
	db.pcalls = &periodcache.Cache[*keptCalls]{Keep: 2} // the period in view and one other: they are large
	// The dictionary fills as strings are used (dict.go).
	if err = db.attrs.refresh(ctx, r); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	return db, nil
}

// Close checkpoints the WAL and closes the database.
func (db *DB) Close() error {
	db.wmu.Lock()
	for _, s := range db.stmts {
		s.Close()
	}
	db.stmts = map[string]*sql.Stmt{}
	db.wmu.Unlock()
	var rerr error
	if db.ckpt != nil {
		rerr = db.ckpt.close()
	}
	if db.r != nil {
		if err := db.r.Close(); err != nil {
			rerr = err
		}
	}
	_, _ = db.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	werr := db.w.Close()
	if werr != nil {
		return fmt.Errorf("close database %s: %w", db.path, werr)
	}
	if rerr != nil {
		return fmt.Errorf("close database %s: %w", db.path, rerr)
	}
	return nil
}

// prepare readies the multi-row statements Append uses, for every chunk
// size chunkSize can return. They are prepared up front because the one
// writer connection is busy inside Append's transaction.
func (db *DB) prepare(ctx context.Context) error {
	queries := []string{maxSeqSQL, addUnpricedSQL}
	for n := maxChunk; n >= 1; n /= 2 {
		queries = append(queries, insertEventsSQL(chunkSize(n)))
	}
	for _, n := range preparedUpserts {
		queries = append(queries, upsertHourlySQL(n))
	}
	for _, q := range queries {
		s, err := db.w.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		db.stmts[q] = s
	}
	return nil
}

// txStmt returns query as a statement of tx: the one prepared at Open if
// there is one, else prepared now on tx's connection.
func (db *DB) txStmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	if s, ok := db.stmts[query]; ok {
		return tx.StmtContext(ctx, s), nil
	}
	return tx.PrepareContext(ctx, query)
}

// txExec runs query in tx through its prepared statement.
func (db *DB) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st, err := db.txStmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// txQueryRow runs query in tx through its prepared statement.
func (db *DB) txQueryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	st, err := db.txStmt(ctx, tx, query)
	if err != nil {
		return tx.QueryRowContext(ctx, query, args...) // reports the same error
	}
	return st.QueryRowContext(ctx, args...)
}

// DB is the embedded implementation of these domain interfaces.
var (
	_ allot.Ledger    = (*DB)(nil)
	_ allot.Reporter  = (*DB)(nil)
	_ allot.Directory = (*DB)(nil)
)
