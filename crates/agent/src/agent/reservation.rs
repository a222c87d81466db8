//! The reservation commands: enable/disable, request, cancel, install, return. Every change goes
//! through `settle` (saved before it is reported); the rules are `crate::reservation`'s.

use super::{AgentError, SmartAgent};
use crate::reservation::{InstallKind, PendingRequest};
use crate::trustpool::{IMPORT_TIMEOUT, TrustPoolError, read_import};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::SigningKey;
use smartlic_protocol::reservation::MAX_CODE_LEN;
use smartlic_protocol::reservation::{
    CodeKind, NodeProof, ReservationAuthorization, ReservationKind, ReservationRequest,
};
use std::path::Path;

/// What installing an authorization did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// SLR or PLR.
    pub kind: ReservationKind,
    /// The confirmation code, when it updated the installed reservation.
    pub confirmation: Option<String>,
}

fn key_from_seed(seed: &str) -> Result<SigningKey, AgentError> {
    let bytes: [u8; 32] = B64
        .decode(seed)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| AgentError::Invalid("the reservation key in the licensing state is unusable".into()))?;
    Ok(SigningKey::from_bytes(&bytes))
}

impl SmartAgent {
    /// `license smart reservation` / `no license smart reservation`.
    pub fn set_reservation_enabled(&self, on: bool) -> Result<(), AgentError> {
        self.with_core(|a, core| {
            core.lic.set_reservation_enabled(on).map_err(AgentError::Invalid)?;
            a.settle(core)
        })
    }

    /// `license smart reservation request local`: the request code (the pending one again if a
    /// request is pending). A new request gets a new Ed25519 reservation key, kept in the state.
    pub fn reservation_request(&self) -> Result<String, AgentError> {
        self.with_core(|a, core| {
            if let Some(why) = core.lic.request_refusal() {
                return Err(AgentError::Invalid(why));
            }
            if let Some(p) = &core.lic.state.reservation.pending {
                return Ok(p.code.clone());
            }
            let now = a.now();
            let seed = rand::random::<[u8; 32]>();
            let key = SigningKey::from_bytes(&seed);
            let request = ReservationRequest {
                udi: a.inner.cfg.udi.to_string(),
                ha_udis: a.ha_udis().iter().map(|h| h.udi.to_string()).collect(),
                key: B64.encode(key.verifying_key().as_bytes()),
                nonce: hex::encode(rand::random::<[u8; 16]>()),
                created_at: now,
            };
            let code = request.encode(&key);
            core.lic.reservation_requested(PendingRequest {
                code: code.clone(),
                key_seed: B64.encode(seed),
                created_at: now,
            });
            a.settle(core)?;
            Ok(code)
        })
    }

    /// `license smart reservation cancel`.
    pub fn reservation_cancel(&self) -> Result<(), AgentError> {
        self.with_core(|a, core| {
            if !core.lic.cancel_reservation_request() {
                return Err(AgentError::Invalid("no reservation request is pending".into()));
            }
            a.settle(core)
        })
    }

    /// `license smart reservation install "CODE"`: checks the authorization (trust pool, UDI,
    /// pending request or installed reservation, never installed before) and installs it; a
    /// refused code changes nothing.
    pub fn reservation_install(&self, text: &str) -> Result<Installed, AgentError> {
        self.with_core(|a, core| {
            let auth = ReservationAuthorization::decode(text, core.trust.certificates())
                .map_err(|e| AgentError::Invalid(e.to_string()))?;
            let now = a.now();
            let udi = a.inner.cfg.udi.to_string();
            let kind = core
                .lic
                .check_authorization(&auth, &udi, now)
                .map_err(AgentError::Invalid)?;
            let confirmation = match (kind, core.lic.reservation()) {
                (InstallKind::Update, Some(cur)) => {
                    let key = key_from_seed(&cur.key_seed)?;
                    let proof = NodeProof {
                        id: auth.id.clone(),
                        seq: auth.seq,
                        udi: udi.clone(),
                        at: now,
                    };
                    Some(proof.encode(CodeKind::Confirmation, &key))
                }
                _ => None,
            };
            if kind == InstallKind::New {
                // The key must be usable before anything changes.
                let seed = core.lic.state.reservation.pending.as_ref().map(|p| p.key_seed.clone());
                key_from_seed(&seed.unwrap_or_default())?;
            }
            let in_use = a.in_use(core);
            let installed = Installed {
                kind: auth.kind,
                confirmation: confirmation.clone(),
            };
            core.lic
                .install_reservation(now, in_use, text, auth, kind, confirmation);
            a.settle(core)?;
            Ok(installed)
        })
    }

    /// `license smart reservation install file PATH`: the first non-empty line of the file
    /// (read first, bounded in size and time, no lock held), installed as
    /// [`reservation_install`](Self::reservation_install) does.
    pub async fn reservation_install_file(&self, path: &Path) -> Result<Installed, AgentError> {
        let limit = 4 * MAX_CODE_LEN as u64;
        let bytes = read_import(path, limit, IMPORT_TIMEOUT).await.map_err(|e| match e {
            TrustPoolError::TooLarge { path, limit } => AgentError::Invalid(format!(
                "{} is larger than {limit} bytes; an authorization code file holds one code",
                path.display()
            )),
            TrustPoolError::NotRegular { path, kind } => {
                AgentError::Invalid(format!("{} is not a regular file (it is {kind})", path.display()))
            }
            other => AgentError::Invalid(other.to_string()),
        })?;
        let text = String::from_utf8_lossy(&bytes);
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .ok_or_else(|| AgentError::Invalid(format!("{} holds no authorization code", path.display())))?;
        self.reservation_install(line)
    }

    /// `license smart reservation return local`: the return code; the authorization is dropped
    /// and the node is unregistered again with the evaluation time it had.
    pub fn reservation_return(&self) -> Result<String, AgentError> {
        self.with_core(|a, core| {
            let Some(cur) = core.lic.reservation() else {
                return Err(AgentError::Invalid("no reservation is installed".into()));
            };
            let now = a.now();
            let key = key_from_seed(&cur.key_seed)?;
            let code = NodeProof {
                id: cur.auth.id.clone(),
                seq: cur.auth.seq,
                udi: a.inner.cfg.udi.to_string(),
                at: now,
            }
            .encode(CodeKind::Return, &key);
            let in_use = a.in_use(core);
            core.lic.return_reservation(now, in_use);
            a.settle(core)?;
            Ok(code)
        })
    }
}
