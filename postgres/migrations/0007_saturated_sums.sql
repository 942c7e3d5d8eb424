-- 0007: sums saturate. int8 + (and sum8, built on it) raise "bigint out
-- of range" past the int64 range, so one stored event of a huge cost made
-- every append to its hour fail, and reports over it too. Sums of stored
-- values now saturate at the bounds allot.MaxMoney and allot.MinMoney
-- (the int64 range less its most negative value): sat8 clamps a numeric,
-- such as the built-in sum of int8 (exact, and as fast as sum8), and
-- sat_add8 adds two sums. The rollup trigger below is 0005's with them.
-- sum8 stays for the budget counters, whose amounts are bounded.
CREATE FUNCTION sat8(numeric) RETURNS int8 LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE WHEN $1 > 9223372036854775807 THEN 9223372036854775807
		WHEN $1 < -9223372036854775807 THEN -9223372036854775807 ELSE $1::int8 END
$$;

CREATE FUNCTION sat_add8(int8, int8) RETURNS int8 LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT sat8($1::numeric + $2)
$$;

CREATE OR REPLACE FUNCTION events_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF current_setting('allot.rollups', true) IS DISTINCT FROM 'trigger' THEN
		RETURN NULL;
	END IF;
	WITH h AS (
		SELECT floor(extract(epoch FROM time) / 3600)::int4 AS hour, floor(extract(epoch FROM time) / 86400)::int4 AS day,
			attr, count(*) AS requests, sat8(sum(input)) AS input, sat8(sum(cache_read)) AS cache_read,
			sat8(sum(cache_write_5m)) AS cache_write_5m, sat8(sum(cache_write_1h)) AS cache_write_1h, sat8(sum(output)) AS output,
			sat8(sum(reasoning)) AS reasoning, count(*) FILTER (WHERE flags & 4 <> 0) AS estimated_requests,
			sat8(sum(cost_nano)) AS cost_nano, count(*) FILTER (WHERE flags & 2 = 0) AS unknown_cost_requests
		FROM new_rows GROUP BY 1, 2, 3
	), hourly AS (
		INSERT INTO rollups_hourly AS r (hour, attr, requests, input, cache_read, cache_write_5m, cache_write_1h, output,
			reasoning, estimated_requests, cost_nano, unknown_cost_requests)
		SELECT hour, attr, requests, input, cache_read, cache_write_5m, cache_write_1h, output,
			reasoning, estimated_requests, cost_nano, unknown_cost_requests
		FROM h ORDER BY hour, attr
		ON CONFLICT (hour, attr) DO UPDATE SET
			requests = sat_add8(r.requests, excluded.requests),
			input = sat_add8(r.input, excluded.input),
			cache_read = sat_add8(r.cache_read, excluded.cache_read),
			cache_write_5m = sat_add8(r.cache_write_5m, excluded.cache_write_5m),
			cache_write_1h = sat_add8(r.cache_write_1h, excluded.cache_write_1h),
			output = sat_add8(r.output, excluded.output),
			reasoning = sat_add8(r.reasoning, excluded.reasoning),
			estimated_requests = sat_add8(r.estimated_requests, excluded.estimated_requests),
			cost_nano = sat_add8(r.cost_nano, excluded.cost_nano),
			unknown_cost_requests = sat_add8(r.unknown_cost_requests, excluded.unknown_cost_requests)
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
		SELECT day, attr, sat8(sum(requests)), sat8(sum(input)), sat8(sum(cache_read)), sat8(sum(cache_write_5m)), sat8(sum(cache_write_1h)),
			sat8(sum(output)), sat8(sum(reasoning)), sat8(sum(estimated_requests)), sat8(sum(cost_nano)), sat8(sum(unknown_cost_requests))
		FROM closed GROUP BY 1, 2 ORDER BY 1, 2
		ON CONFLICT (day, attr) DO UPDATE SET
			requests = sat_add8(r.requests, excluded.requests),
			input = sat_add8(r.input, excluded.input),
			cache_read = sat_add8(r.cache_read, excluded.cache_read),
			cache_write_5m = sat_add8(r.cache_write_5m, excluded.cache_write_5m),
			cache_write_1h = sat_add8(r.cache_write_1h, excluded.cache_write_1h),
			output = sat_add8(r.output, excluded.output),
			reasoning = sat_add8(r.reasoning, excluded.reasoning),
			estimated_requests = sat_add8(r.estimated_requests, excluded.estimated_requests),
			cost_nano = sat_add8(r.cost_nano, excluded.cost_nano),
			unknown_cost_requests = sat_add8(r.unknown_cost_requests, excluded.unknown_cost_requests)
	), udaily AS (
		INSERT INTO rollups_user_daily AS r (day, team, usr, requests, input, cache_read, cache_write_5m, cache_write_1h,
			output, reasoning, estimated_requests, cost_nano, unknown_cost_requests)
		SELECT c.day, a.team, a.usr, sat8(sum(c.requests)), sat8(sum(c.input)), sat8(sum(c.cache_read)), sat8(sum(c.cache_write_5m)),
			sat8(sum(c.cache_write_1h)), sat8(sum(c.output)), sat8(sum(c.reasoning)), sat8(sum(c.estimated_requests)), sat8(sum(c.cost_nano)),
			sat8(sum(c.unknown_cost_requests))
		FROM closed c JOIN attrs a ON a.id = c.attr GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
		ON CONFLICT (day, team, usr) DO UPDATE SET
			requests = sat_add8(r.requests, excluded.requests),
			input = sat_add8(r.input, excluded.input),
			cache_read = sat_add8(r.cache_read, excluded.cache_read),
			cache_write_5m = sat_add8(r.cache_write_5m, excluded.cache_write_5m),
			cache_write_1h = sat_add8(r.cache_write_1h, excluded.cache_write_1h),
			output = sat_add8(r.output, excluded.output),
			reasoning = sat_add8(r.reasoning, excluded.reasoning),
			estimated_requests = sat_add8(r.estimated_requests, excluded.estimated_requests),
			cost_nano = sat_add8(r.cost_nano, excluded.cost_nano),
			unknown_cost_requests = sat_add8(r.unknown_cost_requests, excluded.unknown_cost_requests)
	)
	INSERT INTO unpriced AS r (provider, model, requests, input, cache_read, cache_write_5m, cache_write_1h, output, reasoning, last_seen)
	SELECT a.provider, CASE WHEN a.served_model <> 0 THEN a.served_model ELSE a.req_model END, count(*), sat8(sum(n.input)),
		sat8(sum(n.cache_read)), sat8(sum(n.cache_write_5m)), sat8(sum(n.cache_write_1h)), sat8(sum(n.output)), sat8(sum(n.reasoning)), max(n.time)
	FROM new_rows n JOIN attrs a ON a.id = n.attr WHERE n.flags & 2 = 0 GROUP BY 1, 2 ORDER BY 1, 2
	ON CONFLICT (provider, model) DO UPDATE SET
		requests = sat_add8(r.requests, excluded.requests),
		input = sat_add8(r.input, excluded.input),
		cache_read = sat_add8(r.cache_read, excluded.cache_read),
		cache_write_5m = sat_add8(r.cache_write_5m, excluded.cache_write_5m),
		cache_write_1h = sat_add8(r.cache_write_1h, excluded.cache_write_1h),
		output = sat_add8(r.output, excluded.output),
		reasoning = sat_add8(r.reasoning, excluded.reasoning),
		last_seen = greatest(r.last_seen, excluded.last_seen);
	RETURN NULL;
END
$$;
