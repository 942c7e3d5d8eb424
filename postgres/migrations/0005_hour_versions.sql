-- 0005: closed hours. Reports keep the hourly rollups of closed hours of
-- days not closed yet (today's, mostly) in memory, as they keep closed
-- days (0004, reportunits.go). An hour is closed some minutes after it
-- ended (daily.go, closeHours) by adding it here, under the exclusive
-- advisory locks of its day, which appends hold shared: an append either
-- committed before the hour was closed or sees it closed. Nothing is
-- copied: a closed hour's rollups are its rows in rollups_hourly; the
-- version says when they last changed. Every write that changes them sets
-- a new version in the same transaction: late events, through the
-- events_rollup trigger below (0004's, with the hours added), and
-- RelabelTasks. Closing the day deletes its hours from here (the day's
-- version covers them from then on), as retention does with the rollups.
-- Versions come from the days' sequence: a value names one state of one
-- unit's rollups, whether the hour's or its day's version, so a block
-- cached under a value can never be taken for another state.
CREATE TABLE rollups_hours (
	hour int4 PRIMARY KEY,
	version int8 NOT NULL DEFAULT nextval('rollups_days_version')
);

CREATE OR REPLACE FUNCTION events_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF current_setting('allot.rollups', true) IS DISTINCT FROM 'trigger' THEN
		RETURN NULL;
	END IF;
	WITH h AS (
		SELECT floor(extract(epoch FROM time) / 3600)::int4 AS hour, floor(extract(epoch FROM time) / 86400)::int4 AS day,
			attr, count(*) AS requests, sum8(input) AS input, sum8(cache_read) AS cache_read,
			sum8(cache_write_5m) AS cache_write_5m, sum8(cache_write_1h) AS cache_write_1h, sum8(output) AS output,
			sum8(reasoning) AS reasoning, count(*) FILTER (WHERE flags & 4 <> 0) AS estimated_requests,
			sum8(cost_nano) AS cost_nano, count(*) FILTER (WHERE flags & 2 = 0) AS unknown_cost_requests
		FROM new_rows GROUP BY 1, 2, 3
	), hourly AS (
		INSERT INTO rollups_hourly AS r (hour, attr, requests, input, cache_read, cache_write_5m, cache_write_1h, output,
			reasoning, estimated_requests, cost_nano, unknown_cost_requests)
		SELECT hour, attr, requests, input, cache_read, cache_write_5m, cache_write_1h, output,
			reasoning, estimated_requests, cost_nano, unknown_cost_requests
		FROM h ORDER BY hour, attr
		ON CONFLICT (hour, attr) DO UPDATE SET
			requests = r.requests + excluded.requests,
			input = r.input + excluded.input,
			cache_read = r.cache_read + excluded.cache_read,
			cache_write_5m = r.cache_write_5m + excluded.cache_write_5m,
			cache_write_1h = r.cache_write_1h + excluded.cache_write_1h,
			output = r.output + excluded.output,
			reasoning = r.reasoning + excluded.reasoning,
			estimated_requests = r.estimated_requests + excluded.estimated_requests,
			cost_nano = r.cost_nano + excluded.cost_nano,
			unknown_cost_requests = r.unknown_cost_requests + excluded.unknown_cost_requests
	), closed AS (
		SELECT * FROM h WHERE day IN (SELECT day FROM rollups_days)
	), changed AS (
		-- The closed days whose rollups this statement changes, locked in
		-- day order, so that concurrent appends never deadlock on them.
		SELECT d.day FROM rollups_days d WHERE d.day IN (SELECT day FROM closed) ORDER BY d.day FOR UPDATE
	), versions AS (
		UPDATE rollups_days d SET version = nextval('rollups_days_version') FROM changed c WHERE d.day = c.day
	), hchanged AS (
		-- The closed hours whose rollups this statement changes, locked in
		-- hour order, as the days above.
		SELECT x.hour FROM rollups_hours x WHERE x.hour IN (SELECT hour FROM h) ORDER BY x.hour FOR UPDATE
	), hversions AS (
		UPDATE rollups_hours x SET version = nextval('rollups_days_version') FROM hchanged c WHERE x.hour = c.hour
	), daily AS (
		INSERT INTO rollups_daily AS r (day, attr, requests, input, cache_read, cache_write_5m, cache_write_1h, output,
			reasoning, estimated_requests, cost_nano, unknown_cost_requests)
		SELECT day, attr, sum8(requests), sum8(input), sum8(cache_read), sum8(cache_write_5m), sum8(cache_write_1h),
			sum8(output), sum8(reasoning), sum8(estimated_requests), sum8(cost_nano), sum8(unknown_cost_requests)
		FROM closed GROUP BY 1, 2 ORDER BY 1, 2
		ON CONFLICT (day, attr) DO UPDATE SET
			requests = r.requests + excluded.requests,
			input = r.input + excluded.input,
			cache_read = r.cache_read + excluded.cache_read,
			cache_write_5m = r.cache_write_5m + excluded.cache_write_5m,
			cache_write_1h = r.cache_write_1h + excluded.cache_write_1h,
			output = r.output + excluded.output,
			reasoning = r.reasoning + excluded.reasoning,
			estimated_requests = r.estimated_requests + excluded.estimated_requests,
			cost_nano = r.cost_nano + excluded.cost_nano,
			unknown_cost_requests = r.unknown_cost_requests + excluded.unknown_cost_requests
	), udaily AS (
		INSERT INTO rollups_user_daily AS r (day, team, usr, requests, input, cache_read, cache_write_5m, cache_write_1h,
			output, reasoning, estimated_requests, cost_nano, unknown_cost_requests)
		SELECT c.day, a.team, a.usr, sum8(c.requests), sum8(c.input), sum8(c.cache_read), sum8(c.cache_write_5m),
			sum8(c.cache_write_1h), sum8(c.output), sum8(c.reasoning), sum8(c.estimated_requests), sum8(c.cost_nano),
			sum8(c.unknown_cost_requests)
		FROM closed c JOIN attrs a ON a.id = c.attr GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
		ON CONFLICT (day, team, usr) DO UPDATE SET
			requests = r.requests + excluded.requests,
			input = r.input + excluded.input,
			cache_read = r.cache_read + excluded.cache_read,
			cache_write_5m = r.cache_write_5m + excluded.cache_write_5m,
			cache_write_1h = r.cache_write_1h + excluded.cache_write_1h,
			output = r.output + excluded.output,
			reasoning = r.reasoning + excluded.reasoning,
			estimated_requests = r.estimated_requests + excluded.estimated_requests,
			cost_nano = r.cost_nano + excluded.cost_nano,
			unknown_cost_requests = r.unknown_cost_requests + excluded.unknown_cost_requests
	)
	INSERT INTO unpriced AS r (provider, model, requests, input, cache_read, cache_write_5m, cache_write_1h, output, reasoning, last_seen)
	SELECT a.provider, CASE WHEN a.served_model <> 0 THEN a.served_model ELSE a.req_model END, count(*), sum8(n.input),
		sum8(n.cache_read), sum8(n.cache_write_5m), sum8(n.cache_write_1h), sum8(n.output), sum8(n.reasoning), max(n.time)
	FROM new_rows n JOIN attrs a ON a.id = n.attr WHERE n.flags & 2 = 0 GROUP BY 1, 2 ORDER BY 1, 2
	ON CONFLICT (provider, model) DO UPDATE SET
		requests = r.requests + excluded.requests,
		input = r.input + excluded.input,
		cache_read = r.cache_read + excluded.cache_read,
		cache_write_5m = r.cache_write_5m + excluded.cache_write_5m,
		cache_write_1h = r.cache_write_1h + excluded.cache_write_1h,
		output = r.output + excluded.output,
		reasoning = r.reasoning + excluded.reasoning,
		last_seen = greatest(r.last_seen, excluded.last_seen);
	RETURN NULL;
END
$$;
