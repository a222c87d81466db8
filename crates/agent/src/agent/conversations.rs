//! Conversations with the license manager over Call Home: registration, authorization (with the
//! usage report), ID certificate renewal and deregistration. Each holds `comm` for its whole
//! length and `core` only to prepare and to apply the answer.

use super::timers::{AUTH_JITTER, ID_JITTER, jittered};
use super::{AGENT_VERSION, AgentError, Core, SmartAgent};
use crate::state::{Attempt, Registered, Registration};
use crate::transport::{CallHome, TransportError};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::SigningKey;
use serde::Serialize;
use serde::de::DeserializeOwned;
use smartlic_protocol::envelope::Message;
use smartlic_protocol::time::ID_RENEW_AFTER;
use smartlic_protocol::wire::{
    AuthorizationRequest, AuthorizationResponse, DeregisterRequest, DeregisterResponse, RegisterRequest,
    RegisterResponse, RenewIdRequest, RenewIdResponse, codes,
};
use std::time::Instant;

/// The result of a deregistration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deregistered {
    /// Why the manager could not be told, if it could not.
    pub manager_not_told: Option<String>,
}

impl SmartAgent {
    fn callhome(&self, core: &mut Core) -> Result<CallHome, TransportError> {
        let url = core.lic.state.url.clone().ok_or(TransportError::NoUrl)?;
        let n = core.trust.certificates().len();
        if let Some((u, k, c)) = &core.callhome
            && *u == url
            && *k == n
        {
            return Ok(c.clone());
        }
        let c = CallHome::new(&url, core.trust.certificates(), None)?;
        core.callhome = Some((url, n, c.clone()));
        Ok(c)
    }

    /// `license smart register idtoken TOKEN`. On success the first authorization follows at once.
    pub async fn register(&self, token: &str) -> Result<Registered, AgentError> {
        let token = token.trim();
        if token.is_empty() || token.len() > 512 {
            return Err(AgentError::Invalid(
                "the registration token must be 1 to 512 characters".into(),
            ));
        }
        let _comm = self.inner.comm.lock().await;
        let reg = self.register_locked(token).await?;
        // First authorization and usage report right away; a failure here is retried by the timers.
        let _ = self.authorize_locked().await;
        Ok(reg)
    }

    // Long, but one story: prepare under `core`, talk without it, apply the answer under `core`.
    pub(super) async fn register_locked(&self, token: &str) -> Result<Registered, AgentError> {
        let (callhome, anchors) = self.with_core(|a, core| {
            if !core.lic.state.enabled {
                return Err(AgentError::Disabled);
            }
            if let Some(r) = core.lic.registered() {
                return Err(AgentError::AlreadyRegistered(r.smart_account.clone()));
            }
            if core.lic.reservation().is_some() {
                return Err(AgentError::Invalid(crate::reservation::RETURN_FIRST.into()));
            }
            let c = a.callhome(core);
            core.registering = c.is_ok();
            Ok((c, core.trust.certificates().to_vec()))
        })?;
        let result = match callhome {
            Ok(c) => {
                let key = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
                let body = RegisterRequest {
                    token: token.to_string(),
                    udi: self.inner.cfg.udi.clone(),
                    hostname: self.inner.cfg.hostname.clone(),
                    software_tag: self.inner.cfg.software_tag.clone(),
                    public_key: smartlic_protocol::envelope::encode_public_key(&key.verifying_key()),
                    agent_version: AGENT_VERSION.to_string(),
                    ha_udis: self.ha_udis(),
                };
                c.exchange::<_, RegisterResponse>("/register", &key, None, body, &anchors, || self.now())
                    .await
                    .map(|r| (r, key))
            }
            Err(e) => Err(e),
        };
        self.with_core(|a, core| {
            core.registering = false;
            let now = a.now();
            let in_use = a.in_use(core);
            match result {
                Ok((resp, key)) => {
                    let reg = Registered {
                        instance_id: resp.instance_id,
                        smart_account: resp.smart_account,
                        virtual_account: resp.virtual_account,
                        export_controlled: resp.export_controlled,
                        initial_registration_at: now,
                        id_certificate: resp.id_certificate,
                        id_issued_at: now,
                        id_expires_at: resp.id_expires_at,
                        last_renewal: None,
                        next_renewal_at: jittered(&a.inner.cfg.udi, now, now + ID_RENEW_AFTER, ID_JITTER),
                        device_key: B64.encode(key.to_bytes()),
                    };
                    core.lic.registered_ok(now, in_use, reg.clone());
                    Self::reset_retry(core);
                    a.settle(core)?;
                    Ok(reg)
                }
                Err(e) if e.is_refusal() => {
                    // A definitive refusal changes nothing, except that a background retry of
                    // the same token stops.
                    if let Registration::Failed {
                        token: t,
                        retrying,
                        reason,
                        ..
                    } = &mut core.lic.state.registration
                        && t == token
                    {
                        *retrying = false;
                        *reason = e.to_string();
                    }
                    a.settle(core)?;
                    Err(AgentError::Refused(format!("registration refused: {e}")))
                }
                Err(e @ (TransportError::NoUrl | TransportError::EmptyTrustPool)) => Err(AgentError::Transport(e)),
                Err(e) => {
                    core.lic.state.registration = Registration::Failed {
                        token: token.to_string(),
                        reason: e.to_string(),
                        at: now,
                        retrying: true,
                    };
                    Self::schedule_retry(core, &e);
                    a.settle(core)?;
                    Err(AgentError::RegistrationFailed(e))
                }
            }
        })
    }

