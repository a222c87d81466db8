//! One clock jump across both the authorization deadline (90 days) and the ID certificate's
//! expiry (365 days) passes through AUTHORIZATION EXPIRED before REGISTRATION EXPIRED, in order,
//! as a clock running normally would.

mod common;
use common::*;

#[test]
fn one_jump_expires_the_authorization_then_the_registration() {
    let mut w = World::with_acme();
    let token = w.token("Acme", "DEFAULT", &[]);
    let node = w.registered_node("jump1", &token);
    assert!(cli_ok(&node, "show license status").contains("AUTHORIZED"));

    w.kill("manager");
    w.advance_days(400);
    wait_shows(&node, "show license status", "REGISTRATION EXPIRED", 15);
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
