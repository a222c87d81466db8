//! Running the manager as a service (docs/interface.md §8): settings from a TOML file and the
//! environment, JSON logs with one line per request, the operator's own TLS certificate reloaded
//! on SIGHUP, and a backup of a running manager restored into a new data directory.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

const PGW: &str = "ASR5K-00-PW10GTWY";

fn run(args: &[&str], envs: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(BIN)
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run smartlic");
    let mut text = String::from_utf8_lossy(&out.stdout).to_string();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
}

/// Writes `smartlic.toml` naming the data directory `manager`, the clock and JSON logs, listening
/// on `file_port`; returns its path.
fn config_file(w: &World, file_port: u16) -> std::path::PathBuf {
    let config = w.path("smartlic.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"manager\"\nlisten = \"127.0.0.1:{file_port}\"\nclock_file = \"clock\"\nlog_format = \"json\"\n"
        ),
    )
    .expect("config");
    config
}

#[test]
fn bad_settings_are_errors_that_name_them() {
    let w = World::new();
    let config = config_file(&w, free_port());
    // An unknown key is an error naming it; no data directory anywhere is a clear error.
    let bad = w.path("bad.toml");
    std::fs::write(&bad, "data_dir = \"x\"\nlisten_address = \"127.0.0.1:1\"\n").expect("bad config");
    let (ok, text) = run(&["server", "--config", &bad.to_string_lossy()], &[]);
    assert!(!ok && text.contains("listen_address"), "{text}");
    let (ok, text) = run(&["server"], &[("SMARTLIC_DATA_DIR", "")]);
    assert!(!ok && text.contains("--data-dir"), "{text}");
    let (ok, text) = run(
        &["server", "--config", &config.to_string_lossy(), "--tls-cert", "x.pem"],
        &[],
    );
    assert!(!ok && text.contains("--tls-key"), "{text}");
}

#[test]
fn settings_come_from_flags_environment_and_file_and_json_logs_one_line_per_request() {
    let mut w = World::new();
    let dir = w.path("manager");
    let config = config_file(&w, free_port());
    let env_port = free_port();

    // The file names the data directory (relative to itself) and the clock; the environment's
    // listen address beats the file's.
    let log = w.path("server.log");
    let stderr = std::fs::File::create(&log).expect("log file");
    let env_listen = format!("127.0.0.1:{env_port}");
    let url = w
        .start_server_with(
            &env_listen,
            "manager",
            &["--config", &config.to_string_lossy()],
            &[("SMARTLIC_LISTEN", &env_listen)],
            Some(stderr),
        )
        .url
        .clone();
    assert_eq!(url, format!("https://127.0.0.1:{env_port}"));
    assert!(dir.join("admin.key").is_file());
    w.account("Acme", "acme.example");
    let ca = dir.join("ca.pem");
    let health = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
        .arg(&ca)
        .arg(format!("{url}/healthz?probe=1"))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&health.stdout), "200");

    // One JSON object per line, no colour codes, each request logged once (path without its
    // query), and neither the Authorization header nor a body in the log.
    let requests = |text: &str| -> Vec<serde_json::Value> {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .filter(|v| v.get("message").and_then(|m| m.as_str()) == Some("request"))
            .collect()
    };
    wait_for(10, "the health check in the log", || {
        let text = std::fs::read_to_string(&log).ok()?;
        requests(&text).iter().any(|r| r["path"] == "/healthz").then_some(())
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    let text = std::fs::read_to_string(&log).expect("log");
    let all = requests(&text);
    assert!(!text.contains('\u{1b}'), "ANSI escape in {text}");
    assert!(
        !text.contains(&w.server.as_ref().expect("server").api_key),
        "API key in the log"
    );
    assert!(!text.contains("acme.example"), "a request body in the log: {text}");
    let health: Vec<_> = all.iter().filter(|r| r["path"] == "/healthz").collect();
    assert_eq!(health.len(), 1, "{text}");
    let h = health[0];
    assert_eq!(h["method"], "GET", "{h}");
    assert_eq!(h["status"], 200, "{h}");
    assert!(h["duration_ms"].as_f64().is_some(), "{h}");
    assert!(h["client"].as_str().is_some_and(|c| c.starts_with("127.0.0.1:")), "{h}");
    let post = all
        .iter()
        .find(|r| r["method"] == "POST")
        .unwrap_or_else(|| panic!("the account creation in {text}"));
    assert!(
        post["path"].as_str().is_some_and(|p| p.starts_with("/api/v1/")),
        "{post}"
    );
}

fn openssl(args: &[&str]) {
    run_ok(Command::new("openssl").args(args), &format!("openssl {args:?}"));
}

/// `openssl req` arguments for a new unencrypted P-256 key written to the path that follows.
const NEW_EC_KEY_TO: [&str; 6] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
];

