//! `--help` of the commands that do not talk to a manager (`server`, `node`, `cli`, `demo`) does
//! not list the admin client's connection flags; the administration commands take them before or
//! after their name, or from the environment; role values are listed where a role is taken.

mod common;
use common::*;
use std::process::{Command, Output, Stdio};

fn smartlic(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("SMARTLIC_SERVER")
        .env_remove("SMARTLIC_CA")
        .env_remove("SMARTLIC_API_KEY")
        .stdin(Stdio::null())
        .output()
        .expect("run smartlic")
}

fn help(args: &[&str]) -> String {
    let mut argv = args.to_vec();
    argv.push("--help");
    let out = smartlic(&argv);
    assert!(
        out.status.success(),
        "smartlic {argv:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const CONNECTION_FLAGS: [&str; 3] = ["--api-key", "--server <", "--ca <"];

#[test]
fn only_admin_commands_list_the_connection_flags() {
    for cmd in ["server", "node", "cli", "demo"] {
        let text = help(&[cmd]);
        assert!(text.contains("Usage: smartlic"), "{cmd}: {text}");
        for flag in CONNECTION_FLAGS {
            assert!(!text.contains(flag), "`smartlic {cmd} --help` lists {flag}:\n{text}");
        }
    }
    for cmd in [
        &["account", "list"][..],
        &["user", "create"],
        &["bench", "fleet"],
        &["usage"],
    ] {
        let text = help(cmd);
        for flag in CONNECTION_FLAGS {
            assert!(text.contains(flag), "`smartlic {cmd:?} --help` lacks {flag}:\n{text}");
        }
    }
    // The top level lists them as well (they may come before the subcommand), but no
    // administration command takes its description from them.
    let top = help(&[]);
    assert!(top.contains("--api-key"), "{top}");
    let account = top
        .lines()
        .find(|l| l.trim_start().starts_with("account "))
        .unwrap_or_default();
    assert!(account.contains("Smart Accounts"), "{top}");
}

#[test]
fn role_values_are_listed_and_checked() {
    let text = help(&["user", "create"]);
    assert!(
        text.contains("[possible values: sa-admin, sa-user, va-admin, va-user]"),
        "{text}"
    );
    let out = smartlic(&["user", "create", "--account", "A", "a@x", "--role", "boss"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid value 'boss' for '--role <ROLE>'"), "{err}");
    assert!(err.contains("sa-admin, sa-user, va-admin, va-user"), "{err}");
}

#[test]
fn connection_flags_are_refused_where_no_manager_is_called() {
    let out = smartlic(&["--api-key", "k", "cli", "--data-dir", "/nonexistent"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--server, --ca and --api-key are options of the administration commands"),
        "{err}"
    );
    // After the subcommand they are unknown arguments.
    let out = smartlic(&["node", "--data-dir", "/nonexistent", "--ca", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unexpected argument '--ca'"));
}

#[test]
fn admin_commands_take_the_connection_anywhere_or_from_the_environment() {
    let w = World::with_acme();
    let s = w.server.clone().expect("a server");
    let ca = s.ca.to_string_lossy().into_owned();
    let listed = |out: Output| {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("Acme"));
    };
    // After the command's name.
    listed(smartlic(&[
        "account",
        "list",
        "--server",
        &s.url,
        "--ca",
        &ca,
        "--api-key",
        &s.api_key,
    ]));
    // Split around it; the value after the name wins.
    listed(smartlic(&[
        "--server",
        &s.url,
        "--api-key",
        "wrong",
        "account",
        "--ca",
        &ca,
        "list",
        "--api-key",
        &s.api_key,
    ]));
    // From the environment only; a flag overrides it.
    let from_env = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env("SMARTLIC_SERVER", &s.url)
            .env("SMARTLIC_CA", &ca)
            .env("SMARTLIC_API_KEY", &s.api_key)
            .stdin(Stdio::null())
            .output()
            .expect("run smartlic")
    };
    listed(from_env(&["account", "list"]));
    let out = from_env(&["account", "list", "--api-key", "wrong"]);
    assert!(!out.status.success());
}
