-- Moves after every access-token revocation, so instances reload their in-memory set.
INSERT INTO change_counters (name, value) VALUES ('revoked_access_tokens', 0);
