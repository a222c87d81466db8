//! The dispatcher: runs a parsed command line against the node and returns what to print.

use crate::cli::{CommandId, Filter, Line, Mode, Parsed, format_help};
use crate::config::{BulkFile, Schema, SnmpTarget};
use crate::node::Node;
use crate::{services, views};
use smartlic_agent::AgentError;
use smartlic_protocol::time::format_cisco;
use std::fmt::Write;

type Outcome = Result<String, String>;

/// Runs one line typed at `mode`: (output, ok, session ends).
pub async fn execute(node: &Node, mode: &mut Mode, line: &str) -> (String, bool, bool) {
    let parsed = match node.grammar.interpret(*mode, line) {
        Ok(Line::Command(p)) => p,
        Ok(Line::Empty) => return (String::new(), true, false),
        Ok(Line::Help(items)) => return (format_help(&items), true, false),
        Err(e) => return (format!("{}\n", e.render(line)), false, false),
    };
    let mut exit = false;
    let result = run(node, mode, &parsed, &mut exit).await;
    match result {
        Ok(out) => (Filter::apply(&parsed.filters, &out), true, exit),
        Err(msg) => (format!("Failure: {msg}\n"), false, false),
    }
}

fn agent_err(e: AgentError) -> String {
    e.to_string()
}

fn service_index(node: &Node, p: &Parsed) -> Result<usize, String> {
    let name = p.arg("service").unwrap_or_default();
    node.agent
        .catalog()
        .service_index(name)
        .ok_or_else(|| format!("unknown service {name}"))
}

fn save_config(node: &Node, f: impl FnOnce(&mut crate::config::NodeConfig) -> Result<(), String>) -> Outcome {
    let mut cfg = node.config();
    let mut next = cfg.clone();
    f(&mut next)?;
    next.save(&node.dir).map_err(|e| e.to_string())?;
    *cfg = next;
    Ok(String::new())
}

/// Runs a parsed command: each group of commands has its function; this match names every
/// command once, so a new [`CommandId`] must be given a place here.
async fn run(node: &Node, mode: &mut Mode, p: &Parsed, exit: &mut bool) -> Outcome {
    use CommandId::*;
    match p.id {
        Configure | End | Exit | BulkstatsMode => Ok(change_mode(mode, p.id, exit)),
        LicenseSmartRegister
        | LicenseSmartRenewId
        | LicenseSmartRenewAuth
        | LicenseSmartDeregister
        | CryptoPkiTrustpoolImport => smart_agent(node, p).await,
        LicenseSmartReservationRequest
        | LicenseSmartReservationCancel
        | LicenseSmartReservationInstall
        | LicenseSmartReservationReturn => reservation(node, p).await,
        CardSwitchover => card_switchover(node, p),
        CallsConnect | CallsDisconnect => calls(node, p),
        BulkstatsForceTransfer => services::force_transfer(node),
        ShowLicenseEnforcementPolicy => Ok(views::enforcement_policy(node.agent.catalog())),
        ShowLicenseAll
        | ShowLicenseEnforcementStatus
        | ShowLicenseEvalPeriod
        | ShowLicenseSmartTags
        | ShowLicenseStatistics
        | ShowLicenseStatus
        | ShowLicenseSummary
        | ShowLicenseTechSupport
        | ShowLicenseUdi
        | ShowLicenseUsage
        | ShowLicenseInformation
        | ShowLicenseHistory
        | ShowLicenseReservation => show_license(node, p),
        ShowConfiguration => Ok(show_configuration(node)),
        ShowCryptoPkiTrustpool => Ok(views::trustpool(&node.agent.trust_summaries())),
        ShowSnmpTrapHistory => Ok(services::trap_history(node)),
        ShowBulkstats => Ok(services::show_bulkstats(node)),
        ShowBulkstatsVariablesSmartlic => Ok(services::show_variables()),
        LicenseSmartEnable
        | NoLicenseSmartEnable
        | LicenseSmartUrl
        | NoLicenseSmartUrl
        | LicenseKey
        | NoLicenseKey
        | Feature
        | NoFeature
        | LicenseSmartReservation
        | NoLicenseSmartReservation => configure_licensing(node, p).map(|()| String::new()),
        SnmpTarget | NoSnmpTarget => configure_snmp(node, p),
        SampleInterval | TransferInterval | File => configure_bulkstats(node, mode, p),
        ReceiverLocalDirectory | SmartlicSchema | NoSmartlicSchema => match *mode {
            Mode::BulkstatsFile(n) => configure_bulkstats_file(node, n, p),
            _ => Err("not in a bulkstats file".into()),
        },
    }
}

/// Removes the items `named` picks out; false when there was none (which a `no …` command
/// refuses).
fn remove<T>(items: &mut Vec<T>, named: impl Fn(&T) -> bool) -> bool {
    let before = items.len();
    items.retain(|t| !named(t));
    items.len() < before
}

