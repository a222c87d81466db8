//! The portal's password checks (argon2), bounded by [`LoginGate`]: at most one per permit at
//! once, each in memory kept from the previous check.

use super::{ApiError, CHECK_WAIT};

/// A precomputed hash to verify against when the user does not exist, so that both cases take
/// the same time. Computed on first use, inside a password check (so under [`LoginGate`]).
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| crate::auth::hash_password("smartlic-no-such-user").unwrap_or_default())
}

/// The bound on concurrent password checks: each argon2 check needs its memory (19 MiB with the
/// default parameters) and a core for its duration, so unbounded parallel log-ins would take the
/// manager's memory (measured: 300 at once, 5.6 GiB resident). The checks' memory is kept and
/// reused, one buffer per permit: allocating and freeing 19 MiB per check fragments the heap
/// (measured: 30 checks two at a time, 590 MiB resident).
#[derive(Debug)]
pub struct LoginGate {
    pub(super) permits: tokio::sync::Semaphore,
    checked: std::sync::atomic::AtomicU64,
    memory: std::sync::Mutex<Vec<Vec<argon2::Block>>>,
}

/// Largest argon2 memory a stored hash may ask for (256 MiB); a hash asking more never verifies.
const MAX_CHECK_BLOCKS: usize = 256 * 1024;

/// Whether `password` matches the PHC string `phc` (argon2), computed in `memory` (grown to the
/// hash's size if needed, then kept): what `argon2`'s own verifier does, without an allocation of
/// the hash's memory per check. The outputs are compared in constant time.
pub(super) fn verify_in(password: &str, phc: &str, memory: &mut Vec<argon2::Block>) -> bool {
    use argon2::password_hash::phc::{Output, PasswordHash};
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let Ok(params) = argon2::Params::try_from(&hash) else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(hash.algorithm.as_str()) else {
        return false;
    };
    let version = match hash.version.map(argon2::Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let blocks = params.block_count();
    if blocks > MAX_CHECK_BLOCKS {
        return false;
    }
    if memory.len() < blocks {
        memory.resize(blocks, argon2::Block::new());
    }
    let mut buffer = [0u8; Output::MAX_LENGTH];
    let Some(out) = buffer.get_mut(..expected.len()) else {
        return false;
    };
    let Some(memory) = memory.get_mut(..blocks) else {
        return false;
    };
    argon2::Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, out, memory)
        .is_ok()
        && Output::new(out).is_ok_and(|computed| &computed == expected)
}

impl Default for LoginGate {
    fn default() -> LoginGate {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        LoginGate::new(cores)
    }
}

impl LoginGate {
    /// At most `permits` checks at once.
    pub fn new(permits: usize) -> LoginGate {
        LoginGate {
            permits: tokio::sync::Semaphore::new(permits.max(1)),
            checked: std::sync::atomic::AtomicU64::new(0),
            memory: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Password checks done so far.
    pub fn checked(&self) -> u64 {
        self.checked.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Checks `password` against `phc` (the dummy hash if `None`) on a blocking thread, once a
    /// permit is free; `None` if none was within [`CHECK_WAIT`].
    pub(super) async fn check(&self, password: String, phc: Option<String>) -> Result<Option<bool>, ApiError> {
        let Ok(Ok(_permit)) = tokio::time::timeout(CHECK_WAIT, self.permits.acquire()).await else {
            return Ok(None);
        };
        self.checked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // At most one buffer per permit is ever out, so the pool holds at most that many.
        let mut memory = self
            .memory
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .unwrap_or_default();
        let (verified, memory) = tokio::task::spawn_blocking(move || {
            let phc = phc.as_deref().unwrap_or_else(|| dummy_hash());
            (verify_in(&password, phc, &mut memory), memory)
        })
        .await
        .map_err(|e| ApiError::Internal(format!("password check task: {e}")))?;
        self.memory.lock().unwrap_or_else(|p| p.into_inner()).push(memory);
        Ok(Some(verified))
    }

    /// Hashes a new password (argon2id) on a blocking thread under the same permits as the
    /// checks; `None` if no permit was free within [`CHECK_WAIT`].
    pub(crate) async fn hash(&self, password: String) -> Result<Option<String>, ApiError> {
        let Ok(Ok(_permit)) = tokio::time::timeout(CHECK_WAIT, self.permits.acquire()).await else {
            return Ok(None);
        };
        tokio::task::spawn_blocking(move || crate::auth::hash_password(&password))
            .await
            .map_err(|e| ApiError::Internal(format!("password hashing task: {e}")))?
            .map(Some)
    }
}
