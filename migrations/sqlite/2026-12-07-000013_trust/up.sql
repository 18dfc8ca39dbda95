-- Identities of other issuers linked to a user: the (issuer, subject) pairs an
-- ID-JAG (or later an upstream sign-in) maps to this user. One user per pair.
CREATE TABLE linked_identities (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (issuer, subject)
);
CREATE INDEX linked_identities_user_id ON linked_identities (user_id);
-- Token exchange policy (RFC 8693), the operator's per client: the audiences it
-- may exchange tokens for (a JSON array), and the other servers it may get
-- ID-JAGs for (a JSON object, their issuer to this client's id there).
ALTER TABLE clients ADD COLUMN token_exchange_audiences TEXT;
ALTER TABLE clients ADD COLUMN id_jag_audiences TEXT;
