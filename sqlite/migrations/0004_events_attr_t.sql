-- 0004: the request log (ListEvents) filtered to one person, task or model
-- reads that attribution's events newest first through this index instead
-- of scanning every event in the range. It holds (attr, t, seq), so the
-- page of ids is found from the index alone.
CREATE INDEX events_attr_t ON events (attr, t);
