-- 0009: sums saturate (satsum.go). Before, SQLite's + turned a sum past
-- the int64 range into a REAL, which no report, insight or budget rebuild
-- could read back, and Go sums of insight aggregates wrapped to negative.
-- A REAL in a sum column is such an overflow: it becomes the bound the sum
-- now saturates at. Packed insight days are a cache that may hold wrapped
-- sums: readers pack them again (as after 0008).

UPDATE rollups_hourly SET
	requests = iif(typeof(requests) = 'real', iif(requests > 0, 9223372036854775807, -9223372036854775807), requests),
	input = iif(typeof(input) = 'real', iif(input > 0, 9223372036854775807, -9223372036854775807), input),
	cache_read = iif(typeof(cache_read) = 'real', iif(cache_read > 0, 9223372036854775807, -9223372036854775807), cache_read),
	cache_write_5m = iif(typeof(cache_write_5m) = 'real', iif(cache_write_5m > 0, 9223372036854775807, -9223372036854775807), cache_write_5m),
	cache_write_1h = iif(typeof(cache_write_1h) = 'real', iif(cache_write_1h > 0, 9223372036854775807, -9223372036854775807), cache_write_1h),
	output = iif(typeof(output) = 'real', iif(output > 0, 9223372036854775807, -9223372036854775807), output),
	reasoning = iif(typeof(reasoning) = 'real', iif(reasoning > 0, 9223372036854775807, -9223372036854775807), reasoning),
	estimated_requests = iif(typeof(estimated_requests) = 'real', iif(estimated_requests > 0, 9223372036854775807, -9223372036854775807), estimated_requests),
	cost_nano = iif(typeof(cost_nano) = 'real', iif(cost_nano > 0, 9223372036854775807, -9223372036854775807), cost_nano),
	unknown_cost_requests = iif(typeof(unknown_cost_requests) = 'real', iif(unknown_cost_requests > 0, 9223372036854775807, -9223372036854775807), unknown_cost_requests)
WHERE typeof(requests) = 'real' OR typeof(input) = 'real' OR typeof(cache_read) = 'real' OR typeof(cache_write_5m) = 'real' OR typeof(cache_write_1h) = 'real' OR typeof(output) = 'real' OR typeof(reasoning) = 'real' OR typeof(estimated_requests) = 'real' OR typeof(cost_nano) = 'real' OR typeof(unknown_cost_requests) = 'real';

UPDATE unpriced SET
	requests = iif(typeof(requests) = 'real', iif(requests > 0, 9223372036854775807, -9223372036854775807), requests),
	input = iif(typeof(input) = 'real', iif(input > 0, 9223372036854775807, -9223372036854775807), input),
	cache_read = iif(typeof(cache_read) = 'real', iif(cache_read > 0, 9223372036854775807, -9223372036854775807), cache_read),
	cache_write_5m = iif(typeof(cache_write_5m) = 'real', iif(cache_write_5m > 0, 9223372036854775807, -9223372036854775807), cache_write_5m),
	cache_write_1h = iif(typeof(cache_write_1h) = 'real', iif(cache_write_1h > 0, 9223372036854775807, -9223372036854775807), cache_write_1h),
	output = iif(typeof(output) = 'real', iif(output > 0, 9223372036854775807, -9223372036854775807), output),
	reasoning = iif(typeof(reasoning) = 'real', iif(reasoning > 0, 9223372036854775807, -9223372036854775807), reasoning)
WHERE typeof(requests) = 'real' OR typeof(input) = 'real' OR typeof(cache_read) = 'real' OR typeof(cache_write_5m) = 'real' OR typeof(cache_write_1h) = 'real' OR typeof(output) = 'real' OR typeof(reasoning) = 'real';

UPDATE insight_calls SET
	requests = iif(typeof(requests) = 'real', iif(requests > 0, 9223372036854775807, -9223372036854775807), requests),
	input = iif(typeof(input) = 'real', iif(input > 0, 9223372036854775807, -9223372036854775807), input),
	cache_read = iif(typeof(cache_read) = 'real', iif(cache_read > 0, 9223372036854775807, -9223372036854775807), cache_read),
	cache_write_5m = iif(typeof(cache_write_5m) = 'real', iif(cache_write_5m > 0, 9223372036854775807, -9223372036854775807), cache_write_5m),
	cache_write_1h = iif(typeof(cache_write_1h) = 'real', iif(cache_write_1h > 0, 9223372036854775807, -9223372036854775807), cache_write_1h),
	output = iif(typeof(output) = 'real', iif(output > 0, 9223372036854775807, -9223372036854775807), output),
	cost_nano = iif(typeof(cost_nano) = 'real', iif(cost_nano > 0, 9223372036854775807, -9223372036854775807), cost_nano),
	min_input = iif(typeof(min_input) = 'real', iif(min_input > 0, 9223372036854775807, -9223372036854775807), min_input),
	cache_misses = iif(typeof(cache_misses) = 'real', iif(cache_misses > 0, 9223372036854775807, -9223372036854775807), cache_misses),
	first_input = iif(typeof(first_input) = 'real', iif(first_input > 0, 9223372036854775807, -9223372036854775807), first_input),
	last_input = iif(typeof(last_input) = 'real', iif(last_input > 0, 9223372036854775807, -9223372036854775807), last_input),
	growing = iif(typeof(growing) = 'real', iif(growing > 0, 9223372036854775807, -9223372036854775807), growing)
