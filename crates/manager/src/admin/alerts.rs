//! The alerts of an account's virtual accounts, from the store's facts ([`crate::alerts`]).

use super::*;

/// The alerts of every virtual account of an account the caller may read ([`crate::alerts`]).
pub(crate) async fn list_alerts(state: &AppState, caller: &Caller, account: &str) -> Result<Vec<AlertInfo>, ApiError> {
    let a = resolve_account(state, caller, account, Action::ReadAccount).await?;
    let now = state.now();
    let facts = AccountFacts::read(state, &a.id, now).await?;
    let link = state.store().satellite_link().await?;
    let mut out = Vec::new();
    for va in state.store().list_vas(&a.id).await? {
        let scope = Scope::Va {
            account: &a.id,
            va: &va.id,
        };
        if require(&caller.principal, Action::ReadVa, scope, "virtual account").is_err() {
            continue;
        }
        let (lots, in_use) = super::licences::lots_and_use(state, &va.id).await?;
        let of_va = facts.of_va(&va.id);
        out.extend(crate::alerts::va_alerts(
            &crate::alerts::VaFacts {
                va: &va.name,
                lots: &lots,
                in_use: &in_use,
                instances: &of_va.silent,
                removed: &of_va.removed,
                over_capacity: &of_va.refused,
                exchanges: &of_va
                    .satellites
                    .iter()
                    .map(|(name, last)| (format!("satellite {name}"), *last))
                    .chain(exchanges_of(&link, &va.id))
                    .collect::<Vec<_>>(),
            },
            now,
        ));
    }
    out.sort_by_key(|x| (x.severity != "critical", x.at));
    Ok(out)
}

/// On a satellite, its VA's exchange with the parent: the last one, or the link's making.
fn exchanges_of(link: &Option<crate::store::LinkRow>, va_id: &str) -> Vec<(String, i64)> {
    link.iter()
        .filter(|l| l.va_id.as_deref() == Some(va_id))
        .map(|l| ("the parent manager".to_string(), l.last_exchange.unwrap_or(l.linked_at)))
        .collect()
}

/// What the alerts of an account's virtual accounts need beyond lots and usage, read once for
/// the account: silent instances, instances the manager removed, usage reports refused as over
/// capacity.
struct AccountFacts {
    /// (VA id, hostname, last contact).
    silent: Vec<(String, String, i64)>,
    expired: Vec<crate::store::EventRow>,
    over_capacity: Vec<crate::store::EventRow>,
    /// Satellites silent for [`crate::alerts::SATELLITE_SILENT_DAYS`]: (VA id, name, last exchange).
    satellites: Vec<(String, String, i64)>,
}

/// [`AccountFacts`] of one virtual account, as [`crate::alerts::VaFacts`] takes them.
struct VaAlertFacts {
    silent: Vec<(String, i64)>,
    removed: Vec<(String, i64, String)>,
    refused: Vec<(String, i64, String)>,
    satellites: Vec<(String, i64)>,
}

impl AccountFacts {
    async fn read(state: &AppState, account_id: &AccountId, now: i64) -> Result<AccountFacts, ApiError> {
        let store = state.store();
        let events = |prefix: &str, days: i64| crate::store::EventQuery {
            action_prefix: Some(prefix.into()),
            since: Some(now - days * DAY),
            ..Default::default()
        };
        Ok(AccountFacts {
            silent: store
                .silent_instances(account_id, now - crate::alerts::FAILED_TO_CONNECT_DAYS * DAY)
                .await?,
            expired: store
                .find_events(
                    Some(account_id),
                    &events("instance.expire", crate::alerts::REMOVED_SHOWN_DAYS),
                    1000,
                )
                .await?,
            over_capacity: store
                .find_events(
                    Some(account_id),
                    &events(
                        crate::device::OVER_CAPACITY_EVENT,
                        crate::alerts::OVER_CAPACITY_SHOWN_DAYS,
                    ),
                    1000,
                )
                .await?,
            satellites: store
                .silent_satellites(account_id, now - crate::alerts::SATELLITE_SILENT_DAYS * DAY)
                .await?,
        })
    }

    fn of_va(&self, va_id: &str) -> VaAlertFacts {
        let in_va = |e: &&crate::store::EventRow| e.va_id.as_deref() == Some(va_id);
        let mut refused: Vec<(String, i64, String)> = Vec::new();
        // Newest first: one alert per instance, with its latest refusal.
        for e in self.over_capacity.iter().filter(in_va) {
            let id = e.object_id.clone().unwrap_or_default();
            if !refused.iter().any(|(i, _, _)| *i == id) {
                refused.push((id, e.at, e.detail.clone()));
            }
        }
        VaAlertFacts {
            silent: self
                .silent
                .iter()
                .filter(|(va, _, _)| va == va_id)
                .map(|(_, host, last)| (host.clone(), *last))
                .collect(),
            removed: self
                .expired
                .iter()
                .filter(in_va)
                .map(|e| (e.object_id.clone().unwrap_or_default(), e.at, e.detail.clone()))
                .collect(),
            refused,
            satellites: self
                .satellites
                .iter()
                .filter(|(va, _, _)| va == va_id)
                .map(|(_, name, last)| (name.clone(), *last))
                .collect(),
        }
    }
}
