-- OAuth clients (applications). Secrets are stored only as SHA-256 digests.
CREATE TABLE clients (
    id            TEXT PRIMARY KEY,
    secret_hash   BLOB,
    client_type   TEXT NOT NULL,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    website       TEXT,
    icon_url      TEXT,
    redirect_uris TEXT NOT NULL DEFAULT '[]',
    grant_types   TEXT NOT NULL,
    scopes        TEXT NOT NULL,
    owner_id      TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
