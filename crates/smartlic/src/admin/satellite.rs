//! `smartlic satellite create|list|answer`: the parent manager's side of satellite managers
//! (docs/interface.md §7, docs/satellite.md). A token out (one line), a request file in and an
//! answer file out.

use super::cli::SatelliteCommand;
use super::print::print_list;
use super::satellite_link::read_limited;
use anyhow::{Context, Result, anyhow};
use smartlic_client::AdminClient;
use smartlic_protocol::admin::*;
use smartlic_protocol::satellite::{MAX_FILE_LEN, SatelliteRequest};
use smartlic_protocol::time::format_rfc3339;

/// The VIRTUAL ACCOUNT cell of an instance: `VA`, or `VA (satellite NAME)` for one a satellite
/// serves.
pub(super) fn va_cell(i: &InstanceInfo) -> String {
    match &i.satellite {
        Some(name) => format!("{} (satellite {name})", i.virtual_account),
        None => i.virtual_account.clone(),
    }
}

/// Runs one `satellite` command of the parent.
pub(super) async fn run(c: &AdminClient, cmd: SatelliteCommand) -> Result<()> {
    match cmd {
        SatelliteCommand::Create { account, va, name } => {
            let created = c.create_satellite(&account, &CreateSatellite { va, name }).await?;
            outln!("{}", created.token);
        }
        SatelliteCommand::List { account, json } => {
            let list = c.satellites(&account).await?;
            let headers = ["NAME", "VIRTUAL ACCOUNT", "LAST EXCHANGE", "INSTANCES", "LINKED"];
            print_list(json, &list, &headers, |s| {
                vec![
                    s.name.clone(),
                    s.virtual_account.clone(),
                    s.last_exchange.map_or_else(|| "never".to_string(), format_rfc3339),
                    s.instances.to_string(),
                    if s.linked { "yes" } else { "no" }.to_string(),
                ]
            })?;
        }
        SatelliteCommand::Answer { input, output } => {
            let text = read_limited(&input, "request file", MAX_FILE_LEN)?;
            let json: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| anyhow!("{} is not a satellite request file ({e})", input.display()))?;
            let answer = c.answer_satellite_request(&json).await?;
            std::fs::write(&output, answer).with_context(|| format!("cannot write {}", output.display()))?;
            let what = SatelliteRequest::decode(&text)
                .map(|r| format!("request {} of satellite {}", r.seq, r.satellite))
                .unwrap_or_else(|_| "the request".into());
            outln!("answered {what}: {}", output.display());
        }
        side @ (SatelliteCommand::Link { .. }
        | SatelliteCommand::Sync
        | SatelliteCommand::Export { .. }
        | SatelliteCommand::Import { .. }) => super::satellite_link::run(c, side).await?,
    }
    Ok(())
}
