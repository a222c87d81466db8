//! Background services of the node that follow the Smart Agent: SNMP traps and bulk statistics.
//! (Filled in by the SNMP/bulkstats work, issue 4.)

use crate::node::Node;
use std::sync::Arc;

/// State of the node's background services.
#[derive(Debug, Default)]
pub struct Services {}

/// Starts the background services of a node.
pub fn start(_node: &Arc<Node>) {}

/// `show snmp trap history`.
pub fn trap_history(_node: &Node) -> String {
    "No traps sent\n".into()
}

/// `bulkstats force transfer`.
pub fn force_transfer(_node: &Node) -> Result<String, String> {
    Err("bulk statistics are not available yet".into())
}

/// `show bulkstats`.
pub fn show_bulkstats(_node: &Node) -> String {
    String::new()
}

/// `show bulkstats variables smartlic`.
pub fn show_variables() -> String {
    String::new()
}

/// Checks a `smartlic schema` format string.
pub fn validate_format(_format: &str) -> Result<(), String> {
    Ok(())
}
