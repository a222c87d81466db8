//! Moving a product instance into another virtual account of its Smart Account: its usage leaves
//! the old VA's totals (`va_usage`) and joins the new one's in the same transaction. Both VAs are
//! locked first, in id order (as transfers lock them), so moves in opposite directions queue
//! instead of deadlocking; then the instance row, then the totals in (VA, SKU) order — the order
//! every other writer takes them in.

use super::instances::{InstanceRow, add_va_usage, describe, instance_by_id, record_daily_many};
use super::{Audit, Event, Store, VaRow, licenses};
use crate::error::StoreError;
use crate::ids::{ProductInstanceId, VirtualAccountId};
use crate::refusal::Refusal;

/// What a move did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Moved {
    /// The instance as it was before the move (its old VA).
    pub before: InstanceRow,
    /// Licences it uses, per SKU (now counted in the new VA).
    pub usage: Vec<(String, i64)>,
}

impl Store {
    /// Moves the product instance `id` of `to`'s Smart Account into `to` (logged as
    /// `instance.move`). Refused when the instance is not in that account, is in `to` already,
    /// or either virtual account is gone.
    pub(crate) async fn move_instance(
        &self,
        id: &ProductInstanceId,
        to: &VaRow,
        now: i64,
        audit: &Audit,
    ) -> Result<Moved, StoreError> {
        let unknown = || Refusal::NotFound(format!("no product instance {id:?} in this Smart Account"));
        let mut tx = self.write_tx().await?;
        let Some(seen) = instance_by_id(&mut tx, id).await? else {
            return Err(unknown().into());
        };
        if seen.account_id != to.account_id {
            return Err(unknown().into());
        }
        if seen.va_id == to.id {
            return Err(Refusal::Conflict(format!(
                "product instance {id} is in virtual account {} already",
                to.name
            ))
            .into());
        }
        let mut vas = [&seen.va_id, &to.id];
        vas.sort_unstable();
        for va in vas {
            if !licenses::lock_va(&mut tx, va).await? {
                return Err(Refusal::NotFound(format!(
                    "virtual account {} was deleted meanwhile",
                    if *va == to.id { &to.name } else { &seen.va_name }
                ))
                .into());
            }
        }
        // Lock the instance and read its VA again: another move may have run before the locks.
        let locked: Option<VirtualAccountId> = sqlx::query_scalar(
            "UPDATE product_instances SET va_id = va_id WHERE id = $1 AND account_id = $2 RETURNING va_id",
        )
        .bind(id)
        .bind(&to.account_id)
        .fetch_optional(&mut *tx)
        .await?;
        match locked {
            None => return Err(unknown().into()),
            Some(va) if va != seen.va_id => {
                return Err(Refusal::Conflict(format!("product instance {id} was moved meanwhile; try again")).into());
            }
            Some(_) => {}
        }
        let usage: Vec<(String, i64)> =
            sqlx::query_as("SELECT sku, count FROM instance_usage WHERE instance_id = $1 AND count <> 0 ORDER BY sku")
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
        // (VA, SKU, change) in (VA, SKU) order.
        let mut changes: Vec<(&VirtualAccountId, &str, i64)> = usage
            .iter()
            .flat_map(|(sku, n)| [(&seen.va_id, sku.as_str(), -n), (&to.id, sku.as_str(), *n)])
            .collect();
        changes.sort_unstable();
        let mut daily = Vec::new();
        for (va, sku, delta) in changes {
            daily.push(add_va_usage(&mut tx, va, sku, delta, now).await?);
        }
        record_daily_many(&mut tx, &daily).await?;
        sqlx::query("UPDATE product_instances SET va_id = $1 WHERE id = $2")
            .bind(&to.id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit_with(
            now,
            audit,
            Event {
                action: "instance.move",
                account_id: Some(&to.account_id),
                va_id: Some(&to.id),
                object_id: Some(id),
                detail: format!(
                    "moved product instance PID:{},SN:{} ({}) from virtual account {} to {}; moved {}",
                    seen.udi_pid,
                    seen.udi_sn,
                    seen.hostname,
                    seen.va_name,
                    to.name,
                    describe(&usage)
                ),
            },
        )
        .await?;
        Ok(Moved { before: seen, usage })
    }
}
