-- 0008: self-service keys may expire (api/keys.go); people are found by
-- email, without case, when they sign in with OpenID Connect.
ALTER TABLE keys ADD COLUMN expires_at timestamptz;
CREATE INDEX users_email ON users (lower(email));
