//! Webhooks are not a way into the network, against the real `smartlic server`: an operator opens
//! loopback with `--webhook-allow 127.0.0.0/8`; a tenant may then point a webhook at a local
//! relay, but never at a metadata or link-local address, at a private range the operator did not
//! allow, or at a URL with a user name and password; an account has at most 10 webhooks. A bad
//! `--webhook-allow` stops the server with the reason.

mod common;
use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

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
    w.start_server_flags(&["--webhook-allow", "127.0.0.0/8"]);
    w.account("Acme", "acme.example");
    let s = w.server.clone().expect("server");
    block_on(false, async move {
        let http = https_client(&s.ca, None, Duration::from_secs(30));
        let add = |url: &str| {
            let req = http
                .post(format!("{}/api/v1/accounts/Acme/webhooks", s.url))
                .bearer_auth(&s.api_key)
                .json(&serde_json::json!({ "url": url }));
            async move {
                let resp = req.send().await.expect("an answer");
                let status = resp.status().as_u16();
                let hsts = header(&resp, "strict-transport-security");
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
