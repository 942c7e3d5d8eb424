-- rollup_hour_versions and rollup_day_versions count, per unix hour and
-- unix day (UTC), the transactions that changed that hour's or day's rows
-- of rollups_hourly since this migration (no row: none). Reports keep
-- hours and days of rollups in memory (rollupcache.go) and reuse them for
-- as long as their version is unchanged, so every change to rollups_hourly
-- bumps them in its own transaction: Append does so for the hours and days
-- of its events (rollup.go), and the trigger below for any deletion (a
-- relabel rebuilds a day's rows by deleting those of the attributions it
-- moves and inserting them again in the same hours; retention would delete
-- them). Versions only grow: never delete these rows.
CREATE TABLE rollup_hour_versions (
	hour INTEGER PRIMARY KEY,
	v    INTEGER NOT NULL
);
CREATE TABLE rollup_day_versions (
	day INTEGER PRIMARY KEY,
	v   INTEGER NOT NULL
);
CREATE TRIGGER rollups_hourly_deleted AFTER DELETE ON rollups_hourly BEGIN
	INSERT INTO rollup_hour_versions (hour, v) VALUES (OLD.hour, 1) ON CONFLICT (hour) DO UPDATE SET v = v + 1;
	INSERT INTO rollup_day_versions (day, v) VALUES (OLD.hour / 24, 1) ON CONFLICT (day) DO UPDATE SET v = v + 1;
END;
