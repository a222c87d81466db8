//! The administration commands' flags: `smartlic account|va|license|token|instance|user|operator|legacy|
//! reservation|alert|event|usage|webhook …`
//! as clap types, and the connection flags shared with `bench fleet`.

use smartlic_protocol::admin::{ReservationPolicy, Role};
use std::path::PathBuf;

// Where the license manager is and how to reach it. Not global here: `main.rs` adds these flags
// to the top level and to each administration command and `bench fleet` (global below those),
// so that `server`, `node`, `cli` and `demo` neither take nor list them. (A `//` comment: a doc
// comment would become the description of every command the flags are added to.)
#[derive(clap::Args, Debug, Clone)]
pub struct Connection {
    /// License manager URL (`bench fleet` takes it more than once: managers on one database).
    #[arg(
        long = "server",
        env = "SMARTLIC_SERVER",
        default_value = "https://127.0.0.1:8443",
        action = clap::ArgAction::Append
    )]
    pub servers: Vec<String>,
    /// CA certificate (PEM) to trust for the manager: its `ca.pem`.
    #[arg(long, env = "SMARTLIC_CA")]
    pub ca: Option<PathBuf>,
    /// API key: the operator's (`admin.key`) or a user's.
    #[arg(long, env = "SMARTLIC_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

