-- 0006: budget and rate-limit counters saturate instead of overflowing.
-- int8 arithmetic raises an error on overflow, so one absurd amount (a
-- worst case priced at the largest int8, usage summed past it) made every
-- later call on the counter fail. Sums and additions now stop at the
-- largest int8: a full budget stays full, and no counter turns negative.
-- Settling a negative actual adds nothing (spend only grows).

-- counter_add is a + b saturated at ±(2^63 - 1).
CREATE FUNCTION counter_add(a int8, b int8) RETURNS int8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
	SELECT CASE
		WHEN b > 0 AND a > 9223372036854775807 - b THEN 9223372036854775807
		WHEN b < 0 AND a < -9223372036854775807 - b THEN -9223372036854775807
		ELSE a + b END
$$;

-- counter_sum sums int8 with counter_add.
CREATE AGGREGATE counter_sum(int8) (SFUNC = counter_add, STYPE = int8, COMBINEFUNC = counter_add, PARALLEL = SAFE);

CREATE OR REPLACE FUNCTION counter_clean(p_keys text[], p_now timestamptz) RETURNS void
LANGUAGE sql AS $$
	WITH dead AS (
		DELETE FROM counter_leases WHERE key = ANY (p_keys) AND deadline <= p_now RETURNING key, bucket, amount
	), agg AS (
		SELECT key, bucket, counter_sum(amount) AS amount FROM dead GROUP BY key, bucket
	)
	UPDATE counter_cells c SET reserved = greatest(c.reserved - agg.amount, 0)
	FROM agg WHERE c.key = agg.key AND c.bucket = agg.bucket
$$;

CREATE OR REPLACE FUNCTION counter_window(p_key text, p_bucket int8, p_span int4, OUT spent int8, OUT reserved int8)
LANGUAGE sql STABLE AS $$
	SELECT coalesce(counter_sum(c.spent), 0), coalesce(counter_sum(c.reserved), 0) FROM counter_cells c
	WHERE c.key = p_key AND c.bucket > p_bucket - p_span AND c.bucket <= p_bucket
$$;

CREATE OR REPLACE FUNCTION counter_reserve(p_locks int8[], p_keys text[], p_buckets int8[], p_spans int4[], p_amounts int8[],
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
		IF p_limits[i] >= 0 AND counter_add(counter_add(s, r), p_amounts[i]) > p_limits[i] THEN
			res[1] := i - 1;
			RETURN res;
		END IF;
	END LOOP;
	FOR i IN 1 .. n LOOP
		CONTINUE WHEN p_amounts[i] = 0;
		INSERT INTO counter_cells AS c (key, bucket, spent, reserved, keep)
		VALUES (p_keys[i], p_buckets[i], 0, p_amounts[i], p_keeps[i])
		ON CONFLICT (key, bucket) DO UPDATE SET reserved = counter_add(c.reserved, excluded.reserved), keep = counter_keep(c.keep, excluded.keep);
		res[2 * i + 1] := counter_add(res[2 * i + 1], p_amounts[i]);
		IF p_leases[i] <> '' AND p_ttls_ms[i] > 0 THEN
			INSERT INTO counter_leases AS x (key, bucket, lease, amount, deadline)
			VALUES (p_keys[i], p_buckets[i], p_leases[i], p_amounts[i], t_now + p_ttls_ms[i] * interval '1 millisecond')
			ON CONFLICT (key, bucket, lease) DO UPDATE SET amount = counter_add(x.amount, excluded.amount), deadline = greatest(x.deadline, excluded.deadline);
		END IF;
	END LOOP;
	RETURN res;
END
$$;

CREATE OR REPLACE FUNCTION counter_settle(p_locks int8[], p_keys text[], p_buckets int8[], p_spans int4[], p_amounts int8[],
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
		IF p_actuals[i] > 0 THEN
			INSERT INTO counter_cells AS c (key, bucket, spent, reserved, keep)
			VALUES (p_keys[i], p_buckets[i], p_actuals[i], 0, p_keeps[i])
			ON CONFLICT (key, bucket) DO UPDATE SET spent = counter_add(c.spent, excluded.spent), keep = counter_keep(c.keep, excluded.keep);
		END IF;
		IF p_want THEN
			SELECT w.spent, w.reserved INTO s, r FROM counter_window(p_keys[i], p_buckets[i], p_spans[i]) w;
			res := res || ARRAY[s, r];
		END IF;
	END LOOP;
	RETURN res;
END
$$;
