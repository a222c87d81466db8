//! The portal in a real browser (Debian's headless Chromium, driven by playwright-core from
//! npm; `.ci/run` installs both): an SA administrator logs in, creates a registration token in
//! the portal, an operator registers a node with it through the node CLI, the administrator sees
//! the instance and its usage in the portal and revokes the token there, then adds an alert
//! webhook on the Webhooks page and removes it; on the Users page they disable and enable another
//! user and rotate that user's API key, then rotate their own on "My API key" (the admin CLI then
//! finds the new keys working and the old ones refused). A second test reserves licences on a
//! VA's reservation page for a node's request code and installs the authorization code shown
//! there on the node, then creates a satellite manager on the Satellites page and is shown its
//! token. A screenshot of the VA page
//! is kept under `target/test-artifacts/`.
//!
//! Why playwright-core from npm rather than a Rust WebDriver client: it adds no crate to the
//! build (a WebDriver client would bring its own HTTP stack and some minutes of compile time
//! to every CI run) and the machine has Node.js; the script is small and lives beside this test.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const PGW: &str = "ASR5K-00-PW10GTWY";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/portal.mjs")
}

fn require_browser() {
    let chromium = std::env::var("SMARTLIC_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: this test needs Debian's chromium (apt-get install -y chromium; .ci/run installs it)"
    );
    let pw = std::env::var("SMARTLIC_PLAYWRIGHT").unwrap_or_else(|_| "/tmp/smartlic-playwright".into());
    assert!(
        Path::new(&pw)
            .join("node_modules/playwright-core/package.json")
            .exists(),
        "playwright-core is missing under {pw}: npm install --prefix {pw} playwright-core (.ci/run does)"
    );
}

/// Runs one stage of the browser script; returns its JSON line.
fn browser(args: &[&str]) -> serde_json::Value {
    let out = Command::new("node")
        .arg(script())
        .args(args)
        .output()
        .expect("node (Node.js) must be installed for the browser test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser stage {:?} failed:\n{stdout}\n{stderr}",
        args.first()
    );
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("browser printed {stdout:?}: {e}"))
}

fn artifact_dir() -> PathBuf {
    // target/test-artifacts beside the build (CARGO_TARGET_TMPDIR is target/tmp).
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../test-artifacts");
    std::fs::create_dir_all(&dir).expect("artifact dir");
    dir
}

