//! The alerts of an account's virtual accounts, from the store's facts ([`crate::alerts`]).

use super::*;

/// The alerts of every virtual account of an account the caller may read ([`crate::alerts`]).
pub(crate) async fn list_alerts(state: &AppState, caller: &Caller, account: &str) -> Result<Vec<AlertInfo>, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let now = state.now();
    let silent = state
        .store()
        .silent_instances(&a.id, now - crate::alerts::FAILED_TO_CONNECT_DAYS * DAY)
        .await?;
    let expired = state
        .store()
        .find_events(
            Some(&a.id),
            &crate::store::EventQuery {
                action_prefix: Some("instance.expire".into()),
                since: Some(now - crate::alerts::REMOVED_SHOWN_DAYS * DAY),
                ..Default::default()
            },
            1000,
        )
        .await?;
    let over_capacity = state
        .store()
        .find_events(
            Some(&a.id),
            &crate::store::EventQuery {
                action_prefix: Some(crate::device::OVER_CAPACITY_EVENT.into()),
                since: Some(now - crate::alerts::OVER_CAPACITY_SHOWN_DAYS * DAY),
                ..Default::default()
            },
            1000,
        )
        .await?;
    let mut out = Vec::new();
    for va in state.store().list_vas(&a.id).await? {
        if require(
            &caller.principal,
            Action::ReadVa,
            Scope::Va {
                account: &a.id,
                va: &va.id,
            },
            "virtual account",
        )
        .is_err()
        {
            continue;
        }
        let (lots, in_use) = super::licences::lots_and_use(state, &va.id).await?;
        let hosts: Vec<(String, i64)> = silent
            .iter()
            .filter(|(va_id, _, _)| *va_id == va.id)
            .map(|(_, host, last)| (host.clone(), *last))
            .collect();
        let removed: Vec<(String, i64, String)> = expired
            .iter()
            .filter(|e| e.va_id.as_deref() == Some(va.id.as_str()))
            .map(|e| (e.object_id.clone().unwrap_or_default(), e.at, e.detail.clone()))
            .collect();
        let mut refused: Vec<(String, i64, String)> = Vec::new();
        // Newest first: one alert per instance, with its latest refusal.
        for e in over_capacity
            .iter()
            .filter(|e| e.va_id.as_deref() == Some(va.id.as_str()))
        {
            let id = e.object_id.clone().unwrap_or_default();
            if !refused.iter().any(|(i, _, _)| *i == id) {
                refused.push((id, e.at, e.detail.clone()));
            }
        }
        out.extend(crate::alerts::va_alerts(
            &crate::alerts::VaFacts {
                va: &va.name,
                lots: &lots,
                in_use: &in_use,
                instances: &hosts,
                removed: &removed,
                over_capacity: &refused,
            },
            now,
        ));
    }
    out.sort_by_key(|x| (x.severity != "critical", x.at));
    Ok(out)
}
