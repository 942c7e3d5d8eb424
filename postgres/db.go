// Package postgres is allot's scaled store: the usage ledger, its rollups,
// reports, the directory, settings, audit log, grants, notices and the
// request log in PostgreSQL (through pgx v5), shared by any number of
// gateway replicas; and Counters, budget counters for deployments with
// PostgreSQL but no Redis.
//
// Schema (migrations/*.sql, applied by Migrate under an advisory lock so
// replicas starting together do not race): events are partitioned by month
// of their time (events_pYYYYMM, created on demand before the first insert
// into a month; DropBefore drops whole months). Rows are compact: strings
// are interned in dict, an event's context in attrs, ids of 32 hex
// characters are 16 bytes. Append copies a batch into events (binary
// COPY); if an event is stored already, the unique index refuses the copy
// and the batch goes through a temporary table and INSERT ... ON CONFLICT
// DO NOTHING instead. A statement-level trigger folds exactly the rows
// each statement inserted (its transition table) into the hourly and daily
// rollups, so retries never double count. Reports read the rollups and
// give the same rows, byte for byte, as the SQLite store; the rollups of
// closed days stay in memory while their version holds (reportunits.go).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/internal/periodcache"
	"github.com/allot-dev/allot/internal/rollupcache"
)

// Options tune Open.
type Options struct {
	// Schema is the PostgreSQL schema allot's tables live in; default the
	// DSN's search_path parameter if it names one, else "public". Several
	// deployments (or tests) can share a database in separate schemas.
	Schema string
	// Migrate applies pending migrations at Open (creating the schema if
	// needed). Without it Open refuses a database whose schema is behind
	// and says to run `allot migrate`.
	Migrate bool
	// Logger receives notes on partitions and migrations; default slog.Default().
	Logger *slog.Logger
	// MaxConns caps the connection pool; default pgxpool's (4 or the
	// number of CPUs, whichever is more).
	MaxConns int32
}

// DB is an open allot database in PostgreSQL. It implements allot.Store
// and is safe for concurrent use, also by several processes.
type DB struct {
	// Provisioner makes the SCIM provisioning changes (allot.Provisioning)
	// through InProvisionTx (provision_tx.go); provision.go has the reads.
	allot.Provisioner

	pool   *pgxpool.Pool
	schema string
	logger *slog.Logger
	target string // host/database for error messages, without credentials

	dict   *dict
	attrs  *attrCache
	dims   *attrDims          // attribution ids to report dimensions (reportunits.go)
	rcache *rollupcache.Cache // reports' blocks of closed days (reportunits.go)

	kextras *periodcache.Cache[[]attrExtras] // the org's extras over closed days (insights_kept.go)
	kcalls  *periodcache.Cache[*callFolder]  // the org's calls folded over closed days

	partMu sync.Mutex
	parts  map[int]bool // months (year*12 + month-1) known to have a partition

	closing      atomic.Bool    // a background run of closeDays is going on
	closingHours atomic.Bool    // a background run of closeHours is going on
	bg           sync.WaitGroup // background work, waited for by Close
	bgCtx        context.Context
	bgCancel     context.CancelFunc
}

// stagingDDL creates the per-connection table a batch appended the exact
// way is copied into (see Append). ON COMMIT DELETE ROWS empties it at the
// end of every transaction that used it.
const stagingDDL = `CREATE TEMP TABLE IF NOT EXISTS allot_staging (
	time timestamptz, latency_us int8, ttft_us int8, request_bytes int8, max_tokens int8, system_fp int8, request_fp int8,
	input int8, cache_read int8, cache_write_5m int8, cache_write_1h int8, output int8, reasoning int8, cost_nano int8,
	attr int4, session int4, messages int4, status int2, flags int2, id bytea
) ON COMMIT DELETE ROWS`

// Open connects to the PostgreSQL database at dsn (a postgres:// URL or a
// key=value string) and checks, or with opts.Migrate brings, its schema up
// to date.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, allot.Errorf(allot.EInvalid, "database %q is not a PostgreSQL URL such as postgres://user@host:5432/allot: %v", redactDSN(dsn), err)
	}
	schema := opts.Schema
	if schema == "" {
		schema = strings.Trim(strings.TrimSpace(strings.Split(cfg.ConnConfig.RuntimeParams["search_path"], ",")[0]), `"`)
	}
	if schema == "" {
		schema = "public"
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	if _, set := cfg.ConnConfig.RuntimeParams["work_mem"]; !set {
		// Reports group tens of thousands of rows: in memory, not on disk.
		cfg.ConnConfig.RuntimeParams["work_mem"] = "32MB"
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, stagingDDL)
		return err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	target := fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", target, err)
	}
	db := &DB{pool: pool, schema: schema, logger: logger, target: target, dict: newDict(), attrs: newAttrCache(),
		dims: newAttrDims(), rcache: rollupcache.New(reportCacheBytes), parts: map[int]bool{},
		kextras: &periodcache.Cache[[]attrExtras]{Keep: keptPeriodsMax}, kcalls: &periodcache.Cache[*callFolder]{Keep: keptPeriodsMax}}
	db.Provisioner = allot.Provisioner{Store: db}
	db.bgCtx, db.bgCancel = context.WithCancel(context.Background())
	if opts.Migrate {
		err = db.Migrate(ctx)
	} else {
		err = db.checkVersion(ctx)
	}
	if err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// Close stops background work and closes the connections.
func (db *DB) Close() error {
	db.bgCancel()
	db.bg.Wait()
	db.pool.Close()
	return nil
}

// Schema is the PostgreSQL schema the tables live in.
func (db *DB) Schema() string { return db.schema }

// Pool is the connection pool, for tools and tests that inspect the tables.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// lockID is a 64-bit advisory lock id for name within db's schema.
func (db *DB) lockID(name string) int64 { return lockID(db.schema, name) }

// lockID hashes schema and name into an advisory lock id (FNV-1a).
func lockID(schema, name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("allot\x00"))
	h.Write([]byte(schema))
	h.Write([]byte{0})
	h.Write([]byte(name))
	return int64(h.Sum64())
}

// redactDSN hides a password in a DSN for messages.
func redactDSN(dsn string) string {
	if scheme, rest, ok := strings.Cut(dsn, "://"); ok {
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if user, _, hasPw := strings.Cut(rest[:at], ":"); hasPw {
				return scheme + "://" + user + ":xxxxx" + rest[at:]
			}
		}
		return dsn
	}
	if strings.Contains(dsn, "password") {
		return "(a key=value connection string)"
	}
	return dsn
}

// errNoRows reports whether err is pgx's "no rows".
func errNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// DB is a whole allot.Store.
var _ allot.Store = (*DB)(nil)