#[test]
fn portal_token_to_registered_device_in_chromium() {
    require_browser();
    let mut w = World::with_acme();
    let url = w.server.as_ref().expect("server").url.clone();
    w.deposit("Acme", "DEFAULT", PGW, 2);
    let pw_path = w.password_file("correct horse battery staple");
    let key = w.user("Acme", "admin@acme.example", "sa-admin", &["--password-file", &pw_path]);
    assert!(!key.is_empty(), "user create prints the API key");

    // In the browser: log in, create a token for two registrations.
    let v = browser(&["token", &url, "admin@acme.example", &pw_path]);
    let token = v["token"].as_str().expect("token").to_string();

    // On the node: register with it and carry some sessions; the report reaches the manager.
    let node = w.start_node("pgw-browser");
    w.prepare_node(&node);
    let out = cli_ok(&node, &idtoken(&token));
    assert!(out.contains("Registration succeeded"), "{out}");
    assert_eq!(admitted(&cli_ok(&node, "calls connect pgw 100")), (100, 0));
    cli_ok(&node, "license smart renew auth");

    // In the browser: the instance and its usage are there; revoke the token; screenshot.
    let shot = artifact_dir().join("portal-va.png");
    let shot_path = shot.to_string_lossy().to_string();
    let v = browser(&[
        "verify",
        &url,
        "admin@acme.example",
        &pw_path,
        "pgw-browser",
        PGW,
        &shot_path,
    ]);
    assert_eq!(v["instance"], true, "{v}");
    assert_eq!(v["in_use"], 1, "{v}");
    assert_eq!(v["revoked"], true, "{v}");
    assert_eq!(v["chart_bars"], 1, "today's usage drawn in the SKU's chart: {v}");
    assert_eq!(v["webhook_added"], true, "{v}");
    assert!(v["webhook_secret_chars"].as_u64().unwrap_or(0) >= 40, "{v}");
    assert_eq!(v["webhook_removed"], true, "{v}");
    let png = std::fs::read(&shot).expect("screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "screenshot at {}",
        shot.display()
    );
    println!("screenshot: {}", shot.display());

    // The manager agrees: the token is revoked, and a second node cannot use it.
    let list = w.admin_ok(&["token", "list", "--account", "Acme", "--json"]);
    assert!(list.contains("REVOKED"), "{list}");
    let other = w.start_node("pgw-late");
    w.prepare_node(&other);
    let (out, ok) = cli(&other, &[&idtoken(&token)]);
    assert!(!ok || !out.contains("Registration succeeded"), "{out}");

    // The Users page: another user disabled, enabled and given a new key; then one's own key.
    let other = w.user("Acme", "ann@acme.example", "sa-user", &[]);
    let list = ["va", "list", "--account", "Acme"];
    assert!(w.as_key(&other, &list).status.success());
    let v = browser(&["users", &url, "admin@acme.example", &pw_path, "ann@acme.example"]);
    assert_eq!(v["listed"], true, "{v}");
    assert_eq!(v["disabled"], true, "{v}");
    assert_eq!(v["enabled"], true, "{v}");
    let new_other = v["key"].as_str().expect("ann's new key");
    let new_own = v["own_key"].as_str().expect("the admin's new key");
    assert!(!w.as_key(&other, &list).status.success(), "ann's old key refused");
    assert!(w.as_key(new_other, &list).status.success(), "ann's new key works");
    assert!(!w.as_key(&key, &list).status.success(), "the admin's old key refused");
    assert!(w.as_key(new_own, &list).status.success(), "the admin's new key works");
    assert!(
        w.admin_ok(&["user", "list", "--account", "Acme"])
            .contains("ann@acme.example")
    );
}

#[test]
fn licences_reserved_in_the_portal_install_on_the_node() {
    require_browser();
    let mut w = World::with_acme();
    let url = w.server.as_ref().expect("server").url.clone();
    w.admin_ok(&["account", "set", "Acme", "--reservation", "specific"]);
    w.deposit("Acme", "DEFAULT", PGW, 3);
    let pw_path = w.password_file("correct horse battery staple");
    w.user("Acme", "admin@acme.example", "sa-admin", &["--password-file", &pw_path]);
    let node = w.start_node("slr-browser");
    w.prepare_node(&node);
    let (out, ok) = cli(&node, &["configure", "license smart reservation", "end"]);
    assert!(ok, "{out}");
    let request = w.path("request-code");
    std::fs::write(&request, cli_ok(&node, "license smart reservation request local")).expect("request file");

    let request_path = request.to_string_lossy().to_string();
    let v = browser(&["reserve", &url, "admin@acme.example", &pw_path, PGW, "2", &request_path]);
    assert_eq!(v["listed"], true, "{v}");
    let code = v["authorization"].as_str().expect("authorization code");
    let out = cli_ok(&node, &format!("license smart reservation install \"{code}\""));
    assert!(out.contains("Reservation installed: SPECIFIC"), "{out}");
    assert_eq!(admitted(&cli_ok(&node, "calls connect pgw 20001")), (20_000, 1));
    let rows = licence_rows(&w.licences_json("Acme", "DEFAULT"));
    assert_eq!(rows[0]["in_use"], 2, "{rows:?}");

    // The Satellites page: a satellite of DEFAULT created, its token shown; the CLI lists it.
    let v = browser(&["satellite", &url, "admin@acme.example", &pw_path, "site-browser"]);
    assert_eq!(v["listed"], true, "{v}");
    assert_eq!(v["filled"], true, "a chosen request file fills the text area: {v}");
    let token = v["token"].as_str().expect("the satellite's token");
    assert!(
        token.starts_with("ST1.") && !token.contains(char::is_whitespace),
        "{token}"
    );
    let list = w.admin_ok(&["satellite", "list", "--account", "Acme"]);
    assert!(list.contains("site-browser") && list.contains("never"), "{list}");
}
