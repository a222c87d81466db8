-- smartlic license manager: licence reservations (SLR: specific licences, PLR: universal) made
-- for nodes that never reach a manager. The licences of a RESERVED reservation count in the VA's
-- va_usage totals (added and removed in the same transaction as the reservation's rows). Keep in
-- step with the other engine's migration of the same number.

CREATE TABLE reservations (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    va_id         TEXT NOT NULL REFERENCES virtual_accounts (id),
    udi           TEXT NOT NULL,               -- PID:...,SN:... of the request
    kind          TEXT NOT NULL,               -- specific | universal
    request_id    TEXT NOT NULL UNIQUE,        -- reservation::request_id of the request code
    node_key      TEXT NOT NULL,               -- the request's Ed25519 key (base64url): checks return and confirmation codes
    seq           BIGINT NOT NULL,             -- of the latest authorization (1, then +1 per update)
    confirmed_seq BIGINT,                      -- highest authorization the node confirmed
    status        TEXT NOT NULL,               -- reserved | returned
    expires_at    BIGINT,                      -- end of an SLR; NULL: never
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    returned_at   BIGINT,
    created_by    TEXT NOT NULL
);
CREATE INDEX reservations_account ON reservations (account_id, va_id);
-- One RESERVED reservation per UDI.
CREATE UNIQUE INDEX reservations_reserved_udi ON reservations (udi) WHERE status = 'reserved';

-- Licences of a specific reservation per SKU (none for a universal one).
CREATE TABLE reservation_licenses (
    reservation_id TEXT NOT NULL REFERENCES reservations (id),
    sku            TEXT NOT NULL,
    count          BIGINT NOT NULL,
    PRIMARY KEY (reservation_id, sku)
);
