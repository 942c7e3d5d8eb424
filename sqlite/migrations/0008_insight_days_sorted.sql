-- Packed days now keep each part's call entries sorted by session, then
-- attribution and system prompt (insights_read.go), so that reading a
-- month merges a session's entries of a day without a table per day.
-- Packed days are a cache: readers pack them again in the new order.
DELETE FROM insight_days;
