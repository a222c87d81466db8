//! `smartlic demo`: the README's main job. Starts a license manager (SQLite) and one node as child
//! processes of this executable, sets up a Smart Account with licences and a token on the first
//! run, registers the node, places some calls, and keeps both running until Ctrl-C. Everything
//! goes through the same public commands a user types.

use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Child processes, killed when dropped (also used by `bench year`).
pub(crate) struct Children(pub(crate) Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// This executable.
pub(crate) fn exe() -> Result<PathBuf> {
    std::env::current_exe().context("cannot find the smartlic executable")
}

/// Spawns `cmd` and waits (60 s at most) for a line of its stdout holding `ready`.
pub(crate) fn spawn_ready(cmd: &mut Command, ready: &str, what: &str) -> Result<(Child, String)> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start {what}"))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let (tx, rx) = mpsc::channel();
    let ready = ready.to_string();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains(&ready) {
                let _ = tx.send(line);
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(line) => Ok((child, line)),
        Err(_) => {
            let _ = child.kill();
            bail!("{what} did not start within 60 seconds")
        }
    }
}

fn admin(url: &str, ca: &Path, key: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(exe()?)
        .args(["--server", url, "--ca"])
        .arg(ca)
        .args(["--api-key", key])
        .args(args)
        .output()?;
    if !out.status.success() {
        bail!(
            "smartlic {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn cli(node_dir: &Path, lines: &[String]) -> Result<String> {
    let mut cmd = Command::new(exe()?);
    cmd.args(["cli", "--data-dir"]).arg(node_dir);
    for l in lines {
        cmd.arg("-c").arg(l);
    }
    let out = cmd.output()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        bail!("node CLI failed:\n{text}");
    }
    Ok(text)
}

/// Runs the demo until Ctrl-C.
/// The demo's portal user (SA administrator of the demo account).
const DEMO_USER: &str = "admin@demo-mobile.example";

/// Writes a file only its owner may read.
fn write_private(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(contents.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// Runs the demo: a license manager, on the first run a demo account with licences, a token and
/// a portal user, then a node registered with that token; prints where everything is and waits
/// for Ctrl-C (or SIGTERM), which stops both processes.
pub async fn run(dir: &Path, listen: &str) -> Result<()> {
    let manager_dir = dir.join("manager");
    let node_dir = dir.join("node");
    std::fs::create_dir_all(dir)?;
    let mut children = Children(Vec::new());
    let manager = start_manager(&manager_dir, listen, &mut children)?;
    let files = DemoFiles::in_dir(dir);
    if !files.marker.exists() {
        create_demo_account(&manager, &files)?;
    }
    start_registered_node(&node_dir, &manager, &files, &mut children)?;
    let summary = cli(&node_dir, &["show license summary".to_string()])?;
    outln!("{summary}");
    print_where_things_are(&manager, &manager_dir, &node_dir, &files);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    drop(children);
    Ok(())
}

/// How the demo reaches its manager.
struct Manager {
    url: String,
    ca: PathBuf,
    key: String,
}

impl Manager {
    fn admin(&self, args: &[&str]) -> Result<String> {
        admin(&self.url, &self.ca, &self.key, args)
    }
}

/// The demo directory's own files.
struct DemoFiles {
    /// Present once the demo account was made.
    marker: PathBuf,
    /// The registration token of the demo node.
    token: PathBuf,
    /// The portal user's password (0600).
    password: PathBuf,
}

impl DemoFiles {
    fn in_dir(dir: &Path) -> DemoFiles {
        DemoFiles {
            marker: dir.join(".demo-accounts-created"),
            token: dir.join(".demo-token"),
            password: dir.join("portal-password"),
        }
    }
}

fn start_manager(manager_dir: &Path, listen: &str, children: &mut Children) -> Result<Manager> {
    let (server, line) = spawn_ready(
        Command::new(exe()?)
            .args(["server", "--data-dir"])
            .arg(manager_dir)
            .args(["--listen", listen]),
        "listening on https://",
        "the license manager",
    )?;
    children.0.push(server);
    let key = std::fs::read_to_string(manager_dir.join("admin.key"))
        .context("reading admin.key")?
        .trim()
        .to_string();
    Ok(Manager {
        url: line.trim().trim_start_matches("listening on ").to_string(),
        ca: manager_dir.join("ca.pem"),
        key,
    })
}

/// The demo account "Demo Mobile" with a VA `core-east`, licences, a token (kept in the demo
/// directory) and an SA administrator who can log in to the portal.
fn create_demo_account(m: &Manager, files: &DemoFiles) -> Result<()> {
    m.admin(&["account", "create", "Demo Mobile", "--domain", "demo-mobile.example"])?;
    m.admin(&["va", "create", "--account", "Demo Mobile", "core-east"])?;
    for (sku, n) in [
        ("ASR5K-00-PW10GTWY", "3"),
        ("ASR5K-00-SW10LIC", "2"),
        ("ASR5K-00-ME10LIC", "1"),
        ("ASR5K-00-GN01REC", "1"),
    ] {
        m.admin(&[
            "license",
            "deposit",
            "--account",
            "Demo Mobile",
            "--va",
            "core-east",
            "--sku",
            sku,
            "--quantity",
            n,
        ])?;
    }
    let token = m.admin(&[
        "token",
        "create",
        "--account",
        "Demo Mobile",
        "--va",
        "core-east",
        "--description",
        "demo node",
    ])?;
    std::fs::write(&files.token, &token)?;
    // A portal user, its password in a file of the demo directory (0600).
    use base64::Engine;
    let password = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 12]>());
    write_private(&files.password, &format!("{password}\n"))?;
    let password_path = files.password.to_string_lossy().to_string();
    m.admin(&[
        "user",
        "create",
        "--account",
        "Demo Mobile",
        DEMO_USER,
        "--role",
        "sa-admin",
        "--password-file",
        &password_path,
    ])?;
    std::fs::write(&files.marker, "")?;
    Ok(())
}

/// Starts the demo node and, unless it already is, registers it with some calls up.
fn start_registered_node(node_dir: &Path, m: &Manager, files: &DemoFiles, children: &mut Children) -> Result<()> {
    let (node, _) = spawn_ready(
        Command::new(exe()?)
            .args(["node", "--data-dir"])
            .arg(node_dir)
            .args(["--hostname", "demo-asr5500"]),
        "ready",
        "the demo node",
    )?;
    children.0.push(node);
    let status = cli(node_dir, &["show license status".to_string()])?;
    if !status.contains("Status: REGISTERED") {
        let token = std::fs::read_to_string(&files.token).context("reading the demo token")?;
        cli(
            node_dir,
            &[
                format!("crypto pki trustpool import file {}", m.ca.display()),
                "configure".into(),
                "license smart enable".into(),
                format!("license smart url {}", m.url),
                "feature ASR5K-00-GN01REC".into(),
                "end".into(),
                format!("license smart register idtoken {}", token.trim()),
                "calls connect pgw 12000".into(),
                "calls connect sgw 4000".into(),
            ],
        )?;
    }
    Ok(())
}

fn print_where_things_are(m: &Manager, manager_dir: &Path, node_dir: &Path, files: &DemoFiles) {
    let url = &m.url;
    outln!("The demo is running:");
    outln!(
        "  license manager   {url}  (portal and API; CA {}, API key in {})",
        m.ca.display(),
        manager_dir.join("admin.key").display()
    );
    if files.password.exists() {
        outln!(
            "  portal log-in     {DEMO_USER}, password in {}",
            files.password.display()
        );
    }
    outln!("  node CLI          smartlic cli --data-dir {}", node_dir.display());
    outln!(
        "  admin client      smartlic --server {url} --ca {} --api-key $(cat {}) license list --account 'Demo Mobile' --va core-east",
        m.ca.display(),
        manager_dir.join("admin.key").display()
    );
    outln!("Press Ctrl-C to stop (both processes stop with it).");
}
