-- smartlic license manager: the satellite side of issue #14. A manager linked to a parent
-- (`satellite link`) keeps one row here: its identity, the parent's address and the state of the
-- exchange (sequence numbers, events acknowledged). The account and VA an answer names are kept
-- by id (a rename on the parent renames them here); their lots are the parent's, replaced by each
-- imported answer. Keep in step with the other engine's migration of the same number.

CREATE TABLE satellite_link (
    id             BIGINT PRIMARY KEY CHECK (id = 1),
    satellite      TEXT NOT NULL,              -- the satellite's id on the parent (from the token)
    token          TEXT NOT NULL,              -- the ST1 token, sealed under the master key
    identity_key   TEXT NOT NULL,              -- Ed25519 seed, sealed under the master key
    public_key     TEXT NOT NULL,              -- its public half (base64url), as requests name it
    parent_ca_sha  TEXT NOT NULL,              -- SHA-256 (hex) of the parent CA's DER: the token's pin
    parent_url     TEXT,                       -- https://… of the parent (sync), NULL: files only
    parent_ca_pem  TEXT,                       -- the CA the parent's TLS certificate chains to
    seq            BIGINT NOT NULL DEFAULT 0,  -- latest request made
    answered_seq   BIGINT NOT NULL DEFAULT 0,  -- latest request whose answer was imported
    events_acked   BIGINT NOT NULL DEFAULT 0,  -- highest event id the parent acknowledged
    account_id     TEXT REFERENCES accounts (id),
    va_id          TEXT REFERENCES virtual_accounts (id),
    last_exchange  BIGINT,                     -- when the last answer was imported
    last_error     TEXT,                       -- the last scheduled sync's failure, if it failed
    linked_at      BIGINT NOT NULL,
    linked_by      TEXT NOT NULL
);

-- Licences in use in the parent VA outside this satellite, per SKU, as the last answer said;
-- they are also in the VA's va_usage totals (added by difference in the same transaction).
CREATE TABLE satellite_elsewhere (
    va_id  TEXT NOT NULL REFERENCES virtual_accounts (id),
    sku    TEXT NOT NULL,
    in_use BIGINT NOT NULL,
    PRIMARY KEY (va_id, sku)
);
