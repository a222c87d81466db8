-- smartlic license manager, initial schema (PostgreSQL).
-- Ids are text UUIDs, times integer epoch seconds, flags 0/1. Keep in step with ../sqlite.

CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL UNIQUE,          -- lower-case name: names are unique ignoring case
    domain      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE virtual_accounts (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    version     BIGINT NOT NULL DEFAULT 0,     -- bumped to serialize licence moves of the VA
    UNIQUE (account_id, name_key)
);

-- Purchased licences. A transfer is a pair of rows (negative in the source, positive in the
-- destination) with the same end date, so licences keep their end date when they move.
CREATE TABLE license_deposits (
    id          TEXT PRIMARY KEY,
    va_id       TEXT NOT NULL REFERENCES virtual_accounts (id),
    sku         TEXT NOT NULL,
    quantity    BIGINT NOT NULL,
    end_date    BIGINT,                        -- licences count while now < end_date; NULL: perpetual
    kind        TEXT NOT NULL,                 -- deposit | transfer-in | transfer-out
    transfer_id TEXT,
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL
);
CREATE INDEX license_deposits_va_sku ON license_deposits (va_id, sku);

CREATE TABLE registration_tokens (
    id                TEXT PRIMARY KEY,
    va_id             TEXT NOT NULL REFERENCES virtual_accounts (id),
    secret_hash       TEXT NOT NULL UNIQUE,    -- SHA-256 (hex) of the secret; the secret is never stored
    description       TEXT NOT NULL DEFAULT '',
    created_at        BIGINT NOT NULL,
    created_by        TEXT NOT NULL,
    expires_at        BIGINT NOT NULL,
    max_uses          BIGINT,                  -- NULL: unlimited
    uses              BIGINT NOT NULL DEFAULT 0,
    revoked_at        BIGINT,
    export_controlled BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX registration_tokens_va ON registration_tokens (va_id);

CREATE TABLE product_instances (
    id                 TEXT PRIMARY KEY,
    account_id         TEXT NOT NULL REFERENCES accounts (id),
    va_id              TEXT NOT NULL REFERENCES virtual_accounts (id),
    udi_pid            TEXT NOT NULL,
    udi_sn             TEXT NOT NULL,
    hostname           TEXT NOT NULL,
    software_tag       TEXT NOT NULL,
    agent_version      TEXT NOT NULL,
    public_key         TEXT NOT NULL,          -- Ed25519, base64 of the raw 32 bytes
    token_id           TEXT,
    export_controlled  BIGINT NOT NULL DEFAULT 0,
    registered_at      BIGINT NOT NULL,
    last_contact       BIGINT NOT NULL,
    id_cert_expires_at BIGINT NOT NULL,
    last_auth_at       BIGINT,
    last_auth_status   TEXT,
    UNIQUE (account_id, udi_pid, udi_sn)
);
CREATE INDEX product_instances_va ON product_instances (va_id);

CREATE TABLE instance_usage (
    instance_id TEXT NOT NULL REFERENCES product_instances (id) ON DELETE CASCADE,
    sku         TEXT NOT NULL,
    count       BIGINT NOT NULL,
    PRIMARY KEY (instance_id, sku)
);

-- Licences in use per virtual account and SKU, kept in the same transaction as instance_usage.
CREATE TABLE va_usage (
    va_id  TEXT NOT NULL REFERENCES virtual_accounts (id),
    sku    TEXT NOT NULL,
    in_use BIGINT NOT NULL,
    PRIMARY KEY (va_id, sku)
);

CREATE TABLE seen_nonces (
    nonce   TEXT PRIMARY KEY,
    seen_at BIGINT NOT NULL                    -- the request's timestamp
);
CREATE INDEX seen_nonces_seen_at ON seen_nonces (seen_at);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    email         TEXT NOT NULL,
    email_key     TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,               -- sa-admin | sa-user | va-admin | va-user
    va_id         TEXT REFERENCES virtual_accounts (id),
    api_key_hash  TEXT NOT NULL UNIQUE,        -- SHA-256 (hex) of the API key
    password_hash TEXT,                        -- argon2id PHC string
    created_at    BIGINT NOT NULL,
    disabled_at   BIGINT
);
CREATE INDEX users_account ON users (account_id);

CREATE TABLE operator_keys (
    key_hash   TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);

-- The one PKI of the installation, shared by every server on the database.
CREATE TABLE pki (
    id               BIGINT PRIMARY KEY CHECK (id = 1),
    ca_cert_pem      TEXT NOT NULL,
    ca_key_pem       TEXT NOT NULL,
    signing_cert_pem TEXT NOT NULL,
    signing_key      TEXT NOT NULL,            -- Ed25519 seed, base64
    created_at       BIGINT NOT NULL
);

-- Append-only.
CREATE TABLE events (
    id         BIGSERIAL PRIMARY KEY,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    account_id TEXT,
    va_id      TEXT,
    object_id  TEXT,
    detail     TEXT NOT NULL,
    source     TEXT
);
CREATE INDEX events_account ON events (account_id, id);
