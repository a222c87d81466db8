-- smartlic license manager, web portal sessions and log-in throttling. Keep in step with the
-- other engine's migration of the same number.

-- A portal session. The cookie holds a random id; only its SHA-256 (hex) is stored.
CREATE TABLE portal_sessions (
    id_hash     TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    csrf_token  TEXT NOT NULL,                 -- carried by every form of the session
    source      TEXT,                          -- client address at log-in
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX portal_sessions_user ON portal_sessions (user_id);
CREATE INDEX portal_sessions_expiry ON portal_sessions (expires_at);

-- Failed log-ins, per lower-case e-mail and client address, for throttling.
CREATE TABLE portal_login_failures (
    throttle_key TEXT NOT NULL,
    at           BIGINT NOT NULL
);
CREATE INDEX portal_login_failures_key ON portal_login_failures (throttle_key, at);
