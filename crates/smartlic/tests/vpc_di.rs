//! A VPC-DI is more than one UDI: two control functions and N service functions. The node shows
//! them, registers them with the manager, and a control-function switchover keeps the
//! registration.

mod common;
use common::*;

#[test]
fn a_vpc_di_shows_registers_and_switches_over_its_ha_udis() {
    let mut w = World::with_acme();
    let token = w.token("Acme", "DEFAULT", &[]);
    let args = ["--platform", "VPC-DI", "--sf-cards", "2", "--serial", "DI100"];
    let node = w.start_node_with("di1", &args);
    let udi = cli_ok(&node, "show license udi");
    assert!(udi.contains("UDI: PID:VPC-DI,SN:DI100"), "{udi}");
    for line in [
        "HA UDI List:",
        "Active:PID:VPC-DI,SN:DI100-CF1",
        "Standby:PID:VPC-DI,SN:DI100-CF2",
        "Member:PID:VPC-DI,SN:DI100-SF3",
        "Member:PID:VPC-DI,SN:DI100-SF4",
    ] {
        assert!(udi.contains(line), "{line} missing:\n{udi}");
    }

    // The registration carries the list; the manager shows it with the instance.
    w.prepare_node(&node);
    cli_ok(&node, &idtoken(&token));
    let list = w.admin_ok(&["instance", "list", "--account", "Acme", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&list).expect("json");
    let ha = v[0]["ha_udis"].as_array().expect("ha_udis");
    assert_eq!(ha.len(), 4, "{list}");
    assert_eq!(ha[0], "Active:PID:VPC-DI,SN:DI100-CF1");

    // Switchover: only from the active card; the registration stays.
    let (out, ok) = cli(&node, &["card switchover from 2"]);
    assert!(!ok && out.contains("not the active"), "{out}");
    cli_ok(&node, "card switchover from 1");
    let udi = cli_ok(&node, "show license udi");
    assert!(udi.contains("Active:PID:VPC-DI,SN:DI100-CF2"), "{udi}");
    assert!(udi.contains("Standby:PID:VPC-DI,SN:DI100-CF1"), "{udi}");
    assert!(cli_ok(&node, "show license status").contains("REGISTERED"));
    // It survives a restart.
    w.kill("di1");
    let node = w.start_node_with("di1", &args);
    assert!(cli_ok(&node, "show license udi").contains("Active:PID:VPC-DI,SN:DI100-CF2"));
    assert!(cli_ok(&node, "show license status").contains("REGISTERED"));

    // A single-chassis platform has no list and no switchover.
    let asr = w.start_node_with("asr1", &["--serial", "ASR1"]);
    let udi = cli_ok(&asr, "show license udi");
    assert!(!udi.contains("HA UDI List"), "{udi}");
    let (out, ok) = cli(&asr, &["card switchover"]);
    assert!(!ok && out.contains("VPC-DI only"), "{out}");
}