/// The refusal of a command that [`run`] handed to a group it is not part of (a bug).
fn misrouted(p: &Parsed) -> String {
    format!(
        "internal error: {} was dispatched to the wrong command group",
        p.id.name()
    )
}

/// `configure`, `end`, `exit` and `bulkstats mode`: the session moves between modes.
fn change_mode(mode: &mut Mode, id: CommandId, exit: &mut bool) -> String {
    match id {
        CommandId::Configure => *mode = Mode::Config,
        CommandId::End => *mode = Mode::Exec,
        CommandId::BulkstatsMode => *mode = Mode::Bulkstats,
        _ => match mode.parent() {
            Some(m) => *mode = m,
            None => *exit = true,
        },
    }
    String::new()
}

/// `license smart register|renew|deregister` and `crypto pki trustpool import`: the commands that
/// talk to the license manager or change what the agent trusts.
async fn smart_agent(node: &Node, p: &Parsed) -> Outcome {
    let agent = &node.agent;
    match p.id {
        CommandId::LicenseSmartRegister => {
            let token = p.arg("token").unwrap_or_default();
            let r = agent.register(token).await.map_err(agent_err)?;
            let snap = agent.snapshot();
            Ok(format!(
                "Registration succeeded: Smart Account \"{}\", Virtual Account \"{}\"\nLicense Authorization: {}\n",
                r.smart_account, r.virtual_account, snap.authorization_word
            ))
        }
        CommandId::LicenseSmartRenewId => {
            let r = agent.renew_id().await.map_err(agent_err)?;
            Ok(format!(
                "ID certificate renewed; it expires on {}\n",
                format_cisco(r.id_expires_at)
            ))
        }
        CommandId::LicenseSmartRenewAuth => {
            let r = agent.renew_auth().await.map_err(agent_err)?;
            Ok(format!(
                "License authorization renewed: {} until {}\n",
                r.status.as_str(),
                format_cisco(r.expires_at)
            ))
        }
        CommandId::LicenseSmartDeregister => {
            let d = agent.deregister().await.map_err(agent_err)?;
            let mut out = String::from("Deregistered: Smart Licensing is now UNREGISTERED\n");
            if let Some(why) = d.manager_not_told {
                let _ = writeln!(
                    out,
                    "Warning: the license manager could not be told ({why}); remove the instance there"
                );
            }
            Ok(out)
        }
        CommandId::CryptoPkiTrustpoolImport => {
            let path = p.arg("path").unwrap_or_default();
            let n = agent
                .import_trust(std::path::Path::new(path))
                .await
                .map_err(agent_err)?;
            Ok(format!("{n} certificate(s) added to the trust pool\n"))
        }
        _ => Err(misrouted(p)),
    }
}

/// `license smart reservation request|cancel|install|return`: licence reservation, codes
/// carried by hand to and from the license manager.
async fn reservation(node: &Node, p: &Parsed) -> Outcome {
    let agent = &node.agent;
    match p.id {
        CommandId::LicenseSmartReservationRequest => {
            Ok(format!("{}\n", agent.reservation_request().map_err(agent_err)?))
        }
        CommandId::LicenseSmartReservationCancel => {
            agent.reservation_cancel().map_err(agent_err)?;
            Ok("Reservation request cancelled\n".into())
        }
        CommandId::LicenseSmartReservationInstall => {
            let done = if p.has("file") {
                let path = p.arg("path").unwrap_or_default();
                agent.reservation_install_file(std::path::Path::new(path)).await
            } else {
                agent.reservation_install(p.arg("code").unwrap_or_default())
            }
            .map_err(agent_err)?;
            let mut out = format!("Reservation installed: {}\n", done.kind);
            if let Some(cf) = done.confirmation {
                let _ = writeln!(out, "Confirmation code: {cf}");
            }
            Ok(out)
        }
        CommandId::LicenseSmartReservationReturn => Ok(format!("{}\n", agent.reservation_return().map_err(agent_err)?)),
        _ => Err(misrouted(p)),
    }
}

/// `card switchover [from SLOT]`: on a VPC-DI the standby control function becomes active; the
/// HA UDI list the agent reports follows.
fn card_switchover(node: &Node, p: &Parsed) -> Outcome {
    let agent = &node.agent;
    let platform = agent.config().udi.pid.clone();
    if !platform.eq_ignore_ascii_case("VPC-DI") {
        return Err(format!(
            "{platform} has no standby control function to switch over to (VPC-DI only)"
        ));
    }
    let active = node.config().active_cf.max(1);
    if let Some(from) = p.number("slot")
        && from != u64::from(active)
    {
        return Err(format!(
            "card {from} is not the active control function (card {active} is)"
        ));
    }
    let next = if active == 1 { 2 } else { 1 };
    save_config(node, |c| {
        c.active_cf = next;
        Ok(())
    })?;
    let list = crate::node::ha_udis(&platform, &agent.config().udi.sn, node.sf_cards(), next);
    agent.set_ha_udis(list);
    Ok(format!(
        "Control function switchover: card {next} is now active, card {active} standby; the registration is kept\n"
    ))
}

