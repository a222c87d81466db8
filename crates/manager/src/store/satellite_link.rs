//! The satellite side of the satellite exchange (docs/satellite.md): the one link row of a manager
//! linked to a parent, the figures a request carries up, and the import of an answer — the VA's
//! lots replaced by the parent's and the licences in use elsewhere added to `va_usage` by
//! difference, in one transaction.
//!
//! The link row is locked (an `UPDATE` of itself) at the start of each transaction that moves its
//! sequence numbers, so two exports or two imports on managers sharing one database queue.

use super::instances::{add_va_usage, record_daily_many};
use super::licenses::lock_va;
use super::{Audit, Event, Store, WriteTx, name_key, new_id};
use crate::error::StoreError;
use crate::ids::{AccountId, VirtualAccountId};
use crate::refusal::Refusal;
use smartlic_protocol::satellite::{SatelliteAnswer, SatelliteEvent, SatelliteInstance};
use std::collections::{BTreeMap, BTreeSet};

/// Most events one request carries; the rest go with the next.
pub(crate) const MAX_EVENTS_PER_REQUEST: i64 = 1000;

/// The link of this manager to its parent.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LinkRow {
    /// The satellite's id on the parent.
    pub satellite: String,
    /// The token, sealed.
    pub token: String,
    /// The identity key's seed, sealed.
    pub identity_key: String,
    /// Its public half (base64url).
    pub public_key: String,
    /// SHA-256 (hex) of the parent CA's DER, as the token pinned it.
    pub parent_ca_sha: String,
    /// The parent's URL, for `sync`.
    pub parent_url: Option<String>,
    /// The CA (PEM) the parent's TLS certificate chains to.
    pub parent_ca_pem: Option<String>,
    /// The latest request made.
    pub seq: i64,
    /// The latest request whose answer was imported.
    pub answered_seq: i64,
    /// The highest event id the parent acknowledged.
    pub events_acked: i64,
    /// The account the answers name (once one was imported).
    pub account_id: Option<AccountId>,
    /// The virtual account the answers name (once one was imported).
    pub va_id: Option<VirtualAccountId>,
    /// When the last answer was imported.
    pub last_exchange: Option<i64>,
    /// Why the last scheduled sync failed (cleared by a good one).
    pub last_error: Option<String>,
    /// When the link was made.
    pub linked_at: i64,
}

/// A link to store.
#[derive(Debug, Clone)]
pub struct NewLink {
    /// The satellite's id on the parent.
    pub satellite: String,
    /// The token, sealed.
    pub token: String,
    /// The identity key's seed, sealed.
    pub identity_key: String,
    /// Its public half (base64url).
    pub public_key: String,
    /// The token's pin of the parent CA.
    pub parent_ca_sha: String,
    /// The parent's URL.
    pub parent_url: Option<String>,
    /// The CA of the parent's TLS certificate (PEM).
    pub parent_ca_pem: Option<String>,
}

/// What one request carries, read in the transaction that numbered it.
#[derive(Debug, Clone)]
pub struct RequestFigures {
    /// The link, its `seq` that of this request.
    pub link: LinkRow,
    /// The VA's product instances, and one pseudo-instance per reservation.
    pub instances: Vec<SatelliteInstance>,
    /// Events of the VA the parent has not acknowledged (oldest first, at most
    /// [`MAX_EVENTS_PER_REQUEST`]).
    pub events: Vec<SatelliteEvent>,
}

/// What an imported answer changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The account's name (the parent's).
    pub account: String,
    /// The virtual account's name (the parent's).
    pub va: String,
    /// Lots now in the VA.
    pub lots: usize,
    /// The request answered.
    pub seq: i64,
}

const LINK_COLUMNS: &str = "satellite, token, identity_key, public_key, parent_ca_sha, parent_url, parent_ca_pem, \
     seq, answered_seq, events_acked, account_id, va_id, last_exchange, last_error, linked_at";

