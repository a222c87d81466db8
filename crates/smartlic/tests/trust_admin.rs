//! The "Trust" findings on a real manager process: deposits are the operator's, credentials are
//! revoked through the CLI, the data directory is owner-only, and a body over the limit gets 413
//! over HTTP/2 as over HTTP/1.1 (driven with curl, as the finding was).

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

#[test]
fn deposits_are_the_operators_and_credentials_can_be_revoked() {
    let w = World::with_acme();
    let admin = w.user("Acme", "boss@acme.example", "sa-admin", &[]);
    let user = w.user("Acme", "ann@acme.example", "sa-user", &[]);

    // An SA administrator may not deposit: one clear line, nothing deposited.
    let out = w.as_key(&admin, &deposit_args("Acme", "DEFAULT", "ASR5K-00-PW10GTWY", "5"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("operator only"), "{err}");
    assert!(
        !w.admin_ok(&["license", "list", "--account", "Acme", "--va", "DEFAULT"])
            .contains("ASR5K-00-PW10GTWY")
    );

    // Disabled: the user's key stops; enabled again: it works.
    let list = ["va", "list", "--account", "Acme"];
    assert!(w.as_key(&user, &list).status.success());
    w.admin_ok(&["user", "disable", "--account", "Acme", "ann@acme.example"]);
    assert!(!w.as_key(&user, &list).status.success());
    assert!(w.admin_ok(&["user", "list", "--account", "Acme"]).contains("DISABLED"));
    w.admin_ok(&["user", "enable", "--account", "Acme", "ann@acme.example"]);
    assert!(w.as_key(&user, &list).status.success());

    // A rotated key replaces the old one; a removed user's key stops.
    let rotated = w.admin_ok(&["user", "rotate-key", "--account", "Acme", "ann@acme.example"]);
    assert!(!w.as_key(&user, &list).status.success());
    assert!(w.as_key(&rotated, &list).status.success());
    let out = w.as_key(&admin, &["user", "remove", "--account", "Acme", "ann@acme.example"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!w.as_key(&rotated, &list).status.success());

    // The operator rotates their own key into admin.key; the old key stops.
    let s = w.server.clone().expect("server");
    let key_file = s.dir.join("admin.key");
    let out = w.admin_ok(&[
        "operator",
        "rotate-key",
        "--key-file",
        key_file.to_str().expect("utf-8"),
    ]);
    assert!(out.contains("old key stopped"), "{out}");
    let new_key = std::fs::read_to_string(&key_file)
        .expect("admin.key")
        .trim()
        .to_string();
    assert_ne!(new_key, s.api_key);
    assert_eq!(
        std::fs::metadata(&key_file).expect("admin.key").permissions().mode() & 0o777,
        0o600
    );
    assert!(!w.as_key(&s.api_key, &list).status.success());
    assert!(w.as_key(&new_key, &list).status.success());
}

#[test]
fn the_data_directory_is_the_owners_alone() {
    let w = World::with_acme();
    let dir = w.server.as_ref().expect("server").dir.clone();
    let mode = |p: &std::path::Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("data dir") {
        let path = entry.expect("entry").path();
        names.push(path.file_name().expect("name").to_string_lossy().to_string());
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    for f in ["smartlic.db", "master.key", "admin.key", "server.key"] {
        assert!(names.iter().any(|n| n == f), "{f} in {names:?}");
    }
    // The database holds no private key in the clear.
    let db = std::fs::read(dir.join("smartlic.db")).expect("db");
    assert!(!String::from_utf8_lossy(&db).contains("PRIVATE KEY"));
}

#[test]
fn an_oversized_body_gets_413_over_http2_and_http1() {
    let mut w = World::new();
    w.start_server();
    let s = w.server.clone().expect("server");
    let body = w.path("big.json");
    std::fs::write(
        &body,
        format!("{{\"payload\":\"{}\",\"signature\":\"\"}}", "A".repeat(200 * 1024)),
    )
    .expect("body");
    for version in ["--http2", "--http1.1"] {
        let out = Command::new("curl")
            .args([
                "-sS",
                version,
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %{http_version}",
                "--cacert",
            ])
            .arg(&s.ca)
            .args(["-H", "content-type: application/json", "--data-binary"])
            .arg(format!("@{}", body.display()))
            .arg(format!("{}/api/v1/device/authorize", s.url))
            .output()
            .expect("run curl");
        let answer = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            answer.starts_with("413 "),
            "{version}: {answer} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if version == "--http2" {
            assert!(answer.ends_with(" 2"), "negotiated {answer}");
        }
    }
}
