-- Clients that authenticate with a signed assertion (private_key_jwt, RFC 7523
-- §2.2) instead of a secret: their public keys by value (jwks, a JSON JWK Set with
-- no private member) or by reference (jwks_uri, fetched under the fetch rules).
-- At most one of the two is set, and only for token_endpoint_auth_method
-- 'private_key_jwt'.
ALTER TABLE clients ADD COLUMN jwks TEXT;
ALTER TABLE clients ADD COLUMN jwks_uri TEXT;

-- JWT ids already accepted (client assertions now, assertion grants later), shared
-- by every instance on this database so a replay is refused wherever it lands.
-- jti_hash is SHA-256 over a purpose, the issuer and the jti; a row is kept until
-- the assertion it came from could no longer be accepted, then swept.
CREATE TABLE used_jtis (
    jti_hash   BLOB PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX used_jtis_expires_at ON used_jtis (expires_at);
