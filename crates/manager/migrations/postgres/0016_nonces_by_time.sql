-- smartlic license manager: seen nonces kept in the order of their requests' timestamps.
-- A replayed request carries the same nonce and the same timestamp (both are signed), so the pair
-- is the key. Before, the key was the random nonce alone: every renewal's insert landed on a
-- random page of that key's index, beside the table and a second index on seen_at. Keyed by
-- (seen_at, nonce), a batch's inserts fall within the last seconds' pages of one index, and
-- pruning by seen_at reads a range of the same key.

ALTER TABLE seen_nonces DROP CONSTRAINT seen_nonces_pkey, ADD PRIMARY KEY (seen_at, nonce);
DROP INDEX seen_nonces_seen_at;
