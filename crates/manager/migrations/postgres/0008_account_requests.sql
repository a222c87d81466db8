-- smartlic license manager: Smart Account requests (the public "Request a Smart Account" form
-- and POST /api/v1/account-requests), pending until the operator approves or rejects them. Keep
-- in step with the sqlite migration of the same number.

CREATE TABLE account_requests (
    id              TEXT PRIMARY KEY,
    requester_email TEXT NOT NULL,
    on_behalf_email TEXT,                      -- "No, the person specified below will create the account"
    authority       BIGINT NOT NULL,           -- 1: the requester has authority and creates it
    domain          TEXT NOT NULL,
    name            TEXT NOT NULL,
    password_hash   TEXT NOT NULL,             -- argon2id PHC string of the future SA administrator
    source          TEXT NOT NULL,             -- client address (IPv6: its /64), 'unknown' if none
    status          TEXT NOT NULL,             -- PENDING | APPROVED | REJECTED
    created_at      BIGINT NOT NULL,
    decided_at      BIGINT,
    decided_by      TEXT,
    reason          TEXT,
    account_id      TEXT REFERENCES accounts (id)  -- the Smart Account created on approval
);
CREATE INDEX account_requests_status ON account_requests (status, created_at);
CREATE INDEX account_requests_source ON account_requests (source, created_at);
