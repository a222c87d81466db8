//! A small harness that starts real `smartlic` processes — a license manager, nodes and a clock
//! file — in a directory of their own, so every test reads like a user session.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_smartlic");
pub const DAY: i64 = 86_400;
/// The clock every test starts at.
pub const T0: i64 = 1_798_761_600; // 2027-01-01T00:00:00Z

pub struct World {
    pub dir: tempfile::TempDir,
    pub clock: PathBuf,
    pub now: i64,
    children: Vec<(String, Child)>,
    pub server: Option<Server>,
}

#[derive(Clone)]
pub struct Server {
    pub url: String,
    pub dir: PathBuf,
    pub ca: PathBuf,
    pub api_key: String,
    pub listen: String,
}

#[derive(Clone)]
pub struct Node {
    pub name: String,
    pub dir: PathBuf,
}

/// `127.0.0.1:PORT` of a free port.
pub fn free_listen() -> String {
    format!("127.0.0.1:{}", free_port())
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Polls `f` until it returns Some, or panics with `what` after `secs` seconds.
pub fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {secs}s waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn rfc3339(t: i64) -> String {
    let dt = time::OffsetDateTime::from_unix_timestamp(t).expect("time");
    dt.format(&time::format_description::well_known::Rfc3339)
        .expect("format")
}

/// Spawns a process and waits until a line of its stdout contains `ready`.
fn spawn_until(cmd: &mut Command, ready: &str, what: &str) -> (Child, String) {
    spawn_until_keeping_stderr(cmd.stderr(Stdio::inherit()), ready, what)
}

/// [`spawn_until`] for a command whose stderr the caller set (inherited otherwise).
fn spawn_until_keeping_stderr(cmd: &mut Command, ready: &str, what: &str) -> (Child, String) {
    let mut child = cmd.stdout(Stdio::piped()).spawn().expect("spawn smartlic");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    let ready = ready.to_string();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if !sent && line.contains(&ready) {
                let _ = tx.send(line);
                sent = true;
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(line) => (child, line),
        Err(_) => {
            let _ = child.kill();
            panic!("{what} did not start within 60s");
        }
    }
}

impl World {
    pub fn new() -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = dir.path().join("clock");
        let w = World {
            clock,
            now: T0,
            dir,
            children: Vec::new(),
            server: None,
        };
        w.write_clock();
        w
    }

    /// A world with a running manager and the Smart Account Acme (acme.example).
    pub fn with_acme() -> World {
        let mut w = World::new();
        w.start_server();
        w.account("Acme", "acme.example");
        w
    }

    fn write_clock(&self) {
        let tmp = self.clock.with_extension("tmp");
        std::fs::write(&tmp, rfc3339(self.now)).expect("clock");
        std::fs::rename(&tmp, &self.clock).expect("clock");
    }

    /// Moves the clock file to `t`.
    pub fn set_clock(&mut self, t: i64) {
        self.now = t;
        self.write_clock();
    }

    /// Moves the clock by `days` (may be negative).
    pub fn advance_days(&mut self, days: i64) {
        self.set_clock(self.now + days * DAY);
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts the license manager (SQLite) on a free port.
    pub fn start_server(&mut self) -> &Server {
        self.start_server_flags(&[])
    }

    /// Starts the license manager (SQLite) on a free port with `extra` flags after the usual ones.
    pub fn start_server_flags(&mut self, extra: &[&str]) -> &Server {
        let listen = free_listen();
        let dir = self.path("manager");
        let mut cmd = Command::new(BIN);
        cmd.args(["server", "--data-dir"])
            .arg(&dir)
            .args(["--listen", &listen, "--clock-file"])
            .arg(&self.clock)
            .args(extra);
        self.serve(&mut cmd, &listen, "manager")
    }

    pub fn start_server_at(&mut self, listen: &str, name: &str, database: Option<&str>) -> &Server {
        let dir = self.path(name);
        let mut cmd = Command::new(BIN);
        cmd.args(["server", "--data-dir"])
            .arg(&dir)
            .args(["--listen", listen, "--clock-file"])
            .arg(&self.clock);
        if let Some(db) = database {
            cmd.args(["--database", db]);
        }
        self.serve(cmd.stderr(Stdio::inherit()), listen, name)
    }

    /// Starts the license manager with `args` after `server` (the caller gives `--data-dir` or
    /// a `--config` naming it, which must be `DIR/name` for `admin.key` to be found), `envs` in
    /// its environment and its stderr appended to `stderr` when given.
    pub fn start_server_with(
        &mut self,
        listen: &str,
        name: &str,
        args: &[&str],
        envs: &[(&str, &str)],
        stderr: Option<std::fs::File>,
    ) -> &Server {
        let mut cmd = Command::new(BIN);
        cmd.arg("server").args(args).envs(envs.iter().copied());
        if let Some(f) = stderr {
            cmd.stderr(f);
        }
        self.serve(&mut cmd, listen, name)
    }

    /// Spawns the manager `cmd` (data directory `DIR/name`), waits until it listens and makes it
    /// the current server.
    fn serve(&mut self, cmd: &mut Command, listen: &str, name: &str) -> &Server {
        let dir = self.path(name);
        let (child, line) = spawn_until_keeping_stderr(cmd, "listening on https://", "the license manager");
        self.children.push((name.to_string(), child));
        let url = line.trim().trim_start_matches("listening on ").to_string();
        let api_key = std::fs::read_to_string(dir.join("admin.key"))
            .unwrap_or_default()
            .trim()
            .to_string();
        self.server = Some(Server {
            url,
            ca: dir.join("ca.pem"),
            dir,
            api_key,
            listen: listen.to_string(),
        });
        self.server.as_ref().expect("server")
    }

    /// The process id of a started process.
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.children.iter().find(|(n, _)| n == name).map(|(_, c)| c.id())
    }

    /// Kills a started process by name (like `kill -9`).
    pub fn kill(&mut self, name: &str) {
        if let Some(pos) = self.children.iter().position(|(n, _)| n == name) {
            let (_, mut c) = self.children.remove(pos);
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Runs an admin command against the server; returns the output.
    pub fn admin(&self, args: &[&str]) -> Output {
        let s = self.server.as_ref().expect("a server");
        admin_command(&s.url, &s.ca, &s.api_key, args)
    }

    /// Runs an admin command against another manager `url` (same CA and operator key as the
    /// current server: managers sharing one database).
    pub fn admin_via(&self, url: &str, args: &[&str]) -> Output {
        let s = self.server.as_ref().expect("a server");
        admin_command(url, &s.ca, &s.api_key, args)
    }

    /// Runs an admin command against the server with `key` instead of the operator key.
    pub fn as_key(&self, key: &str, args: &[&str]) -> Output {
        let s = self.server.as_ref().expect("a server");
        admin_command(&s.url, &s.ca, key, args)
    }

    /// Runs an admin command that must succeed; returns its stdout, trimmed.
    pub fn admin_ok(&self, args: &[&str]) -> String {
        succeeded(args, &self.admin(args))
    }

    /// Starts a node with its own directory.
    pub fn start_node(&mut self, name: &str) -> Node {
        self.start_node_with(name, &[])
    }

    pub fn start_node_with(&mut self, name: &str, extra: &[&str]) -> Node {
        let dir = self.path(name);
        let mut cmd = Command::new(BIN);
        cmd.args(["node", "--data-dir"])
            .arg(&dir)
            .args(["--hostname", name, "--clock-file"])
            .arg(&self.clock)
            .args(extra);
        let (child, _) = spawn_until(&mut cmd, "ready", "the node");
        self.children.push((name.to_string(), child));
        Node {
            name: name.to_string(),
            dir,
        }
    }

    /// A registration token of the VA (`extra`: `--max-uses`, `--expires-days`, …).
    pub fn token(&self, account: &str, va: &str, extra: &[&str]) -> String {
        let mut args = vec!["token", "create", "--account", account, "--va", va];
        args.extend_from_slice(extra);
        self.admin_ok(&args)
    }

    /// The operator deposits `quantity` licences of `sku` into the VA.
    pub fn deposit(&self, account: &str, va: &str, sku: &str, quantity: u32) -> String {
        self.admin_ok(&deposit_args(account, va, sku, &quantity.to_string()))
    }

    /// Creates the Smart Account `name` of `domain`; returns its id.
    pub fn account(&self, name: &str, domain: &str) -> String {
        self.admin_ok(&["account", "create", name, "--domain", domain])
    }

    /// Creates a user of `account` with `role` (`extra`: `--password-file`); returns their API key.
    pub fn user(&self, account: &str, email: &str, role: &str, extra: &[&str]) -> String {
        let mut args = vec!["user", "create", "--account", account, email, "--role", role];
        args.extend_from_slice(extra);
        self.admin_ok(&args)
    }

    /// Writes `password` to a file of this world for `--password-file`; returns its path.
    pub fn password_file(&self, password: &str) -> String {
        let file = self.path("password");
        std::fs::write(&file, format!("{password}\n")).expect("password file");
        file.to_string_lossy().to_string()
    }

    /// The licences of a VA as `license list --json` prints them.
    pub fn licences_json(&self, account: &str, va: &str) -> String {
        self.admin_ok(&["license", "list", "--account", account, "--va", va, "--json"])
    }

    /// Starts a node, sets it up for the current manager and registers it with `token`.
    pub fn registered_node(&mut self, name: &str, token: &str) -> Node {
        let node = self.start_node(name);
        self.prepare_node(&node);
        cli_ok(&node, &idtoken(token));
        node
    }

    /// Trust the manager, enable Smart Licensing, point at the manager: the operator's set-up.
    pub fn prepare_node(&self, node: &Node) {
        let s = self.server.as_ref().expect("server");
        let ca = s.ca.to_string_lossy().to_string();
        let (out, ok) = cli(
            node,
            &[
                &format!("crypto pki trustpool import file {ca}"),
                "configure",
                "license smart enable",
                &format!("license smart url {}", s.url),
                "end",
            ],
        );
        assert!(ok, "node set-up failed:\n{out}");
    }
}

impl Drop for World {
    fn drop(&mut self) {
        for (_, c) in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The stdout, trimmed, of `smartlic ARGS` that must have succeeded (else its output in the panic).
pub fn succeeded(args: &[&str], out: &Output) -> String {
    assert!(
        out.status.success(),
        "smartlic {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The one line a refused command printed on stderr (it must have failed, printing nothing on
/// stdout and exactly one line on stderr).
pub fn refusal(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "accepted: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

/// Runs the admin command `smartlic ARGS` against manager `url` with `key`.
pub fn admin_command(url: &str, ca: &Path, key: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["--server", url, "--ca"])
        .arg(ca)
        .args(["--api-key", key])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run smartlic")
}

/// The arguments of `reservation create` of `request` in a VA for `what` (`--license SKU=N`… or
/// `--universal`).
pub fn reservation_create_args<'a>(account: &'a str, va: &'a str, request: &'a str, what: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["reservation", "create", "--account", account, "--va", va];
    args.extend_from_slice(&["--request-code", request]);
    args.extend_from_slice(what);
    args
}

/// The arguments of `license deposit` (the operator's act; some tests expect a refusal).
pub fn deposit_args<'a>(account: &'a str, va: &'a str, sku: &'a str, quantity: &'a str) -> [&'a str; 10] {
    [
        "license",
        "deposit",
        "--account",
        account,
        "--va",
        va,
        "--sku",
        sku,
        "--quantity",
        quantity,
    ]
}

/// The node CLI line that registers with `token`.
pub fn idtoken(token: &str) -> String {
    format!("license smart register idtoken {token}")
}

/// Runs CLI lines on a node: (stdout, success).
pub fn cli(node: &Node, lines: &[&str]) -> (String, bool) {
    let mut cmd = Command::new(BIN);
    cmd.args(["cli", "--data-dir"]).arg(&node.dir);
    for l in lines {
        cmd.arg("-c").arg(l);
    }
    let out = cmd.stdin(Stdio::null()).output().expect("run smartlic cli");
    let mut text = String::from_utf8_lossy(&out.stdout).to_string();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (text, out.status.success())
}

/// Runs one CLI line that must succeed.
pub fn cli_ok(node: &Node, line: &str) -> String {
    let (out, ok) = cli(node, &[line]);
    assert!(ok, "`{line}` failed on {}:\n{out}", node.name);
    out
}

/// The value after `key:` on the first line that has it.
pub fn field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        l.trim()
            .strip_prefix(key)
            .map(|v| v.trim_start_matches(':').trim().to_string())
    })
}

/// Parses `admitted A rejected R`.
pub fn admitted(text: &str) -> (u64, u64) {
    let w: Vec<&str> = text.split_whitespace().collect();
    let pos = w.iter().position(|x| *x == "admitted").expect("admitted in output");
    (w[pos + 1].parse().expect("number"), w[pos + 3].parse().expect("number"))
}

pub fn dir_exists(p: &Path) -> bool {
    p.exists()
}

/// An HTTPS client that trusts only the manager's CA `ca`, follows no redirect, gives up after
/// `timeout` and connects from `local` when given.
pub fn https_client(ca: &Path, local: Option<std::net::IpAddr>, timeout: Duration) -> reqwest::Client {
    use rustls_pki_types::pem::PemObject;
    let pem = std::fs::read(ca).expect("ca.pem");
    let mut roots = rustls::RootCertStore::empty();
    for der in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(der.expect("CA certificate")).expect("trust the CA");
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .no_proxy()
        .local_address(local)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
        .expect("HTTP client")
}

/// A response header as text.
pub fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The rows of `license list --json` (a list, or an object with `licenses`).
pub fn licence_rows(list_json: &str) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(list_json).expect("license list --json");
    match v {
        serde_json::Value::Array(rows) => rows,
        mut v => v
            .get_mut("licenses")
            .map(serde_json::Value::take)
            .and_then(|l| match l {
                serde_json::Value::Array(rows) => Some(rows),
                _ => None,
            })
            .expect("licenses"),
    }
}

