//! Helpers of the satellite tests (satellite_flow.rs, satellite_network.rs, satellite_parent.rs): admin
//! commands against a named manager, one exchange by files, a node on the satellite, the figures
//! of a VA, and a stand-in request (answers made to another satellite; satellite_parent.rs).
#![allow(dead_code)]

use crate::common::*;
use base64::Engine;
use ed25519_dalek::SigningKey;
use smartlic_protocol::satellite::{SatelliteEvent, SatelliteInstance, SatelliteRequest, SatelliteToken};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

pub const PGW: &str = "ASR5K-00-PW10GTWY";

/// Runs `smartlic ARGS` as the operator of manager `s`.
pub fn run(s: &Server, args: &[&str]) -> Output {
    admin_command(&s.url, &s.ca, &s.api_key, args)
}

/// An admin command of `s` that must succeed: its stdout, trimmed.
pub fn ok(s: &Server, args: &[&str]) -> String {
    succeeded(args, &run(s, args))
}

/// An admin command of `s` that must fail with one line on stderr: that line.
pub fn refused(s: &Server, args: &[&str]) -> String {
    refusal(&run(s, args))
}

pub fn p(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Starts manager `name` (its own data directory, SQLite unless `database`) on a free port.
pub fn manager(w: &mut World, name: &str, database: Option<&str>) -> Server {
    w.start_server_at(&free_listen(), name, database).clone()
}

/// Starts manager `name` again on its address and data directory (after a kill -9).
pub fn restart(w: &mut World, s: &Server, name: &str, database: Option<&str>) -> Server {
    w.start_server_at(&s.listen, name, database).clone()
}

/// A parent manager `name` holding Acme/DEFAULT with `n` PGW licences.
pub fn parent_with_pgw(w: &mut World, name: &str, n: u32) -> Server {
    let s = manager(w, name, None);
    w.account("Acme", "acme.example");
    w.deposit("Acme", "DEFAULT", PGW, n);
    s
}

/// Creates satellite `name` of Acme/DEFAULT on the parent and links `sat` with its token (over
/// the network when `network`); returns the token.
pub fn link(parent: &Server, sat: &Server, name: &str, network: bool) -> String {
    let token = ok(
        parent,
        &["satellite", "create", "--account", "Acme", "--va", "DEFAULT", name],
    );
    let mut args = vec!["satellite", "link", "--token", &token];
    let ca = parent.ca.to_string_lossy().to_string();
    if network {
        args.extend_from_slice(&["--parent", &parent.url, "--parent-ca", &ca]);
    }
    let line = ok(sat, &args);
    assert!(line.starts_with("linked as satellite "), "{line}");
    token
}

/// `satellite export` on the satellite, `satellite answer` on the parent: the two files
/// (`request-TAG.json`, `answer-TAG.json`).
pub fn export_answer(w: &World, parent: &Server, sat: &Server, tag: &str) -> (PathBuf, PathBuf) {
    let req = w.path(&format!("request-{tag}.json"));
    let ans = w.path(&format!("answer-{tag}.json"));
    let out = ok(sat, &["satellite", "export", "--out", p(&req)]);
    assert!(out.starts_with("request ") && out.ends_with(p(&req)), "{out}");
    let out = ok(parent, &["satellite", "answer", "--in", p(&req), "--out", p(&ans)]);
    assert!(out.starts_with("answered request "), "{out}");
    (req, ans)
}

/// One exchange by files; the import's line.
pub fn exchange(w: &World, parent: &Server, sat: &Server, tag: &str) -> String {
    let (_, ans) = export_answer(w, parent, sat, tag);
    ok(sat, &["satellite", "import", "--in", p(&ans)])
}

/// The parent's answer file to the request text `request` (files named by `tag`).
pub fn answer_of(w: &World, parent: &Server, request: &str, tag: &str) -> String {
    let req = w.path(&format!("request-{tag}.json"));
    let ans = w.path(&format!("answer-{tag}.json"));
    std::fs::write(&req, request).expect("a file of the test");
    ok(parent, &["satellite", "answer", "--in", p(&req), "--out", p(&ans)]);
    read(&ans)
}

/// Request `seq` of the satellite holding `token`, made by a stand-in (a key from fixed bytes,
/// the token's proof): one instance per (hostname, PGW licences in use) and `events` events
/// (ids 1 to `events`).
pub fn stand_in_request(token: &str, seq: u64, instances: &[(&str, i64)], events: i64) -> String {
    let token = SatelliteToken::decode(token).expect("an ST1 token");
    let key = SigningKey::from_bytes(&[7; 32]);
    let public = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes());
    SatelliteRequest {
        satellite: token.satellite.clone(),
        seq,
        proof: Some(SatelliteRequest::proof_for(
            &token.secret,
            &token.satellite,
            &public,
            seq,
        )),
        key: public,
        created_at: T0,
        instances: instances
            .iter()
            .map(|(host, n)| SatelliteInstance {
                udi: format!("PID:ASR5500,SN:{host}"),
                hostname: host.to_string(),
                status: "AUTHORIZED".into(),
                last_contact: T0,
                usage: BTreeMap::from([(PGW.to_string(), *n)]),
            })
            .collect(),
        events: (1..=events)
            .map(|id| SatelliteEvent {
                id,
                at: T0,
                action: "device.register".into(),
                detail: "registered on the satellite".into(),
            })
            .collect(),
    }
    .encode(&key)
}