/// The operator's own CA, `dir/op-ca.pem` and `dir/op-ca.key`.
fn make_ca(dir: &Path) {
    let d = |f: &str| dir.join(f).to_string_lossy().to_string();
    let (key, cert) = (d("op-ca.key"), d("op-ca.pem"));
    let rest = [key.as_str(), "-out", &cert, "-days", "30", "-subj", "/CN=Operator CA"];
    openssl(&[&["req", "-x509"][..], &NEW_EC_KEY_TO, &rest].concat());
}

/// A certificate for 127.0.0.1 and localhost named `cn`, issued by the operator's CA of `dir`,
/// written to `cert` and `key`.
fn make_cert(dir: &Path, cn: &str, cert: &Path, key: &Path) {
    let d = |f: &str| dir.join(f).to_string_lossy().to_string();
    let ext = dir.join("leaf.ext");
    std::fs::write(
        &ext,
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .expect("ext");
    let (key, csr, subject) = (key.to_string_lossy(), d("leaf.csr"), format!("/CN={cn}"));
    let rest = [key.as_ref(), "-out", &csr, "-subj", &subject];
    openssl(&[&["req", "-new"][..], &NEW_EC_KEY_TO, &rest].concat());
    openssl(&[
        "x509",
        "-req",
        "-in",
        &d("leaf.csr"),
        "-CA",
        &d("op-ca.pem"),
        "-CAkey",
        &d("op-ca.key"),
        "-CAcreateserial",
        "-days",
        "30",
        "-extfile",
        &ext.to_string_lossy(),
        "-out",
        &cert.to_string_lossy(),
    ]);
}

/// The first PEM certificate in `text`, whitespace removed.
fn first_pem(text: &str) -> Option<String> {
    let start = text.find("-----BEGIN CERTIFICATE-----")?;
    let end = text[start..].find("-----END CERTIFICATE-----")? + start;
    Some(text[start..end].split_whitespace().collect())
}

/// The leaf certificate the server at `listen` serves.
fn served(listen: &str) -> Option<String> {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", listen, "-servername", "localhost", "-showcerts"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    first_pem(&String::from_utf8_lossy(&out.stdout))
}

/// A TLS connection to `listen` (an `openssl s_client` whose stdin and stdout are the plain text),
/// given half a second to finish its handshake.
fn open_connection(listen: &str) -> Child {
    let conn = Command::new("openssl")
        .args(["s_client", "-connect", listen, "-servername", "localhost", "-quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_client");
    std::thread::sleep(std::time::Duration::from_millis(500));
    conn
}

/// Sends `GET /healthz` on a connection of [`open_connection`]; the answer within 10 s, if any.
fn healthz_over(mut conn: Child) -> Option<String> {
    use std::io::{Read, Write};
    let mut stdin = conn.stdin.take().expect("stdin");
    stdin
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .expect("write the request");
    stdin.flush().expect("flush");
    let mut stdout = conn.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut answer = String::new();
        let _ = stdout.read_to_string(&mut answer);
        let _ = tx.send(answer);
    });
    let answer = rx.recv_timeout(std::time::Duration::from_secs(10));
    let _ = conn.kill();
    let _ = conn.wait();
    drop(stdin);
    answer.ok()
}

/// Sends SIGHUP to the process `pid`.
fn hup(pid: &str) {
    let st = Command::new("kill").args(["-HUP", pid]).status().expect("kill");
    assert!(st.success());
}