impl Connection {
    /// The ids of the connection flags (the field names).
    pub const IDS: [&'static str; 3] = ["servers", "ca", "api_key"];
}

/// Administration commands.
#[derive(clap::Subcommand, Debug)]
pub enum AdminCommand {
    /// Smart Accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Virtual accounts.
    #[command(subcommand)]
    Va(VaCommand),
    /// Purchased licenses: deposit, transfer, list.
    #[command(subcommand)]
    License(LicenseCommand),
    /// Product Instance Registration tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Registered product instances.
    #[command(subcommand)]
    Instance(InstanceCommand),
    /// Users of a Smart Account.
    #[command(subcommand)]
    User(UserCommand),
    /// The operator's own credentials.
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Legacy (PAK-style) licence keys bound to one chassis (operator only).
    #[command(subcommand)]
    Legacy(LegacyCommand),
    /// Licence reservations (SLR/PLR) for nodes that never reach the manager.
    #[command(subcommand)]
    Reservation(ReservationCommand),
    /// The current alerts of an account's virtual accounts.
    #[command(subcommand)]
    Alert(AlertCommand),
    /// The account's event log (who did what, when).
    #[command(subcommand)]
    Event(EventCommand),
    /// A virtual account's daily licences in use per SKU.
    Usage {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// Virtual account (name or id).
        #[arg(long)]
        va: String,
        /// Days back from today, today included (1-365; default 30).
        #[arg(long)]
        days: Option<u32>,
        /// One JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Alert webhooks: URLs the manager POSTs each new alert to, signed (SA administrators).
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Satellite managers: a satellite serves an isolated network and exchanges with its parent.
    #[command(subcommand)]
    Satellite(SatelliteCommand),
}

/// `smartlic satellite …` (docs/satellite.md): the parent's commands, then the satellite's.
#[derive(clap::Subcommand, Debug)]
pub enum SatelliteCommand {
    // The parent's commands (operator or SA administrator).
    /// Make a satellite of a virtual account; prints its token (one line, shown only this once)
    /// for `satellite link` on the satellite.
    Create {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// Virtual account whose licences the satellite serves.
        #[arg(long)]
        va: String,
        /// The satellite's name (unique in the account).
        name: String,
    },
    /// List an account's satellites: name, VA, last exchange, product instances, linked.
    List {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// One JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Answer a satellite's request file (from `satellite export`); writes the answer file for
    /// `satellite import` on the satellite.
    Answer {
        /// The request file.
        #[arg(long = "in", value_name = "REQUEST")]
        input: PathBuf,
        /// Where to write the answer file.
        #[arg(long = "out", value_name = "ANSWER")]
        output: PathBuf,
    },
    // The satellite's side (its operator): link, sync, export, import.
    /// Link this manager (the satellite) to its parent with the token `satellite create` printed
    /// there; with --parent, `satellite sync` exchanges over HTTPS.
    Link {
        /// The satellite token (ST1.…).
        #[arg(long)]
        token: String,
        /// The parent manager's URL (https://…).
        #[arg(long, requires = "parent_ca")]
        parent: Option<String>,
        /// The CA certificate (PEM) the parent's TLS certificate chains to (its ca.pem).
        #[arg(long, requires = "parent")]
        parent_ca: Option<PathBuf>,
    },
    /// One exchange with the parent over HTTPS, made by this manager; prints the result.
    Sync,
    /// Write the next request for the parent to a file (to carry to `satellite answer` there).
    Export {
        /// The request file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Import the parent's answer file: the VA's licences become the parent's.
    Import {
        /// The answer file (from `satellite answer` on the parent).
        #[arg(long = "in")]
        input: PathBuf,
    },
}

/// `smartlic alert …`
#[derive(clap::Subcommand, Debug)]
pub enum AlertCommand {
    /// List the alerts, most severe first.
    List(ListScope),
}

/// `smartlic event …`
#[derive(clap::Subcommand, Debug)]
pub enum EventCommand {
    /// List events, newest first. When more events match than were shown, the table ends with
    /// `Next page: --after ID`: run the same command with `--after ID` for the next page.
    #[command(group(clap::ArgGroup::new("format").args(["json", "csv"])))]
    List {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// Only events of this virtual account (name or id).
        #[arg(long)]
        va: Option<String>,
        /// Only actions starting with this, e.g. `token.` or `device.register`.
        #[arg(long)]
        action: Option<String>,
        /// Only this actor: `operator`, a user's e-mail, `device:<instance id>`.
        #[arg(long)]
        actor: Option<String>,
        /// From this day on (YYYY-MM-DD, UTC).
        #[arg(long)]
        since: Option<String>,
        /// Up to and including this day (YYYY-MM-DD, UTC).
        #[arg(long)]
        until: Option<String>,
        /// Only events older than this event id: the cursor printed at the end of the previous page.
        #[arg(long)]
        after: Option<i64>,
        /// Events per page (1-1000).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
        /// One JSON document (the page's events) instead of a table.
        #[arg(long)]
        json: bool,
        /// The manager's CSV export, unchanged (formula-like cells already start with `'`).
        #[arg(long)]
        csv: bool,
    },
}

/// `smartlic webhook …`
#[derive(clap::Subcommand, Debug)]
pub enum WebhookCommand {
    /// Add a webhook; prints its id and its signing secret (shown only this once).
    Add {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// `https://…` (or `http://` to a loopback address) the alerts are POSTed to.
        url: String,
    },
    /// List the webhooks (never their secrets).
    List {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// One JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove a webhook.
    Remove {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// Webhook id (from `webhook list`).
        id: String,
    },
}

/// `smartlic reservation …`
#[derive(clap::Subcommand, Debug)]
pub enum ReservationCommand {
    /// Reserve licences for the node whose request code is given; prints the authorization code
    /// (one line) for `license smart reservation install` on the node.
    #[command(group(clap::ArgGroup::new("what").required(true).args(["licenses", "universal"])))]
    Create {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// Virtual account whose licences are reserved.
        #[arg(long)]
        va: String,
        /// The node's request code (RQ1.…).
        #[arg(long)]
        request_code: String,
        /// SKU=N: reserve N licences of SKU (specific reservation); repeatable.
        #[arg(long = "license", value_parser = parse_license)]
        licenses: Vec<(String, u64)>,
        /// Reserve the universal licence (PLR) instead.
        #[arg(long, conflicts_with = "licenses")]
        universal: bool,
        /// The reservation ends on this date (YYYY-MM-DD); default: never.
        #[arg(long)]
        expires: Option<String>,
    },
    /// List an account's reservations.
    List {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// Only this virtual account.
        #[arg(long)]
        va: Option<String>,
        /// One JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Hand in a node's return code: prints `ID: returned`; the licences are released.
    Return {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// The node's return code (RT1.…).
        #[arg(long)]
        return_code: String,
    },
    /// Change a reservation's licences; prints the new authorization code (one line).
    #[command(group(clap::ArgGroup::new("what").required(true).args(["licenses", "universal"])))]
    Update {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// Reservation id.
        #[arg(long)]
        id: String,
        /// SKU=N: the reservation's new count of SKU; repeatable.
        #[arg(long = "license", value_parser = parse_license)]
        licenses: Vec<(String, u64)>,
        /// The universal licence (PLR) instead.
        #[arg(long, conflicts_with = "licenses")]
        universal: bool,
    },
    /// Hand in a node's confirmation code (it installed an updated authorization).
    Confirm {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// The node's confirmation code (CF1.…).
        #[arg(long)]
        confirmation_code: String,
    },
}

/// `NAME=N`: `what` names NAME in the message (`SKU`), `unit` the counted thing (`licences`).
fn parse_count(s: &str, what: &str, unit: &str) -> std::result::Result<(String, u64), String> {
    let (name, n) = s.split_once('=').ok_or_else(|| format!("{s:?} is not {what}=N"))?;
    let n: u64 = n
        .trim()
        .parse()
        .map_err(|_| format!("{n:?} is not a number of {unit}"))?;
    Ok((name.trim().to_string(), n))
}

fn parse_license(s: &str) -> std::result::Result<(String, u64), String> {
    parse_count(s, "SKU", "licences")
}

/// `smartlic legacy …`
#[derive(clap::Subcommand, Debug)]
pub enum LegacyCommand {
    /// Issue a licence key; prints it (one line) for `license key "KEY"` on the node.
    Issue {
        /// Chassis serial number.
        #[arg(long)]
        serial: String,
        /// ASR5500, VPC-SI or VPC-DI.
        #[arg(long)]
        platform: String,
        /// SERVICE=N: N sessions of a service (pgw saegw ggsn sgw mme epdg samog); repeatable.
        #[arg(long = "sessions", value_parser = parse_sessions)]
        sessions: Vec<(String, u64)>,
        /// An on/off feature SKU; repeatable.
        #[arg(long = "feature")]
        features: Vec<String>,
        /// Last day is the day before this date (YYYY-MM-DD); default: never expires.
        #[arg(long)]
        expires: Option<String>,
    },
}

fn parse_sessions(s: &str) -> std::result::Result<(String, u64), String> {
    parse_count(s, "SERVICE", "sessions")
}

/// `smartlic operator …`
#[derive(clap::Subcommand, Debug)]
pub enum OperatorCommand {
    /// Replace the operator API key used for this command by a new one; the old key stops at
    /// once. Prints the new key, or with --key-file writes it there (0600) instead.
    RotateKey {
        /// File to replace with the new key (e.g. the data directory's admin.key).
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
}

/// `smartlic account …`
#[derive(clap::Subcommand, Debug)]
pub enum AccountCommand {
    /// Create a Smart Account (with its virtual account DEFAULT); prints its id.
    Create {
        /// Account name.
        name: String,
        /// Account domain identifier, e.g. example.com.
        #[arg(long)]
        domain: String,
    },
    /// Set what the account allows (operator only): `--reservation none|specific|universal`
    /// (specific: SLR; universal: PLR and SLR); prints the account's new setting.
    Set {
        /// Smart Account (name or id).
        account: String,
        /// Which licence reservations the account may make.
        #[arg(long, value_parser = parse_reservation)]
        reservation: ReservationPolicy,
    },
    /// List the Smart Accounts you can see.
    List {
        /// One JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Smart Account requests (from the portal's "Request a Smart Account"; operator only).
    #[command(subcommand)]
    Request(RequestCommand),
}

/// `smartlic account request …`
#[derive(clap::Subcommand, Debug)]
pub enum RequestCommand {
    /// List the requests, newest first.
    List {
        /// Only pending requests.
        #[arg(long)]
        pending: bool,
        /// One JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Approve a pending request: creates the Smart Account (with DEFAULT) and its SA
    /// administrator; prints the account id and the administrator's API key (shown only once).
    Approve {
        /// Request id.
        id: String,
    },
    /// Reject a pending request.
    Reject {
        /// Request id.
        id: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
}

/// `smartlic va …`
#[derive(clap::Subcommand, Debug)]
pub enum VaCommand {
    /// Create a virtual account; prints its id.
    Create {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// Virtual account name.
        name: String,
        /// Free text.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List virtual accounts.
    List {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// One JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Rename a virtual account (names stay unique in the account; DEFAULT keeps its name).
    Rename {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// Virtual account (name or id).
        #[arg(long)]
        va: String,
        /// The new name.
        new_name: String,
    },
    /// Delete a virtual account; refused while it holds licenses, product instances,
    /// reservations, unexpired tokens or users (and always for DEFAULT).
    Delete {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// Virtual account (name or id).
        #[arg(long)]
        va: String,
    },
}

/// `smartlic license …`
#[derive(clap::Subcommand, Debug)]
pub enum LicenseCommand {
    /// Deposit purchased licenses into a virtual account.
    Deposit {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// Virtual account (name or id).
        #[arg(long)]
        va: String,
        /// SKU, e.g. ASR5K-00-PW10GTWY.
        #[arg(long)]
        sku: String,
        /// Number of licenses.
        #[arg(long)]
        quantity: u64,
        /// The licenses stop counting on this date (YYYY-MM-DD); default: perpetual.
        #[arg(long)]
        expires: Option<String>,
    },
    /// Move licenses between virtual accounts; refused if the source would go below zero available.
    Transfer {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// Source virtual account.
        #[arg(long)]
        from: String,
        /// Destination virtual account.
        #[arg(long)]
        to: String,
        /// SKU.
        #[arg(long)]
        sku: String,
        /// Number of licenses.
        #[arg(long)]
        quantity: u64,
    },
    /// Per SKU: purchased, in use, balance, status OK or INSUFFICIENT.
    List {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// Virtual account (name or id).
        #[arg(long)]
        va: String,
        /// One JSON document instead of a table.
        #[arg(long)]
        json: bool,
        /// The manager's CSV report, unchanged (text cells that look like formulas start with `'`).
        #[arg(long, conflicts_with = "json")]
        csv: bool,
    },
}

/// `--account A [--va V] [--json]`: what a list of tokens or instances covers, and how it prints.
#[derive(clap::Args, Debug)]
pub struct ListScope {
    /// Smart Account (name or id).
    #[arg(long)]
    pub account: String,
    /// Only this virtual account.
    #[arg(long)]
    pub va: Option<String>,
    /// One JSON document instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `smartlic token …`
#[derive(clap::Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a registration token; prints the token (shown only this once).
    Create {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// Virtual account (name or id).
        #[arg(long)]
        va: String,
        /// Days until it expires.
        #[arg(long, default_value_t = 30)]
        expires_days: u32,
        /// Maximum number of registrations (default: unlimited).
        #[arg(long)]
        max_uses: Option<u64>,
        /// Free text.
        #[arg(long, default_value = "")]
        description: String,
        /// Allow export-controlled functionality on products registered with it.
        #[arg(long)]
        export_controlled: bool,
    },
    /// List tokens (never their secrets).
    List(ListScope),
    /// Revoke a token at once.
    Revoke {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// Token id (from `token list`).
        token_id: String,
    },
}

/// `smartlic instance …`
#[derive(clap::Subcommand, Debug)]
pub enum InstanceCommand {
    /// List product instances: id, UDI, hostname, VA, last contact, status.
    List {
        /// Which instances, and JSON or a table.
        #[command(flatten)]
        scope: ListScope,
        /// The manager's CSV report, unchanged (text cells that look like formulas start with `'`).
        #[arg(long, conflicts_with = "json")]
        csv: bool,
    },
    /// Show one product instance with its license usage.
    Show {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// Instance id.
        instance_id: String,
        /// One JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Remove a product instance; its licenses are released.
    Remove {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// Instance id.
        instance_id: String,
    },
    /// Move a product instance into another virtual account of the account: its licenses in
    /// use leave the old VA and count in the new one at once (the node hears at its next renewal).
    Move {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// Instance id.
        instance_id: String,
        /// The virtual account to move it into (name or id).
        #[arg(long)]
        to_va: String,
    },
}

/// `smartlic user …`
#[derive(clap::Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user; prints the user's API key (shown only this once).
    Create {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// E-mail address.
        email: String,
        /// The user's role (a VA role needs --va).
        #[arg(long, ignore_case = true, value_parser = role_parser())]
        role: Role,
        /// Virtual account of a VA role.
        #[arg(long)]
        va: Option<String>,
        /// File holding the portal password (first line).
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// List users.
    List {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// One JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Disable a user: their API key and portal sessions stop at once.
    Disable {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// E-mail address or id.
        user: String,
    },
    /// Enable a disabled user again.
    Enable {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// E-mail address or id.
        user: String,
    },
    /// Remove a user.
    Remove {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// E-mail address or id.
        user: String,
    },
    /// Give a user a new API key (the old one stops at once); prints the new key.
    RotateKey {
        /// Smart Account (name or id).
        #[arg(long)]
        account: String,
        /// E-mail address or id.
        user: String,
    },
}

fn parse_reservation(s: &str) -> std::result::Result<ReservationPolicy, String> {
    s.parse()
}

/// The parser of a `--role` flag: one of [`Role::ALL`] (any case), each listed by `--help` and in
/// the error for any other value.
pub fn role_parser() -> impl clap::builder::TypedValueParser<Value = Role> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(Role::ALL.map(|r| r.as_str())).try_map(|s| s.parse::<Role>())
}
