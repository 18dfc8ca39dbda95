-- Apps: how a client was registered (RFC 7591), its registration access token
-- (RFC 7592, stored as a SHA-256), and initial access tokens for token-protected
-- registration.
ALTER TABLE clients ADD COLUMN token_endpoint_auth_method TEXT;
ALTER TABLE clients ADD COLUMN registration_token_hash BLOB;
CREATE INDEX clients_owner ON clients(owner_id);

CREATE TABLE initial_access_tokens (
    token_hash    BLOB PRIMARY KEY,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
