-- Pushed authorization requests (RFC 9126): the parameters a client sent to
-- /oauth/par, kept under the SHA-256 of the request_uri handed back, for one
-- authorization (used_at is set when its code is issued) until expires_at.
CREATE TABLE pushed_requests (
    request_uri_hash BYTEA PRIMARY KEY,
    client_id        TEXT NOT NULL,
    params           TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    used_at          BIGINT
);
CREATE INDEX pushed_requests_expires_at ON pushed_requests (expires_at);
-- A client that must push its authorization requests (RFC 9126 §6).
ALTER TABLE clients ADD COLUMN require_pushed_authorization_requests BOOLEAN NOT NULL DEFAULT FALSE;