impl Store {
    /// The link to the parent, if this manager is a satellite.
    pub async fn satellite_link(&self) -> Result<Option<LinkRow>, StoreError> {
        let sql = format!("SELECT {LINK_COLUMNS} FROM satellite_link WHERE id = 1");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Whether `va_id` is the virtual account whose licences come from the parent.
    pub async fn is_satellite_va(&self, va_id: &VirtualAccountId) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM satellite_link WHERE va_id = $1")
            .bind(va_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    /// Links this manager to a parent, replacing a link that never exchanged; a link that did is
    /// kept and the new one refused.
    pub async fn save_satellite_link(&self, new: &NewLink, now: i64, audit: &Audit) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        if let Some(old) = lock_link(&mut tx).await?
            && old.answered_seq > 0
        {
            return Err(Refusal::Conflict(format!(
                "already linked to parent {} as satellite {}; an exchanged link cannot be replaced",
                old.parent_url.as_deref().unwrap_or("(by files)"),
                old.satellite
            ))
            .into());
        }
        sqlx::query("DELETE FROM satellite_link WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO satellite_link (id, satellite, token, identity_key, public_key, parent_ca_sha, parent_url, \
             parent_ca_pem, linked_at, linked_by) VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&new.satellite)
        .bind(&new.token)
        .bind(&new.identity_key)
        .bind(&new.public_key)
        .bind(&new.parent_ca_sha)
        .bind(&new.parent_url)
        .bind(&new.parent_ca_pem)
        .bind(now)
        .bind(&audit.actor)
        .execute(&mut *tx)
        .await?;
        tx.commit_with(
            now,
            audit,
            Event {
                action: "satellite.link",
                object_id: Some(new.satellite.as_str()),
                detail: format!(
                    "linked as satellite {} of parent {}",
                    new.satellite,
                    new.parent_url.as_deref().unwrap_or("(by files)")
                ),
                ..Event::default()
            },
        )
        .await
    }

    /// Numbers the next request (stored before it is written) and reads what it carries.
    pub async fn next_satellite_request(&self, now: i64, audit: &Audit) -> Result<RequestFigures, StoreError> {
        let mut tx = self.write_tx().await?;
        let Some(mut link) = lock_link(&mut tx).await? else {
            return Err(not_linked().into());
        };
        link.seq += 1;
        sqlx::query("UPDATE satellite_link SET seq = $1 WHERE id = 1")
            .bind(link.seq)
            .execute(&mut *tx)
            .await?;
        let (instances, events) = match &link.va_id {
            Some(va) => (
                va_instances(&mut tx, va).await?,
                va_events(&mut tx, va, link.events_acked).await?,
            ),
            None => (Vec::new(), Vec::new()),
        };
        tx.commit_with(
            now,
            audit,
            Event {
                action: "satellite.request",
                account_id: link.account_id.as_ref(),
                va_id: link.va_id.as_ref(),
                object_id: Some(link.satellite.as_str()),
                detail: format!(
                    "request {} to the parent: {} product instances, {} events",
                    link.seq,
                    instances.len(),
                    events.len()
                ),
            },
        )
        .await?;
        Ok(RequestFigures {
            link,
            instances,
            events,
        })
    }

    /// Imports a verified answer (its signature and CA checked by the caller): it must be for
    /// this satellite and its latest request; then, in one transaction, the account and VA it
    /// names are made (or renamed), the VA's lots become the answer's and its licences in use
    /// elsewhere join `va_usage` by difference.
    pub async fn import_satellite_answer(
        &self,
        answer: &SatelliteAnswer,
        now: i64,
        audit: &Audit,
    ) -> Result<Imported, StoreError> {
        let mut tx = self.write_tx().await?;
        let Some(link) = lock_link(&mut tx).await? else {
            return Err(not_linked().into());
        };
        check_answer(&link, answer)?;
        let account_id: AccountId = ensure_named(
            &mut tx,
            Named::Account,
            link.account_id.as_deref(),
            &answer.account,
            now,
        )
        .await?;
        let va = Named::Va {
            account_id: &account_id,
        };
        let va_id: VirtualAccountId = ensure_named(&mut tx, va, link.va_id.as_deref(), &answer.va, now).await?;
        lock_va(&mut tx, &va_id).await?;
        replace_lots(&mut tx, &va_id, answer, now, &audit.actor).await?;
        replace_elsewhere(&mut tx, &va_id, &answer.in_use_elsewhere, now).await?;
        sqlx::query(
            "UPDATE satellite_link SET answered_seq = $1, events_acked = $2, account_id = $3, va_id = $4, \
             last_exchange = $5, last_error = NULL WHERE id = 1",
        )
        .bind(link.seq)
        .bind(link.events_acked.max(answer.events_acknowledged))
        .bind(&account_id)
        .bind(&va_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit_with(
            now,
            audit,
            Event {
                action: "satellite.import",
                account_id: Some(&account_id),
                va_id: Some(&va_id),
                object_id: Some(link.satellite.as_str()),
                detail: format!(
                    "imported the parent's answer to request {}: {} lots",
                    link.seq,
                    answer.lots.len()
                ),
            },
        )
        .await?;
        Ok(Imported {
            account: answer.account.trim().to_string(),
            va: answer.va.trim().to_string(),
            lots: answer.lots.len(),
            seq: link.seq,
        })
    }

    /// Records why a scheduled sync failed (`None`: it did not).
    pub async fn set_satellite_error(&self, error: Option<&str>) -> Result<(), StoreError> {
        let mut conn = self.write_conn().await?;
        sqlx::query("UPDATE satellite_link SET last_error = $1 WHERE id = 1")
            .bind(error)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}

fn not_linked() -> Refusal {
    Refusal::NotFound("this manager is not linked to a parent (run smartlic satellite link --token TOKEN first)".into())
}

/// The link row, locked for the transaction (`None`: not linked).
async fn lock_link(tx: &mut WriteTx) -> Result<Option<LinkRow>, StoreError> {
    sqlx::query("UPDATE satellite_link SET seq = seq WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    let sql = format!("SELECT {LINK_COLUMNS} FROM satellite_link WHERE id = 1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_optional(&mut **tx)
        .await?)
}

/// An answer is for this satellite and for its latest request, and not imported before.
fn check_answer(link: &LinkRow, answer: &SatelliteAnswer) -> Result<(), Refusal> {
    if answer.satellite != link.satellite {
        return Err(Refusal::Conflict(format!(
            "the answer is for satellite {}, not this one ({})",
            answer.satellite, link.satellite
        )));
    }
    let seq = i64::try_from(answer.seq).unwrap_or(i64::MAX);
    if seq == link.answered_seq && seq > 0 {
        return Err(Refusal::Conflict(format!(
            "this answer (to request {seq}) was already imported"
        )));
    }
    if seq != link.seq || link.answered_seq >= link.seq {
        return Err(Refusal::Conflict(format!(
            "not the answer to the latest request: it answers request {seq}, the latest request is {}",
            link.seq
        )));
    }
    Ok(())
}

/// What [`ensure_named`] finds or makes: the Smart Account, or a virtual account of one.
#[derive(Clone, Copy)]
enum Named<'a> {
    Account,
    Va { account_id: &'a str },
}

impl<'a> Named<'a> {
    /// Its name in a refusal, and that of another of its kind.
    fn what(self) -> (&'static str, &'static str) {
        match self {
            Named::Account => ("Smart Account", "account"),
            Named::Va { .. } => ("virtual account", "virtual account"),
        }
    }

    fn account(self) -> Option<&'a str> {
        match self {
            Named::Account => None,
            Named::Va { account_id } => Some(account_id),
        }
    }

    /// The query of the row of name key `$1`, the update of the kept row `$3` to name `$1`, key
    /// `$2`, and the insert of row `$1` named `$2`, key `$3`, made at `$4`; the account, where
    /// there is one, binds last in each.
    fn sql(self) -> [&'static str; 3] {
        match self {
            Named::Account => [
                "SELECT id FROM accounts WHERE name_key = $1",
                "UPDATE accounts SET name = $1, name_key = $2 WHERE id = $3",
                "INSERT INTO accounts (id, name, name_key, domain, created_at) VALUES ($1, $2, $3, '', $4)",
            ],
            Named::Va { .. } => [
                "SELECT id FROM virtual_accounts WHERE name_key = $1 AND account_id = $2",
                "UPDATE virtual_accounts SET name = $1, name_key = $2, account_id = $4 WHERE id = $3",
                "INSERT INTO virtual_accounts (id, name, name_key, created_at, account_id, description) \
                 VALUES ($1, $2, $3, $4, $5, 'licences from the parent manager')",
            ],
        }
    }
}

/// The account or virtual account the answers name: the one kept by id (renamed if the parent
/// renamed it, and moved to the account for a VA), else the local one of that name, else a new one.
async fn ensure_named<Id: From<String>>(
    tx: &mut WriteTx,
    named: Named<'_>,
    kept: Option<&str>,
    name: &str,
    now: i64,
) -> Result<Id, StoreError> {
    let name = name.trim();
    let key = name_key(name);
    let [find, rename, insert] = named.sql();
    let mut find = sqlx::query_scalar(find).bind(&key);
    if let Some(account) = named.account() {
        find = find.bind(account);
    }
    let by_name: Option<String> = find.fetch_optional(&mut **tx).await?;
    let (id, mut write) = match (kept, by_name) {
        (Some(id), Some(other)) if other != id => {
            let (what, another) = named.what();
            return Err(Refusal::Conflict(format!(
                "the parent renamed the {what} to {name}, but another {another} here has that name"
            ))
            .into());
        }
        (Some(id), _) => (
            id.to_string(),
            sqlx::query(rename).bind(name).bind(&key).bind(id.to_string()),
        ),
        (None, Some(id)) => return Ok(Id::from(id)),
        (None, None) => {
            let id = new_id();
            let insert = sqlx::query(insert).bind(id.clone()).bind(name).bind(&key).bind(now);
            (id, insert)
        }
    };
    if let Some(account) = named.account() {
        write = write.bind(account);
    }
    write.execute(&mut **tx).await?;
    Ok(Id::from(id))
}

/// The VA's purchased licences become exactly the answer's lots.
async fn replace_lots(
    tx: &mut WriteTx,
    va_id: &VirtualAccountId,
    answer: &SatelliteAnswer,
    now: i64,
    actor: &str,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM license_deposits WHERE va_id = $1")
        .bind(va_id)
        .execute(&mut **tx)
        .await?;
    for lot in &answer.lots {
        sqlx::query(
            "INSERT INTO license_deposits (id, va_id, sku, quantity, end_date, kind, transfer_id, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, 'parent', NULL, $6, $7)",
        )
        .bind(new_id())
        .bind(va_id)
        .bind(&lot.sku)
        .bind(lot.quantity)
        .bind(lot.end_date)
        .bind(now)
        .bind(actor)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The VA's licences in use elsewhere become `new`: `va_usage` moves by the difference per SKU
/// (SKU order, the store's lock order), and the daily history with it.
async fn replace_elsewhere(
    tx: &mut WriteTx,
    va_id: &VirtualAccountId,
    new: &BTreeMap<String, i64>,
    now: i64,
) -> Result<(), StoreError> {
    let old: BTreeMap<String, i64> = sqlx::query_as("SELECT sku, in_use FROM satellite_elsewhere WHERE va_id = $1")
        .bind(va_id)
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .collect();
    let skus: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let mut daily = Vec::new();
    for sku in skus {
        let delta = new.get(sku).copied().unwrap_or(0) - old.get(sku).copied().unwrap_or(0);
        if delta == 0 {
            continue;
        }
        daily.push(add_va_usage(tx, va_id, sku, delta, now).await?);
    }
    record_daily_many(tx, &daily).await?;
    sqlx::query("DELETE FROM satellite_elsewhere WHERE va_id = $1")
        .bind(va_id)
        .execute(&mut **tx)
        .await?;
    for (sku, n) in new.iter().filter(|(_, n)| **n != 0) {
        sqlx::query("INSERT INTO satellite_elsewhere (va_id, sku, in_use) VALUES ($1, $2, $3)")
            .bind(va_id)
            .bind(sku)
            .bind(*n)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The VA's product instances with their usage, then one `RESERVED` pseudo-instance per
/// reservation holding licences, so that reserved licences count on the parent too.
async fn va_instances(tx: &mut WriteTx, va_id: &VirtualAccountId) -> Result<Vec<SatelliteInstance>, StoreError> {
    type Row = (
        String,
        String,
        String,
        String,
        Option<String>,
        i64,
        Option<String>,
        Option<i64>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT i.id, i.udi_pid, i.udi_sn, i.hostname, i.last_auth_status, i.last_contact, u.sku, u.count \
         FROM product_instances i LEFT JOIN instance_usage u ON u.instance_id = i.id \
         WHERE i.va_id = $1 ORDER BY i.udi_pid, i.udi_sn, i.id, u.sku",
    )
    .bind(va_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut out: Vec<SatelliteInstance> = Vec::new();
    let mut last_id = None;
    for (id, pid, sn, host, status, contact, sku, count) in rows {
        if last_id.as_ref() != Some(&id) {
            out.push(SatelliteInstance {
                udi: format!("PID:{pid},SN:{sn}"),
                hostname: host,
                status: status.unwrap_or_else(|| "REGISTERED".into()),
                last_contact: contact,
                usage: BTreeMap::new(),
            });
            last_id = Some(id);
        }
        if let (Some(sku), Some(count), Some(inst)) = (sku, count, out.last_mut())
            && count != 0
        {
            inst.usage.insert(sku, count);
        }
    }
    type Reserved = (String, String, i64, Option<String>, Option<i64>);
    let reserved: Vec<Reserved> = sqlx::query_as(
        "SELECT r.id, r.udi, r.updated_at, l.sku, l.count FROM reservations r \
         LEFT JOIN reservation_licenses l ON l.reservation_id = r.id \
         WHERE r.va_id = $1 AND r.status = 'reserved' ORDER BY r.udi, r.id, l.sku",
    )
    .bind(va_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut last_id = None;
    for (id, udi, updated, sku, count) in reserved {
        if last_id.as_ref() != Some(&id) {
            out.push(SatelliteInstance {
                udi,
                // A reservation has no hostname; the parent needs one (1-255 printable).
                hostname: format!("reservation {id}"),
                status: "RESERVED".into(),
                last_contact: updated,
                usage: BTreeMap::new(),
            });
            last_id = Some(id);
        }
        if let (Some(sku), Some(count), Some(inst)) = (sku, count, out.last_mut()) {
            inst.usage.insert(sku, count);
        }
    }
    Ok(out)
}

/// The VA's events after `after` (but the exchange's own), oldest first, at most [`MAX_EVENTS_PER_REQUEST`].
async fn va_events(tx: &mut WriteTx, va_id: &VirtualAccountId, after: i64) -> Result<Vec<SatelliteEvent>, StoreError> {
    let rows: Vec<(i64, i64, String, String)> = sqlx::query_as(
        "SELECT id, at, action, detail FROM events WHERE va_id = $1 AND id > $2 \
         AND action NOT LIKE 'satellite.%' ORDER BY id LIMIT $3",
    )
    .bind(va_id)
    .bind(after)
    .bind(MAX_EVENTS_PER_REQUEST)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, at, action, detail)| SatelliteEvent { id, at, action, detail })
        .collect())
}

#[cfg(test)]
mod tests;
