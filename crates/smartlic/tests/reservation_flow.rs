//! Licence reservation end to end (docs/interface.md §6): a real node prints the request code, a
//! real manager answers it through the admin CLI, the node installs the answer and then lives
//! without its manager; the return code gives the licences back.

mod common;

use common::*;

const PGW: &str = "ASR5K-00-PW10GTWY";

/// Acme allowed `policy` reservations, with `pgw` PGW licences in DEFAULT.
fn acme_reserving(policy: &str, pgw: u32) -> World {
    let w = World::with_acme();
    w.admin_ok(&["account", "set", "Acme", "--reservation", policy]);
    w.deposit("Acme", "DEFAULT", PGW, pgw);
    w
}

/// A node that trusts the manager and has reservation enabled (it is never registered).
fn reserving_node(w: &mut World, name: &str) -> Node {
    let node = w.start_node(name);
    w.prepare_node(&node);
    let (out, ok) = cli(&node, &["configure", "license smart reservation", "end"]);
    assert!(ok, "{out}");
    node
}

/// The one line a command printed (a code).
fn one_line(out: &str) -> String {
    let lines: Vec<&str> = out.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line:\n{out}");
    lines[0].to_string()
}

fn request_code(node: &Node) -> String {
    let code = one_line(&cli_ok(node, "license smart reservation request local"));
    assert!(code.starts_with("RQ1."), "{code}");
    assert!(!code.contains(' '), "{code}");
    code
}

/// Runs `reservation create` in Acme's DEFAULT for `what` (`--license SKU=N`… or `--universal`).
fn create(w: &World, request: &str, what: &[&str]) -> std::process::Output {
    w.admin(&reservation_create_args("Acme", "DEFAULT", request, what))
}

/// `reservation create` that must succeed: the authorization code.
fn reserve(w: &World, request: &str, what: &[&str]) -> String {
    let out = create(w, request, what);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let code = one_line(&String::from_utf8_lossy(&out.stdout));
    assert!(code.starts_with("AU1."), "{code}");
    code
}

/// `--license PGW=N`.
fn pgw(n: u32) -> [String; 2] {
    ["--license".into(), format!("{PGW}={n}")]
}

fn args(a: &[String; 2]) -> [&str; 2] {
    [a[0].as_str(), a[1].as_str()]
}

fn install(node: &Node, code: &str) -> (String, bool) {
    cli(node, &[&format!("license smart reservation install \"{code}\"")])
}

/// (in use, balance) of a SKU in Acme's DEFAULT.
fn in_use(w: &World, sku: &str) -> (i64, i64) {
    let rows = licence_rows(&w.licences_json("Acme", "DEFAULT"));
    let row = rows.iter().find(|r| r["sku"] == sku).expect("the SKU listed");
    (
        row["in_use"].as_i64().expect("in_use"),
        row["balance"].as_i64().expect("balance"),
    )
}

fn reservations(w: &World) -> Vec<serde_json::Value> {
    let text = w.admin_ok(&["reservation", "list", "--account", "Acme", "--json"]);
    serde_json::from_str(&text).expect("reservation list --json")
}

fn assert_refused(out: &std::process::Output, words: &str) {
    assert!(!out.status.success(), "should be refused");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains(words), "expected `{words}` in: {err}");
}

#[test]
fn a_specific_reservation_lives_without_its_manager_and_returns_once() {
    let mut w = acme_reserving("specific", 5);
    let node = reserving_node(&mut w, "gw1");
    let request = request_code(&node);
    // Asking again while the request is pending gives the same code.
    assert_eq!(request_code(&node), request);

    let auth = reserve(&w, &request, &args(&pgw(2)));
    assert_eq!(in_use(&w, PGW), (2, 3), "reserved licences are in use at once");
    let (out, ok) = install(&node, &auth);
    assert!(ok && out.contains("Reservation installed: SPECIFIC"), "{out}");
    let status = cli_ok(&node, "show license status");
    assert!(
        status.contains("Status: REGISTERED - SPECIFIC LICENSES RESERVED"),
        "{status}"
    );
    assert!(status.contains("Status: AUTHORIZED - RESERVED"), "{status}");
    let all = cli_ok(&node, "show license all");
    assert!(all.contains("License Reservation is ENABLED"), "{all}");
    assert!(all.contains("Reservation Info"), "{all}");
    // Installed once: the same code again is refused.
    let (out, ok) = install(&node, &auth);
    assert!(!ok && out.contains("Failure:"), "{out}");

    // Two reserved PGW licences carry 20,000 sessions; MME has none reserved.
    assert_eq!(admitted(&cli_ok(&node, "calls connect pgw 20001")), (20_000, 1));
    assert_eq!(admitted(&cli_ok(&node, "calls connect mme 1")), (0, 1));

    // 400 days with the manager stopped and a kill -9: still reserved, still admitting.
    let listen = w.server.as_ref().expect("server").listen.clone();
    w.kill("manager");
    w.advance_days(400);
    w.kill("gw1");
    let node = w.start_node("gw1");
    let status = cli_ok(&node, "show license status");
    assert!(status.contains("Status: AUTHORIZED - RESERVED"), "{status}");
    assert_eq!(admitted(&cli_ok(&node, "calls connect pgw 20001")), (20_000, 1));
    cli_ok(&node, "calls disconnect pgw 20000");

    // Return: the node prints its proof and is unregistered again; the manager releases.
    let ret = one_line(&cli_ok(&node, "license smart reservation return local"));
    assert!(ret.starts_with("RT1."), "{ret}");
    let status = cli_ok(&node, "show license status");
    assert!(status.contains("Status: UNREGISTERED"), "{status}");
    let (out, ok) = install(&node, &auth);
    assert!(
        !ok && out.contains("Failure:"),
        "a returned reservation is not installed again: {out}"
    );

    w.start_server_at(&listen, "manager", None);
    let id = reservations(&w)[0]["id"].as_str().expect("id").to_string();
    let out = w.admin_ok(&["reservation", "return", "--account", "Acme", "--return-code", &ret]);
    assert_eq!(out, format!("{id}: returned"));
    assert_eq!(in_use(&w, PGW), (0, 5));
    assert_eq!(reservations(&w)[0]["status"], "RETURNED");
    let again = w.admin(&["reservation", "return", "--account", "Acme", "--return-code", &ret]);
    assert_refused(&again, "returned already");
}

