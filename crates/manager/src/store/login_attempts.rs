//! Portal log-in attempts, counted in the store before the password is checked (migration 0006),
//! so that parallel guesses cannot pass the limit and several managers on one database share the
//! count. A key (`email:…`, `addr:…`) has a window that starts at its first attempt; within it, at
//! most its limit of attempts is claimed, then every claim is refused until the window passes.

use super::Store;
use crate::error::StoreError;

/// One throttle key and its limit of attempts per window.
#[derive(Debug, Clone, Copy)]
pub struct AttemptKey<'a> {
    /// `email:<lower-case e-mail>` or `addr:<client address>`.
    pub key: &'a str,
    /// Attempts allowed per window.
    pub limit: i64,
}

/// Whether a log-in attempt may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// A slot was claimed under every key.
    Granted,
    /// A key is used up; nothing was claimed. Claims are refused until `until` (manager clock).
    Locked {
        /// Index of the used-up key in the keys given.
        key: usize,
        /// When its window ends.
        until: i64,
    },
}

impl Store {
    /// Claims one attempt under every key, all or none, in one transaction: each is one
    /// conditional upsert that starts a new window (an expired one, or one that starts after
    /// `now` by more than a window: the clock went back) or adds one to the window's count while it is below the key's
    /// limit. Keys are locked in the order given; callers give them in one order (e-mail, then
    /// address) so that two claims never wait on each other. Windows that ended are forgotten.
    pub async fn claim_login_attempt(
        &self,
        keys: &[AttemptKey<'_>],
        now: i64,
        window: i64,
    ) -> Result<Claim, StoreError> {
        // A window that started more than a window ahead of `now` is from before the clock went
        // back; a smaller difference is clock skew between managers and counts as the same window.
        let (expired, future) = (now - window, now + window);
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM login_attempts WHERE window_start <= $1 OR window_start > $2")
            .bind(expired)
            .bind(future)
            .execute(&mut *tx)
            .await?;
        for (i, k) in keys.iter().enumerate() {
            let r = sqlx::query(
                "INSERT INTO login_attempts (throttle_key, window_start, attempts) VALUES ($1, $2, 1) \
                 ON CONFLICT (throttle_key) DO UPDATE SET \
                 attempts = CASE WHEN login_attempts.window_start <= $3 OR login_attempts.window_start > $5 \
                            THEN 1 ELSE login_attempts.attempts + 1 END, \
                 window_start = CASE WHEN login_attempts.window_start <= $3 OR login_attempts.window_start > $5 \
                                THEN $2 ELSE login_attempts.window_start END \
                 WHERE login_attempts.window_start <= $3 OR login_attempts.window_start > $5 \
                 OR login_attempts.attempts < $4",
            )
            .bind(k.key)
            .bind(now)
            .bind(expired)
            .bind(k.limit)
            .bind(future)
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() == 0 {
                let start: Option<i64> =
                    sqlx::query_scalar("SELECT window_start FROM login_attempts WHERE throttle_key = $1")
                        .bind(k.key)
                        .fetch_optional(&mut *tx)
                        .await?;
                // Dropping the transaction rolls back the claims of the keys before this one.
                return Ok(Claim::Locked {
                    key: i,
                    until: start.unwrap_or(now) + window,
                });
            }
        }
        tx.commit().await?;
        Ok(Claim::Granted)
    }

    /// Gives back one claimed attempt under `key` (the password was not checked after all, or it
    /// was right and the key is a client address).
    pub async fn release_login_attempt(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE login_attempts SET attempts = attempts - 1 WHERE throttle_key = $1 AND attempts > 0")
            .bind(key)
            .execute(&mut *self.write_conn().await?)
            .await?;
        Ok(())
    }

    /// Forgets the attempts under `key` (a successful log-in resets its account's count).
    pub async fn reset_login_attempts(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_attempts WHERE throttle_key = $1")
            .bind(key)
            .execute(&mut *self.write_conn().await?)
            .await?;
        Ok(())
    }

    /// The attempts counted under `key` in its current window (tests, diagnostics).
    pub async fn login_attempts(&self, key: &str) -> Result<i64, StoreError> {
        let n: Option<i64> = sqlx::query_scalar("SELECT attempts FROM login_attempts WHERE throttle_key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(n.unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::on_both_engines;

    const NOW: i64 = 1_800_000_000;
    const WINDOW: i64 = 900;

    async fn attempts_are_claimed_up_to_the_limit(store: Store) {
        let email = AttemptKey {
            key: "email:a@x.example",
            limit: 3,
        };
        let addr = AttemptKey {
            key: "addr:192.0.2.7",
            limit: 4,
        };
        for _ in 0..3 {
            let c = store.claim_login_attempt(&[email, addr], NOW, WINDOW).await.unwrap();
            assert_eq!(c, Claim::Granted);
        }
        let c = store
            .claim_login_attempt(&[email, addr], NOW + 10, WINDOW)
            .await
            .unwrap();
        assert_eq!(
            c,
            Claim::Locked {
                key: 0,
                until: NOW + WINDOW
            }
        );
        assert_eq!(store.login_attempts(addr.key).await.unwrap(), 3, "all or none");
        // Another e-mail from the same address: one more, then the address is used up.
        let other = AttemptKey {
            key: "email:b@x.example",
            limit: 3,
        };
        let c = store
            .claim_login_attempt(&[other, addr], NOW + 20, WINDOW)
            .await
            .unwrap();
        assert_eq!(c, Claim::Granted);
        let c = store
            .claim_login_attempt(&[other, addr], NOW + 30, WINDOW)
            .await
            .unwrap();
        assert_eq!(
            c,
            Claim::Locked {
                key: 1,
                until: NOW + WINDOW
            }
        );
        assert_eq!(store.login_attempts(other.key).await.unwrap(), 1, "rolled back");
        // Released and reset.
        store.release_login_attempt(addr.key).await.unwrap();
        let c = store
            .claim_login_attempt(&[other, addr], NOW + 40, WINDOW)
            .await
            .unwrap();
        assert_eq!(c, Claim::Granted);
        store.reset_login_attempts(email.key).await.unwrap();
        assert_eq!(store.login_attempts(email.key).await.unwrap(), 0);
        // The window passes; a clock that went back starts a new one too.
        let c = store.claim_login_attempt(&[addr], NOW + WINDOW, WINDOW).await.unwrap();
        assert_eq!(c, Claim::Granted);
        assert_eq!(store.login_attempts(addr.key).await.unwrap(), 1);
        for _ in 0..3 {
            store.claim_login_attempt(&[addr], NOW + WINDOW, WINDOW).await.unwrap();
        }
        let c = store.claim_login_attempt(&[addr], NOW - 3600, WINDOW).await.unwrap();
        assert_eq!(c, Claim::Granted, "the clock went back: a new window");
    }

    /// 60 claims at once on one key: exactly the limit is granted (several managers on one
    /// database: each claim is one statement on its own connection).
    async fn parallel_claims_never_pass_the_limit(store: Store) {
        let mut claims = Vec::new();
        for _ in 0..60 {
            let store = store.clone();
            claims.push(tokio::spawn(async move {
                let key = AttemptKey {
                    key: "email:victim@x.example",
                    limit: 5,
                };
                store.claim_login_attempt(&[key], NOW, WINDOW).await.unwrap()
            }));
        }
        let mut granted = 0;
        for c in claims {
            if c.await.unwrap() == Claim::Granted {
                granted += 1;
            }
        }
        assert_eq!(granted, 5);
        assert_eq!(store.login_attempts("email:victim@x.example").await.unwrap(), 5);
    }

    on_both_engines!(
        attempts_are_claimed_up_to_the_limit,
        parallel_claims_never_pass_the_limit
    );
}
