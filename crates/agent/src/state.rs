//! The agent's persisted state and its tamper-evident store.
//!
//! The file `licensing.json` holds one line `hmac-sha256=<hex>` followed by the state as JSON; the
//! MAC is keyed with `state.key` (32 random bytes, mode 0600) of the same directory. Writes go to a
//! temporary file in the directory, are fsynced, renamed over the old file, and the directory is
//! fsynced, so `kill -9` at any moment leaves either the old or the new state. A file that fails
//! its check is kept aside as `licensing.json.corrupt-<epoch>` and reported; the agent then starts
//! with the evaluation period used up rather than trusting (or refilling) it.

use crate::events::Condition;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use smartlic_protocol::wire::{Compliance, EntitlementStatus};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Current layout version of the state file.
pub const STATE_VERSION: u32 = 1;
const STATE_FILE: &str = "licensing.json";
const KEY_FILE: &str = "state.key";

/// Failure to read or write the state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// File system trouble.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The state could not be serialized.
    #[error("cannot serialize state: {0}")]
    Serialize(#[from] serde_json::Error),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One attempt to talk to the manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// When (clock).
    pub at: i64,
    /// Whether it succeeded.
    pub ok: bool,
    /// Why it failed (empty on success).
    pub reason: String,
}

/// A successful registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    /// Product instance id at the manager.
    pub instance_id: String,
    /// Smart Account name.
    pub smart_account: String,
    /// Virtual account name.
    pub virtual_account: String,
    /// Export-controlled functionality allowed.
    pub export_controlled: bool,
    /// When the registration first succeeded.
    pub initial_registration_at: i64,
    /// The ID certificate (PEM).
    pub id_certificate: String,
    /// When the current ID certificate was issued (clock of the agent at receipt).
    pub id_issued_at: i64,
    /// Not-after of the ID certificate.
    pub id_expires_at: i64,
    /// Last ID renewal attempt.
    pub last_renewal: Option<Attempt>,
    /// Next automatic ID renewal.
    pub next_renewal_at: i64,
    /// Device private key (base64 of the Ed25519 secret).
    pub device_key: String,
}

/// Registration state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Registration {
    /// Never registered, or deregistered.
    #[default]
    Unregistered,
    /// A registration with a token failed to reach the manager; it is retried.
    Failed {
        /// The token being retried.
        token: String,
        /// Why it failed.
        reason: String,
        /// When it last failed.
        at: i64,
        /// Whether it is still retried (false after a definitive refusal).
        retrying: bool,
    },
    /// Registered.
    Registered(Registered),
    /// The ID certificate expired; registration must be redone.
    Expired(Registered),
}

/// The last authorization granted by the manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Overall compliance.
    pub status: Compliance,
    /// Per-SKU answers.
    pub entitlements: Vec<EntitlementStatus>,
    /// When granted.
    pub at: i64,
    /// Valid until.
    pub expires_at: i64,
    /// Renew at.
    pub renew_at: i64,
}

/// Authorization state (meaningful while registered).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Authorization {
    /// Last successful authorization.
    pub grant: Option<Grant>,
    /// Last attempt, successful or not.
    pub last_attempt: Option<Attempt>,
    /// Next scheduled attempt (clock).
    pub next_attempt_at: Option<i64>,
    /// Consecutive failures.
    pub failures: u32,
    /// The deadline before which an authorization must succeed (last success or registration + 90 days).
    pub deadline: Option<i64>,
}

/// Evaluation period accounting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Evaluation {
    /// Seconds of evaluation consumed (never decreases).
    pub used_secs: i64,
    /// Clock time up to which consumption is accounted, while consuming.
    pub accounted_to: Option<i64>,
    /// When it ran out, if it did.
    pub expired_at: Option<i64>,
}

/// Per mode and service counters of the seed's statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ServiceStats {
    /// Highest session count seen in this mode.
    pub max_call_count: u64,
    /// Licence count last reported to the manager.
    pub last_lic_count: u64,
    /// Highest licence count reported.
    pub max_lic_count: u64,
    /// Times the policy changed to BLOCK.
    pub policy_change_block_calls: u64,
    /// Times the policy changed to ALLOW.
    pub policy_change_allow_calls: u64,
    /// Usage reports that succeeded.
    pub report_success: u64,
    /// Usage reports that failed.
    pub report_fail: u64,
}

