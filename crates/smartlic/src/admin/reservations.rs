//! `smartlic reservation create|list|return|update|confirm`: licence reservations for nodes that
//! never reach the manager (docs/interface.md §6). Codes travel by hand: a request code in, an
//! authorization code out (one line each), a return or confirmation code in.

use super::cli::ReservationCommand;
use super::print::print_list;
use anyhow::{Result, bail};
use smartlic_client::AdminClient;
use smartlic_protocol::admin::*;
use std::collections::BTreeMap;

/// `SKU=N` pairs as a map; a SKU given twice is refused.
fn license_map(licenses: Vec<(String, u64)>) -> Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for (sku, n) in licenses {
        if out.insert(sku.clone(), n).is_some() {
            bail!("--license {sku} is given twice");
        }
    }
    Ok(out)
}

/// The LICENSES column: `SKU=N,SKU=N`, or `ALL` for the universal licence.
fn licenses_cell(r: &ReservationInfo) -> String {
    if r.kind == ReservationType::Universal {
        return "ALL".into();
    }
    r.licenses
        .iter()
        .map(|(s, n)| format!("{s}={n}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs one `reservation` command.
pub(super) async fn run(c: &AdminClient, cmd: ReservationCommand) -> Result<()> {
    match cmd {
        ReservationCommand::Create {
            account,
            va,
            request_code,
            licenses,
            universal,
            expires,
        } => {
            let body = CreateReservation {
                va,
                request_code,
                licenses: license_map(licenses)?,
                universal,
                expires,
            };
            outln!("{}", c.create_reservation(&account, &body).await?.authorization_code);
        }
        ReservationCommand::List { account, va, json } => {
            let list = c.reservations(&account, va.as_deref()).await?;
            print_list(json, &list, &["ID", "VA", "UDI", "KIND", "LICENSES", "STATUS"], |r| {
                vec![
                    r.id.clone(),
                    r.va.clone(),
                    r.udi.clone(),
                    r.kind.to_string(),
                    licenses_cell(r),
                    r.status.to_string(),
                ]
            })?;
        }
        ReservationCommand::Return { account, return_code } => {
            let r = c.return_reservation(&account, &return_code).await?;
            outln!("{}: returned", r.id);
        }
        ReservationCommand::Update {
            account,
            id,
            licenses,
            universal,
        } => {
            let body = UpdateReservation {
                licenses: license_map(licenses)?,
                universal,
            };
            outln!(
                "{}",
                c.update_reservation(&account, &id, &body).await?.authorization_code
            );
        }
        ReservationCommand::Confirm {
            account,
            confirmation_code,
        } => {
            let r = c.confirm_reservation(&account, &confirmation_code).await?;
            outln!(
                "{}: confirmed (authorization {})",
                r.id,
                r.confirmed_seq.unwrap_or(r.seq)
            );
        }
    }
    Ok(())
}
