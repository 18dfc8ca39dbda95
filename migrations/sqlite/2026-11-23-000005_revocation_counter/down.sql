DELETE FROM change_counters WHERE name = 'revoked_access_tokens';
