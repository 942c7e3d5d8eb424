-- 0008: insight rows. Insights are answered from rows that package rollup
-- folds from the events (rollup.Fold), as the SQLite store keeps them,
-- instead of scanning the period's events on every read:
--
--   insight_calls   a chain of calls per hour, attribution, session and
--                   counted system prompt (rollup.Calls, in its order);
--   insight_extras  failed, repeated and unlimited calls per hour and
--                   attribution (rollup.Extras, in its order);
--   insight_prompts when each system prompt was last sent in each hour,
--                   the context that tells a later hour's known prompts;
--   insight_dirty   hours whose events changed since they were folded.
--
-- A statement that inserts or updates events marks their hours dirty in
-- its own transaction (the trigger below); the folder (insights_fold.go),
-- one at a time under an advisory lock, takes the marks, refolds those
-- hours (and the later ones whose repeats or known prompts they decide)
-- from their events and writes their rows in one transaction. Readers
-- fold what is marked before they read. insight_dirty has no key: replicas
-- appending to the same hour never wait for one another on it.
CREATE TABLE insight_calls (
	hour int8 NOT NULL,
	attr int4 NOT NULL,
	session int4 NOT NULL,
	system_fp int8 NOT NULL,
	requests int8 NOT NULL, input int8 NOT NULL, cache_read int8 NOT NULL, cache_write_5m int8 NOT NULL,
	cache_write_1h int8 NOT NULL, output int8 NOT NULL, cost_nano int8 NOT NULL, min_input int8 NOT NULL,
	cache_misses int8 NOT NULL, first_us int8 NOT NULL, last_us int8 NOT NULL, first_input int8 NOT NULL,
	last_input int8 NOT NULL, growing int8 NOT NULL,
	PRIMARY KEY (hour, attr, session, system_fp)
);
CREATE INDEX insight_calls_attr ON insight_calls (attr, hour);

CREATE TABLE insight_extras (
	hour int8 NOT NULL,
	attr int4 NOT NULL,
	failed_requests int8 NOT NULL, failed_input int8 NOT NULL, failed_output int8 NOT NULL, failed_cost_nano int8 NOT NULL,
	dup_requests int8 NOT NULL, dup_input int8 NOT NULL, dup_output int8 NOT NULL, dup_cost_nano int8 NOT NULL,
	nomax_requests int8 NOT NULL, nomax_output int8 NOT NULL,
	long0_requests int8 NOT NULL, long0_output int8 NOT NULL, long1_requests int8 NOT NULL, long1_output int8 NOT NULL,
	long2_requests int8 NOT NULL, long2_output int8 NOT NULL, long3_requests int8 NOT NULL, long3_output int8 NOT NULL,
	PRIMARY KEY (hour, attr)
);
CREATE INDEX insight_extras_attr ON insight_extras (attr, hour);

CREATE TABLE insight_prompts (
	system_fp int8 NOT NULL,
	hour int8 NOT NULL,
	last_us int8 NOT NULL,
	PRIMARY KEY (system_fp, hour)
);
CREATE INDEX insight_prompts_hour ON insight_prompts (hour);

CREATE TABLE insight_dirty (hour int8 NOT NULL);
CREATE INDEX insight_dirty_hour ON insight_dirty (hour);

CREATE FUNCTION events_insight_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO insight_dirty (hour) SELECT DISTINCT floor(extract(epoch FROM time) / 3600)::int8 FROM new_rows;
	RETURN NULL;
END $$;

CREATE TRIGGER events_insight_dirty AFTER INSERT ON events REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION events_insight_dirty();
CREATE TRIGGER events_insight_dirty_update AFTER UPDATE ON events REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION events_insight_dirty();

-- Events stored before this migration are folded on the first read.
INSERT INTO insight_dirty (hour) SELECT DISTINCT floor(extract(epoch FROM time) / 3600)::int8 FROM events;
