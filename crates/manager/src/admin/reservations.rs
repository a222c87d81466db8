//! Licence reservations (SLR/PLR) for nodes that never reach the manager: a node's request code
//! is answered with an authorization code signed by the manager's response-signing key (under
//! its CA, which the node's trust pool holds); its return and confirmation codes are checked
//! with the key of its original request. Rights: the operator, the SA administrator, the VA
//! administrator of that VA ([`Action::ManageReservations`]).

use super::*;
use crate::refusal::Refusal;
use crate::store::{NewReservation, RESERVED, ReservationRow};
use smartlic_protocol::reservation::{
    CodeKind, NodeProof, ReservationAuthorization, ReservationKind, ReservationRequest, request_id,
};
use std::collections::BTreeMap;

/// Most SKUs in one reservation.
const MAX_SKUS: usize = 64;

fn kind_word(universal: bool) -> &'static str {
    if universal { "universal" } else { "specific" }
}

/// The API's view of a reservation row and its licences.
pub(crate) fn reservation_info(r: &ReservationRow, va: &str, licenses: &[(String, i64)]) -> ReservationInfo {
    ReservationInfo {
        id: r.id.clone(),
        va: va.to_string(),
        udi: r.udi.clone(),
        kind: if r.kind == "universal" {
            ReservationType::Universal
        } else {
            ReservationType::Specific
        },
        licenses: licenses.iter().map(|(s, n)| (s.clone(), (*n).max(0) as u64)).collect(),
        status: if r.status == RESERVED {
            ReservationStatus::Reserved
        } else {
            ReservationStatus::Returned
        },
        seq: u32::try_from(r.seq).unwrap_or(u32::MAX),
        confirmed_seq: r.confirmed_seq.map(|s| u32::try_from(s).unwrap_or(u32::MAX)),
        expires_at: r.expires_at,
        created_at: r.created_at,
        returned_at: r.returned_at,
    }
}

/// A code the caller pasted, refused with the code's own words.
fn bad_code(e: smartlic_protocol::reservation::CodeError) -> ApiError {
    ApiError::BadRequest(e.to_string())
}

/// Checks the requested licences against the catalog: SLR needs at least one SKU, each known,
/// each 1 to [`MAX_QUANTITY`]; PLR takes none.
fn check_licenses(
    state: &AppState,
    licenses: &BTreeMap<String, u64>,
    universal: bool,
) -> Result<BTreeMap<String, i64>, ApiError> {
    if universal {
        if !licenses.is_empty() {
            return Err(ApiError::BadRequest(
                "a universal reservation takes no licence counts (give --license or --universal, not both)".into(),
            ));
        }
        return Ok(BTreeMap::new());
    }
    if licenses.is_empty() {
        return Err(ApiError::BadRequest(
            "name the licences to reserve (--license SKU=N) or reserve the universal licence (--universal)".into(),
        ));
    }
    if licenses.len() > MAX_SKUS {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_SKUS} SKUs in one reservation"
        )));
    }
    let mut out = BTreeMap::new();
    for (sku, n) in licenses {
        let sku = check_sku(state, sku)?;
        if *n == 0 || *n > MAX_QUANTITY {
            return Err(ApiError::BadRequest(format!(
                "the count of {sku} must be 1 to {MAX_QUANTITY} (got {n})"
            )));
        }
        if out.insert(sku.clone(), *n as i64).is_some() {
            return Err(ApiError::BadRequest(format!("{sku} is given twice")));
        }
    }
    Ok(out)
}

/// Whether the account's reservation setting allows this kind.
fn check_policy(account: &AccountRow, universal: bool) -> Result<(), ApiError> {
    let policy: ReservationPolicy = account.reservation.parse().unwrap_or_default();
    let allowed = match policy {
        ReservationPolicy::None => false,
        ReservationPolicy::Specific => !universal,
        ReservationPolicy::Universal => true,
    };
    if allowed {
        return Ok(());
    }
    let what = if universal {
        "universal licence reservation (PLR)"
    } else {
        "specific licence reservation (SLR)"
    };
    Err(Refusal::NotAllowed(format!(
        "Smart Account {} does not allow {what} (its reservation setting is {policy}; the operator sets it)",
        account.name
    ))
    .into())
}

