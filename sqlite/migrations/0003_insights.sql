-- 0003: per-day aggregates for insights, kept in the transaction that
-- appends the events (insights_write.go), so insights never scan events.

-- insight_calls sums, per UTC day (unix days), attribution, session (dict
-- id, 0 for none) and system prompt fingerprint (0 for none), what prompt
-- caching, context growth and runaway sessions need: token kinds and
-- cost, the smallest input (a bound on the shared prompt prefix), how many
-- calls came more than the prompt cache TTL after the previous one
-- (cache_misses), the first and last call's time and input, and how many
-- calls had a larger input than the call before (growing). Calls with
-- neither a session nor a system prompt are not kept here.
CREATE TABLE insight_calls (
	hour           INTEGER NOT NULL,
	attr           INTEGER NOT NULL,
	session        INTEGER NOT NULL,
	system_fp      INTEGER NOT NULL,
	requests       INTEGER NOT NULL,
	input          INTEGER NOT NULL,
	cache_read     INTEGER NOT NULL,
	cache_write_5m INTEGER NOT NULL,
	cache_write_1h INTEGER NOT NULL,
	output         INTEGER NOT NULL,
	cost_nano      INTEGER NOT NULL,
	min_input      INTEGER NOT NULL,
	cache_misses   INTEGER NOT NULL,
	first_us       INTEGER NOT NULL,
	last_us        INTEGER NOT NULL,
	first_input    INTEGER NOT NULL,
	last_input     INTEGER NOT NULL,
	growing        INTEGER NOT NULL,
	PRIMARY KEY (hour, attr, session, system_fp)
) WITHOUT ROWID;

-- insight_extras sums, per day and attribution, the calls that failed
-- (status >= 400, 499 when the client left), duplicates (same user and
-- request fingerprint within five minutes), and calls without an output
-- limit with their outputs in long-output classes (1k, 4k, 16k, 64k
-- tokens and up). Rows exist only where one of these happened.
CREATE TABLE insight_extras (
	hour             INTEGER NOT NULL,
	attr             INTEGER NOT NULL,
	failed_requests  INTEGER NOT NULL,
	failed_input     INTEGER NOT NULL,
	failed_output    INTEGER NOT NULL,
	failed_cost_nano INTEGER NOT NULL,
	dup_requests     INTEGER NOT NULL,
	dup_input        INTEGER NOT NULL,
	dup_output       INTEGER NOT NULL,
	dup_cost_nano    INTEGER NOT NULL,
	nomax_requests   INTEGER NOT NULL,
	nomax_output     INTEGER NOT NULL,
	long0_requests   INTEGER NOT NULL,
	long0_output     INTEGER NOT NULL,
	long1_requests   INTEGER NOT NULL,
	long1_output     INTEGER NOT NULL,
	long2_requests   INTEGER NOT NULL,
	long2_output     INTEGER NOT NULL,
	long3_requests   INTEGER NOT NULL,
	long3_output     INTEGER NOT NULL,
	PRIMARY KEY (hour, attr)
) WITHOUT ROWID;

-- insight_days caches each past day's insight_calls and insight_extras
-- rows merged per day and packed into blobs (insights_read.go), as
-- daily_totals does for the rollups: a day is 64 parts, each holding the
-- users whose dict id is the part modulo 64, so the org's month is under
-- 2000 rows and one person's 30. A row with part -1 marks the day as
-- packed. Appending events to a day deletes its rows; readers pack it
-- again.
CREATE TABLE insight_days (
	day    INTEGER NOT NULL,
	part   INTEGER NOT NULL,
	calls  BLOB NOT NULL,
	extras BLOB NOT NULL,
	PRIMARY KEY (day, part)
) WITHOUT ROWID;

-- insight_state holds the seq of the newest event folded into insight_calls
-- and insight_extras: Append folds events in batches of thousands once
-- enough are pending, readers fold the rest before reading.
CREATE TABLE insight_state (
	id  INTEGER PRIMARY KEY CHECK (id = 1),
	seq INTEGER NOT NULL
);
INSERT INTO insight_state (id, seq) VALUES (1, 0);