#[test]
fn the_operators_certificate_is_served_and_reloaded_on_sighup() {
    let mut w = World::new();
    let cert = w.path("operator.pem");
    let key = w.path("operator.key");
    make_ca(w.dir.path());
    make_cert(w.dir.path(), "operator-one", &cert, &key);
    let listen = free_listen();
    let dir = w.path("manager");
    let clock = w.clock.to_string_lossy().to_string();
    w.start_server_with(
        &listen,
        "manager",
        &[
            "--data-dir",
            &dir.to_string_lossy(),
            "--listen",
            &listen,
            "--clock-file",
            &clock,
        ],
        &[
            ("SMARTLIC_TLS_CERT", &cert.to_string_lossy()),
            ("SMARTLIC_TLS_KEY", &key.to_string_lossy()),
        ],
        None,
    );
    let one = first_pem(&std::fs::read_to_string(&cert).expect("cert")).expect("pem");
    assert_eq!(served(&listen).as_deref(), Some(one.as_str()));
    // Clients trusting the operator's certificate reach the API; devices still get ca.pem.
    let s = w.server.clone().expect("server");
    let (ok, text) = run(
        &[
            "--server",
            &s.url,
            "--ca",
            &w.path("op-ca.pem").to_string_lossy(),
            "--api-key",
            &s.api_key,
            "account",
            "create",
            "Acme",
            "--domain",
            "acme.example",
        ],
        &[],
    );
    assert!(ok, "{text}");
    assert!(dir.join("ca.pem").is_file());
    let pid = w.pid("manager").expect("pid").to_string();

    // A connection opened before the reloads is still served after them.
    let open_conn = open_connection(&listen);

    // A broken file: SIGHUP keeps the old certificate (and the server).
    std::fs::write(&cert, "not a certificate").expect("break cert");
    hup(&pid);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(served(&listen).as_deref(), Some(one.as_str()));

    // New files: SIGHUP serves them.
    make_cert(w.dir.path(), "operator-two", &w.path("two.pem"), &w.path("two.key"));
    std::fs::rename(w.path("two.pem"), &cert).expect("replace cert");
    std::fs::rename(w.path("two.key"), &key).expect("replace key");
    let two = first_pem(&std::fs::read_to_string(&cert).expect("cert")).expect("pem");
    assert_ne!(one, two);
    hup(&pid);
    wait_for(10, "the new certificate to be served", || {
        (served(&listen).as_deref() == Some(two.as_str())).then_some(())
    });

    let answer = healthz_over(open_conn).expect("an answer on the connection opened before the reload");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn a_backup_of_a_running_manager_restores_into_a_new_directory() {
    let mut w = World::new();
    let first = w.start_server().clone();
    w.account("Acme", "acme.example");
    w.deposit("Acme", "DEFAULT", PGW, 10);
    let token = w.token("Acme", "DEFAULT", &["--description", "lab"]);
    let node = w.start_node("pgw1");
    w.prepare_node(&node);
    let out = cli_ok(&node, &idtoken(&token));
    assert!(out.contains("Registration succeeded"), "{out}");
    // Stopped, so that nothing it reports later makes the lists differ.
    w.kill("pgw1");
    let instances = w.admin_ok(&["instance", "list", "--account", "Acme"]);
    assert!(instances.contains("pgw1"), "{instances}");
    let licences = w.admin_ok(&["license", "list", "--account", "Acme", "--va", "DEFAULT"]);
    let tokens = w.admin_ok(&["token", "list", "--account", "Acme"]);
    assert!(licences.contains(PGW), "{licences}");

    let out = w.path("manager.backup");
    let data = first.dir.to_string_lossy().to_string();
    // Taken while the manager is busy writing.
    let (ok, text) = std::thread::scope(|scope| {
        let busy = scope.spawn(|| {
            for i in 0..10 {
                w.admin_ok(&["va", "create", "--account", "Acme", &format!("Busy{i}")]);
            }
        });
        let backed_up = run(&["backup", "--data-dir", &data, "--out", &out.to_string_lossy()], &[]);
        busy.join().expect("writes during the backup");
        backed_up
    });
    assert!(ok, "{text}");
    assert_eq!(mode(&out), 0o600);
    // The original keeps serving while and after it is copied.
    w.admin_ok(&["va", "create", "--account", "Acme", "Later"]);

    let restored = w.path("restored");
    std::fs::create_dir(&restored).expect("empty dir");
    std::fs::write(restored.join("x"), "").expect("file");
    let (backup, into) = (out.to_string_lossy(), restored.to_string_lossy());
    let restore = || run(&["restore", "--in", &backup, "--data-dir", &into], &[]);
    let (ok, text) = restore();
    assert!(!ok && text.contains("not empty"), "{text}");
    std::fs::remove_file(restored.join("x")).expect("rm");
    let (ok, text) = restore();
    assert!(ok, "{text}");
    assert_eq!(mode(&restored), 0o700);
    for entry in std::fs::read_dir(&restored).expect("dir") {
        let p = entry.expect("entry").path();
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }

    let listen = free_listen();
    w.start_server_at(&listen, "restored", None);
    assert_eq!(
        std::fs::read(restored.join("ca.pem")).expect("ca"),
        std::fs::read(first.dir.join("ca.pem")).expect("ca")
    );
    assert_eq!(w.server.as_ref().expect("server").api_key, first.api_key);
    assert_eq!(
        w.admin_ok(&["license", "list", "--account", "Acme", "--va", "DEFAULT"]),
        licences
    );
    assert_eq!(w.admin_ok(&["token", "list", "--account", "Acme"]), tokens);
    assert_eq!(w.admin_ok(&["instance", "list", "--account", "Acme"]), instances);
    // The VA made after the backup is not in it.
    let vas = w.admin(&["va", "create", "--account", "Acme", "Later"]);
    assert!(vas.status.success(), "{}", String::from_utf8_lossy(&vas.stderr));
}

/// What `openssl s_client` says of the manager's own certificate for the name `host`, checked
/// against the manager's `ca.pem`: (handshake verified, output).
fn verify_as(listen: &str, ca: &Path, host: &str) -> (bool, String) {
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            listen,
            "-servername",
            host,
            "-verify_hostname",
            host,
        ])
        .arg("-CAfile")
        .arg(ca)
        .args(["-verify_return_error", "-brief"])
        .stdin(Stdio::null())
        .output()
        .expect("openssl s_client");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && text.contains("Verification: OK"), text)
}

