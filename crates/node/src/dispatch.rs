//! The dispatcher: runs a parsed command line against the node and returns what to print.

use crate::cli::{CommandId, Filter, Line, Mode, Parsed, format_help};
use crate::config::{BulkFile, Schema, SnmpTarget};
use crate::node::Node;
use crate::{services, views};
use smartlic_agent::AgentError;
use smartlic_agent::events::Condition;
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

async fn run(node: &Node, mode: &mut Mode, p: &Parsed, exit: &mut bool) -> Outcome {
    let agent = &node.agent;
    let cat = agent.catalog();
    match p.id {
        CommandId::Configure => {
            *mode = Mode::Config;
            Ok(String::new())
        }
        CommandId::End => {
            *mode = Mode::Exec;
            Ok(String::new())
        }
        CommandId::Exit => {
            match mode.parent() {
                Some(m) => *mode = m,
                None => *exit = true,
            }
            Ok(String::new())
        }
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
        CommandId::CallsConnect => {
            let svc = service_index(node, p)?;
            let count = p.number("count").ok_or("count must be a number")?;
            if count > 10_000_000 {
                return Err("at most 10000000 calls at a time".into());
            }
            let (a, r) = node.connect_calls(svc, count);
            Ok(format!("admitted {a} rejected {r}\n"))
        }
        CommandId::CallsDisconnect => {
            let svc = service_index(node, p)?;
            let count = p.number("count").ok_or("count must be a number")?;
            let n = node.disconnect_calls(svc, count);
            Ok(format!("released {n}\n"))
        }
        CommandId::BulkstatsForceTransfer => services::force_transfer(node),
        CommandId::ShowLicenseAll => Ok(views::all(&agent.snapshot(), cat)),
        CommandId::ShowLicenseEnforcementPolicy => Ok(views::enforcement_policy(cat)),
        CommandId::ShowLicenseEnforcementStatus => {
            let (allowed, blocked) = match (p.has("allowed"), p.has("blocked")) {
                (false, false) => (true, true),
                x => x,
            };
            let (feature, service) = match (p.has("feature"), p.has("service")) {
                (false, false) => (true, true),
                x => x,
            };
            Ok(views::enforcement_status(
                &agent.snapshot(),
                cat,
                allowed,
                blocked,
                service,
                feature,
            ))
        }
        CommandId::ShowLicenseEvalPeriod => Ok(views::eval_period(&agent.snapshot())),
        CommandId::ShowLicenseSmartTags => {
            let (feature, service) = match (p.has("feature"), p.has("service")) {
                (false, false) => (true, true),
                x => x,
            };
            Ok(views::smart_tags(&agent.snapshot(), cat, service, feature))
        }
        CommandId::ShowLicenseStatistics => Ok(views::statistics(&agent.snapshot(), cat)),
        CommandId::ShowLicenseStatus => Ok(views::status(&agent.snapshot())),
        CommandId::ShowLicenseSummary => Ok(views::summary(&agent.snapshot(), cat)),
        CommandId::ShowLicenseTechSupport => Ok(tech_support(node)),
        CommandId::ShowLicenseUdi => Ok(views::udi(&agent.snapshot())),
        CommandId::ShowLicenseUsage => Ok(views::usage(&agent.snapshot(), cat)),
        CommandId::ShowLicenseInformation => Ok(views::information(&agent.snapshot(), cat)),
        CommandId::ShowLicenseHistory => Ok(views::key_history(&agent.snapshot())),
        CommandId::ShowConfiguration => Ok(show_configuration(node)),
        CommandId::ShowCryptoPkiTrustpool => Ok(views::trustpool(&agent.trust_summaries())),
        CommandId::ShowSnmpTrapHistory => Ok(services::trap_history(node)),
        CommandId::ShowBulkstats => Ok(services::show_bulkstats(node)),
        CommandId::ShowBulkstatsVariablesSmartlic => Ok(services::show_variables()),
        CommandId::LicenseSmartEnable => agent.set_enabled(true).map(|_| String::new()).map_err(agent_err),
        CommandId::NoLicenseSmartEnable => agent.set_enabled(false).map(|_| String::new()).map_err(agent_err),
        CommandId::LicenseSmartUrl => agent
            .set_url(p.arg("url").map(str::to_string))
            .map(|_| String::new())
            .map_err(agent_err),
        CommandId::NoLicenseSmartUrl => agent.set_url(None).map(|_| String::new()).map_err(agent_err),
        CommandId::CardSwitchover => {
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
        CommandId::LicenseKey => agent
            .install_legacy_key(p.arg("key").unwrap_or_default())
            .map(|_| String::new())
            .map_err(agent_err),
        CommandId::NoLicenseKey => agent.remove_legacy_key().map_err(agent_err).and_then(|removed| {
            if removed {
                Ok(String::new())
            } else {
                Err("no licence key is installed".to_string())
            }
        }),
        CommandId::Feature | CommandId::NoFeature => {
            let sku = p.arg("sku").unwrap_or_default();
            agent
                .set_feature(sku, p.id == CommandId::Feature)
                .map(|_| String::new())
                .map_err(agent_err)
        }
        CommandId::SnmpTarget => {
            let name = p.arg("name").unwrap_or_default().to_string();
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
        CommandId::NoSnmpTarget => {
            let name = p.arg("name").unwrap_or_default().to_string();
            save_config(node, |c| {
                let before = c.snmp_targets.len();
                c.snmp_targets.retain(|t| t.name != name);
                if c.snmp_targets.len() == before {
                    return Err(format!("no snmp target named {name}"));
                }
                Ok(())
            })
        }
        CommandId::BulkstatsMode => {
            *mode = Mode::Bulkstats;
            Ok(String::new())
        }
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
        CommandId::ReceiverLocalDirectory => {
            let Mode::BulkstatsFile(n) = *mode else {
                return Err("not in a bulkstats file".into());
            };
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
            let Mode::BulkstatsFile(n) = *mode else {
                return Err("not in a bulkstats file".into());
            };
            let name = p.arg("name").unwrap_or_default().to_string();
            let format = p.arg("format").unwrap_or_default().to_string();
            services::validate_format(&format)?;
            save_config(node, |c| {
                let f = c.bulkstats.files.entry(n).or_default();
                f.schemas.retain(|s| s.name != name);
                f.schemas.push(Schema { name, format });
                Ok(())
            })
        }
        CommandId::NoSmartlicSchema => {
            let Mode::BulkstatsFile(n) = *mode else {
                return Err("not in a bulkstats file".into());
            };
            let name = p.arg("name").unwrap_or_default().to_string();
            save_config(node, |c| {
                let f = c.bulkstats.files.entry(n).or_default();
                let before = f.schemas.len();
                f.schemas.retain(|s| s.name != name);
                if f.schemas.len() == before {
                    return Err(format!("no smartlic schema named {name} in file {n}"));
                }
                Ok(())
            })
        }
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

fn tech_support(node: &Node) -> String {
    let agent = &node.agent;
    let cat = agent.catalog();
    let snap = agent.snapshot();
    let mut out = views::all(&snap, cat);
    let _ = writeln!(out);
    out.push_str(&views::statistics(&snap, cat));
    let _ = writeln!(out);
    out.push_str(&views::eval_period(&snap));
    let _ = writeln!(out);
    out.push_str(&views::enforcement_status(&snap, cat, true, true, true, true));
    let _ = writeln!(out);
    let _ = writeln!(out, "Trust Pool");
    let _ = writeln!(out, "==========");
    out.push_str(&views::trustpool(&agent.trust_summaries()));
    let _ = writeln!(out);
    let _ = writeln!(out, "Licensing Events (most recent last)");
    let _ = writeln!(out, "===================================");
    for e in agent.history() {
        let _ = writeln!(
            out,
            "{} {} {}{}",
            format_cisco(e.at),
            if e.set { "SET  " } else { "CLEAR" },
            condition_words(&e.condition),
            if e.detail.is_empty() {
                String::new()
            } else {
                format!(" ({})", e.detail)
            }
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Agent Internals");
    let _ = writeln!(out, "===============");
    let _ = writeln!(out, "Clock: {}", format_cisco(snap.now));
    let _ = writeln!(out, "Data directory: {}", node.dir.display());
    let _ = writeln!(
        out,
        "Evaluation accounted to: {}",
        smartlic_agent::agent::format_opt(snap.state.eval.accounted_to)
    );
    let _ = writeln!(out, "Last usage reported: {}", usage_words(&snap.state.last_report));
    let _ = writeln!(
        out,
        "Integrity: {}",
        snap.state.integrity_alert.as_deref().unwrap_or("OK")
    );
    out
}

/// A licensing condition as the operator reads it.
fn condition_words(c: &Condition) -> String {
    match c {
        Condition::EvalMode => "Evaluation mode: licences in use while unregistered".into(),
        Condition::EvalExpired => "Evaluation period expired".into(),
        Condition::ServiceOoc { sku } => format!("Out of compliance: {sku}"),
        Condition::ManagerConnectionFailed => "Communication with the license manager failed".into(),
        Condition::FeatureGraceExpired { sku } => format!("Feature grace period expired: {sku}"),
        Condition::AuthorizationExpired => "Authorization expired".into(),
        Condition::RegistrationExpired => "Registration expired".into(),
    }
}

/// The last usage report (SKU → count) as `SKU count, …`, or `None`.
fn usage_words(report: &std::collections::BTreeMap<String, u64>) -> String {
    if report.is_empty() {
        return "None".into();
    }
    report
        .iter()
        .map(|(sku, n)| format!("{sku} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_and_usage_read_as_words() {
        let sku = "ASR5K-00-EG01RS".to_string();
        assert_eq!(
            condition_words(&Condition::ServiceOoc { sku: sku.clone() }),
            "Out of compliance: ASR5K-00-EG01RS"
        );
        assert_eq!(
            condition_words(&Condition::FeatureGraceExpired { sku: sku.clone() }),
            "Feature grace period expired: ASR5K-00-EG01RS"
        );
        for c in [
            Condition::EvalMode,
            Condition::EvalExpired,
            Condition::ManagerConnectionFailed,
            Condition::AuthorizationExpired,
            Condition::RegistrationExpired,
        ] {
            let w = condition_words(&c);
            assert!(!w.contains(['{', '}', '"']), "{w}");
        }
        assert_eq!(usage_words(&Default::default()), "None");
        assert_eq!(usage_words(&[(sku, 2)].into()), "ASR5K-00-EG01RS 2");
    }
}
