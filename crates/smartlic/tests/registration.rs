//! Registration end to end, driven only through the commands of docs/interface.md: a license manager,
//! nodes and a clock file, each test in its own directory and ports.

mod common;
use common::*;

/// A manager with the account Acme Mobile, whose VA core holds two PGW licences.
fn manager_with_account() -> World {
    let mut w = World::new();
    w.start_server();
    let id = w.account("Acme Mobile", "acme.example");
    assert!(!id.is_empty());
    w.admin_ok(&["va", "create", "--account", "Acme Mobile", "core"]);
    w.deposit("Acme Mobile", "core", "ASR5K-00-PW10GTWY", 2);
    w
}

#[test]
fn register_renew_and_deregister() {
    let mut w = manager_with_account();
    let token = w.token("Acme Mobile", "core", &["--description", "lab"]);
    assert_eq!(token.lines().count(), 1, "token create prints one line: {token:?}");
    let node = w.start_node("pgw1");

    // Before set-up: unregistered, disabled.
    let st = cli_ok(&node, "show license status");
    assert!(st.contains("Smart Licensing is DISABLED"), "{st}");
    assert!(st.contains("Status: UNREGISTERED"), "{st}");

    w.prepare_node(&node);
    let out = cli_ok(&node, &idtoken(&token));
    assert!(out.contains("Registration succeeded"), "{out}");
    let st = cli_ok(&node, "show license status");
    assert!(st.contains("Smart Licensing is ENABLED"), "{st}");
    assert!(st.contains("Status: REGISTERED"), "{st}");
    assert!(st.contains("Status: AUTHORIZED"), "{st}");
    assert_eq!(field(&st, "Smart Account").as_deref(), Some("Acme Mobile"));
    assert_eq!(field(&st, "Virtual Account").as_deref(), Some("core"));
    for f in [
        "Export-Controlled Functionality",
        "Initial Registration",
        "Last Renewal Attempt",
        "Next Renewal Attempt",
        "Registration Expires",
        "Last Communication Attempt",
        "Next Communication Attempt",
        "Communication Deadline",
    ] {
        assert!(field(&st, f).is_some(), "{f} missing in\n{st}");
    }
    assert!(
        st.contains("Transport:") && st.contains(&w.server.as_ref().unwrap().url),
        "{st}"
    );

    // The manager sees the instance.
    let list = w.admin_ok(&["instance", "list", "--account", "Acme Mobile", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&list).expect("json");
    let text = v.to_string();
    assert!(text.contains("pgw1"), "{text}");

    // 31 days later the authorization has been renewed by the timer.
    let first_comm = field(&st, "Last Communication Attempt").unwrap();
    w.advance_days(31);
    wait_for(20, "authorization renewal", || {
        let st = cli_ok(&node, "show license status");
        let last = field(&st, "Last Communication Attempt")?;
        (last != first_comm && last.starts_with("SUCCEEDED")).then_some(())
    });
    // 181 days after registration the ID certificate has been renewed.
    let expires = field(&cli_ok(&node, "show license status"), "Registration Expires").unwrap();
    w.advance_days(150);
    wait_for(20, "ID renewal", || {
        let st = cli_ok(&node, "show license status");
        (field(&st, "Registration Expires")? != expires
            && field(&st, "Last Renewal Attempt")?.starts_with("SUCCEEDED")
            && st.contains("Status: AUTHORIZED"))
        .then_some(())
    });
    let st = cli_ok(&node, "show license status");
    assert!(
        st.contains("Status: REGISTERED") && st.contains("Status: AUTHORIZED"),
        "{st}"
    );

    // Deregister: instance gone on the manager, node unregistered.
    let out = cli_ok(&node, "license smart deregister");
    assert!(out.contains("UNREGISTERED"), "{out}");
    assert!(cli_ok(&node, "show license status").contains("Status: UNREGISTERED"));
    let list = w.admin_ok(&["instance", "list", "--account", "Acme Mobile", "--json"]);
    assert!(!list.contains("pgw1"), "{list}");
}

#[test]
fn bad_tokens_change_nothing_and_say_why() {
    let mut w = manager_with_account();
    let node = w.start_node("n1");
    w.prepare_node(&node);
    let before = cli_ok(&node, "show license status");

    let (out, ok) = cli(&node, &["license smart register idtoken not-a-real-token"]);
    assert!(!ok && out.contains("Failure:"), "{out}");
    assert!(out.to_lowercase().contains("token"), "{out}");

    let expired = w.token(
        "Acme Mobile",
        "core",
        &["--expires-days", "1", "--description", "short-lived"],
    );
    let revoked = w.token("Acme Mobile", "core", &["--description", "to-revoke"]);
    let tokens = w.admin_ok(&["token", "list", "--account", "Acme Mobile", "--json"]);
    assert!(
        !tokens.contains(&revoked) && !tokens.contains(&expired),
        "token list must never show a secret"
    );
    let v: serde_json::Value = serde_json::from_str(&tokens).expect("json");
    let list = v
        .as_array()
        .or_else(|| v.get("tokens").and_then(|t| t.as_array()))
        .expect("a list of tokens");
    let revoke_id = list
        .iter()
        .find(|t| t.get("description").and_then(|d| d.as_str()) == Some("to-revoke"))
        .and_then(|t| t.get("id"))
        .and_then(|i| i.as_str())
        .expect("the token to revoke is listed with its id")
        .to_string();
    w.admin_ok(&["token", "revoke", "--account", "Acme Mobile", &revoke_id]);
    let (out, ok) = cli(&node, &[&idtoken(&revoked)]);
    assert!(!ok && out.contains("Failure:") && out.contains("revoked"), "{out}");

    w.advance_days(2);
    let (out, ok) = cli(&node, &[&idtoken(&expired)]);
    assert!(!ok && out.contains("Failure:") && out.contains("expired"), "{out}");

    let used = w.token("Acme Mobile", "core", &["--max-uses", "1"]);
    let other = w.start_node("n2");
    w.prepare_node(&other);
    cli_ok(&other, &idtoken(&used));
    let (out, ok) = cli(&node, &[&idtoken(&used)]);
    assert!(!ok && out.contains("Failure:"), "{out}");
    assert!(out.contains("used") || out.contains("uses"), "{out}");

    let after = cli_ok(&node, "show license status");
    assert!(after.contains("Status: UNREGISTERED"), "{after}");
    assert_eq!(field(&before, "Status"), field(&after, "Status"));
}

#[test]
fn exactly_n_concurrent_registrations_succeed_on_an_n_use_token() {
    let mut w = manager_with_account();
    let token = w.token("Acme Mobile", "core", &["--max-uses", "3"]);
    let nodes: Vec<Node> = (0..6).map(|i| w.start_node(&format!("c{i}"))).collect();
    for n in &nodes {
        w.prepare_node(n);
    }
    let results: Vec<bool> = std::thread::scope(|s| {
        let handles: Vec<_> = nodes
            .iter()
            .map(|n| {
                let t = token.clone();
                s.spawn(move || cli(n, &[&idtoken(&t)]).1)
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    assert_eq!(results.iter().filter(|ok| **ok).count(), 3, "{results:?}");
    let registered = nodes
        .iter()
        .filter(|n| cli_ok(n, "show license status").contains("Status: REGISTERED"))
        .count();
    assert_eq!(registered, 3);
}

#[test]
fn unreachable_manager_and_untrusted_certificate() {
    let mut w = manager_with_account();
    let token = w.token("Acme Mobile", "core", &[]);
    let node = w.start_node("far");
    let ca = w.server.as_ref().unwrap().ca.clone();
    // Untrusted: trust pool holds a CA of another manager.
    let mut other = World::new();
    other.start_server();
    let other_ca = other.server.as_ref().unwrap().ca.clone();
    let url = w.server.as_ref().unwrap().url.clone();
    cli_ok(
        &node,
        &format!("crypto pki trustpool import file {}", other_ca.display()),
    );
    let (_, ok) = cli(
        &node,
        &[
            "configure",
            "license smart enable",
            &format!("license smart url {url}"),
            "end",
        ],
    );
    assert!(ok);
    let (out, ok) = cli(&node, &[&idtoken(&token)]);
    assert!(!ok && out.contains("Failure:") && out.contains("not trusted"), "{out}");
    assert!(cli_ok(&node, "show license status").contains("REGISTRATION FAILED"));

    // Unreachable: a port where nothing listens.
    let dead = format!("https://127.0.0.1:{}", free_port());
    cli_ok(&node, &format!("crypto pki trustpool import file {}", ca.display()));
    let (_, ok) = cli(&node, &["configure", &format!("license smart url {dead}"), "end"]);
    assert!(ok);
    let (out, ok) = cli(&node, &[&idtoken(&token)]);
    assert!(!ok && out.contains("Failure:") && out.contains("cannot reach"), "{out}");
    let st = cli_ok(&node, "show license status");
    assert!(st.contains("Status: REGISTRATION FAILED"), "{st}");
    // The node keeps running and retries; pointing it at the right manager lets the retry succeed.
    let (_, ok) = cli(&node, &["configure", &format!("license smart url {url}"), "end"]);
    assert!(ok);
    wait_shows(&node, "show license status", "Status: REGISTERED", 30);
}

#[test]
fn state_survives_kill_and_detects_tampering() {
    let mut w = manager_with_account();
    let token = w.token("Acme Mobile", "core", &[]);
    w.registered_node("k1", &token);
    w.kill("k1");
    let node = w.start_node("k1");
    let st = cli_ok(&node, "show license status");
    assert!(
        st.contains("Status: REGISTERED") && st.contains("Smart Licensing is ENABLED"),
        "{st}"
    );

    // An unregistered node that used evaluation time: tamper with its state.
    let ev = w.start_node("k2");
    let (_, ok) = cli(
        &ev,
        &["configure", "license smart enable", "end", "calls connect pgw 10"],
    );
    assert!(ok);
    w.advance_days(10);
    wait_shows(&ev, "show license eval-period", "Remaining: 80 days", 10);
    w.kill("k2");
    let state = ev.dir.join("licensing.json");
    let text = std::fs::read_to_string(&state).expect("state file");
    let edited = text.replace("\"used_secs\": 864000", "\"used_secs\": 0");
    assert_ne!(text, edited, "the state file holds the evaluation time used");
    std::fs::write(&state, edited).expect("write");
    let ev = w.start_node("k2");
    let st = cli_ok(&ev, "show license status");
    assert!(st.contains("integrity"), "{st}");
    let eval = cli_ok(&ev, "show license eval-period");
    assert!(eval.contains("Evaluation Period Remaining: 0 days"), "{eval}");
}

#[test]
fn admin_errors_are_one_clear_line() {
    let w = manager_with_account();
    for args in [
        vec!["va", "create", "--account", "No Such Account", "x"],
        deposit_args("Acme Mobile", "core", "NOT-A-SKU", "1").to_vec(),
        vec!["license", "list", "--account", "Acme Mobile", "--va", "nope"],
        vec![
            "license",
            "transfer",
            "--account",
            "Acme Mobile",
            "--from",
            "core",
            "--to",
            "DEFAULT",
            "--sku",
            "ASR5K-00-PW10GTWY",
            "--quantity",
            "5",
        ],
    ] {
        let out = w.admin(&args);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
    // A wrong API key is refused.
    let out = w.as_key(
        "wrong",
        &["license", "list", "--account", "Acme Mobile", "--va", "core"],
    );
    assert!(!out.status.success());
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let w = manager_with_account();
    let s = w.server.clone().expect("server");
    // `smartlic account list | head -0`: the reader is gone before the first line is written.
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = std::process::Command::new(BIN)
        .args(["--server", &s.url, "--ca"])
        .arg(&s.ca)
        .args(["--api-key", &s.api_key, "account", "list"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run smartlic");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.status.success(), "{:?} {err}", out.status);
}
