//! The configuration commands: enabling Smart Licensing, the manager URL, on/off features, the HA
//! UDI list, the legacy licence key and the trust pool.

use super::{AgentError, SmartAgent};
use crate::state::{InstalledKey, KeyHistoryEntry};
use smartlic_protocol::legacy::LegacyKey;
use smartlic_protocol::trust::CertSummary;
use smartlic_protocol::wire::HaUdi;
use std::path::Path;

impl SmartAgent {
    /// `license smart enable` / `no license smart enable`.
    pub fn set_enabled(&self, on: bool) -> Result<(), AgentError> {
        self.with_core(|a, core| {
            if !on && core.lic.reservation().is_some() {
                return Err(AgentError::Invalid(crate::reservation::RETURN_FIRST.into()));
            }
            let now = a.now();
            let in_use = a.in_use(core);
            core.lic.set_enabled(now, in_use, on);
            a.settle(core)
        })
    }

    /// `license smart url URL` (None removes it).
    pub fn set_url(&self, url: Option<String>) -> Result<(), AgentError> {
        if let Some(u) = &url
            && !(u.starts_with("https://") && u.len() > "https://".len())
        {
            return Err(AgentError::Invalid(format!(
                "license smart url must be an https:// URL, not {u}"
            )));
        }
        self.with_core(|a, core| {
            core.lic.state.url = url;
            core.callhome = None;
            a.settle(core)
        })
    }

    /// `feature SKU` / `no feature SKU`.
    pub fn set_feature(&self, sku: &str, on: bool) -> Result<bool, AgentError> {
        self.with_core(|a, core| {
            let changed = core.lic.set_feature(a.now(), sku, on).map_err(AgentError::Invalid)?;
            a.settle(core)?;
            Ok(changed)
        })
    }

    /// The HA UDI list as it is now (empty for a single-chassis product).
    pub fn ha_udis(&self) -> Vec<HaUdi> {
        match self.inner.ha_udis.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Replaces the HA UDI list (a control-function switchover swaps Active and Standby). The
    /// chassis UDI, and so the registration, is unchanged.
    pub fn set_ha_udis(&self, list: Vec<HaUdi>) {
        match self.inner.ha_udis.lock() {
            Ok(mut g) => *g = list,
            Err(p) => *p.into_inner() = list,
        }
    }

    /// `license key "KEY"`: installs a legacy licence key after checking that a manager of the
    /// trust pool signed it, that it is this chassis' (serial and platform) and that it has not
    /// expired; a refused key changes nothing. Replaces an installed key.
    pub fn install_legacy_key(&self, text: &str) -> Result<LegacyKey, AgentError> {
        self.with_core(|a, core| {
            let key =
                LegacyKey::verify(text, core.trust.certificates()).map_err(|e| AgentError::Invalid(e.to_string()))?;
            let udi = &a.inner.cfg.udi;
            if key.serial != udi.sn {
                return Err(AgentError::Invalid(format!(
                    "the licence key is for chassis serial {}, not this chassis ({})",
                    key.serial, udi.sn
                )));
            }
            if !key.platform.eq_ignore_ascii_case(&udi.pid) {
                return Err(AgentError::Invalid(format!(
                    "the licence key is for platform {}, not this {}",
                    key.platform, udi.pid
                )));
            }
            let now = a.now();
            if key.expired(now) {
                return Err(AgentError::Invalid(format!(
                    "the licence key expired on {}",
                    smartlic_protocol::time::format_date(key.expires_at.unwrap_or(now))
                )));
            }
            let replaced = core.lic.state.legacy_key.take();
            let action = if replaced.is_some() { "replaced" } else { "installed" };
            core.lic.state.legacy_key = Some(InstalledKey {
                text: text.trim().to_string(),
                key: key.clone(),
                installed_at: now,
            });
            push_key_history(&mut core.lic.state, now, action, &key);
            a.settle(core)?;
            Ok(key)
        })
    }

    /// `no license key`: removes the legacy key; false if none was installed.
    pub fn remove_legacy_key(&self) -> Result<bool, AgentError> {
        self.with_core(|a, core| {
            let Some(old) = core.lic.state.legacy_key.take() else {
                return Ok(false);
            };
            push_key_history(&mut core.lic.state, a.now(), "removed", &old.key);
            a.settle(core)?;
            Ok(true)
        })
    }

    /// `crypto pki trustpool import file PATH`: returns how many certificates were added.
    ///
    /// The file is read first, with no lock held, bounded in size and time (a FIFO, a device or a
    /// file over 1 MiB is refused at once), then checked (CA certificates only), and only then is
    /// the pool locked to add them.
    pub async fn import_trust(&self, file: &Path) -> Result<usize, AgentError> {
        let bytes = crate::trustpool::read_import(
            file,
            crate::trustpool::MAX_IMPORT_BYTES,
            crate::trustpool::IMPORT_TIMEOUT,
        )
        .await?;
        let certs = crate::trustpool::parse_ca_certificates(file, &bytes)?;
        self.with_core(|_, core| {
            let n = core.trust.add(certs)?;
            if n > 0 {
                core.callhome = None;
            }
            Ok(n)
        })
    }

    /// The trust pool's certificates.
    pub fn trust_summaries(&self) -> Vec<CertSummary> {
        self.lock().trust.summaries()
    }
}

/// Records a legacy key event in the state's bounded history.
fn push_key_history(state: &mut crate::state::PersistedState, at: i64, action: &str, key: &LegacyKey) {
    if state.legacy_history.len() >= crate::state::LEGACY_HISTORY {
        state.legacy_history.remove(0);
    }
    state.legacy_history.push(KeyHistoryEntry {
        at,
        action: action.to_string(),
        key_id: key.id.clone(),
        detail: legacy_key_summary(key),
    });
}

/// What a legacy key licenses, in one line: `sgw 20000 sessions, ASR5K-00-GN01REC, expires …`.
pub fn legacy_key_summary(key: &LegacyKey) -> String {
    let mut parts: Vec<String> = key.sessions.iter().map(|(s, n)| format!("{s} {n} sessions")).collect();
    parts.extend(key.features.iter().cloned());
    parts.push(match key.expires_at {
        Some(e) => format!("expires {}", smartlic_protocol::time::format_date(e)),
        None => "never expires".to_string(),
    });
    parts.join(", ")
}
