-- 0002: budget and rate-limit counters (Counters, counters.go) for
-- deployments with PostgreSQL and no Redis.

-- counter_cells holds one cell of a counter: spent and reserved of one key
-- in one bucket. keep is when the cell stops mattering (NULL: never);
-- cells are pruned an hour after it.
CREATE TABLE counter_cells (
	key      text COLLATE "C" NOT NULL,
	bucket   int8 NOT NULL,
	spent    int8 NOT NULL,
	reserved int8 NOT NULL,
	keep     timestamptz,
	PRIMARY KEY (key, bucket)
) WITH (fillfactor = 70);

-- counter_leases holds the leased part of reserved: what one lease holds
-- on one cell, until its deadline. A lapsed lease is taken back from its
-- cell by the next call that locks the key.
CREATE TABLE counter_leases (
	key      text COLLATE "C" NOT NULL,
	bucket   int8 NOT NULL,
	lease    text COLLATE "C" NOT NULL,
	amount   int8 NOT NULL,
	deadline timestamptz NOT NULL,
	PRIMARY KEY (key, bucket, lease)
);
CREATE INDEX counter_leases_deadline ON counter_leases (key, deadline);

-- counter_keep merges two keep times: NULL (keep for good) wins.
CREATE FUNCTION counter_keep(a timestamptz, b timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE greatest(a, b) END $$;

-- counter_lock takes the transaction-level advisory locks p_locks, in the
-- order given (ascending, so that concurrent callers never deadlock).
CREATE FUNCTION counter_lock(p_locks int8[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	l int8;
BEGIN
	FOREACH l IN ARRAY p_locks LOOP
		PERFORM pg_advisory_xact_lock(l);
	END LOOP;
END
$$;

-- counter_clean takes back the lapsed leases of the given keys. Callers
-- hold the keys' advisory locks.
CREATE FUNCTION counter_clean(p_keys text[], p_now timestamptz) RETURNS void
LANGUAGE sql AS $$
	WITH dead AS (
		DELETE FROM counter_leases WHERE key = ANY (p_keys) AND deadline <= p_now RETURNING key, bucket, amount
	), agg AS (
		SELECT key, bucket, sum8(amount) AS amount FROM dead GROUP BY key, bucket
	)
	UPDATE counter_cells c SET reserved = greatest(c.reserved - agg.amount, 0)
	FROM agg WHERE c.key = agg.key AND c.bucket = agg.bucket
$$;

-- counter_window returns spent and reserved over the span cells up to bucket.
CREATE FUNCTION counter_window(p_key text, p_bucket int8, p_span int4, OUT spent int8, OUT reserved int8)
LANGUAGE sql STABLE AS $$
	SELECT coalesce(sum8(c.spent), 0), coalesce(sum8(c.reserved), 0) FROM counter_cells c
	WHERE c.key = p_key AND c.bucket > p_bucket - p_span AND c.bucket <= p_bucket
$$;

-- counter_reserve is Counters.Reserve: under the advisory locks p_locks
-- (one per key, ascending, so concurrent calls never deadlock) it takes
-- back lapsed leases, checks every charge against its limit over its span
-- and, only if all fit, adds every amount. It returns {failed index (0
-- based) or -1, then spent and reserved of each charge}.
CREATE FUNCTION counter_reserve(p_locks int8[], p_keys text[], p_buckets int8[], p_spans int4[], p_amounts int8[],
	p_limits int8[], p_leases text[], p_ttls_ms int8[], p_keeps timestamptz[]) RETURNS int8[]
LANGUAGE plpgsql AS $$
DECLARE
	n     int := coalesce(array_length(p_keys, 1), 0);
	t_now timestamptz := clock_timestamp();
	res   int8[] := array_fill(0::int8, ARRAY[1 + 2 * n]);
	s     int8;
	r     int8;
BEGIN
	res[1] := -1;
	PERFORM counter_lock(p_locks);
	PERFORM counter_clean(p_keys, t_now);
	FOR i IN 1 .. n LOOP
		SELECT w.spent, w.reserved INTO s, r FROM counter_window(p_keys[i], p_buckets[i], p_spans[i]) w;
		res[2 * i] := s;
		res[2 * i + 1] := r;
		IF p_limits[i] >= 0 AND s + r + p_amounts[i] > p_limits[i] THEN
			res[1] := i - 1;
			RETURN res;
		END IF;
	END LOOP;
	FOR i IN 1 .. n LOOP
		CONTINUE WHEN p_amounts[i] = 0;
		INSERT INTO counter_cells AS c (key, bucket, spent, reserved, keep)
		VALUES (p_keys[i], p_buckets[i], 0, p_amounts[i], p_keeps[i])
		ON CONFLICT (key, bucket) DO UPDATE SET reserved = c.reserved + excluded.reserved, keep = counter_keep(c.keep, excluded.keep);
		res[2 * i + 1] := res[2 * i + 1] + p_amounts[i];
		IF p_leases[i] <> '' AND p_ttls_ms[i] > 0 THEN
			INSERT INTO counter_leases AS x (key, bucket, lease, amount, deadline)
			VALUES (p_keys[i], p_buckets[i], p_leases[i], p_amounts[i], t_now + p_ttls_ms[i] * interval '1 millisecond')
			ON CONFLICT (key, bucket, lease) DO UPDATE SET amount = x.amount + excluded.amount, deadline = greatest(x.deadline, excluded.deadline);
		END IF;
	END LOOP;
	RETURN res;
END
$$;

-- counter_settle is Counters.Settle and Release: under the keys' locks,
-- each charge's reservation is taken back (its lease's amount when leased,
-- nothing if the lease lapsed) and Actual is added to spent. With p_want it
-- returns spent and reserved of each charge's window afterwards.
CREATE FUNCTION counter_settle(p_locks int8[], p_keys text[], p_buckets int8[], p_spans int4[], p_amounts int8[],
	p_actuals int8[], p_leases text[], p_keeps timestamptz[], p_want bool) RETURNS int8[]
LANGUAGE plpgsql AS $$
DECLARE
	n     int := coalesce(array_length(p_keys, 1), 0);
	t_now timestamptz := clock_timestamp();
	res   int8[] := '{}';
	a     int8;
	s     int8;
	r     int8;
BEGIN
	PERFORM counter_lock(p_locks);
	PERFORM counter_clean(p_keys, t_now);
	FOR i IN 1 .. n LOOP
		a := NULL;
		IF p_leases[i] <> '' THEN
			DELETE FROM counter_leases WHERE key = p_keys[i] AND bucket = p_buckets[i] AND lease = p_leases[i] RETURNING amount INTO a;
		ELSE
			a := p_amounts[i];
		END IF;
		IF a IS NOT NULL AND a <> 0 THEN
			UPDATE counter_cells SET reserved = greatest(reserved - a, 0) WHERE key = p_keys[i] AND bucket = p_buckets[i];
		END IF;
		IF p_actuals[i] <> 0 THEN
			INSERT INTO counter_cells AS c (key, bucket, spent, reserved, keep)
			VALUES (p_keys[i], p_buckets[i], p_actuals[i], 0, p_keeps[i])
			ON CONFLICT (key, bucket) DO UPDATE SET spent = c.spent + excluded.spent, keep = counter_keep(c.keep, excluded.keep);
		END IF;
		IF p_want THEN
			SELECT w.spent, w.reserved INTO s, r FROM counter_window(p_keys[i], p_buckets[i], p_spans[i]) w;
			res := res || ARRAY[s, r];
		END IF;
	END LOOP;
	RETURN res;
END
$$;