#[test]
fn a_universal_reservation_licenses_everything() {
    let mut w = acme_reserving("universal", 1);
    let node = reserving_node(&mut w, "plr");
    let auth = reserve(&w, &request_code(&node), &["--universal"]);
    assert_eq!(in_use(&w, PGW), (0, 1), "PLR takes no counted licences");
    let (out, ok) = install(&node, &auth);
    assert!(ok && out.contains("Reservation installed: UNIVERSAL"), "{out}");
    let status = cli_ok(&node, "show license status");
    assert!(
        status.contains("Status: REGISTERED - UNIVERSAL LICENSE RESERVED"),
        "{status}"
    );
    assert_eq!(admitted(&cli_ok(&node, "calls connect mme 50000")), (50_000, 0));
    assert_eq!(admitted(&cli_ok(&node, "calls connect pgw 30000")), (30_000, 0));
    let listed = reservations(&w);
    assert_eq!(listed[0]["kind"], "UNIVERSAL");
    assert_eq!(listed[0]["status"], "RESERVED");
}

#[test]
fn codes_for_another_node_altered_or_not_allowed_are_refused() {
    let mut w = acme_reserving("specific", 3);
    let a = reserving_node(&mut w, "a");
    let b = reserving_node(&mut w, "b");
    let request_a = request_code(&a);
    let _request_b = request_code(&b);

    // The account may not reserve universally; nor more than its balance.
    assert_refused(&create(&w, &request_a, &["--universal"]), "universal");
    assert_refused(&create(&w, &request_a, &args(&pgw(4))), PGW);
    assert_eq!(in_use(&w, PGW), (0, 3), "refusals change nothing");

    let auth_a = reserve(&w, &request_a, &args(&pgw(1)));
    // Node B did not ask for it: refused, B unchanged.
    let (out, ok) = install(&b, &auth_a);
    assert!(!ok && out.contains("Failure:"), "{out}");
    assert!(cli_ok(&b, "show license status").contains("Status: UNREGISTERED"));
    // One character changed in the middle: refused as damaged, A unchanged.
    let mid = auth_a.len() / 2;
    let swap = if &auth_a[mid..=mid] == "A" { "B" } else { "A" };
    let altered = format!("{}{swap}{}", &auth_a[..mid], &auth_a[mid + 1..]);
    let (out, ok) = install(&a, &altered);
    assert!(!ok && out.contains("Failure:"), "{out}");
    assert!(cli_ok(&a, "show license status").contains("Status: UNREGISTERED"));
    // The real one installs.
    let (out, ok) = install(&a, &auth_a);
    assert!(ok, "{out}");

    // A request code answered once is not answered again.
    assert!(!create(&w, &request_a, &args(&pgw(1))).status.success());

    // Another account cannot return Acme's reservation.
    w.account("Beta", "beta.example");
    let ret = one_line(&cli_ok(&a, "license smart reservation return local"));
    let foreign = w.admin(&["reservation", "return", "--account", "Beta", "--return-code", &ret]);
    assert!(!foreign.status.success());
    assert_eq!(in_use(&w, PGW), (1, 2), "still reserved until Acme's return");
}

#[test]
fn an_updated_reservation_is_confirmed_by_the_node() {
    let mut w = acme_reserving("specific", 5);
    let node = reserving_node(&mut w, "gw");
    let first = reserve(&w, &request_code(&node), &args(&pgw(1)));
    assert!(install(&node, &first).1);
    let id = reservations(&w)[0]["id"].as_str().expect("id").to_string();

    let update = ["reservation", "update", "--account", "Acme", "--id", &id];
    let second = one_line(&w.admin_ok(&[&update[..], &args(&pgw(3))].concat()));
    assert!(second.starts_with("AU1."), "{second}");
    assert_eq!(in_use(&w, PGW), (3, 2));
    let (out, ok) = install(&node, &second);
    assert!(ok, "{out}");
    let confirmation = field(&out, "Confirmation code").expect("a confirmation code");
    assert!(confirmation.starts_with("CF1."), "{confirmation}");
    assert_eq!(admitted(&cli_ok(&node, "calls connect pgw 30001")), (30_000, 1));

    let out = w.admin_ok(&[
        "reservation",
        "confirm",
        "--account",
        "Acme",
        "--confirmation-code",
        &confirmation,
    ]);
    assert_eq!(out, format!("{id}: confirmed (authorization 2)"));
    assert_eq!(reservations(&w)[0]["confirmed_seq"], 2);
}