#[test]
fn the_managers_own_certificate_carries_the_extra_names() {
    let mut w = World::new();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let dir = w.path("manager").to_string_lossy().to_string();
    let args = [
        "--data-dir",
        &dir,
        "--listen",
        &listen,
        "--tls-san",
        "licensing.example.net",
    ];
    let ca = w.start_server_with(&listen, "manager", &args, &[], None).ca.clone();
    let (ok, text) = verify_as(&listen, &ca, "licensing.example.net");
    assert!(ok, "the extra name verifies:\n{text}");
    let (ok, text) = verify_as(&listen, &ca, "other.example.net");
    assert!(!ok, "a name not given does not:\n{text}");

    // Asked for another name at the next start, the manager issues itself a new certificate.
    w.kill("manager");
    let args = ["--data-dir", &dir, "--listen", &listen];
    let env = [("SMARTLIC_TLS_SAN", "other.example.net")];
    w.start_server_with(&listen, "manager", &args, &env, None);
    let (ok, text) = verify_as(&listen, &ca, "other.example.net");
    assert!(ok, "the new extra name verifies:\n{text}");
}

#[test]
fn completions_and_manual_pages_cover_every_command() {
    let out = Command::new(BIN)
        .args(["completions", "bash"])
        .output()
        .expect("run smartlic");
    assert!(out.status.success());
    let script = String::from_utf8_lossy(&out.stdout);
    for word in ["reservation", "--tls-san", "legacy", "--request-code"] {
        assert!(script.contains(word), "{word} missing from the bash script");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(BIN)
        .args(["man", "--out"])
        .arg(dir.path())
        .output()
        .expect("run smartlic");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for page in [
        "smartlic.1",
        "smartlic-server.1",
        "smartlic-reservation-create.1",
        "smartlic-node.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(
            text.starts_with(".ie") || text.contains(".TH"),
            "{page} is no manual page"
        );
    }
    let written = String::from_utf8_lossy(&out.stdout);
    assert!(written.contains("manual pages written to"), "{written}");
}
