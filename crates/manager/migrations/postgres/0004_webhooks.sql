-- smartlic license manager: alert webhooks of an account and their deliveries. Keep in step
-- with the other engine's migration of the same number.

-- Where an account's alerts are POSTed. The secret signs every delivery (HMAC-SHA256), so it is
-- kept as given out (shown once to the administrator who added the webhook).
CREATE TABLE webhooks (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL
);
CREATE INDEX webhooks_account ON webhooks (account_id);

-- One alert raised to one webhook: the first manager to insert it owns its delivery; retried with
-- back-off until a 2xx answer.
CREATE TABLE alert_deliveries (
    webhook_id    TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    alert_key     TEXT NOT NULL,
    payload       TEXT NOT NULL,
    raised_at     BIGINT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    next_at       BIGINT NOT NULL,
    delivered_at  BIGINT,
    last_error    TEXT,
    PRIMARY KEY (webhook_id, alert_key)
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (delivered_at, next_at);
