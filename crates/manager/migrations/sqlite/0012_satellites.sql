-- smartlic license manager: satellite managers of a virtual account (docs/satellite.md), the
-- parent's side. A satellite's product instances and their usage per SKU are replaced at each
-- exchange; its usage counts in the VA's va_usage totals (changed by the difference in the same
-- transaction). Keep in step with the other engine's migration of the same number.

CREATE TABLE satellites (
    id                  TEXT PRIMARY KEY,            -- named in its token and in every exchange file
    account_id          TEXT NOT NULL REFERENCES accounts (id),
    va_id               TEXT NOT NULL REFERENCES virtual_accounts (id),
    name                TEXT NOT NULL,
    name_key            TEXT NOT NULL,               -- lower-case name: unique per account
    secret              TEXT NOT NULL,               -- the token's one-time secret, sealed under the master key
    identity_key        TEXT,                        -- the satellite's Ed25519 key (base64url), bound by its first request
    last_seq            BIGINT NOT NULL DEFAULT 0,   -- of the last request applied
    last_answer         TEXT,                        -- the answer to last_seq (sent again for a retry)
    last_exchange       BIGINT,
    events_acknowledged BIGINT NOT NULL DEFAULT 0,   -- highest satellite event id stored
    created_at          BIGINT NOT NULL,
    created_by          TEXT NOT NULL,
    UNIQUE (account_id, name_key)
);
CREATE INDEX satellites_va ON satellites (va_id);

-- The product instances a satellite reported at its last exchange.
CREATE TABLE satellite_instances (
    id           TEXT PRIMARY KEY,                   -- derived from the satellite and the UDI
    satellite_id TEXT NOT NULL REFERENCES satellites (id),
    account_id   TEXT NOT NULL,
    va_id        TEXT NOT NULL,
    udi          TEXT NOT NULL,
    hostname     TEXT NOT NULL,
    status       TEXT NOT NULL,
    last_contact BIGINT NOT NULL,
    usage        TEXT NOT NULL                       -- JSON object: SKU -> licences in use
);
CREATE INDEX satellite_instances_va ON satellite_instances (va_id, hostname, id);
CREATE INDEX satellite_instances_account ON satellite_instances (account_id, hostname, id);
CREATE INDEX satellite_instances_satellite ON satellite_instances (satellite_id);

-- A satellite's licences in use per SKU (the sum of its instances'): its share of va_usage.
CREATE TABLE satellite_usage (
    satellite_id TEXT NOT NULL REFERENCES satellites (id),
    sku          TEXT NOT NULL,
    in_use       BIGINT NOT NULL,
    PRIMARY KEY (satellite_id, sku)
);
