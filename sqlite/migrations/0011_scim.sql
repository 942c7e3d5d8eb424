-- 0010: provisioning by an identity provider (SCIM, docs/sso.md).
-- user_sources says who brought a person (scim, sso; no row: org.yaml):
-- org.yaml deactivates only its own. Every statement may run again (a
-- database whose later migrations are replayed). Accounts and groups are what SCIM keeps about
-- people and groups; a person's team follows their groups. Revoked keys
-- are found by time, so replicas drop them from their caches at once.

CREATE TABLE IF NOT EXISTS user_sources (
	usr    TEXT PRIMARY KEY REFERENCES users (name),
	source TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS users_email ON users (lower(email));
CREATE INDEX IF NOT EXISTS keys_revoked ON keys (revoked_us) WHERE revoked_us IS NOT NULL;

CREATE TABLE IF NOT EXISTS scim_accounts (
	id           TEXT PRIMARY KEY,
	usr          TEXT NOT NULL UNIQUE REFERENCES users (name),
	external_id  TEXT NOT NULL,
	display_name TEXT NOT NULL,
	given_name   TEXT NOT NULL,
	family_name  TEXT NOT NULL,
	created_us   INTEGER NOT NULL,
	modified_us  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS scim_groups (
	id           TEXT PRIMARY KEY,
	display_name TEXT NOT NULL UNIQUE,
	external_id  TEXT NOT NULL,
	team         TEXT NOT NULL,
	created_us   INTEGER NOT NULL,
	modified_us  INTEGER NOT NULL
) WITHOUT ROWID;

-- seq orders joins: a person's team is that of the group they joined last.
CREATE TABLE IF NOT EXISTS scim_members (
	grp     TEXT NOT NULL REFERENCES scim_groups (id) ON DELETE CASCADE,
	account TEXT NOT NULL REFERENCES scim_accounts (id) ON DELETE CASCADE,
	seq     INTEGER NOT NULL,
	PRIMARY KEY (grp, account)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS scim_members_account ON scim_members (account, seq);
