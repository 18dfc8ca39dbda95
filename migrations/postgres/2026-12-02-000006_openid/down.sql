ALTER TABLE users DROP COLUMN email_verified;
ALTER TABLE clients DROP COLUMN post_logout_redirect_uris;
ALTER TABLE token_families DROP COLUMN auth_time;
ALTER TABLE authorization_codes DROP COLUMN identity;
ALTER TABLE authorization_codes DROP COLUMN auth_time;
ALTER TABLE authorization_codes DROP COLUMN nonce;
