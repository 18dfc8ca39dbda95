DROP TABLE initial_access_tokens;
DROP INDEX clients_owner;
ALTER TABLE clients DROP COLUMN registration_token_hash;
ALTER TABLE clients DROP COLUMN token_endpoint_auth_method;
