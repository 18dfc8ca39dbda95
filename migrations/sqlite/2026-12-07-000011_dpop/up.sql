-- DPoP (RFC 9449): sender-constrained tokens.
-- A client registered with dpop_bound_access_tokens (RFC 9449 §5.2) is refused a
-- token without a proof.
ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens BOOLEAN NOT NULL DEFAULT FALSE;
-- The JWK thumbprint a family's refresh tokens are bound to: set when a public
-- client is issued tokens with a proof (§5); every refresh must prove that key.
ALTER TABLE token_families ADD COLUMN dpop_jkt TEXT;
-- The thumbprint an authorization request named in dpop_jkt (§10): the code is
-- redeemed only with a proof by that key.
ALTER TABLE authorization_codes ADD COLUMN dpop_jkt TEXT;