/// The authorization code of `row` with `licenses`, signed with the manager's signing key.
fn authorization(
    state: &AppState,
    account: &AccountRow,
    va: &VaRow,
    row: &ReservationRow,
    licenses: &BTreeMap<String, i64>,
) -> Result<String, ApiError> {
    let auth = ReservationAuthorization {
        id: row.id.clone(),
        seq: u32::try_from(row.seq)
            .map_err(|_| ApiError::Conflict(format!("reservation {} has too many updates", row.id)))?,
        request: row.request_id.clone(),
        udi: row.udi.clone(),
        kind: if row.kind == "universal" {
            ReservationKind::Universal
        } else {
            ReservationKind::Specific
        },
        licenses: licenses
            .iter()
            .map(|(s, n)| (s.clone(), (*n).clamp(0, u32::MAX as i64) as u32))
            .collect(),
        expires_at: row.expires_at,
        issued_at: state.now(),
        account: account.name.clone(),
        va: va.name.clone(),
    };
    auth.encode(state.pki().signing_key(), state.pki().signer_pem())
        .map_err(|e| ApiError::Internal(format!("signing a reservation authorization: {e}")))
}

/// Reserves licences (or the universal licence) of a VA for the node that made the request
/// code, and answers with the authorization code.
pub(crate) async fn create_reservation(
    state: &AppState,
    caller: &Caller,
    account: &str,
    req: CreateReservation,
) -> Result<IssuedReservation, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let va = resolve_va(state, caller, &a, &req.va, Action::ManageReservations).await?;
    check_policy(&a, req.universal)?;
    let request = ReservationRequest::decode(&req.request_code).map_err(bad_code)?;
    let licenses = check_licenses(state, &req.licenses, req.universal)?;
    let now = state.now();
    let expires_at = expiry_date(req.expires.as_deref(), now)?;
    let new = NewReservation {
        id: crate::store::new_id(),
        account_id: a.id.clone(),
        va_id: va.id.clone(),
        va_name: va.name.clone(),
        udi: request.udi.clone(),
        kind: kind_word(req.universal).into(),
        request_id: request_id(&req.request_code),
        node_key: request.key.clone(),
        licenses,
        expires_at,
    };
    let row = state.store().create_reservation(&new, now, &caller.audit()).await?;
    let code = authorization(state, &a, &va, &row, &new.licenses)?;
    let lines: Vec<(String, i64)> = new.licenses.into_iter().collect();
    Ok(IssuedReservation {
        authorization_code: code,
        reservation: reservation_info(&row, &va.name, &lines),
    })
}

/// The reservations of an account (of one VA with `va`; a VA administrator's own VA).
pub(crate) async fn list_reservations(
    state: &AppState,
    caller: &Caller,
    account: &str,
    va: Option<&str>,
) -> Result<Vec<ReservationInfo>, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let only = match va.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => Some(resolve_va(state, caller, &a, v, Action::ManageReservations).await?.id),
        None => {
            let own = caller.principal.va_restriction().cloned();
            let scope = match &own {
                Some(v) => Scope::Va { account: &a.id, va: v },
                None => Scope::Account(&a.id),
            };
            require(&caller.principal, Action::ManageReservations, scope, "Smart Account")?;
            own
        }
    };
    let names = va_names(state, &a.id).await?;
    Ok(state
        .store()
        .list_reservations(&a.id, only.as_ref())
        .await?
        .iter()
        .map(|(r, l)| reservation_info(r, names.get(&r.va_id).map_or("", String::as_str), l))
        .collect())
}

