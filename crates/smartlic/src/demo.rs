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

struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn exe() -> Result<PathBuf> {
    std::env::current_exe().context("cannot find the smartlic executable")
}

fn spawn_ready(cmd: &mut Command, ready: &str, what: &str) -> Result<(Child, String)> {
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

pub async fn run(dir: &Path, listen: &str) -> Result<()> {
    let manager_dir = dir.join("manager");
    let node_dir = dir.join("node");
    std::fs::create_dir_all(dir)?;
    let mut children = Children(Vec::new());
    let (server, line) = spawn_ready(
        Command::new(exe()?)
            .args(["server", "--data-dir"])
            .arg(&manager_dir)
            .args(["--listen", listen]),
        "listening on https://",
        "the license manager",
    )?;
    children.0.push(server);
    let url = line.trim().trim_start_matches("listening on ").to_string();
    let ca = manager_dir.join("ca.pem");
    let key = std::fs::read_to_string(manager_dir.join("admin.key"))
        .context("reading admin.key")?
        .trim()
        .to_string();

    let marker = dir.join(".demo-accounts-created");
    let token_file = dir.join(".demo-token");
    let password_file = dir.join("portal-password");
    if !marker.exists() {
        admin(
            &url,
            &ca,
            &key,
            &["account", "create", "Demo Mobile", "--domain", "demo-mobile.example"],
        )?;
        admin(
            &url,
            &ca,
            &key,
            &["va", "create", "--account", "Demo Mobile", "core-east"],
        )?;
        for (sku, n) in [
            ("ASR5K-00-PW10GTWY", "3"),
            ("ASR5K-00-SW10LIC", "2"),
            ("ASR5K-00-ME10LIC", "1"),
            ("ASR5K-00-GN01REC", "1"),
        ] {
            admin(
                &url,
                &ca,
                &key,
                &[
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
                ],
            )?;
        }
        let token = admin(
            &url,
            &ca,
            &key,
            &[
                "token",
                "create",
                "--account",
                "Demo Mobile",
                "--va",
                "core-east",
                "--description",
                "demo node",
            ],
        )?;
        std::fs::write(&token_file, &token)?;
        // A portal user, its password in a file of the demo directory (0600).
        use base64::Engine;
        let password = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 12]>());
        write_private(&password_file, &format!("{password}\n"))?;
        let password_path = password_file.to_string_lossy().to_string();
        admin(
            &url,
            &ca,
            &key,
            &[
                "user",
                "create",
                "--account",
                "Demo Mobile",
                DEMO_USER,
                "--role",
                "sa-admin",
                "--password-file",
                &password_path,
            ],
        )?;
        std::fs::write(&marker, "")?;
    }

    let (node, _) = spawn_ready(
        Command::new(exe()?)
            .args(["node", "--data-dir"])
            .arg(&node_dir)
            .args(["--hostname", "demo-asr5500"]),
        "ready",
        "the demo node",
    )?;
    children.0.push(node);
    let status = cli(&node_dir, &["show license status".to_string()])?;
    if !status.contains("Status: REGISTERED") {
        let token = std::fs::read_to_string(&token_file).context("reading the demo token")?;
        cli(
            &node_dir,
            &[
                format!("crypto pki trustpool import file {}", ca.display()),
                "configure".into(),
                "license smart enable".into(),
                format!("license smart url {url}"),
                "feature ASR5K-00-GN01REC".into(),
                "end".into(),
                format!("license smart register idtoken {}", token.trim()),
                "calls connect pgw 12000".into(),
                "calls connect sgw 4000".into(),
            ],
        )?;
    }
    let summary = cli(&node_dir, &["show license summary".to_string()])?;
    outln!("{summary}");
    outln!("The demo is running:");
    outln!(
        "  license manager   {url}  (portal and API; CA {}, API key in {})",
        ca.display(),
        manager_dir.join("admin.key").display()
    );
    if password_file.exists() {
        outln!(
            "  portal log-in     {DEMO_USER}, password in {}",
            password_file.display()
        );
    }
    outln!("  node CLI          smartlic cli --data-dir {}", node_dir.display());
    outln!(
        "  admin client      smartlic --server {url} --ca {} --api-key $(cat {}) license list --account 'Demo Mobile' --va core-east",
        ca.display(),
        manager_dir.join("admin.key").display()
    );
    outln!("Press Ctrl-C to stop (both processes stop with it).");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    drop(children);
    Ok(())
}
