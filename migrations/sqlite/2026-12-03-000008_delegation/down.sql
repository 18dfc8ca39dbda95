DROP TABLE challenges;
ALTER TABLE sessions DROP COLUMN persistent;
ALTER TABLE users DROP COLUMN updated_at;
ALTER TABLE users DROP COLUMN disabled;
ALTER TABLE users DROP COLUMN preferred_username;
ALTER TABLE users DROP COLUMN source;
