-- Counters bumped after every change to a table whose rows instances cache in memory;
-- each instance polls them and drops its cache when one moves.
CREATE TABLE change_counters (
    name          TEXT PRIMARY KEY,
    value         BIGINT NOT NULL
);
INSERT INTO change_counters (name, value) VALUES ('clients', 0);