/// `calls connect|disconnect SERVICE COUNT`: simulated sessions through the admission gates.
fn calls(node: &Node, p: &Parsed) -> Outcome {
    let svc = service_index(node, p)?;
    let count = p.number("count").ok_or("count must be a number")?;
    match p.id {
        CommandId::CallsConnect => {
            if count > 10_000_000 {
                return Err("at most 10000000 calls at a time".into());
            }
            let (a, r) = node.connect_calls(svc, count);
            Ok(format!("admitted {a} rejected {r}\n"))
        }
        CommandId::CallsDisconnect => {
            let n = node.disconnect_calls(svc, count);
            Ok(format!("released {n}\n"))
        }
        _ => Err(misrouted(p)),
    }
}

/// `show license …`: the views of the agent's snapshot.
fn show_license(node: &Node, p: &Parsed) -> Outcome {
    let agent = &node.agent;
    let cat = agent.catalog();
    let s = agent.snapshot();
    // No keyword of a pair typed means both.
    let both = |a: &str, b: &str| match (p.has(a), p.has(b)) {
        (false, false) => (true, true),
        x => x,
    };
    Ok(match p.id {
        CommandId::ShowLicenseAll => views::all(&s, cat),
        CommandId::ShowLicenseEnforcementStatus => {
            let (allowed, blocked) = both("allowed", "blocked");
            let (feature, service) = both("feature", "service");
            views::enforcement_status(&s, cat, allowed, blocked, service, feature)
        }
        CommandId::ShowLicenseEvalPeriod => views::eval_period(&s),
        CommandId::ShowLicenseSmartTags => {
            let (feature, service) = both("feature", "service");
            views::smart_tags(&s, cat, service, feature)
        }
        CommandId::ShowLicenseStatistics => views::statistics(&s, cat),
        CommandId::ShowLicenseStatus => views::status(&s),
        CommandId::ShowLicenseSummary => views::summary(&s, cat),
        CommandId::ShowLicenseTechSupport => {
            let more = views::TechSupport {
                trust: &agent.trust_summaries(),
                history: &agent.history(),
                data_dir: &node.dir,
            };
            views::tech_support(&s, cat, more)
        }
        CommandId::ShowLicenseUdi => views::udi(&s),
        CommandId::ShowLicenseUsage => views::usage(&s, cat),
        CommandId::ShowLicenseInformation => views::information(&s, cat),
        CommandId::ShowLicenseHistory => views::key_history(&s),
        CommandId::ShowLicenseReservation => views::reservation(&s),
        _ => return Err(misrouted(p)),
    })
}

/// `[no] license smart enable|url`, `[no] license key`, `[no] feature SKU`: the agent's settings.
fn configure_licensing(node: &Node, p: &Parsed) -> Result<(), String> {
    let agent = &node.agent;
    let done = match p.id {
        CommandId::LicenseSmartEnable => agent.set_enabled(true),
        CommandId::NoLicenseSmartEnable => agent.set_enabled(false),
        CommandId::LicenseSmartUrl => agent.set_url(p.arg("url").map(str::to_string)),
        CommandId::NoLicenseSmartUrl => agent.set_url(None),
        CommandId::LicenseKey => agent.install_legacy_key(p.arg("key").unwrap_or_default()).map(drop),
        CommandId::NoLicenseKey => {
            let removed = agent.remove_legacy_key().map_err(agent_err)?;
            return if removed {
                Ok(())
            } else {
                Err("no licence key is installed".to_string())
            };
        }
        CommandId::LicenseSmartReservation => agent.set_reservation_enabled(true),
        CommandId::NoLicenseSmartReservation => agent.set_reservation_enabled(false),
        CommandId::Feature | CommandId::NoFeature => agent
            .set_feature(p.arg("sku").unwrap_or_default(), p.id == CommandId::Feature)
            .map(drop),
        _ => return Err(misrouted(p)),
    };
    done.map_err(agent_err)
}

