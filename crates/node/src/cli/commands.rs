//! The node's command table, as data: every command of docs/interface.md §3 and §5, the modes
//! it is valid in, its pattern and its help texts.
//!
//! Argument names (read them with [`Parsed::arg`](super::Parsed::arg) /
//! [`Parsed::number`](super::Parsed::number)) and keywords (test them with
//! [`Parsed::has`](super::Parsed::has)) are listed on each [`CommandId`].

use std::sync::OnceLock;

use super::grammar::{CommandSpec, Grammar};
use super::mode::ModeKind;

/// Declares [`CommandId`] and [`CommandId::ALL`] from one list, so that the list of every id
/// cannot drift from the enum.
macro_rules! command_ids {
    ($($(#[$doc:meta])* $id:ident,)*) => {
        /// What a parsed line asks the node to do.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum CommandId {
            $($(#[$doc])* $id,)*
        }

        impl CommandId {
            /// Every command id, in declaration order.
            pub const ALL: &'static [CommandId] = &[$(CommandId::$id,)*];
        }
    };
}

command_ids! {
    // ----- mode changes, every mode -----
    /// Exec: `configure` (alias `config`): enter Config mode.
    Configure,
    /// Config modes: `end`: back to Exec mode.
    End,
    /// Any mode: `exit`: up one mode ([`Mode::parent`](super::Mode::parent)); in Exec, end the
    /// session.
    Exit,

    // ----- Exec: Smart Agent -----
    /// `license smart register idtoken <token>`.
    LicenseSmartRegister,
    /// `license smart renew id`.
    LicenseSmartRenewId,
    /// `license smart renew auth`.
    LicenseSmartRenewAuth,
    /// `license smart deregister`.
    LicenseSmartDeregister,
    /// `crypto pki trustpool import file <path>`.
    CryptoPkiTrustpoolImport,
    /// `card switchover [from <slot>]`: VPC-DI control-function switchover.
    CardSwitchover,
    /// `license smart reservation request local`: print a reservation request code.
    LicenseSmartReservationRequest,
    /// `license smart reservation cancel`: drop the pending reservation request.
    LicenseSmartReservationCancel,
    /// `license smart reservation install {file <path> | <code>}`; keyword `file`.
    LicenseSmartReservationInstall,
    /// `license smart reservation return local`: drop the reservation, print the return code.
    LicenseSmartReservationReturn,

    // ----- Exec: calls and bulkstats -----
    /// `calls connect <service> <count>`; service is one of `pgw saegw ggsn sgw mme epdg samog`.
    CallsConnect,
    /// `calls disconnect <service> <count>`.
    CallsDisconnect,
    /// `bulkstats force transfer`.
    BulkstatsForceTransfer,

    // ----- Exec: show (all accept `| grep` / `| more`) -----
    /// `show license all`.
    ShowLicenseAll,
    /// `show license enforcement policy`.
    ShowLicenseEnforcementPolicy,
    /// `show license enforcement status [allowed|blocked] [feature|service]`; keywords
    /// `allowed`, `blocked`, `feature`, `service`.
    ShowLicenseEnforcementStatus,
    /// `show license eval-period`.
    ShowLicenseEvalPeriod,
    /// `show license smart-tags [feature|service]`; keywords `feature`, `service`.
    ShowLicenseSmartTags,
    /// `show license statistics`.
    ShowLicenseStatistics,
    /// `show license status`.
    ShowLicenseStatus,
    /// `show license summary`.
    ShowLicenseSummary,
    /// `show license tech-support`.
    ShowLicenseTechSupport,
    /// `show license udi`.
    ShowLicenseUdi,
    /// `show license usage`.
    ShowLicenseUsage,
    /// `show license information`: the legacy licence key.
    ShowLicenseInformation,
    /// `show license history`: installs and removals of legacy keys.
    ShowLicenseHistory,
    /// `show license reservation`.
    ShowLicenseReservation,
    /// `show configuration`.
    ShowConfiguration,
    /// `show crypto pki trustpool`.
    ShowCryptoPkiTrustpool,
    /// `show snmp trap history`.
    ShowSnmpTrapHistory,
    /// `show bulkstats`.
    ShowBulkstats,
    /// `show bulkstats variables smartlic`.
    ShowBulkstatsVariablesSmartlic,

    // ----- Config -----
    /// `license smart enable`.
    LicenseSmartEnable,
    /// `no license smart enable`.
    NoLicenseSmartEnable,
    /// `license smart url <url>`.
    LicenseSmartUrl,
    /// `no license smart url`: back to no URL (not in the contract; an operator expects it).
    NoLicenseSmartUrl,
    /// `license smart reservation`: enable licence reservation.
    LicenseSmartReservation,
    /// `no license smart reservation`: disable it (refused while one is installed).
    NoLicenseSmartReservation,
    /// `feature <sku>`.
    Feature,
    /// `no feature <sku>`.
    NoFeature,
    /// `license key <key>`: install a legacy licence key (quoted).
    LicenseKey,
    /// `no license key`: remove the legacy licence key.
    NoLicenseKey,
    /// `snmp target <name> <ip> [port <port>] [community <community>]`.
    SnmpTarget,
    /// `no snmp target <name>` (not in the contract; an operator expects it).
    NoSnmpTarget,
    /// `bulkstats mode`: enter the bulkstats submode.
    BulkstatsMode,

    // ----- bulkstats submode -----
    /// `sample-interval <minutes>` (1-1440).
    SampleInterval,
    /// `transfer-interval <minutes>` (1-999999).
    TransferInterval,
    /// `file <n>` (1-4): enter the file submode.
    File,

    // ----- bulkstats file submode -----
    /// `receiver local-directory <dir>`.
    ReceiverLocalDirectory,
    /// `smartlic schema <name> format <format>`.
    SmartlicSchema,
    /// `no smartlic schema <name>` (not in the contract; an operator expects it).
    NoSmartlicSchema,
}

impl CommandId {
    /// The id's name, e.g. `ShowLicenseStatus` (for logs).
    pub fn name(self) -> String {
        format!("{self:?}")
    }
}

const EXEC: &[ModeKind] = &[ModeKind::Exec];
const CONFIG: &[ModeKind] = &[ModeKind::Config];
const BULKSTATS: &[ModeKind] = &[ModeKind::Bulkstats];
const BULKSTATS_FILE: &[ModeKind] = &[ModeKind::BulkstatsFile];
const ALL_MODES: &[ModeKind] = &[
    ModeKind::Exec,
    ModeKind::Config,
    ModeKind::Bulkstats,
    ModeKind::BulkstatsFile,
];

const fn spec(
    id: CommandId,
    modes: &'static [ModeKind],
    pattern: &'static str,
    help: &'static [(&'static str, &'static str)],
) -> CommandSpec {
    CommandSpec {
        id,
        modes,
        pattern,
        help,
        pipe: false,
        hidden: false,
        doable: false,
    }
}

/// An Exec command that configuration modes may also run with `do`.
const fn exec(id: CommandId, pattern: &'static str) -> CommandSpec {
    CommandSpec {
        doable: true,
        ..spec(id, EXEC, pattern, &[])
    }
}

/// An Exec show command: output filters allowed, `do` allowed.
const fn show(id: CommandId, pattern: &'static str) -> CommandSpec {
    CommandSpec {
        pipe: true,
        ..exec(id, pattern)
    }
}

/// Every command of the node.
pub static COMMANDS: &[CommandSpec] = &[
    // Mode changes.
    spec(CommandId::Configure, EXEC, "configure", &[]),
    CommandSpec {
        hidden: true,
        ..spec(CommandId::Configure, EXEC, "config", &[])
    },
    spec(CommandId::End, ModeKind::CONFIG_ALL, "end", &[]),
    spec(CommandId::Exit, ALL_MODES, "exit", &[]),
    // Exec: Smart Agent.
    exec(
        CommandId::LicenseSmartRegister,
        "license smart register idtoken <token:WORD>",
    ),
    exec(CommandId::LicenseSmartRenewId, "license smart renew id"),
    exec(CommandId::LicenseSmartRenewAuth, "license smart renew auth"),
    exec(CommandId::LicenseSmartDeregister, "license smart deregister"),
    exec(CommandId::CardSwitchover, "card switchover [from <slot:1-2>]"),
    exec(
        CommandId::LicenseSmartReservationRequest,
        "license smart reservation request local",
    ),
    exec(
        CommandId::LicenseSmartReservationCancel,
        "license smart reservation cancel",
    ),
    exec(
        CommandId::LicenseSmartReservationInstall,
        "license smart reservation install { file <path:STRING> | <code:STRING> }",
    ),
    exec(
        CommandId::LicenseSmartReservationReturn,
        "license smart reservation return local",
    ),
    exec(
        CommandId::CryptoPkiTrustpoolImport,
        "crypto pki trustpool import file <path:STRING>",
    ),
    // Exec: calls and bulkstats.
    exec(
        CommandId::CallsConnect,
        "calls connect <service:pgw|saegw|ggsn|sgw|mme|epdg|samog> <count:NUMBER>",
    ),
    exec(
        CommandId::CallsDisconnect,
        "calls disconnect <service:pgw|saegw|ggsn|sgw|mme|epdg|samog> <count:NUMBER>",
    ),
    exec(CommandId::BulkstatsForceTransfer, "bulkstats force transfer"),
    // Exec: show.
    show(CommandId::ShowLicenseAll, "show license all"),
    show(
        CommandId::ShowLicenseEnforcementPolicy,
        "show license enforcement policy",
    ),
    show(
        CommandId::ShowLicenseEnforcementStatus,
        "show license enforcement status [allowed|blocked] [feature|service]",
    ),
    show(CommandId::ShowLicenseEvalPeriod, "show license eval-period"),
    show(CommandId::ShowLicenseHistory, "show license history"),
    show(CommandId::ShowLicenseInformation, "show license information"),
    show(CommandId::ShowLicenseReservation, "show license reservation"),
    show(
        CommandId::ShowLicenseSmartTags,
        "show license smart-tags [feature|service]",
    ),
    show(CommandId::ShowLicenseStatistics, "show license statistics"),
    show(CommandId::ShowLicenseStatus, "show license status(stat)"),
    show(CommandId::ShowLicenseSummary, "show license summary"),
    show(CommandId::ShowLicenseTechSupport, "show license tech-support"),
    show(CommandId::ShowLicenseUdi, "show license udi"),
    show(CommandId::ShowLicenseUsage, "show license usage"),
    show(CommandId::ShowConfiguration, "show configuration"),
    show(CommandId::ShowCryptoPkiTrustpool, "show crypto pki trustpool"),
    show(CommandId::ShowSnmpTrapHistory, "show snmp trap history"),
    show(CommandId::ShowBulkstats, "show bulkstats"),
    show(
        CommandId::ShowBulkstatsVariablesSmartlic,
        "show bulkstats variables smartlic",
    ),
    // Config.
    spec(CommandId::LicenseSmartEnable, CONFIG, "license smart enable", &[]),
    spec(CommandId::NoLicenseSmartEnable, CONFIG, "no license smart enable", &[]),
    spec(CommandId::LicenseSmartUrl, CONFIG, "license smart url <url:WORD>", &[]),
    spec(CommandId::NoLicenseSmartUrl, CONFIG, "no license smart url", &[]),
    spec(
        CommandId::LicenseSmartReservation,
        CONFIG,
        "license smart reservation",
        &[],
    ),
    spec(
        CommandId::NoLicenseSmartReservation,
        CONFIG,
        "no license smart reservation",
        &[],
    ),
    spec(CommandId::Feature, CONFIG, "feature <sku:WORD>", &[]),
    spec(CommandId::NoFeature, CONFIG, "no feature <sku:WORD>", &[]),
    spec(CommandId::LicenseKey, CONFIG, "license key <key:STRING>", &[]),
    spec(CommandId::NoLicenseKey, CONFIG, "no license key", &[]),
    spec(
        CommandId::SnmpTarget,
        CONFIG,
        "snmp target <name:WORD> <ip:IPV4> [port <port:1-65535>] [community <community:STRING>]",
        &[],
    ),
    spec(CommandId::NoSnmpTarget, CONFIG, "no snmp target <name:WORD>", &[]),
    spec(CommandId::BulkstatsMode, CONFIG, "bulkstats mode", &[]),
    // Bulkstats submode.
    spec(
        CommandId::SampleInterval,
        BULKSTATS,
        "sample-interval <minutes:1-1440>",
        &[("<minutes>", "Minutes between samples, 1 to 1440")],
    ),
    spec(
        CommandId::TransferInterval,
        BULKSTATS,
        "transfer-interval <minutes:1-999999>",
        &[("<minutes>", "Minutes between file transfers, 1 to 999999")],
    ),
    spec(CommandId::File, BULKSTATS, "file <n:1-4>", &[]),
    // Bulkstats file submode.
    spec(
        CommandId::ReceiverLocalDirectory,
        BULKSTATS_FILE,
        "receiver local-directory <dir:STRING>",
        &[],
    ),
    spec(
        CommandId::SmartlicSchema,
        BULKSTATS_FILE,
        "smartlic schema <name:WORD> format <format:STRING>",
        &[],
    ),
    spec(
        CommandId::NoSmartlicSchema,
        BULKSTATS_FILE,
        "no smartlic schema <name:WORD>",
        &[],
    ),
];

/// Help texts shared by the table: keys are keyword paths (the longest one that ends with the
/// keyword wins), `<param>` names and choice words.
pub static COMMON_HELP: &[(&str, &str)] = &[
    // First words.
    ("configure", "Enter the global configuration mode"),
    ("end", "Return to Exec mode"),
    ("exit", "Leave the current mode (in Exec mode, end the CLI session)"),
    ("do", "Run an Exec mode command from a configuration mode"),
    ("license", "Configure and manage Smart Licensing"),
    ("crypto", "Manage cryptographic material"),
    ("card", "Cards (VPC-DI: control and service function VMs)"),
    ("switchover", "Make the standby control function active (VPC-DI)"),
    ("from", "The slot of the active control function"),
    ("<slot>", "Control function slot, 1 or 2"),
    ("calls", "Simulate subscriber sessions"),
    ("bulkstats", "Bulk statistics"),
    ("show", "Display information about the system"),
    ("no", "Negate a command or set it to its default"),
    ("feature", "Turn on an on/off feature license"),
    ("snmp", "SNMP trap receivers"),
    ("sample-interval", "How often bulk statistics are sampled"),
    ("transfer-interval", "How often bulk statistics files are written"),
    ("file", "Configure a bulk statistics file"),
    ("receiver", "Where the bulk statistics file is delivered"),
    ("smartlic", "Smart Licensing bulk statistics schemas"),
    // license smart ...
    ("smart", "Smart Licensing"),
    ("register", "Register this product instance with the license manager"),
    ("idtoken", "Register with a Product Instance Registration token"),
    ("<token>", "The Product Instance Registration token"),
    ("renew", "Renew now instead of waiting for the automatic renewal"),
    ("renew id", "Renew the ID certificate"),
    ("renew auth", "Renew the license authorization and report usage"),
    (
        "deregister",
        "Deregister this product instance and release its licenses",
    ),
    ("enable", "Enable Smart Licensing"),
    ("url", "Where the Smart Agent reaches the license manager"),
    ("smart url", "Where the Smart Agent reaches the license manager"),
    ("<url>", "The license manager URL, e.g. https://cssm.example:8443"),
    ("no license", "Disable Smart Licensing settings"),
    ("no license smart enable", "Disable Smart Licensing"),
    ("no license smart url", "Remove the license manager URL"),
    (
        "reservation",
        "Licence reservation (SLR/PLR) for a product that never reaches a license manager",
    ),
    ("no license smart reservation", "Disable licence reservation"),
    ("reservation request", "Make a reservation request code"),
    (
        "request local",
        "Print the request code here, to take to the license manager",
    ),
    ("reservation cancel", "Drop the pending reservation request"),
    ("reservation install", "Install a reservation authorization code"),
    (
        "install file",
        "Read the authorization code from a file (its first non-empty line)",
    ),
    ("<code>", "The authorization code (AU1...), in double quotes"),
    ("reservation return", "Return the installed reservation"),
    (
        "return local",
        "Print the return code here, to take to the license manager",
    ),
    ("no feature", "Turn off an on/off feature license"),
    ("license key", "Install a legacy licence key (in double quotes)"),
    ("<key>", "The licence key from the license manager, in double quotes"),
    ("no license key", "Remove the legacy licence key"),
    ("<sku>", "The feature's SKU, e.g. ASR5K-00-GN01REC"),
    ("no snmp", "Remove an SNMP trap receiver"),
    ("no smartlic", "Remove a Smart Licensing bulk statistics schema"),
    // crypto pki trustpool import file
    ("pki", "Public key infrastructure"),
    ("trustpool", "The trust pool of CA certificates the Smart Agent trusts"),
    ("import", "Add certificates to the trust pool"),
    ("import file", "Add the PEM certificates in a file"),
    ("<path>", "Path of a PEM file"),
    // calls
    ("connect", "Try to admit new sessions of a service"),
    ("disconnect", "Release sessions of a service"),
    ("<count>", "Number of sessions"),
    ("pgw", "P-GW sessions"),
    ("saegw", "SAEGW sessions"),
    ("ggsn", "GGSN sessions"),
    ("sgw", "S-GW sessions"),
    ("mme", "MME sessions"),
    ("epdg", "ePDG sessions"),
    ("samog", "SaMOG sessions"),
    // bulkstats
    ("bulkstats mode", "Enter the bulk statistics configuration mode"),
    ("force", "Do it now"),
    ("force transfer", "Write the pending bulk statistics files now"),
    ("<n>", "File number, 1 to 4"),
    ("local-directory", "Write the files into a local directory"),
    ("<dir>", "The directory"),
    ("schema", "A bulk statistics schema"),
    ("<name>", "A name"),
    ("format", "The schema's format"),
    (
        "<format>",
        "Format string with %variable% names; quote it if it has spaces",
    ),
    // snmp target
    ("target", "An SNMPv2c trap receiver"),
    ("<ip>", "The receiver's IPv4 address"),
    ("port", "UDP port (default 162)"),
    ("<port>", "UDP port, 1 to 65535"),
    ("community", "SNMP community (default public)"),
    ("<community>", "The community string"),
    // show
    ("show license", "Smart Licensing information"),
    (
        "show license all",
        "Everything: status, usage, UDI and the agent version",
    ),
    ("show license enforcement", "Enforcement of Smart Licenses in use"),
    ("enforcement policy", "The enforcement policy of each license"),
    ("enforcement status", "The current enforcement status of each license"),
    ("allowed", "Only licenses whose new calls are allowed"),
    ("blocked", "Only licenses whose new calls are blocked"),
    ("show license eval-period", "The evaluation period"),
    (
        "show license information",
        "The legacy licence key and what it licenses",
    ),
    ("show license history", "Installs and removals of legacy licence keys"),
    ("show license reservation", "The licence reservation and its status"),
    (
        "show license smart-tags",
        "Supported features and services and their entitlement tags",
    ),
    ("smart-tags feature", "Only feature licenses"),
    ("status feature", "Only feature licenses"),
    ("allowed feature", "Only feature licenses"),
    ("blocked feature", "Only feature licenses"),
    ("service", "Only service (counting) licenses"),
    ("show license statistics", "Counters per mode and license"),
    ("show license status", "Overall Smart Licensing status"),
    ("show license summary", "Summary of Smart Licensing status"),
    ("show license tech-support", "Information for debugging Smart Licensing"),
    ("show license udi", "The Unique Device Identifier"),
    ("show license usage", "Usage of the entitlements in use"),
    ("show configuration", "The running configuration"),
    ("show crypto", "Cryptographic material"),
    ("show crypto pki", "Public key infrastructure"),
    ("show crypto pki trustpool", "The certificates in the trust pool"),
    ("show snmp", "SNMP information"),
    ("show snmp trap", "SNMP traps"),
    ("trap history", "The traps sent, newest last"),
    ("show bulkstats", "Bulk statistics status"),
    ("variables", "Bulk statistics variables"),
    ("variables smartlic", "The Smart Licensing schema variables"),
];

impl Grammar {
    /// The node's grammar ([`COMMANDS`] with [`COMMON_HELP`]), compiled once.
    pub fn standard() -> &'static Grammar {
        static GRAMMAR: OnceLock<Grammar> = OnceLock::new();
        GRAMMAR.get_or_init(|| {
            Grammar::new(COMMANDS, COMMON_HELP)
                // The table is a constant checked by the tests; this cannot fail at run time.
                .expect("the built-in command table is valid")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seven service tags of the seed, in its order.
    const SERVICE: &str = "<service:pgw|saegw|ggsn|sgw|mme|epdg|samog>";

    #[test]
    fn the_table_compiles() {
        Grammar::new(COMMANDS, COMMON_HELP).expect("valid table");
    }

    #[test]
    fn calls_patterns_use_the_service_list() {
        for id in [CommandId::CallsConnect, CommandId::CallsDisconnect] {
            let spec = COMMANDS.iter().find(|s| s.id == id).expect("in table");
            assert!(spec.pattern.contains(SERVICE), "{}", spec.pattern);
        }
    }

    #[test]
    fn every_id_has_a_command() {
        for id in CommandId::ALL {
            assert!(COMMANDS.iter().any(|s| s.id == *id), "{id:?}");
        }
    }
}