/// Out-of-compliance on/off feature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureGrace {
    /// When the grace period started.
    pub since: i64,
}

/// Everything the agent keeps across restarts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedState {
    /// Layout version.
    pub version: u32,
    /// `license smart enable`.
    pub enabled: bool,
    /// `license smart url`.
    pub url: Option<String>,
    /// Times Smart Licensing was enabled.
    pub total_enabled: u64,
    /// Times Smart Licensing was disabled.
    pub total_disabled: u64,
    /// Evaluation accounting.
    pub eval: Evaluation,
    /// Registration.
    pub registration: Registration,
    /// Authorization.
    pub authorization: Authorization,
    /// On/off features turned on (`feature SKU`).
    pub features: BTreeSet<String>,
    /// Grace periods of out-of-compliance features, by SKU.
    pub feature_grace: BTreeMap<String, FeatureGrace>,
    /// Statistics by mode (`Evaluation`/`Registered`) then service name.
    pub stats: BTreeMap<String, BTreeMap<String, ServiceStats>>,
    /// Conditions that held at the last evaluation (to emit each transition once).
    pub conditions: BTreeSet<Condition>,
    /// The last usage reported (SKU → count).
    pub last_report: BTreeMap<String, u64>,
    /// Why this state was reset (integrity failure), shown to the operator.
    pub integrity_alert: Option<String>,
}

impl Default for PersistedState {
    fn default() -> Self {
        PersistedState {
            version: STATE_VERSION,
            enabled: false,
            url: None,
            total_enabled: 0,
            total_disabled: 0,
            eval: Evaluation::default(),
            registration: Registration::Unregistered,
            authorization: Authorization::default(),
            features: BTreeSet::new(),
            feature_grace: BTreeMap::new(),
            stats: BTreeMap::new(),
            conditions: BTreeSet::new(),
            last_report: BTreeMap::new(),
            integrity_alert: None,
        }
    }
}

/// What loading found.
#[derive(Debug)]
pub enum Loaded {
    /// No state yet: a new product.
    Fresh(PersistedState),
    /// A good state.
    Good(PersistedState),
    /// A state that failed its check; the returned state is the safe replacement.
    Tampered {
        /// Replacement state (evaluation used up).
        state: PersistedState,
        /// What was wrong.
        reason: String,
    },
}

/// Reads and writes the state of one directory.
#[derive(Debug)]
pub struct StateStore {
    dir: PathBuf,
    key: Vec<u8>,
}

type HmacSha256 = Hmac<Sha256>;

fn mac_hex(key: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length.
    let mut m = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    m.update(body);
    hex::encode(m.finalize().into_bytes())
}

