-- Bring your own users. A user is either a local account (source 'local', with a
-- password) or an identity a product vouched for through delegated sign-in (source
-- 'delegated': its id is the product's subject, it has no usable password, and its
-- username column holds 'delegated:<subject>' so it can never collide with a local
-- username, which cannot contain ':'). preferred_username is the name the product
-- gave it. A disabled user cannot sign in.
ALTER TABLE users ADD COLUMN source TEXT NOT NULL DEFAULT 'local';
ALTER TABLE users ADD COLUMN preferred_username TEXT;
ALTER TABLE users ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;

-- A session started by a delegated sign-in without 'remember' serves the one
-- authorization it was made for and ends with it.
ALTER TABLE sessions ADD COLUMN persistent BOOLEAN NOT NULL DEFAULT TRUE;

-- Login and consent challenges handed to the product (kind 'login' or 'consent').
-- Only SHA-256 digests of the challenge, of its verifier and of the browser's
-- binding cookie are stored. request is the authorization request's query string.
CREATE TABLE challenges (
    challenge_hash BLOB PRIMARY KEY,
    kind           TEXT NOT NULL,
    browser_hash   BLOB NOT NULL,
    client_id      TEXT NOT NULL,
    request        TEXT NOT NULL,
    scopes         TEXT NOT NULL,
    user_id        TEXT REFERENCES users(id) ON DELETE CASCADE,
    session_hash   BLOB,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    answered_at    BIGINT,
    answer         TEXT,
    verifier_hash  BLOB,
    used_at        BIGINT
);
CREATE INDEX challenges_verifier ON challenges(verifier_hash);
CREATE INDEX challenges_expiry ON challenges(expires_at);
