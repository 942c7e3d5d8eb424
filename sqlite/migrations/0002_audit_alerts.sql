-- 0002: the audit log, budget grants (top-ups) and notices (alerts).

-- audit is append-only: who changed what (org, keys, budgets, grants).
-- t is unix microseconds; seq orders entries of the same time.
CREATE TABLE audit (
	seq    INTEGER PRIMARY KEY,
	t      INTEGER NOT NULL,
	actor  TEXT NOT NULL,
	action TEXT NOT NULL,
	target TEXT NOT NULL,
	detail TEXT NOT NULL
);
CREATE INDEX audit_t ON audit (t);

-- grants are budget top-ups, in nano-USD (USD budgets) or tokens (token
-- budgets). until_us is unix microseconds; NULL lasts until the end of the
-- period in which the grant is applied.
CREATE TABLE grants (
	seq         INTEGER PRIMARY KEY,
	budget      TEXT NOT NULL,
	amount_nano INTEGER NOT NULL,
	tokens      INTEGER NOT NULL,
	until_us    INTEGER,
	reason      TEXT NOT NULL
);
CREATE INDEX grants_until ON grants (until_us);

-- notices are alerts (threshold crossings, downgrades, refusals), stored
-- once per id so replicas raising the same one at once deliver it once.
-- t is unix microseconds; detail is JSON text or NULL.
CREATE TABLE notices (
	id      TEXT PRIMARY KEY,
	t       INTEGER NOT NULL,
	kind    TEXT NOT NULL,
	budget  TEXT NOT NULL,
	scope   TEXT NOT NULL,
	usr     TEXT NOT NULL,
	message TEXT NOT NULL,
	detail  TEXT
) WITHOUT ROWID;
CREATE INDEX notices_t ON notices (t);