/// Polls `command` on `node` until its output contains `text` (at most `secs` seconds); returns it.
pub fn wait_shows(node: &Node, command: &str, text: &str, secs: u64) -> String {
    wait_for(secs, &format!("`{command}` on {} to show {text:?}", node.name), || {
        let out = cli_ok(node, command);
        out.contains(text).then_some(out)
    })
}

/// Runs a helper tool (`what` names it) that must succeed; returns its output.
pub fn run_ok(cmd: &mut Command, what: &str) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what} must be installed for this test: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `f` to completion on a fresh Tokio runtime (multi-threaded when `multi_thread`).
pub fn block_on<F: std::future::Future>(multi_thread: bool, f: F) -> F::Output {
    let mut builder = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder.enable_all().build().expect("runtime").block_on(f)
}

/// The PostgreSQL server the tests make their databases on (127.0.0.1:5432, trust auth;
/// `SMARTLIC_TEST_DATABASE_URL` overrides).
pub fn pg_admin_url() -> String {
    std::env::var("SMARTLIC_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A PostgreSQL database of one test's own, made and dropped with `psql` (Debian's
/// postgresql-client).
pub struct Database {
    pub name: String,
}

impl Database {
    /// A new database named after `tag`, this process and the time.
    pub fn create(tag: &str) -> Database {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!("smartlic_{tag}_{}_{nanos}", std::process::id());
        let url = pg_admin_url();
        run_ok(
            Command::new("psql").args([&url, "-qc", &format!("CREATE DATABASE {name}")]),
            &format!("psql (Debian postgresql-client) CREATE DATABASE against {url}"),
        );
        Database { name }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        let base = pg_admin_url();
        let (prefix, _) = base.rsplit_once('/').expect("database URL with a database name");
        format!("{prefix}/{}", self.name)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                &pg_admin_url(),
                "-qc",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}
