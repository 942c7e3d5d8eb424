-- A packed day now keeps each part's calls and extras in separate rows:
-- calls at parts 0-63, extras at 64 + part (insights_read.go). A row
-- holding both made reading the extras walk the calls blob's overflow
-- pages first, one read per 4 KB, for every part of every day. Packed
-- days are a cache: readers pack them again in the new layout.
DELETE FROM insight_days;
