//! One clock jump across both the authorization deadline (90 days) and the ID certificate's
//! expiry (365 days) passes through AUTHORIZATION EXPIRED before REGISTRATION EXPIRED, in order,
//! as a clock running normally would.

mod common;
use common::*;

#[test]
fn one_jump_expires_the_authorization_then_the_registration() {
    let mut w = World::new();
    w.start_server();
    w.admin_ok(&["account", "create", "Acme", "--domain", "acme.example"]);
    let token = w.token("Acme", "DEFAULT", &[]);
    let node = w.start_node("jump1");
    w.prepare_node(&node);
    cli_ok(&node, &format!("license smart register idtoken {token}"));
    assert!(cli_ok(&node, "show license status").contains("AUTHORIZED"));

    w.kill("manager");
    w.advance_days(400);
    wait_for(15, "REGISTRATION EXPIRED", || {
        cli_ok(&node, "show license status")
            .contains("REGISTRATION EXPIRED")
            .then_some(())
    });
    let history = cli_ok(&node, "show snmp trap history");
    let line_of = |name: &str| {
        history
            .lines()
            .position(|l| l.split_whitespace().any(|word| word == name))
            .unwrap_or_else(|| panic!("{name} missing:\n{history}"))
    };
    assert!(
        line_of("starSmartLicAuthorizationExpired") < line_of("starSmartLicRegistrationExpired"),
        "authorization must expire first:\n{history}"
    );
}
