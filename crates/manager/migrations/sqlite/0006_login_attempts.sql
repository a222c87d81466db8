-- smartlic license manager: portal log-in attempts counted before the password check. Keep in
-- step with the postgres migration of the same number.

-- One row per e-mail ('email:<lower-case e-mail>') and per client address ('addr:<address>'):
-- the attempts claimed since window_start. A log-in claims a slot with one conditional upsert
-- before its password is checked, so several managers on one database share the count and
-- parallel guesses cannot pass the limit.
CREATE TABLE login_attempts (
    throttle_key  TEXT PRIMARY KEY,
    window_start  BIGINT NOT NULL,
    attempts      BIGINT NOT NULL
);
CREATE INDEX login_attempts_window ON login_attempts (window_start);

-- Replaced by login_attempts (it was read before the check and written after).
DROP TABLE portal_login_failures;