/// Writes `bytes` to `path` atomically: temp file in the same directory, fsync, rename, fsync dir.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: Option<u32>) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    #[cfg(unix)]
    if let Some(mode) = mode {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

impl StateStore {
    /// Opens the store in `dir`, creating the directory and the MAC key if needed.
    pub fn open(dir: &Path) -> Result<StateStore, StateError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let key_path = dir.join(KEY_FILE);
        let key = match std::fs::read_to_string(&key_path) {
            Ok(text) => hex::decode(text.trim()).unwrap_or_default(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(StateError::Io {
                    path: key_path,
                    source: e,
                });
            }
        };
        let key = if key.len() == 32 {
            key
        } else {
            let fresh: [u8; 32] = rand::random();
            write_atomic(&key_path, hex::encode(fresh).as_bytes(), Some(0o600)).map_err(io_err(&key_path))?;
            fresh.to_vec()
        };
        Ok(StateStore {
            dir: dir.to_path_buf(),
            key,
        })
    }

    fn path(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    /// Loads the state, checking its integrity.
    pub fn load(&self, now: i64, eval_secs: i64) -> Result<Loaded, StateError> {
        let path = self.path();
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Loaded::Fresh(PersistedState::default())),
            Err(e) => return Err(StateError::Io { path, source: e }),
        };
        match self.check(&text) {
            Ok(state) => Ok(Loaded::Good(state)),
            Err(why) => {
                let aside = self.dir.join(format!("{STATE_FILE}.corrupt-{now}"));
                std::fs::rename(&path, &aside).map_err(io_err(&path))?;
                let reason = format!(
                    "state file failed its integrity check ({why}) on {}; kept as {}; evaluation period treated as used up",
                    smartlic_protocol::time::format_cisco(now),
                    aside.display()
                );
                let state = PersistedState {
                    eval: Evaluation {
                        used_secs: eval_secs,
                        accounted_to: None,
                        expired_at: Some(now),
                    },
                    integrity_alert: Some(reason.clone()),
                    ..PersistedState::default()
                };
                self.save(&state)?;
                Ok(Loaded::Tampered { state, reason })
            }
        }
    }

    fn check(&self, text: &[u8]) -> Result<PersistedState, String> {
        let nl = text.iter().position(|b| *b == b'\n').ok_or("no MAC line")?;
        let (head, body) = (&text[..nl], &text[nl + 1..]);
        let head = std::str::from_utf8(head).map_err(|_| "MAC line is not text")?;
        let mac = head.strip_prefix("hmac-sha256=").ok_or("no MAC line")?;
        let want = mac_hex(&self.key, body);
        // Compare in constant time through the MAC type.
        let mut m = HmacSha256::new_from_slice(&self.key).map_err(|_| "bad key")?;
        m.update(body);
        let given = hex::decode(mac.trim()).map_err(|_| "MAC is not hex")?;
        if m.verify_slice(&given).is_err() {
            let _ = want;
            return Err("MAC does not match".into());
        }
        let state: PersistedState = serde_json::from_slice(body).map_err(|e| format!("JSON: {e}"))?;
        if state.version != STATE_VERSION {
            return Err(format!("unknown layout version {}", state.version));
        }
        Ok(state)
    }

    /// Saves the state atomically.
    pub fn save(&self, state: &PersistedState) -> Result<(), StateError> {
        let body = serde_json::to_vec_pretty(state)?;
        let mut out = format!("hmac-sha256={}\n", mac_hex(&self.key, &body)).into_bytes();
        out.extend_from_slice(&body);
        let path = self.path();
        write_atomic(&path, &out, Some(0o600)).map_err(io_err(&path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_detection() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(dir.path()).unwrap();
        assert!(matches!(store.load(0, 100).unwrap(), Loaded::Fresh(_)));
        let mut s = PersistedState::default();
        s.eval.used_secs = 42;
        s.enabled = true;
        store.save(&s).unwrap();
        match StateStore::open(dir.path()).unwrap().load(0, 100).unwrap() {
            Loaded::Good(l) => assert_eq!(l, s),
            other => panic!("{other:?}"),
        }
        // Hand-edit: give back evaluation time.
        let path = dir.path().join(STATE_FILE);
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("\"used_secs\": 42", "\"used_secs\": 0");
        std::fs::write(&path, text).unwrap();
        match store.load(1000, 100).unwrap() {
            Loaded::Tampered { state, reason } => {
                assert_eq!(state.eval.used_secs, 100);
                assert!(reason.contains("MAC does not match"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert!(dir.path().join(format!("{STATE_FILE}.corrupt-1000")).exists());
        // The replacement is itself a good state now.
        assert!(matches!(store.load(1001, 100).unwrap(), Loaded::Good(_)));
        // Garbage.
        std::fs::write(&path, b"\x00\x01garbage").unwrap();
        assert!(matches!(store.load(1002, 100).unwrap(), Loaded::Tampered { .. }));
    }

    #[test]
    fn another_key_is_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(dir.path()).unwrap();
        store.save(&PersistedState::default()).unwrap();
        std::fs::remove_file(dir.path().join(KEY_FILE)).unwrap();
        let store2 = StateStore::open(dir.path()).unwrap();
        assert!(matches!(store2.load(5, 10).unwrap(), Loaded::Tampered { .. }));
    }
}