/// `[no] snmp target NAME …`: the trap receivers.
fn configure_snmp(node: &Node, p: &Parsed) -> Outcome {
    let name = p.arg("name").unwrap_or_default().to_string();
    match p.id {
        CommandId::SnmpTarget => {
            let ip = p.arg("ip").unwrap_or_default().to_string();
            let port = p.number("port").unwrap_or(162);
            let port = u16::try_from(port).map_err(|_| format!("port {port} is out of range"))?;
            let community = p.arg("community").unwrap_or("public").to_string();
            save_config(node, |c| {
                c.snmp_targets.retain(|t| t.name != name);
                c.snmp_targets.push(SnmpTarget {
                    name,
                    ip,
                    port,
                    community,
                });
                Ok(())
            })
        }
        CommandId::NoSnmpTarget => save_config(node, |c| {
            if remove(&mut c.snmp_targets, |t| t.name == name) {
                Ok(())
            } else {
                Err(format!("no snmp target named {name}"))
            }
        }),
        _ => Err(misrouted(p)),
    }
}

/// The bulkstats submode: `sample-interval`, `transfer-interval` and `file N` (which enters the
/// file submode).
fn configure_bulkstats(node: &Node, mode: &mut Mode, p: &Parsed) -> Outcome {
    match p.id {
        CommandId::SampleInterval => {
            let m = p.number("minutes").ok_or("minutes must be a number")?;
            save_config(node, |c| {
                c.bulkstats.sample_interval = m as u32;
                Ok(())
            })
        }
        CommandId::TransferInterval => {
            let m = p.number("minutes").ok_or("minutes must be a number")?;
            save_config(node, |c| {
                c.bulkstats.transfer_interval = m as u32;
                Ok(())
            })
        }
        CommandId::File => {
            let n = p.number("n").ok_or("file number must be a number")? as u32;
            save_config(node, |c| {
                c.bulkstats.files.entry(n).or_insert_with(BulkFile::default);
                Ok(())
            })?;
            *mode = Mode::BulkstatsFile(n);
            Ok(String::new())
        }
        _ => Err(misrouted(p)),
    }
}

/// The bulkstats file submode of file `n`: `receiver local-directory` and `[no] smartlic schema`.
fn configure_bulkstats_file(node: &Node, n: u32, p: &Parsed) -> Outcome {
    let name = p.arg("name").unwrap_or_default().to_string();
    match p.id {
        CommandId::ReceiverLocalDirectory => {
            let dir = p.arg("dir").unwrap_or_default().to_string();
            if !dir.starts_with('/') {
                return Err(format!("receiver directory must be an absolute path, not {dir}"));
            }
            save_config(node, |c| {
                c.bulkstats.files.entry(n).or_default().receiver_dir = Some(dir);
                Ok(())
            })
        }
        CommandId::SmartlicSchema => {
            let format = p.arg("format").unwrap_or_default().to_string();
            services::validate_format(&format)?;
            save_config(node, |c| {
                let f = c.bulkstats.files.entry(n).or_default();
                f.schemas.retain(|s| s.name != name);
                f.schemas.push(Schema { name, format });
                Ok(())
            })
        }
        CommandId::NoSmartlicSchema => save_config(node, |c| {
            let f = c.bulkstats.files.entry(n).or_default();
            if remove(&mut f.schemas, |s| s.name == name) {
                Ok(())
            } else {
                Err(format!("no smartlic schema named {name} in file {n}"))
            }
        }),
        _ => Err(misrouted(p)),
    }
}

fn show_configuration(node: &Node) -> String {
    let snap = node.agent.snapshot();
    let cfg = node.config().clone();
    let mut out = String::new();
    let _ = writeln!(out, "config");
    if snap.state.enabled {
        let _ = writeln!(out, "  license smart enable");
    }
    if let Some(url) = &snap.state.url {
        let _ = writeln!(out, "  license smart url {url}");
    }
    if snap.state.reservation.enabled {
        let _ = writeln!(out, "  license smart reservation");
    }
    if let Some(k) = &snap.state.legacy_key {
        let _ = writeln!(out, "  license key \"{}\"", k.text);
    }
    for f in &snap.state.features {
        let _ = writeln!(out, "  feature {f}");
    }
    for t in &cfg.snmp_targets {
        let _ = writeln!(
            out,
            "  snmp target {} {} port {} community {}",
            t.name, t.ip, t.port, t.community
        );
    }
    let b = &cfg.bulkstats;
    let _ = writeln!(out, "  bulkstats mode");
    let _ = writeln!(out, "    sample-interval {}", b.sample_interval);
    let _ = writeln!(out, "    transfer-interval {}", b.transfer_interval);
    for (n, f) in &b.files {
        let _ = writeln!(out, "    file {n}");
        if let Some(d) = &f.receiver_dir {
            let _ = writeln!(out, "      receiver local-directory {d}");
        }
        for s in &f.schemas {
            let _ = writeln!(out, "      smartlic schema {} format \"{}\"", s.name, s.format);
        }
        let _ = writeln!(out, "    #exit");
    }
    let _ = writeln!(out, "  #exit");
    let _ = writeln!(out, "end");
    out
}