    /// One signed conversation of the registered instance `r`, signed with its device `key`.
    async fn converse<B: Serialize + Message, R: DeserializeOwned + Message>(
        &self,
        callhome: &CallHome,
        anchors: &[Vec<u8>],
        path: &str,
        key: &SigningKey,
        r: &Registered,
        body: B,
    ) -> Result<R, TransportError> {
        callhome
            .exchange(path, key, Some(r.instance_id.clone()), body, anchors, || self.now())
            .await
    }

    fn device_key(r: &Registered) -> Result<SigningKey, TransportError> {
        let bytes = B64
            .decode(&r.device_key)
            .map_err(|_| TransportError::BadAnswer("stored device key is unreadable".into()))?;
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| TransportError::BadAnswer("stored device key has the wrong length".into()))?;
        Ok(SigningKey::from_bytes(&arr))
    }

    /// Handles "the manager no longer knows this instance": back to unregistered.
    fn forget_if_unknown(&self, core: &mut Core, e: &TransportError) -> bool {
        if let TransportError::Refused { code, .. } = e
            && code == codes::UNKNOWN_INSTANCE
        {
            let now = self.now();
            let in_use = self.in_use(core);
            tracing::warn!("the license manager no longer knows this product instance; now unregistered");
            core.lic.unregister(now, in_use);
            return true;
        }
        false
    }

    /// `license smart renew auth`: reports usage and renews the authorization now.
    pub async fn renew_auth(&self) -> Result<AuthorizationResponse, AgentError> {
        let _comm = self.inner.comm.lock().await;
        self.authorize_locked().await
    }

    pub(super) async fn authorize_locked(&self) -> Result<AuthorizationResponse, AgentError> {
        let prepared = self.with_core(|a, core| {
            let r = core.lic.registered().cloned().ok_or(AgentError::NotRegistered)?;
            let c = a.callhome(core)?;
            let adm = &a.inner.admission;
            let peaks: Vec<u64> = (0..adm.len())
                .map(|i| adm.take_peak(i).max(core.pending_peaks.get(i).copied().unwrap_or(0)))
                .collect();
            core.pending_peaks = peaks.clone();
            core.usage_changed_at = None;
            core.last_report_at = Some(Instant::now());
            let usage = core.lic.usage(&peaks);
            Ok::<_, AgentError>((r, c, core.trust.certificates().to_vec(), peaks, usage))
        })?;
        let (r, c, anchors, peaks, usage) = prepared;
        let key = Self::device_key(&r)?;
        let body = AuthorizationRequest {
            hostname: self.inner.cfg.hostname.clone(),
            usage: usage.clone(),
        };
        let result = self
            .converse::<_, AuthorizationResponse>(&c, &anchors, "/authorize", &key, &r, body)
            .await;
        self.with_core(|a, core| {
            let now = a.now();
            let in_use = a.in_use(core);
            let cat = a.inner.cfg.catalog.clone();
            match result {
                Ok(resp) => {
                    core.lic.authorized(now, in_use, &resp, &usage);
                    // The scheduled renewal (not the daily report while out of compliance) comes
                    // a drawn offset early, so that a fleet does not renew all at once.
                    let auth = &mut core.lic.state.authorization;
                    if auth.next_attempt_at == Some(resp.renew_at) {
                        auth.next_attempt_at = Some(jittered(&a.inner.cfg.udi, now, resp.renew_at, AUTH_JITTER));
                    }
                    for (i, s) in cat.service.iter().enumerate() {
                        let n = cat.licenses_for_sessions(peaks.get(i).copied().unwrap_or(0));
                        let st = Self::stats_mut(core, core.lic.mode(), &s.service);
                        st.last_lic_count = n;
                        st.max_lic_count = st.max_lic_count.max(n);
                        st.report_success += 1;
                    }
                    core.pending_peaks = vec![0; cat.service.len()];
                    Self::reset_retry(core);
                    a.settle(core)?;
                    Ok(resp)
                }
                Err(e) => {
                    if !a.forget_if_unknown(core, &e) {
                        core.lic.authorization_failed(now, e.to_string());
                        let mode = core.lic.mode();
                        for s in &cat.service {
                            Self::stats_mut(core, mode, &s.service).report_fail += 1;
                        }
                        Self::schedule_retry(core, &e);
                    }
                    a.settle(core)?;
                    Err(AgentError::Transport(e))
                }
            }
        })
    }

    /// `license smart renew id`: renews the ID certificate now.
    pub async fn renew_id(&self) -> Result<Registered, AgentError> {
        let _comm = self.inner.comm.lock().await;
        self.renew_id_locked().await
    }

    pub(super) async fn renew_id_locked(&self) -> Result<Registered, AgentError> {
        let (r, c, anchors) = self.with_core(|a, core| {
            let r = core.lic.registered().cloned().ok_or(AgentError::NotRegistered)?;
            let c = a.callhome(core)?;
            Ok::<_, AgentError>((r, c, core.trust.certificates().to_vec()))
        })?;
        let key = Self::device_key(&r)?;
        let result = self
            .converse::<_, RenewIdResponse>(&c, &anchors, "/renew-id", &key, &r, RenewIdRequest {})
            .await;
        self.with_core(|a, core| {
            let now = a.now();
            let out = match (&result, &mut core.lic.state.registration) {
                (Ok(resp), Registration::Registered(reg)) => {
                    reg.id_certificate = resp.id_certificate.clone();
                    reg.id_issued_at = now;
                    reg.id_expires_at = resp.id_expires_at;
                    reg.next_renewal_at = jittered(&a.inner.cfg.udi, now, now + ID_RENEW_AFTER, ID_JITTER);
                    reg.last_renewal = Some(Attempt {
                        at: now,
                        ok: true,
                        reason: String::new(),
                    });
                    Ok(reg.clone())
                }
                (Err(e), Registration::Registered(reg)) => {
                    let e = e.clone();
                    reg.last_renewal = Some(Attempt {
                        at: now,
                        ok: false,
                        reason: e.to_string(),
                    });
                    // By the licensing clock, try again in 15 minutes; the real-time back-off
                    // (schedule_retry) retries sooner while the clock stands still.
                    reg.next_renewal_at = now + 15 * 60;
                    Err(e)
                }
                _ => Err(TransportError::BadAnswer("registration changed during renewal".into())),
            };
            match out {
                Ok(reg) => {
                    Self::reset_retry(core);
                    a.settle(core)?;
                    Ok(reg)
                }
                Err(e) => {
                    if !a.forget_if_unknown(core, &e) {
                        Self::schedule_retry(core, &e);
                    }
                    a.settle(core)?;
                    Err(AgentError::Transport(e))
                }
            }
        })
    }

    /// `license smart deregister`: tells the manager (best effort) and returns to unregistered
    /// with whatever evaluation time is left.
    pub async fn deregister(&self) -> Result<Deregistered, AgentError> {
        let _comm = self.inner.comm.lock().await;
        let prepared = self.with_core(|a, core| match &core.lic.state.registration {
            Registration::Registered(r) | Registration::Expired(r) => {
                Ok(Some((r.clone(), a.callhome(core), core.trust.certificates().to_vec())))
            }
            Registration::Failed { .. } => Ok(None),
            Registration::Unregistered => Err(AgentError::NotRegistered),
        })?;
        let mut not_told = None;
        if let Some((r, c, anchors)) = prepared {
            let told = match (c, Self::device_key(&r)) {
                (Ok(c), Ok(key)) => self
                    .converse::<_, DeregisterResponse>(&c, &anchors, "/deregister", &key, &r, DeregisterRequest {})
                    .await
                    .map(|_| ()),
                (Err(e), _) | (_, Err(e)) => Err(e),
            };
            match told {
                Ok(()) => {}
                Err(TransportError::Refused { code, .. }) if code == codes::UNKNOWN_INSTANCE => {}
                Err(e) => not_told = Some(e.to_string()),
            }
        }
        self.with_core(|a, core| {
            let now = a.now();
            let in_use = a.in_use(core);
            core.lic.unregister(now, in_use);
            Self::reset_retry(core);
            a.settle(core)
        })?;
        Ok(Deregistered {
            manager_not_told: not_told,
        })
    }
}
