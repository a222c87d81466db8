//! The agent's persisted state and its tamper-evident store.
//!
//! Three files of the data directory hold it:
//! - `state.key` (mode 0600): `smartlic-state-key-v2 <hex>`, 32 random bytes made when the node
//!   is first started. The MACs are not keyed with it directly but with keys derived from it and
//!   the product's serial number (HMAC-SHA256 of a label and the serial), so a key or a state
//!   copied from another node does not verify here.
//! - `licensing.json`: one line `hmac-sha256-v2=<hex>`, then the state as JSON.
//! - `eval.ledger`: one line `hmac-sha256=<hex>` (under a key of its own), then the evaluation
//!   accounting as JSON: seconds consumed, up to when, and whether it ever ran out. It is written
//!   before the state whenever the evaluation accounting changes and never goes down (each write
//!   is the maximum of what it held and what the state says); on load the agent takes the larger
//!   consumption of the two. Putting back an older (genuine) `licensing.json` therefore gives no
//!   time back.
//!
//! Writes go to a temporary file in the directory, are fsynced, renamed over the old file, and the
//! directory is fsynced, so `kill -9` at any moment leaves each file old or new (and the ledger
//! never behind the state). The first start writes all three at once.
//!
//! Tampering: a file that fails its check, or one of the three missing while another is present
//! (the state deleted beside its key, the ledger deleted, the key deleted), is kept aside as
//! `NAME.corrupt-<epoch>` where it exists and reported; the agent then starts with the evaluation
//! period used up rather than trusting (or refilling) it. A state that verifies is kept when only
//! the ledger is wrong or missing (its registration is good), but its evaluation is used up too.
//! None of the three present is a new installation.
//!
//! What this cannot stop — a local root can read `state.key` and compute valid MACs, erase all
//! three files (or the whole data directory: a reinstall), or put back a copy of all three taken
//! earlier. Real products anchor the key and a monotonic counter in hardware (a TPM, Cisco's ACT2
//! chip); here the key file stands for that chip, and docs/security.md says so.

use crate::events::Condition;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use smartlic_protocol::wire::{Compliance, EntitlementStatus};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Current layout version of the state file.
pub const STATE_VERSION: u32 = 1;
/// The state file.
pub const STATE_FILE: &str = "licensing.json";
/// The MAC key file.
pub const KEY_FILE: &str = "state.key";
/// The evaluation ledger.
pub const LEDGER_FILE: &str = "eval.ledger";
/// First word of a current key file (a bare hex key is the layout of older versions).
const KEY_HEADER: &str = "smartlic-state-key-v2";
/// MAC line prefix of a current state file.
const STATE_MAC: &str = "hmac-sha256-v2=";
/// MAC line prefix of a state file of an older version (keyed with the key itself) and of the
/// ledger (keyed with its own derived key).
const PLAIN_MAC: &str = "hmac-sha256=";
/// Labels of the derived keys.
const STATE_LABEL: &str = "smartlic licensing state v2";
const LEDGER_LABEL: &str = "smartlic evaluation ledger v1";
/// Layout version of the ledger.
const LEDGER_VERSION: u32 = 1;

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
    /// The installed legacy licence key (`license key "KEY"`), as verified at installation.
    #[serde(default)]
    pub legacy_key: Option<InstalledKey>,
    /// Installs and removals of legacy keys, oldest first (at most [`LEGACY_HISTORY`]).
    #[serde(default)]
    pub legacy_history: Vec<KeyHistoryEntry>,
    /// Licence reservation: enabled, pending request, installed authorization, history.
    #[serde(default)]
    pub reservation: crate::reservation::ReservationState,
}

/// Most entries kept in [`PersistedState::legacy_history`].
pub const LEGACY_HISTORY: usize = 100;

/// A legacy licence key installed on this product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledKey {
    /// The key's text as installed.
    pub text: String,
    /// What it licenses (checked against the trust pool when installed).
    pub key: smartlic_protocol::legacy::LegacyKey,
    /// When it was installed (clock).
    pub installed_at: i64,
}

/// One line of `show license history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyHistoryEntry {
    /// When (clock).
    pub at: i64,
    /// `installed`, `removed` or `replaced`.
    pub action: String,
    /// Key id.
    pub key_id: String,
    /// What the key licensed.
    pub detail: String,
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
            legacy_key: None,
            legacy_history: Vec::new(),
            reservation: Default::default(),
        }
    }
}