WHERE typeof(requests) = 'real' OR typeof(input) = 'real' OR typeof(cache_read) = 'real' OR typeof(cache_write_5m) = 'real' OR typeof(cache_write_1h) = 'real' OR typeof(output) = 'real' OR typeof(cost_nano) = 'real' OR typeof(min_input) = 'real' OR typeof(cache_misses) = 'real' OR typeof(first_input) = 'real' OR typeof(last_input) = 'real' OR typeof(growing) = 'real';

UPDATE insight_extras SET
	failed_requests = iif(typeof(failed_requests) = 'real', iif(failed_requests > 0, 9223372036854775807, -9223372036854775807), failed_requests),
	failed_input = iif(typeof(failed_input) = 'real', iif(failed_input > 0, 9223372036854775807, -9223372036854775807), failed_input),
	failed_output = iif(typeof(failed_output) = 'real', iif(failed_output > 0, 9223372036854775807, -9223372036854775807), failed_output),
	failed_cost_nano = iif(typeof(failed_cost_nano) = 'real', iif(failed_cost_nano > 0, 9223372036854775807, -9223372036854775807), failed_cost_nano),
	dup_requests = iif(typeof(dup_requests) = 'real', iif(dup_requests > 0, 9223372036854775807, -9223372036854775807), dup_requests),
	dup_input = iif(typeof(dup_input) = 'real', iif(dup_input > 0, 9223372036854775807, -9223372036854775807), dup_input),
	dup_output = iif(typeof(dup_output) = 'real', iif(dup_output > 0, 9223372036854775807, -9223372036854775807), dup_output),
	dup_cost_nano = iif(typeof(dup_cost_nano) = 'real', iif(dup_cost_nano > 0, 9223372036854775807, -9223372036854775807), dup_cost_nano),
	nomax_requests = iif(typeof(nomax_requests) = 'real', iif(nomax_requests > 0, 9223372036854775807, -9223372036854775807), nomax_requests),
	nomax_output = iif(typeof(nomax_output) = 'real', iif(nomax_output > 0, 9223372036854775807, -9223372036854775807), nomax_output),
	long0_requests = iif(typeof(long0_requests) = 'real', iif(long0_requests > 0, 9223372036854775807, -9223372036854775807), long0_requests),
	long0_output = iif(typeof(long0_output) = 'real', iif(long0_output > 0, 9223372036854775807, -9223372036854775807), long0_output),
	long1_requests = iif(typeof(long1_requests) = 'real', iif(long1_requests > 0, 9223372036854775807, -9223372036854775807), long1_requests),
	long1_output = iif(typeof(long1_output) = 'real', iif(long1_output > 0, 9223372036854775807, -9223372036854775807), long1_output),
	long2_requests = iif(typeof(long2_requests) = 'real', iif(long2_requests > 0, 9223372036854775807, -9223372036854775807), long2_requests),
	long2_output = iif(typeof(long2_output) = 'real', iif(long2_output > 0, 9223372036854775807, -9223372036854775807), long2_output),
	long3_requests = iif(typeof(long3_requests) = 'real', iif(long3_requests > 0, 9223372036854775807, -9223372036854775807), long3_requests),
	long3_output = iif(typeof(long3_output) = 'real', iif(long3_output > 0, 9223372036854775807, -9223372036854775807), long3_output)
WHERE typeof(failed_requests) = 'real' OR typeof(failed_input) = 'real' OR typeof(failed_output) = 'real' OR typeof(failed_cost_nano) = 'real' OR typeof(dup_requests) = 'real' OR typeof(dup_input) = 'real' OR typeof(dup_output) = 'real' OR typeof(dup_cost_nano) = 'real' OR typeof(nomax_requests) = 'real' OR typeof(nomax_output) = 'real' OR typeof(long0_requests) = 'real' OR typeof(long0_output) = 'real' OR typeof(long1_requests) = 'real' OR typeof(long1_output) = 'real' OR typeof(long2_requests) = 'real' OR typeof(long2_output) = 'real' OR typeof(long3_requests) = 'real' OR typeof(long3_output) = 'real';

DELETE FROM insight_days;
