-- OpenID Connect: the nonce an authorization request carried (echoed in the ID
-- token), when the person signed in (auth_time, kept for ID tokens issued on
-- refresh), who signed in (a JSON snapshot of their claims, so the code exchange
-- needs no second query), where a client may send people after signing out, and
-- whether a user's email address was verified.
ALTER TABLE authorization_codes ADD COLUMN nonce TEXT;
ALTER TABLE authorization_codes ADD COLUMN auth_time BIGINT;
ALTER TABLE authorization_codes ADD COLUMN identity TEXT;
ALTER TABLE token_families ADD COLUMN auth_time BIGINT;
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;
