-- smartlic license manager: seen nonces kept in the order of their requests' timestamps.
-- A replayed request carries the same nonce and the same timestamp (both are signed), so the pair
-- is the key. Before, the key was the random nonce alone: every renewal's insert landed on a
-- random page of that key's index (and wrote the table and a second index on seen_at beside it),
-- so a batch of renewals dirtied about one page per renewal. Keyed by (seen_at, nonce) in one
-- B-tree, a batch's inserts fall within the last seconds' pages, and pruning by seen_at reads a
-- range of the same key.

CREATE TABLE seen_nonces_by_time (
    seen_at BIGINT NOT NULL,                   -- the request's timestamp
    nonce   TEXT NOT NULL,
    PRIMARY KEY (seen_at, nonce)
) WITHOUT ROWID;
INSERT INTO seen_nonces_by_time (seen_at, nonce) SELECT seen_at, nonce FROM seen_nonces;
DROP TABLE seen_nonces;
ALTER TABLE seen_nonces_by_time RENAME TO seen_nonces;
