//! Webhooks are not a way into the network, against the real `smartlic server`: an operator opens
//! loopback with `--webhook-allow 127.0.0.0/8`; a tenant may then point a webhook at a local
//! relay, but never at a metadata or link-local address, at a private range the operator did not
//! allow, or at a URL with a user name and password; an account has at most 10 webhooks. A bad
//! `--webhook-allow` stops the server with the reason.

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// A manager started here (for flags the harness does not pass), killed when dropped.
struct Manager(Child);

impl Drop for Manager {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_manager(w: &mut World, extra: &[&str]) -> Manager {
    let dir = w.path("manager");
    let listen = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(BIN)
        .args(["server", "--data-dir"])
        .arg(&dir)
        .args(["--listen", &listen, "--clock-file"])
        .arg(&w.clock)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn smartlic server");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.contains("listening on https://") {
                let _ = tx.send(line);
            }
        }
    });
    let manager = Manager(child);
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the license manager starts within 60 s");
    let api_key = std::fs::read_to_string(dir.join("admin.key"))
        .expect("admin.key")
        .trim()
        .to_string();
    w.server = Some(Server {
        url: line.trim().trim_start_matches("listening on ").to_string(),
        ca: dir.join("ca.pem"),
        dir,
        api_key,
        listen,
    });
    manager
}

fn client(ca: &Path) -> reqwest::Client {
    use rustls_pki_types::pem::PemObject;
    let pem = std::fs::read(ca).expect("ca.pem");
    let mut roots = rustls::RootCertStore::empty();
    for der in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(der.expect("CA certificate")).expect("trust the CA");
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

#[test]
fn bad_allow_ranges_stop_the_server() {
    let w = World::new();
    for (range, says) in [
        ("nonsense", "is not an address range"),
        ("10.0.0.0/33", "prefix length must be at most 32"),
        ("192.168.1.5/24", "did you mean 192.168.1.0/24"),
    ] {
        let out = Command::new(BIN)
            .args(["server", "--data-dir"])
            .arg(w.path("never"))
            .args(["--listen", "127.0.0.1:0", "--webhook-allow", range])
            .stdin(Stdio::null())
            .output()
            .expect("run smartlic");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{range} was accepted");
        assert!(stderr.contains(says), "{range}: {stderr}");
    }
}

#[test]
fn tenants_cannot_aim_webhooks_into_the_network() {
    let mut w = World::new();
    let _manager = start_manager(&mut w, &["--webhook-allow", "127.0.0.0/8"]);
    w.admin_ok(&["account", "create", "Acme", "--domain", "acme.example"]);
    let s = w.server.clone().expect("server");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let http = client(&s.ca);
        let add = |url: &str| {
            let req = http
                .post(format!("{}/api/v1/accounts/Acme/webhooks", s.url))
                .bearer_auth(&s.api_key)
                .json(&serde_json::json!({ "url": url }));
            async move {
                let resp = req.send().await.expect("an answer");
                let status = resp.status().as_u16();
                let hsts = resp
                    .headers()
                    .get("strict-transport-security")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                assert_eq!(hsts.as_deref(), Some("max-age=31536000"));
                let body: serde_json::Value = resp.json().await.expect("a JSON body");
                (status, body)
            }
        };

        // Allowed by the operator: a relay on loopback.
        let (status, body) = add("http://127.0.0.1:9/hook").await;
        assert_eq!(status, 201, "{body}");
        assert!(body["secret"].as_str().is_some_and(|s| s.len() >= 40), "{body}");

        for (url, says) in [
            ("https://169.254.169.254/latest/meta-data/", "metadata"),
            (
                "http://169.254.169.254/latest/meta-data/",
                "plain http only to a loopback",
            ),
            ("https://[fe80::1]/hook", "link-local"),
            ("https://[::ffff:169.254.169.254]/hook", "metadata"),
            ("https://10.1.2.3/hook", "--webhook-allow"),
            ("https://[::1]/hook", "--webhook-allow"),
            ("https://0.0.0.0/hook", "unspecified"),
            ("https://user:pw@alerts.acme.example/hook", "user name or password"),
        ] {
            let (status, body) = add(url).await;
            assert_eq!(status, 400, "{url}: {body}");
            assert_eq!(body["error"]["code"], "malformed", "{url}: {body}");
            let message = body["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains(says), "{url}: {message}");
        }

        // At most ten per account.
        for i in 1..10 {
            let (status, body) = add(&format!("https://alerts.acme.example/{i}")).await;
            assert_eq!(status, 201, "{body}");
        }
        let (status, body) = add("https://alerts.acme.example/10").await;
        assert_eq!(status, 409, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("10 webhooks"),
            "{body}"
        );
    });
}
