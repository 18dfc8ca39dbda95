-- The audit trail: security events (sign-ins, consents, token theft signs, client
-- and key changes, admin actions), kept for audit_retention. actor_kind says who
-- acted: user, admin (an operator's admin token), cli, registration, client,
-- product (a delegated sign-in answer) or anonymous; actor names them. detail is a
-- JSON object; no password, secret or token is ever written here.
CREATE TABLE audit_events (
    id         TEXT PRIMARY KEY,
    at         BIGINT NOT NULL,
    event      TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor      TEXT,
    subject    TEXT,
    address    TEXT,
    detail     TEXT NOT NULL
);
CREATE INDEX audit_events_at ON audit_events (at, id);
