-- 0008: provisioning by an identity provider (SCIM, docs/sso.md).
-- users.source says who brought a person (org, scim, sso): org.yaml
-- deactivates only its own. Accounts and groups are what SCIM keeps about
-- people and groups; a person's team follows their groups. Revoked keys
-- are found by time, so replicas drop them from their caches at once.

ALTER TABLE users ADD COLUMN IF NOT EXISTS source text NOT NULL DEFAULT 'org';
CREATE INDEX IF NOT EXISTS users_email ON users (lower(email));
CREATE INDEX IF NOT EXISTS keys_revoked ON keys (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS scim_accounts (
	id           text COLLATE "C" PRIMARY KEY,
	usr          text COLLATE "C" NOT NULL UNIQUE REFERENCES users (name),
	external_id  text NOT NULL,
	display_name text NOT NULL,
	given_name   text NOT NULL,
	family_name  text NOT NULL,
	created_at   timestamptz NOT NULL,
	modified_at  timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS scim_groups (
	id           text COLLATE "C" PRIMARY KEY,
	display_name text COLLATE "C" NOT NULL UNIQUE,
	external_id  text NOT NULL,
	team         text COLLATE "C" NOT NULL,
	created_at   timestamptz NOT NULL,
	modified_at  timestamptz NOT NULL
);

-- seq orders joins: a person's team is that of the group they joined last.
CREATE SEQUENCE IF NOT EXISTS scim_member_seq;
CREATE TABLE IF NOT EXISTS scim_members (
	grp     text COLLATE "C" NOT NULL REFERENCES scim_groups (id) ON DELETE CASCADE,
	account text COLLATE "C" NOT NULL REFERENCES scim_accounts (id) ON DELETE CASCADE,
	seq     bigint NOT NULL DEFAULT nextval('scim_member_seq'),
	PRIMARY KEY (grp, account)
);
CREATE INDEX IF NOT EXISTS scim_members_account ON scim_members (account, seq);
