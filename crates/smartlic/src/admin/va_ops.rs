//! `smartlic va rename|delete` and `smartlic instance move`.

use super::print::released;
use anyhow::Result;
use smartlic_client::AdminClient;

/// `smartlic va rename --account A --va VA NEW`
pub(super) async fn rename(c: &AdminClient, account: &str, va: &str, new_name: &str) -> Result<()> {
    let v = c.rename_virtual_account(account, va, new_name).await?;
    outln!("Renamed virtual account {va} to {}", v.name);
    Ok(())
}

/// `smartlic va delete --account A --va VA`
pub(super) async fn delete(c: &AdminClient, account: &str, va: &str) -> Result<()> {
    c.delete_virtual_account(account, va).await?;
    outln!("Deleted virtual account {va}");
    Ok(())
}

/// `smartlic instance move --account A INSTANCE --to-va VA`
pub(super) async fn move_instance(c: &AdminClient, account: &str, instance_id: &str, to_va: &str) -> Result<()> {
    let m = c.move_instance(account, instance_id, to_va).await?;
    outln!(
        "Moved product instance {} from {} to {}; moved {}",
        m.id,
        m.from,
        m.to,
        released(&m.usage)
    );
    Ok(())
}
