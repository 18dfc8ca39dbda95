DROP TABLE revoked_access_tokens;
DROP TABLE refresh_tokens;
DROP TABLE authorization_codes;
DROP TABLE token_families;
DROP TABLE consents;
DROP TABLE sessions;
DROP TABLE users;
