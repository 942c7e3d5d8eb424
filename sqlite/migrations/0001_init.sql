-- 0001: the ledger, its hourly rollups, the directory and settings.

-- dict interns the strings events repeat (org, team, user, key id and
-- label, role, provider, models, route, task, session, app, source): events store the small integer
-- id. Id 0 (never stored) is the empty string. Rows are never changed or
-- deleted, so ids can be cached for the life of the process.
CREATE TABLE dict (
	id INTEGER PRIMARY KEY,
	s  TEXT NOT NULL UNIQUE
);

-- attrs interns the context events share: who (org, team, user, key id,
-- key label, role) called what (provider, requested and served model,
-- route) for which task from which app and source, each a dict id. Events
-- and rollups store one attrs id instead of thirteen columns, so rows are
-- small and rollup keys are two integers. Rows are never changed or
-- deleted.
CREATE TABLE attrs (
	id           INTEGER PRIMARY KEY,
	org          INTEGER NOT NULL,
	team         INTEGER NOT NULL,
	usr          INTEGER NOT NULL,
	key_id       INTEGER NOT NULL,
	key_label    INTEGER NOT NULL,
	role         INTEGER NOT NULL,
	provider     INTEGER NOT NULL,
	req_model    INTEGER NOT NULL,
	served_model INTEGER NOT NULL,
	route        INTEGER NOT NULL,
	task         INTEGER NOT NULL,
	app          INTEGER NOT NULL,
	source       INTEGER NOT NULL,
	UNIQUE (org, team, usr, key_id, key_label, role, provider, req_model, served_model, route, task, app, source)
);

-- events holds one row per usage event. id is the idempotency id: a 16-byte
-- blob when it is 32 lowercase hex characters, else the text as given.
-- seq grows in insertion order (max + 1), which lets a batch find the rows
-- it added. t is unix microseconds; latency and ttft are microseconds;
-- flags packs the booleans (1 stream, 2 cost known, 4 estimated); session
-- is a dict id.
CREATE TABLE events (
	seq            INTEGER PRIMARY KEY,
	id             BLOB NOT NULL UNIQUE,
	t              INTEGER NOT NULL,
	attr           INTEGER NOT NULL,
	session        INTEGER NOT NULL,
	status         INTEGER NOT NULL,
	flags          INTEGER NOT NULL,
	latency_us     INTEGER NOT NULL,
	ttft_us        INTEGER NOT NULL,
	request_bytes  INTEGER NOT NULL,
	max_tokens     INTEGER NOT NULL,
	messages       INTEGER NOT NULL,
	system_fp      INTEGER NOT NULL,
	request_fp     INTEGER NOT NULL,
	input          INTEGER NOT NULL,
	cache_read     INTEGER NOT NULL,
	cache_write_5m INTEGER NOT NULL,
	cache_write_1h INTEGER NOT NULL,
	output         INTEGER NOT NULL,
	reasoning      INTEGER NOT NULL,
	cost_nano      INTEGER NOT NULL
);
CREATE INDEX events_t ON events (t);

-- rollups_hourly sums events per hour (unix hours, UTC) and attribution,
-- updated in the transaction that inserts the events. Reports read only
-- rollups.
CREATE TABLE rollups_hourly (
	hour                  INTEGER NOT NULL,
	attr                  INTEGER NOT NULL,
	requests              INTEGER NOT NULL,
	input                 INTEGER NOT NULL,
	cache_read            INTEGER NOT NULL,
	cache_write_5m        INTEGER NOT NULL,
	cache_write_1h        INTEGER NOT NULL,
	output                INTEGER NOT NULL,
	reasoning             INTEGER NOT NULL,
	estimated_requests    INTEGER NOT NULL,
	cost_nano             INTEGER NOT NULL,
	unknown_cost_requests INTEGER NOT NULL,
	PRIMARY KEY (hour, attr)
) WITHOUT ROWID;

-- daily_totals caches, per past UTC day (unix days), the sum of that day's
-- rollups_hourly rows per attribution, packed into one blob (see
-- daily.go): a month-long report decodes 30 blobs instead of aggregating
-- hundreds of thousands of rows. A day's row is derived data: Append
-- deletes it whenever it adds events to that day, and reports rebuild it.
CREATE TABLE daily_totals (
	day  INTEGER PRIMARY KEY,
	data BLOB NOT NULL
);

-- unpriced sums the events whose model had no price, per provider and model.
CREATE TABLE unpriced (
	provider       TEXT NOT NULL,
	model          TEXT NOT NULL,
	requests       INTEGER NOT NULL,
	input          INTEGER NOT NULL,
	cache_read     INTEGER NOT NULL,
	cache_write_5m INTEGER NOT NULL,
	cache_write_1h INTEGER NOT NULL,
	output         INTEGER NOT NULL,
	reasoning      INTEGER NOT NULL,
	last_seen_us   INTEGER NOT NULL,
	PRIMARY KEY (provider, model)
) WITHOUT ROWID;

-- org holds the organization's name (one row).
CREATE TABLE org (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	name TEXT NOT NULL
);

CREATE TABLE teams (
	name TEXT PRIMARY KEY
) WITHOUT ROWID;

-- users are never deleted, only deactivated, so history stays attributed.
CREATE TABLE users (
	name   TEXT PRIMARY KEY,
	email  TEXT NOT NULL,
	team   TEXT NOT NULL,
	role   TEXT NOT NULL,
	active INTEGER NOT NULL
) WITHOUT ROWID;

-- keys stores virtual keys by public id; only the SHA-256 of the secret.
CREATE TABLE keys (
	id            TEXT PRIMARY KEY,
	usr           TEXT NOT NULL REFERENCES users (name),
	label         TEXT NOT NULL,
	hash          BLOB NOT NULL UNIQUE,
	created_us    INTEGER NOT NULL,
	revoked_us    INTEGER
);
CREATE INDEX keys_usr ON keys (usr);

CREATE TABLE settings (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
) WITHOUT ROWID;

-- events_v shows events with their strings, for people reading the file.
CREATE VIEW events_v AS
SELECT e.seq, iif(typeof(e.id) = 'blob', lower(hex(e.id)), e.id) AS id,
	strftime('%Y-%m-%dT%H:%M:%fZ', e.t / 1e6, 'unixepoch') AS time,
	(SELECT s FROM dict WHERE id = a.org) AS org, (SELECT s FROM dict WHERE id = a.team) AS team,
	(SELECT s FROM dict WHERE id = a.usr) AS user, (SELECT s FROM dict WHERE id = a.key_id) AS key_id,
	(SELECT s FROM dict WHERE id = a.provider) AS provider, (SELECT s FROM dict WHERE id = a.served_model) AS served_model,
	(SELECT s FROM dict WHERE id = a.task) AS task, (SELECT s FROM dict WHERE id = a.app) AS app,
	(SELECT s FROM dict WHERE id = e.session) AS session, e.status, e.flags, e.latency_us, e.ttft_us,
	e.input, e.cache_read, e.cache_write_5m, e.cache_write_1h, e.output, e.reasoning, e.cost_nano
FROM events e CROSS JOIN attrs a ON a.id = e.attr;