/// The exchange file `text` with `from` replaced by `to` inside its signed body (base64url JSON).
pub fn alter_body(text: &str, from: &str, to: &str) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut file: serde_json::Value = serde_json::from_str(text).expect("an exchange file");
    let body = file["body"].as_str().expect("a body").trim_end_matches('=');
    let json = String::from_utf8(b64.decode(body).expect("base64url")).expect("JSON text");
    assert!(json.contains(from), "{from} in {json}");
    file["body"] = serde_json::Value::String(b64.encode(json.replacen(from, to, 1)));
    file.to_string()
}

/// (purchased, in use, status) of `sku` in Acme/DEFAULT on manager `s`.
pub fn figures(s: &Server, sku: &str) -> (i64, i64, String) {
    let json = ok(
        s,
        &["license", "list", "--account", "Acme", "--va", "DEFAULT", "--json"],
    );
    let rows = licence_rows(&json);
    let row = rows
        .iter()
        .find(|r| r["sku"] == sku)
        .unwrap_or_else(|| panic!("{sku} in {json}"));
    (
        row["purchased"].as_i64().expect("purchased"),
        row["in_use"].as_i64().expect("in_use"),
        row["status"].as_str().unwrap_or("").to_string(),
    )
}

/// The parent's `satellite list --json` row of satellite `name`.
pub fn satellite_row(parent: &Server, name: &str) -> serde_json::Value {
    let json = ok(parent, &["satellite", "list", "--account", "Acme", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&json).expect("satellite list --json");
    list.as_array()
        .and_then(|l| l.iter().find(|s| s["name"] == name))
        .cloned()
        .unwrap_or_else(|| panic!("{name} in {json}"))
}

/// What a refused import must leave unchanged on the satellite: its accounts and its licences.
pub fn state(sat: &Server) -> String {
    let accounts = ok(sat, &["account", "list", "--json"]);
    let licences = ok(
        sat,
        &["license", "list", "--account", "Acme", "--va", "DEFAULT", "--json"],
    );
    format!("{accounts}\n{licences}")
}

/// A node registered to the satellite with the satellite's own token, having admitted `calls`
/// PGW sessions and authorized since.
pub fn node_on(w: &mut World, sat: &Server, name: &str, calls: u64) -> Node {
    w.server = Some(sat.clone());
    let token = w.token("Acme", "DEFAULT", &[]);
    let node = w.registered_node(name, &token);
    let out = cli_ok(&node, &format!("calls connect pgw {calls}"));
    assert_eq!(admitted(&out), (calls, 0), "{out}");
    cli_ok(&node, "license smart renew auth");
    node
}
