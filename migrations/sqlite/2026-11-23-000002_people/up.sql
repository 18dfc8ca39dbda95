-- People: users, browser sessions, remembered consent, authorization codes, and
-- token families with their refresh tokens. Every secret is stored as a SHA-256.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    email         TEXT,
    name          TEXT,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
    id_hash       BLOB PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE consents (
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id     TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    scopes        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- One row per authorization (code) and the tokens descending from it.
CREATE TABLE token_families (
    id            TEXT PRIMARY KEY,
    client_id     TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    scopes        TEXT NOT NULL,
    resources     TEXT NOT NULL DEFAULT '[]',
    current_hash  BLOB,
    previous_hash BLOB,
    rotated_at    BIGINT,
    retry_used    BOOLEAN NOT NULL DEFAULT FALSE,
    activated_at  BIGINT,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT NOT NULL,
    revoked_at    BIGINT
);
CREATE INDEX token_families_user_client ON token_families(user_id, client_id);

CREATE TABLE authorization_codes (
    code_hash             BLOB PRIMARY KEY,
    family_id             TEXT NOT NULL REFERENCES token_families(id) ON DELETE CASCADE,
    client_id             TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    user_id               TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    redirect_uri          TEXT NOT NULL,
    redirect_uri_explicit BOOLEAN NOT NULL,
    scopes                TEXT NOT NULL,
    resources             TEXT NOT NULL DEFAULT '[]',
    code_challenge        TEXT,
    created_at            BIGINT NOT NULL,
    expires_at            BIGINT NOT NULL,
    consumed_at           BIGINT
);

CREATE TABLE refresh_tokens (
    token_hash    BLOB PRIMARY KEY,
    family_id     TEXT NOT NULL REFERENCES token_families(id) ON DELETE CASCADE,
    issued_at     BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);

-- Access tokens revoked one by one (RFC 7009), kept until they expire anyway.
CREATE TABLE revoked_access_tokens (
    jti           TEXT PRIMARY KEY,
    expires_at    BIGINT NOT NULL
);