/// The reservation a return or confirmation code names, in this account, if the caller may
/// manage it; and the code checked against the key of that reservation's request.
async fn proven(
    state: &AppState,
    caller: &Caller,
    account: &str,
    kind: CodeKind,
    code: &str,
) -> Result<(AccountRow, VaRow, ReservationRow, NodeProof), ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let claim = NodeProof::unverified(kind, code).map_err(bad_code)?;
    let not_found = || {
        ApiError::NotFound(format!(
            "this {kind} is not of a reservation of Smart Account {}",
            a.name
        ))
    };
    let (va, row) = managed(state, caller, &a, &claim.id, not_found).await?;
    let key = smartlic_protocol::reservation::node_key(&row.node_key)
        .ok_or_else(|| ApiError::Internal(format!("reservation {} holds an invalid node key", row.id)))?;
    let proof = NodeProof::decode(kind, code, &key).map_err(|_| {
        ApiError::BadRequest(format!(
            "the {kind} is not signed by the node key of reservation {} (altered or forged, or made by another node)",
            row.id
        ))
    })?;
    if proof.udi != row.udi || i64::from(proof.seq) > row.seq || proof.seq == 0 {
        return Err(ApiError::BadRequest(format!(
            "the {kind} does not match reservation {} (UDI {}, authorization {})",
            row.id, row.udi, row.seq
        )));
    }
    Ok((a, va, row, proof))
}

/// Reservation `id` of account `a` with its VA, when the caller may manage reservations there;
/// `not_found` when there is no such reservation in the account.
async fn managed(
    state: &AppState,
    caller: &Caller,
    a: &AccountRow,
    id: &str,
    not_found: impl Fn() -> ApiError,
) -> Result<(VaRow, ReservationRow), ApiError> {
    let row = state
        .store()
        .find_reservation(&a.id, id)
        .await?
        .ok_or_else(&not_found)?;
    let va = state.store().find_va(&a.id, &row.va_id).await?.ok_or_else(&not_found)?;
    let scope = Scope::Va {
        account: &a.id,
        va: &va.id,
    };
    require(&caller.principal, Action::ManageReservations, scope, "reservation")?;
    Ok((va, row))
}

/// Takes a node's return code: the reservation is returned and its licences released.
pub(crate) async fn return_reservation(
    state: &AppState,
    caller: &Caller,
    account: &str,
    req: ReturnReservation,
) -> Result<ReservationInfo, ApiError> {
    let (_, va, row, _) = proven(state, caller, account, CodeKind::Return, &req.return_code).await?;
    let licenses = state.store().reservation_licenses(&row.id).await?;
    let row = state
        .store()
        .return_reservation(&row, state.now(), &caller.audit())
        .await?;
    Ok(reservation_info(&row, &va.name, &licenses))
}

/// Takes a node's confirmation code: the authorization it names was installed.
pub(crate) async fn confirm_reservation(
    state: &AppState,
    caller: &Caller,
    account: &str,
    req: ConfirmReservation,
) -> Result<ReservationInfo, ApiError> {
    let (_, va, row, proof) = proven(state, caller, account, CodeKind::Confirmation, &req.confirmation_code).await?;
    if row.status != RESERVED {
        return Err(Refusal::Conflict(format!("reservation {} was returned already", row.id)).into());
    }
    let licenses = state.store().reservation_licenses(&row.id).await?;
    let row = state
        .store()
        .confirm_reservation(&row, i64::from(proof.seq), state.now(), &caller.audit())
        .await?;
    Ok(reservation_info(&row, &va.name, &licenses))
}

/// Changes a RESERVED reservation's licences; answers with the next authorization code.
pub(crate) async fn update_reservation(
    state: &AppState,
    caller: &Caller,
    account: &str,
    id: &str,
    req: UpdateReservation,
) -> Result<IssuedReservation, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let not_found = || ApiError::NotFound(format!("no reservation {:?} in Smart Account {}", id.trim(), a.name));
    let (va, row) = managed(state, caller, &a, id, not_found).await?;
    if row.status != RESERVED {
        return Err(Refusal::Conflict(format!("reservation {} was returned already", row.id)).into());
    }
    check_policy(&a, req.universal)?;
    let licenses = check_licenses(state, &req.licenses, req.universal)?;
    let row = state
        .store()
        .update_reservation(
            &row,
            &va.name,
            kind_word(req.universal),
            &licenses,
            state.now(),
            &caller.audit(),
        )
        .await?;
    let code = authorization(state, &a, &va, &row, &licenses)?;
    let lines: Vec<(String, i64)> = licenses.into_iter().collect();
    Ok(IssuedReservation {
        authorization_code: code,
        reservation: reservation_info(&row, &va.name, &lines),
    })
}
