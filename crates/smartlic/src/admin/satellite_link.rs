//! `smartlic satellite link|sync|export|import`: the satellite's side of the satellite exchange
//! (docs/interface.md §7), run against the satellite manager by its operator. Files travel by
//! hand: a request file out (`export`), the parent's answer file in (`import`); or the satellite
//! makes the exchange itself over HTTPS (`sync`). Each prints one line.

use super::cli::SatelliteCommand;
use super::print::write_private;
use anyhow::{Context, Result, bail};
use smartlic_client::AdminClient;
use smartlic_protocol::admin::{LinkSatellite, SatelliteExchange};
use smartlic_protocol::satellite::MAX_FILE_LEN;
use std::io::Read;
use std::path::Path;

/// Reads a text file an operator named, at most `limit` bytes.
pub(super) fn read_limited(path: &Path, what: &str, limit: usize) -> Result<String> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot read the {what} {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read the {what} {}", path.display()))?;
    if bytes.len() > limit {
        bail!("the {what} {} is larger than {limit} bytes", path.display());
    }
    String::from_utf8(bytes).with_context(|| format!("the {what} {} is not text", path.display()))
}

/// `… Smart Account A, virtual account VA, N lots of licences`.
fn exchanged(e: &SatelliteExchange) -> String {
    format!(
        "request {} answered: Smart Account {}, virtual account {}, {} lot{} of licences from the parent",
        e.seq,
        e.account,
        e.va,
        e.lots,
        if e.lots == 1 { "" } else { "s" }
    )
}

/// Runs one `satellite` command of the satellite's side (`satellite::run` hands them here).
pub(super) async fn run(c: &AdminClient, cmd: SatelliteCommand) -> Result<()> {
    match cmd {
        SatelliteCommand::Create { .. } | SatelliteCommand::List { .. } | SatelliteCommand::Answer { .. } => {
            bail!("not a command of the satellite's side")
        }
        SatelliteCommand::Link {
            token,
            parent,
            parent_ca,
        } => {
            let parent_ca_pem = parent_ca
                .as_deref()
                .map(|p| read_limited(p, "parent CA file", 64 * 1024))
                .transpose()?;
            let link = c
                .link_satellite(&LinkSatellite {
                    token,
                    parent_url: parent,
                    parent_ca_pem,
                })
                .await?;
            match &link.parent_url {
                Some(url) => outln!("linked as satellite {} of {url}", link.satellite),
                None => outln!(
                    "linked as satellite {} (exchange by files: satellite export, then import)",
                    link.satellite
                ),
            }
        }
        SatelliteCommand::Sync => {
            let done = c.sync_satellite().await?;
            outln!("synchronized with the parent: {}", exchanged(&done));
        }
        SatelliteCommand::Export { out } => {
            let file = c.satellite_request().await?;
            write_private(&out, &file.request)
                .with_context(|| format!("cannot write the request file {}", out.display()))?;
            outln!("request {} written to {}", file.seq, out.display());
        }
        SatelliteCommand::Import { input } => {
            let answer = read_limited(&input, "answer file", MAX_FILE_LEN)?;
            let done = c.import_satellite_answer(answer).await?;
            outln!("imported: {}", exchanged(&done));
        }
    }
    Ok(())
}