/// What loading found.
#[derive(Debug)]
pub enum Loaded {
    /// No state yet: a new product (its first state and ledger are written at once).
    Fresh(PersistedState),
    /// A good state (its evaluation accounting at least what the ledger holds).
    Good(PersistedState),
    /// A state that failed its check; the returned state is the safe replacement.
    Tampered {
        /// Replacement state (evaluation used up).
        state: PersistedState,
        /// What was wrong.
        reason: String,
    },
}

/// The evaluation ledger: what the evaluation accounting may never fall below.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Ledger {
    /// Layout version.
    version: u32,
    /// The serial number of the product it belongs to.
    serial: String,
    /// The evaluation accounting.
    eval: Evaluation,
}

/// Reads and writes the state of one directory.
#[derive(Debug)]
pub struct StateStore {
    dir: PathBuf,
    serial: String,
    /// MAC key of the state file (derived from the key file and the serial number).
    state_key: [u8; 32],
    /// MAC key of the ledger (derived likewise, with another label).
    ledger_key: [u8; 32],
    /// The key itself while the key file has the layout of an older version, whose state files
    /// are MAC'd with it directly (accepted once, then rewritten).
    legacy_key: Option<[u8; 32]>,
    /// Why the key file could not be used (missing or unreadable) when a new key was made.
    key_problem: Option<String>,
    /// The evaluation accounting last written to (or read from) the ledger.
    ledger: Mutex<Option<Evaluation>>,
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8]) -> HmacSha256 {
    match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

fn mac_hex(key: &[u8], body: &[u8]) -> String {
    let mut m = hmac(key);
    m.update(body);
    hex::encode(m.finalize().into_bytes())
}

/// A MAC key bound to this product: HMAC-SHA256(key file, label NUL serial).
fn derive(root: &[u8; 32], label: &str, serial: &str) -> [u8; 32] {
    let mut m = hmac(root);
    m.update(label.as_bytes());
    m.update(&[0]);
    m.update(serial.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(&m.finalize().into_bytes());
    out
}

/// Checks `mac_text` (hex) over `body` in constant time.
fn verify(key: &[u8], body: &[u8], mac_text: &str) -> Result<(), String> {
    let given = hex::decode(mac_text.trim()).map_err(|_| "MAC is not hex")?;
    let mut m = hmac(key);
    m.update(body);
    m.verify_slice(&given).map_err(|_| "MAC does not match".to_string())
}

/// Splits a file into its MAC line and its body.
fn split_mac(text: &[u8]) -> Result<(&str, &[u8]), String> {
    let nl = text.iter().position(|b| *b == b'\n').ok_or("no MAC line")?;
    let (head, body) = (&text[..nl], &text[nl + 1..]);
    let head = std::str::from_utf8(head).map_err(|_| "MAC line is not text")?;
    Ok((head, body))
}

/// Reads a key file: `Some((key, older layout))`, or `None` when it is not a key.
fn parse_key(bytes: &[u8]) -> Option<([u8; 32], bool)> {
    let text = std::str::from_utf8(bytes).ok()?.trim();
    let (hex_text, legacy) = match text.strip_prefix(KEY_HEADER) {
        Some(rest) => (rest.trim(), false),
        None => (text, true),
    };
    let key: [u8; 32] = hex::decode(hex_text).ok()?.try_into().ok()?;
    Some((key, legacy))
}

/// The ledger entry after `prev` once `cur` is saved: never less consumed, never un-expired.
fn ledger_max(prev: &Evaluation, cur: &Evaluation) -> Evaluation {
    let newer = if cur.used_secs >= prev.used_secs { cur } else { prev };
    Evaluation {
        used_secs: newer.used_secs,
        accounted_to: newer.accounted_to,
        expired_at: prev.expired_at.or(cur.expired_at),
    }
}

/// Raises the state's evaluation accounting to the ledger's.
fn merge_ledger(eval: &mut Evaluation, ledger: &Evaluation, eval_secs: i64) {
    if ledger.used_secs > eval.used_secs {
        eval.used_secs = ledger.used_secs;
        eval.accounted_to = ledger.accounted_to;
    }
    if eval.expired_at.is_none() && ledger.expired_at.is_some() {
        eval.expired_at = ledger.expired_at;
        eval.used_secs = eval.used_secs.max(eval_secs);
        eval.accounted_to = None;
    }
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
    /// Opens the store in `dir` for the product with serial number `serial`, creating the
    /// directory and the key if needed (a key that is missing or unreadable is replaced by a new
    /// one; [`StateStore::load`] then treats any state present as tampered).
    pub fn open(dir: &Path, serial: &str) -> Result<StateStore, StateError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let key_path = dir.join(KEY_FILE);
        let (found, problem) = match std::fs::read(&key_path) {
            Ok(bytes) => match parse_key(&bytes) {
                Some(k) => (Some(k), None),
                None => (None, Some(format!("{KEY_FILE} is unreadable"))),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, Some(format!("{KEY_FILE} is missing"))),
            Err(e) => {
                return Err(StateError::Io {
                    path: key_path,
                    source: e,
                });
            }
        };
        let (root, legacy) = match found {
            Some(k) => k,
            None => {
                let fresh: [u8; 32] = rand::random();
                Self::write_key(&key_path, &fresh)?;
                (fresh, false)
            }
        };
        Ok(StateStore {
            dir: dir.to_path_buf(),
            serial: serial.to_string(),
            state_key: derive(&root, STATE_LABEL, serial),
            ledger_key: derive(&root, LEDGER_LABEL, serial),
            legacy_key: legacy.then_some(root),
            key_problem: problem,
            ledger: Mutex::new(None),
        })
    }

    fn write_key(path: &Path, key: &[u8; 32]) -> Result<(), StateError> {
        let text = format!("{KEY_HEADER} {}\n", hex::encode(key));
        write_atomic(path, text.as_bytes(), Some(0o600)).map_err(io_err(path))
    }

    fn path(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    fn read_opt(&self, name: &str) -> Result<Option<Vec<u8>>, StateError> {
        let path = self.dir.join(name);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StateError::Io { path, source: e }),
        }
    }

    fn ledger_cache(&self) -> std::sync::MutexGuard<'_, Option<Evaluation>> {
        match self.ledger.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Loads the state, checking its integrity and raising its evaluation accounting to the
    /// ledger's.
    pub fn load(&mut self, now: i64, eval_secs: i64) -> Result<Loaded, StateError> {
        let state_bytes = self.read_opt(STATE_FILE)?;
        let ledger_bytes = self.read_opt(LEDGER_FILE)?;
        let loaded = self.examine(now, eval_secs, state_bytes, ledger_bytes)?;
        // A key file of an older version is rewritten once the state is in the current layout.
        if let Some(root) = self.legacy_key.take() {
            Self::write_key(&self.dir.join(KEY_FILE), &root)?;
        }
        self.key_problem = None;
        Ok(loaded)
    }

    fn examine(
        &self,
        now: i64,
        eval_secs: i64,
        state_bytes: Option<Vec<u8>>,
        ledger_bytes: Option<Vec<u8>>,
    ) -> Result<Loaded, StateError> {
        if state_bytes.is_none() && ledger_bytes.is_none() {
            if self.key_problem.is_some() || self.legacy_key.is_some() {
                // A new installation (or one of an older version that never saved a state).
                let state = PersistedState::default();
                self.save(&state)?;
                return Ok(Loaded::Fresh(state));
            }
            return self.tampered(
                now,
                eval_secs,
                None,
                format!("{STATE_FILE} and {LEDGER_FILE} are missing beside {KEY_FILE}"),
                &[],
            );
        }
        if let Some(problem) = &self.key_problem {
            // Nothing can be verified without the key: both files go aside.
            return self.tampered(
                now,
                eval_secs,
                None,
                format!("{problem} while the licensing state is present"),
                &[STATE_FILE, LEDGER_FILE],
            );
        }
        let ledger = match &ledger_bytes {
            None => Err(format!("{LEDGER_FILE} is missing")),
            Some(b) => self.check_ledger(b),
        };
        let state = match &state_bytes {
            None => Err(format!("{STATE_FILE} is missing")),
            Some(b) => self.check_state(b),
        };
        match (state, ledger) {
            (Ok((mut state, legacy)), Ok(ledger)) => {
                merge_ledger(&mut state.eval, &ledger, eval_secs);
                *self.ledger_cache() = Some(ledger);
                if legacy {
                    self.save(&state)?;
                }
                Ok(Loaded::Good(state))
            }
            (Ok((state, true)), Err(_)) if ledger_bytes.is_none() => {
                // The state of an older version, which kept no ledger: taken over as it is.
                self.save(&state)?;
                Ok(Loaded::Good(state))
            }
            (Ok((state, _)), Err(why)) => self.tampered(now, eval_secs, Some(state), why, &[LEDGER_FILE]),
            (Err(why), Ok(ledger)) => {
                *self.ledger_cache() = Some(ledger);
                self.tampered(now, eval_secs, None, why, &[STATE_FILE])
            }
            (Err(why), Err(ledger_why)) => {
                let why = if ledger_bytes.is_some() {
                    format!("{why}; {ledger_why}")
                } else {
                    why
                };
                self.tampered(now, eval_secs, None, why, &[STATE_FILE, LEDGER_FILE])
            }
        }
    }

    /// Sets the named files aside and saves a state whose evaluation is used up: `keep` (a state
    /// that verified) or a new one.
    fn tampered(
        &self,
        now: i64,
        eval_secs: i64,
        keep: Option<PersistedState>,
        why: String,
        aside: &[&str],
    ) -> Result<Loaded, StateError> {
        let mut kept = Vec::new();
        for name in aside {
            let path = self.dir.join(name);
            if !path.exists() {
                continue;
            }
            let mut n = 0u32;
            let target = loop {
                let suffix = if n == 0 { String::new() } else { format!("-{n}") };
                let candidate = self.dir.join(format!("{name}.corrupt-{now}{suffix}"));
                if !candidate.exists() {
                    break candidate;
                }
                n += 1;
            };
            std::fs::rename(&path, &target).map_err(io_err(&path))?;
            kept.push(target.display().to_string());
            if *name == LEDGER_FILE {
                *self.ledger_cache() = None;
            }
        }
        let kept = if kept.is_empty() {
            String::new()
        } else {
            format!("; kept as {}", kept.join(" and "))
        };
        let reason = format!(
            "licensing state failed its integrity check ({why}) on {}{kept}; evaluation period treated as used up",
            smartlic_protocol::time::format_cisco(now),
        );
        let mut state = keep.unwrap_or_default();
        state.eval = Evaluation {
            used_secs: state.eval.used_secs.max(eval_secs),
            accounted_to: None,
            expired_at: state.eval.expired_at.or(Some(now)),
        };
        state.integrity_alert = Some(reason.clone());
        self.save(&state)?;
        Ok(Loaded::Tampered { state, reason })
    }

    /// Checks a state file: the state, and whether it has the layout of an older version.
    fn check_state(&self, text: &[u8]) -> Result<(PersistedState, bool), String> {
        let (head, body) = split_mac(text)?;
        let legacy = if let Some(mac) = head.strip_prefix(STATE_MAC) {
            verify(&self.state_key, body, mac)?;
            false
        } else if let Some(mac) = head.strip_prefix(PLAIN_MAC) {
            let Some(root) = &self.legacy_key else {
                return Err("a state file of an older version beside a current key".into());
            };
            verify(root, body, mac)?;
            true
        } else {
            return Err("no MAC line".into());
        };
        let state: PersistedState = serde_json::from_slice(body).map_err(|e| format!("JSON: {e}"))?;
        if state.version != STATE_VERSION {
            return Err(format!("unknown layout version {}", state.version));
        }
        Ok((state, legacy))
    }

    fn check_ledger(&self, text: &[u8]) -> Result<Evaluation, String> {
        let (head, body) = split_mac(text).map_err(|e| format!("{LEDGER_FILE}: {e}"))?;
        let mac = head
            .strip_prefix(PLAIN_MAC)
            .ok_or_else(|| format!("{LEDGER_FILE}: no MAC line"))?;
        verify(&self.ledger_key, body, mac).map_err(|e| format!("{LEDGER_FILE}: {e}"))?;
        let ledger: Ledger = serde_json::from_slice(body).map_err(|e| format!("{LEDGER_FILE}: JSON: {e}"))?;
        if ledger.version != LEDGER_VERSION {
            return Err(format!("{LEDGER_FILE}: unknown layout version {}", ledger.version));
        }
        if ledger.serial != self.serial {
            return Err(format!("{LEDGER_FILE}: belongs to serial number {}", ledger.serial));
        }
        Ok(ledger.eval)
    }

    /// Saves the state atomically, after raising the ledger to its evaluation accounting.
    pub fn save(&self, state: &PersistedState) -> Result<(), StateError> {
        {
            let mut cache = self.ledger_cache();
            let next = match cache.as_ref() {
                Some(prev) => ledger_max(prev, &state.eval),
                None => state.eval.clone(),
            };
            if cache.as_ref() != Some(&next) {
                let ledger = Ledger {
                    version: LEDGER_VERSION,
                    serial: self.serial.clone(),
                    eval: next.clone(),
                };
                let body = serde_json::to_vec_pretty(&ledger)?;
                let mut out = format!("{PLAIN_MAC}{}\n", mac_hex(&self.ledger_key, &body)).into_bytes();
                out.extend_from_slice(&body);
                let path = self.dir.join(LEDGER_FILE);
                write_atomic(&path, &out, Some(0o600)).map_err(io_err(&path))?;
                *cache = Some(next);
            }
        }
        let body = serde_json::to_vec_pretty(state)?;
        let mut out = format!("{STATE_MAC}{}\n", mac_hex(&self.state_key, &body)).into_bytes();
        out.extend_from_slice(&body);
        let path = self.path();
        write_atomic(&path, &out, Some(0o600)).map_err(io_err(&path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SN: &str = "FLM00000001";
    const EVAL: i64 = 90 * 86_400;

    fn open(dir: &Path) -> StateStore {
        StateStore::open(dir, SN).unwrap()
    }

    fn load(dir: &Path, now: i64) -> Loaded {
        open(dir).load(now, EVAL).unwrap()
    }

    fn used(l: &Loaded) -> i64 {
        match l {
            Loaded::Fresh(s) | Loaded::Good(s) | Loaded::Tampered { state: s, .. } => s.eval.used_secs,
        }
    }

    /// A store that has run and consumed `secs` of evaluation, then was stopped.
    fn with_used(dir: &Path, secs: i64) -> PersistedState {
        let store = open(dir);
        let s = PersistedState {
            enabled: true,
            eval: Evaluation {
                used_secs: secs,
                ..Evaluation::default()
            },
            ..PersistedState::default()
        };
        store.save(&s).unwrap();
        s
    }

    fn assert_used_up(l: &Loaded, what: &str) {
        match l {
            Loaded::Tampered { state, reason } => {
                assert_eq!(state.eval.used_secs, EVAL, "{what}");
                assert!(state.eval.expired_at.is_some(), "{what}");
                assert_eq!(state.integrity_alert.as_deref(), Some(reason.as_str()), "{what}");
                assert!(reason.contains("integrity check"), "{what}: {reason}");
            }
            other => panic!("{what}: {other:?}"),
        }
    }

    #[test]
    fn round_trip_and_tamper_detection() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(dir.path());
        assert!(matches!(store.load(0, 100).unwrap(), Loaded::Fresh(_)));
        let mut s = PersistedState::default();
        s.eval.used_secs = 42;
        s.enabled = true;
        store.save(&s).unwrap();
        match load(dir.path(), 0) {
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
        // Garbage; twice in the same second keeps both copies aside.
        std::fs::write(&path, b"\x00\x01garbage").unwrap();
        assert!(matches!(store.load(1002, 100).unwrap(), Loaded::Tampered { .. }));
        std::fs::write(&path, b"more garbage").unwrap();
        assert!(matches!(store.load(1002, 100).unwrap(), Loaded::Tampered { .. }));
        assert!(dir.path().join(format!("{STATE_FILE}.corrupt-1002-1")).exists());
    }

    #[test]
    fn a_fresh_start_writes_its_state_at_once() {
        // Otherwise a node started once and stopped would look like one whose state was deleted.
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(load(dir.path(), 0), Loaded::Fresh(_)));
        for f in [KEY_FILE, STATE_FILE, LEDGER_FILE] {
            assert!(dir.path().join(f).exists(), "{f}");
        }
        assert!(matches!(load(dir.path(), 1), Loaded::Good(_)));
    }

    #[test]
    fn deleting_the_state_beside_its_key_is_tampering() {
        // Finding: deleting licensing.json while keeping state.key gave a fresh 90 days.
        let dir = tempfile::tempdir().unwrap();
        with_used(dir.path(), 10 * 86_400);
        std::fs::remove_file(dir.path().join(STATE_FILE)).unwrap();
        assert_used_up(&load(dir.path(), 5), "state deleted");
        // The state and the ledger deleted together, the key kept: still tampering.
        let dir = tempfile::tempdir().unwrap();
        with_used(dir.path(), 10 * 86_400);
        std::fs::remove_file(dir.path().join(STATE_FILE)).unwrap();
        std::fs::remove_file(dir.path().join(LEDGER_FILE)).unwrap();
        assert_used_up(&load(dir.path(), 5), "state and ledger deleted");
    }

    #[test]
    fn deleting_the_ledger_or_the_key_is_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = with_used(dir.path(), 86_400);
        s.url = Some("https://ssm.example".into());
        open(dir.path()).save(&s).unwrap();
        std::fs::remove_file(dir.path().join(LEDGER_FILE)).unwrap();
        let l = load(dir.path(), 7);
        assert_used_up(&l, "ledger deleted");
        // The state itself verified, so it is kept (registration, configuration).
        if let Loaded::Tampered { state, .. } = &l {
            assert_eq!(state.url, s.url);
        }

        let dir = tempfile::tempdir().unwrap();
        with_used(dir.path(), 86_400);
        std::fs::remove_file(dir.path().join(KEY_FILE)).unwrap();
        let l = load(dir.path(), 8);
        assert_used_up(&l, "key deleted");
        assert!(dir.path().join(format!("{STATE_FILE}.corrupt-8")).exists());
        assert!(dir.path().join(format!("{LEDGER_FILE}.corrupt-8")).exists());
        // The new key and the replacement verify from now on.
        assert!(matches!(load(dir.path(), 9), Loaded::Good(_)));

        // An unreadable key is a missing key.
        std::fs::write(dir.path().join(KEY_FILE), "not a key").unwrap();
        assert_used_up(&load(dir.path(), 10), "key unreadable");
    }

    #[test]
    fn an_older_genuine_state_gives_no_time_back() {
        // Recomputing nothing: put back a copy of licensing.json taken when less was used.
        let dir = tempfile::tempdir().unwrap();
        with_used(dir.path(), 3_600);
        let early = std::fs::read(dir.path().join(STATE_FILE)).unwrap();
        let mut s = with_used(dir.path(), 0);
        s.eval.used_secs = 20 * 86_400;
        open(dir.path()).save(&s).unwrap();
        std::fs::write(dir.path().join(STATE_FILE), early).unwrap();
        match load(dir.path(), 0) {
            Loaded::Good(l) => assert_eq!(l.eval.used_secs, 20 * 86_400),
            other => panic!("{other:?}"),
        }
        // And it stays expired once it expired.
        let mut s = PersistedState::default();
        s.eval.used_secs = EVAL;
        s.eval.expired_at = Some(123);
        let dir = tempfile::tempdir().unwrap();
        with_used(dir.path(), 0);
        let early = std::fs::read(dir.path().join(STATE_FILE)).unwrap();
        open(dir.path()).save(&s).unwrap();
        std::fs::write(dir.path().join(STATE_FILE), early).unwrap();
        match load(dir.path(), 0) {
            Loaded::Good(l) => {
                assert_eq!(l.eval.used_secs, EVAL);
                assert_eq!(l.eval.expired_at, Some(123));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn files_of_another_product_do_not_verify() {
        // A node that consumed 80 days takes the key, state and ledger of a fresh node.
        let fresh = tempfile::tempdir().unwrap();
        StateStore::open(fresh.path(), "FLMOTHER0001")
            .unwrap()
            .load(0, EVAL)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        with_used(dir.path(), 80 * 86_400);
        for f in [KEY_FILE, STATE_FILE, LEDGER_FILE] {
            std::fs::copy(fresh.path().join(f), dir.path().join(f)).unwrap();
        }
        assert_used_up(&load(dir.path(), 1), "files of another serial number");
        // Only the ledger of another product (or of this one with another key): tampering too.
        let dir = tempfile::tempdir().unwrap();
        with_used(dir.path(), 80 * 86_400);
        std::fs::copy(fresh.path().join(LEDGER_FILE), dir.path().join(LEDGER_FILE)).unwrap();
        assert_used_up(&load(dir.path(), 1), "ledger of another serial number");
    }

    #[test]
    fn a_crash_between_the_ledger_and_the_state_loses_nothing_and_adds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = with_used(dir.path(), 1_000);
        s.eval.accounted_to = Some(50);
        open(dir.path()).save(&s).unwrap();
        let old_state = std::fs::read(dir.path().join(STATE_FILE)).unwrap();
        s.eval.used_secs = 1_030;
        s.eval.accounted_to = Some(80);
        open(dir.path()).save(&s).unwrap();
        // kill -9 after the ledger was renamed into place, before the state was.
        std::fs::write(dir.path().join(STATE_FILE), old_state).unwrap();
        match load(dir.path(), 100) {
            Loaded::Good(l) => assert_eq!((l.eval.used_secs, l.eval.accounted_to), (1_030, Some(80))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hand_edited_ledger_is_tampering() {
        let dir = tempfile::tempdir().unwrap();
        with_used(dir.path(), 5_000);
        let path = dir.path().join(LEDGER_FILE);
        let text = std::fs::read_to_string(&path).unwrap().replace("5000", "0");
        std::fs::write(&path, text).unwrap();
        assert_used_up(&load(dir.path(), 3), "ledger edited");
        assert!(dir.path().join(format!("{LEDGER_FILE}.corrupt-3")).exists());
    }

    #[test]
    fn the_ledger_never_goes_down_while_running() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let mut s = PersistedState::default();
        s.eval.used_secs = 500;
        store.save(&s).unwrap();
        // A state that somehow went back is saved as it is, but the ledger keeps the maximum.
        s.eval.used_secs = 10;
        store.save(&s).unwrap();
        assert_eq!(used(&load(dir.path(), 0)), 500);
    }

    #[test]
    fn the_layout_of_the_previous_version_is_taken_over_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = [7u8; 32];
        let mut s = PersistedState::default();
        s.eval.used_secs = 77;
        let body = serde_json::to_vec_pretty(&s).unwrap();
        let mut file = format!("{PLAIN_MAC}{}\n", mac_hex(&root, &body)).into_bytes();
        file.extend_from_slice(&body);
        std::fs::write(dir.path().join(KEY_FILE), hex::encode(root)).unwrap();
        std::fs::write(dir.path().join(STATE_FILE), &file).unwrap();
        match load(dir.path(), 0) {
            Loaded::Good(l) => assert_eq!(l, s),
            other => panic!("{other:?}"),
        }
        let key = std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap();
        assert!(key.starts_with(KEY_HEADER), "{key}");
        assert!(dir.path().join(LEDGER_FILE).exists());
        assert!(matches!(load(dir.path(), 1), Loaded::Good(_)));
        // From now on an old-layout state is not accepted any more.
        std::fs::write(dir.path().join(STATE_FILE), &file).unwrap();
        assert!(matches!(load(dir.path(), 2), Loaded::Tampered { .. }));
        // An older version's key with nothing else: a node that never saved a state.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(KEY_FILE), hex::encode(root)).unwrap();
        assert!(matches!(load(dir.path(), 0), Loaded::Fresh(_)));
    }

    #[test]
    fn deleting_everything_is_a_new_installation() {
        // What software alone cannot tell apart from a reinstall (docs/security.md).
        let dir = tempfile::tempdir().unwrap();
        with_used(dir.path(), 86_400);
        for f in [KEY_FILE, STATE_FILE, LEDGER_FILE] {
            std::fs::remove_file(dir.path().join(f)).unwrap();
        }
        assert!(matches!(load(dir.path(), 0), Loaded::Fresh(_)));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever proper subset of the three files is deleted or garbled, and after any
        /// sequence of saves, a load never shows less evaluation consumed than was saved.
        #[test]
        fn no_partial_deletion_gives_time_back(
            saves in proptest::collection::vec(0i64..EVAL, 1..6),
            damage in proptest::collection::vec(0u8..3, 3),
        ) {
            prop_assume!(damage.contains(&0));
            let dir = tempfile::tempdir().unwrap();
            let store = open(dir.path());
            let mut s = PersistedState::default();
            let mut most = 0;
            for u in saves {
                most = most.max(u);
                s.eval.used_secs = most;
                store.save(&s).unwrap();
            }
            for (f, d) in [KEY_FILE, STATE_FILE, LEDGER_FILE].iter().zip(&damage) {
                let p = dir.path().join(f);
                match d {
                    1 => std::fs::remove_file(&p).unwrap(),
                    2 => std::fs::write(&p, b"x\n{}").unwrap(),
                    _ => {}
                }
            }
            let l = load(dir.path(), 0);
            prop_assert!(used(&l) >= most, "{l:?}");
            if damage.iter().any(|d| *d != 0) {
                prop_assert!(matches!(l, Loaded::Tampered { .. }), "{l:?}");
            }
        }
    }
}
