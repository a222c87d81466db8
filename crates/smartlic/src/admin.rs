//! The administration client: `smartlic account|va|license|token|instance|user …` as HTTPS
//! clients of the license manager's REST API (CONTRACT.md §2). It trusts only the CA given with
//! `--ca` (the manager's `ca.pem`), authenticates with `--api-key`, prints ids, secrets, tables or
//! (`--json`) one JSON document, and turns an API error into one line: the server's message.

use anyhow::{Context, Result, anyhow, bail};
use reqwest::{Method, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use smartlic_protocol::ErrorBody;
use smartlic_protocol::admin::*;
use smartlic_protocol::time::format_rfc3339;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where the license manager is and how to reach it.
#[derive(clap::Args, Debug, Clone)]
pub struct Connection {
    /// License manager URL (`bench fleet` takes it more than once: managers on one database).
    #[arg(
        long = "server",
        global = true,
        env = "SMARTLIC_SERVER",
        default_value = "https://127.0.0.1:8443",
        action = clap::ArgAction::Append
    )]
    pub servers: Vec<String>,
    /// CA certificate (PEM) to trust for the manager: its `ca.pem`.
    #[arg(long, global = true, env = "SMARTLIC_CA")]
    pub ca: Option<PathBuf>,
    /// API key: the operator's (`admin.key`) or a user's.
    #[arg(long, global = true, env = "SMARTLIC_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
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
    let (service, n) = s.split_once('=').ok_or_else(|| format!("{s:?} is not SERVICE=N"))?;
    let n: u64 = n
        .trim()
        .parse()
        .map_err(|_| format!("{n:?} is not a number of sessions"))?;
    Ok((service.trim().to_string(), n))
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
    },
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
        /// sa-admin, sa-user, va-admin or va-user.
        #[arg(long, value_parser = parse_role)]
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

fn parse_role(s: &str) -> std::result::Result<Role, String> {
    s.parse::<Role>().map_err(|e| e.to_string())
}

/// An HTTPS client of one license manager.
struct Client {
    http: reqwest::Client,
    base: Url,
    key: String,
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

impl Client {
    fn new(conn: &Connection) -> Result<Client> {
        let server = match conn.servers.as_slice() {
            [one] => one,
            [] => bail!("pass --server URL"),
            _ => bail!("administration commands talk to one manager: pass --server once"),
        };
        let base = Url::parse(server.trim()).with_context(|| format!("invalid --server URL {server:?}"))?;
        if base.scheme() != "https" {
            bail!("--server must be an https:// URL (got {server})");
        }
        let ca = conn
            .ca
            .as_ref()
            .ok_or_else(|| anyhow!("no CA certificate: pass --ca FILE (the manager's ca.pem) or set SMARTLIC_CA"))?;
        let key = conn
            .api_key
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| anyhow!("no API key: pass --api-key KEY or set SMARTLIC_API_KEY"))?
            .to_string();
        let pem = std::fs::read(ca).with_context(|| format!("cannot read CA file {}", ca.display()))?;
        let mut roots = rustls::RootCertStore::empty();
        {
            use rustls_pki_types::CertificateDer;
            use rustls_pki_types::pem::PemObject;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.with_context(|| format!("CA file {} is not valid PEM", ca.display()))?;
                roots
                    .add(cert)
                    .with_context(|| format!("CA file {} holds an unusable certificate", ca.display()))?;
            }
        }
        if roots.is_empty() {
            bail!("CA file {} holds no certificate", ca.display());
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .context("TLS set-up")?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .context("HTTP client set-up")?;
        Ok(Client { http, base, key })
    }

    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url> {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|()| anyhow!("--server URL {} cannot take a path", self.base))?;
            path.pop_if_empty();
            path.extend(["api", "v1"]);
            path.extend(segments);
        }
        if !query.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        Ok(url)
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&B>,
    ) -> Result<T> {
        let url = self.url(segments, query)?;
        Ok(self.call_url(method, url, body).await?.0)
    }

    /// Every page of a paged list: follows `Link: <…>; rel="next"` until the last page.
    async fn get_all<T: DeserializeOwned>(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Vec<T>> {
        let mut url = self.url(segments, query)?;
        let mut all = Vec::new();
        loop {
            let (page, next): (Vec<T>, _) = self.call_url::<(), _>(Method::GET, url.clone(), None).await?;
            all.extend(page);
            match next {
                Some(next) => {
                    url = url
                        .join(&next)
                        .map_err(|e| anyhow!("the license manager's next page link {next:?}: {e}"))?
                }
                None => return Ok(all),
            }
        }
    }

    /// One request; the answer and the target of its `rel="next"` link, if any.
    async fn call_url<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
    ) -> Result<(T, Option<String>)> {
        let mut req = self.http.request(method, url).bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| anyhow!("cannot reach the license manager at {}: {}", self.base, root_cause(&e)))?;
        let status = resp.status();
        let next = resp
            .headers()
            .get_all(reqwest::header::LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(next_link);
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| anyhow!("reading the answer of {}: {}", self.base, root_cause(&e)))?;
        if !status.is_success() {
            return Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(e) => anyhow!("{}", e.error.message),
                Err(_) => anyhow!("license manager answered HTTP {status}"),
            });
        }
        // 204 No Content answers `()`.
        let body: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
        let answer = serde_json::from_slice(body)
            .map_err(|e| anyhow!("unexpected answer from the license manager ({status}): {e}"))?;
        Ok((answer, next))
    }

    async fn get<T: DeserializeOwned>(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<T> {
        self.call::<(), T>(Method::GET, segments, query, None).await
    }

    async fn post<B: Serialize, T: DeserializeOwned>(&self, segments: &[&str], body: &B) -> Result<T> {
        self.call(Method::POST, segments, &[], Some(body)).await
    }
}

/// The target of the `rel="next"` link in a `Link` header value (RFC 8288), if it has one. Links
/// are split at commas: a target holding one is not found (this manager's links never do: their
/// query values are percent-encoded or base64url).
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|link| {
        let (target, params) = link.trim().strip_prefix('<')?.split_once('>')?;
        params
            .split(';')
            .filter_map(|p| p.trim().split_once('='))
            .any(|(k, v)| {
                k.trim().eq_ignore_ascii_case("rel")
                    && v.trim()
                        .trim_matches('"')
                        .split_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
            })
            .then(|| target.to_string())
    })
}

/// Replaces `path` by `text`, owner-readable only (a fresh temporary file renamed over it).
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// A plain text table: columns padded to their widest cell.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = vec![line(headers.to_vec())];
    for r in rows {
        out.push(line(r.iter().map(String::as_str).collect()));
    }
    out.join("\n")
}

fn print_json<T: Serialize>(v: &T) -> Result<()> {
    outln!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn license_table(l: &LicenseList) -> String {
    let mut out = format!(
        "Smart Account: {}\nVirtual Account: {}\n\n",
        l.account, l.virtual_account
    );
    if l.licenses.is_empty() {
        out.push_str("No licenses purchased or in use.");
        return out;
    }
    let rows: Vec<Vec<String>> = l
        .licenses
        .iter()
        .map(|s| {
            vec![
                s.sku.clone(),
                s.purchased.to_string(),
                s.in_use.to_string(),
                s.balance.to_string(),
                s.status.as_str().to_string(),
                s.end_dates
                    .iter()
                    .map(|e| format!("{} on {}", e.quantity, e.date))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    out.push_str(&table(
        &["SKU", "PURCHASED", "IN USE", "BALANCE", "STATUS", "EXPIRING"],
        &rows,
    ));
    out
}

fn released(r: &[LicenseUsage]) -> String {
    if r.is_empty() {
        "no licenses".into()
    } else {
        r.iter()
            .map(|u| format!("{} {}", u.count, u.sku))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Runs one administration command.
pub async fn run(conn: &Connection, cmd: AdminCommand) -> Result<()> {
    let c = Client::new(conn)?;
    match cmd {
        AdminCommand::Account(AccountCommand::Create { name, domain }) => {
            let a: AccountInfo = c.post(&["accounts"], &CreateAccount { name, domain }).await?;
            outln!("{}", a.id);
        }
        AdminCommand::Account(AccountCommand::List { json }) => {
            let list: Vec<AccountInfo> = c.get(&["accounts"], &[]).await?;
            if json {
                return print_json(&list);
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|a| {
                    vec![
                        a.id.clone(),
                        a.name.clone(),
                        a.domain.clone(),
                        format_rfc3339(a.created_at),
                    ]
                })
                .collect();
            outln!("{}", table(&["ID", "NAME", "DOMAIN", "CREATED"], &rows));
        }
        AdminCommand::Account(AccountCommand::Request(RequestCommand::List { pending, json })) => {
            let query: &[(&str, &str)] = if pending { &[("status", "pending")] } else { &[] };
            let list: Vec<AccountRequestInfo> = c.get(&["account-requests"], query).await?;
            if json {
                return print_json(&list);
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|r| {
                    vec![
                        r.id.clone(),
                        r.status.clone(),
                        r.name.clone(),
                        r.domain.clone(),
                        r.requester_email.clone(),
                        r.on_behalf_email
                            .clone()
                            .filter(|_| !r.authority)
                            .unwrap_or_else(|| "-".into()),
                        format_rfc3339(r.created_at),
                    ]
                })
                .collect();
            outln!(
                "{}",
                table(
                    &["ID", "STATUS", "NAME", "DOMAIN", "REQUESTER", "ON BEHALF OF", "CREATED"],
                    &rows
                )
            );
        }
        AdminCommand::Account(AccountCommand::Request(RequestCommand::Approve { id })) => {
            let r: ApprovedAccountRequest = c.post(&["account-requests", &id, "approve"], &()).await?;
            outln!("account {}", r.account.id);
            outln!("sa-admin {} api key {}", r.admin.email, r.api_key);
        }
        AdminCommand::Account(AccountCommand::Request(RequestCommand::Reject { id, reason })) => {
            let r: AccountRequestInfo = c
                .post(&["account-requests", &id, "reject"], &RejectAccountRequest { reason })
                .await?;
            outln!("{} {}", r.id, r.status);
        }
        AdminCommand::Va(VaCommand::Create {
            account,
            name,
            description,
        }) => {
            let v: VirtualAccountInfo = c
                .post(
                    &["accounts", &account, "virtual-accounts"],
                    &CreateVirtualAccount { name, description },
                )
                .await?;
            outln!("{}", v.id);
        }
        AdminCommand::Va(VaCommand::List { account, json }) => {
            let list: Vec<VirtualAccountInfo> = c.get(&["accounts", &account, "virtual-accounts"], &[]).await?;
            if json {
                return print_json(&list);
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|v| vec![v.id.clone(), v.name.clone(), v.description.clone()])
                .collect();
            outln!("{}", table(&["ID", "NAME", "DESCRIPTION"], &rows));
        }
        AdminCommand::License(LicenseCommand::Deposit {
            account,
            va,
            sku,
            quantity,
            expires,
        }) => {
            let l: LicenseList = c
                .post(
                    &["accounts", &account, "virtual-accounts", &va, "licenses"],
                    &DepositLicenses {
                        sku: sku.clone(),
                        quantity,
                        expires,
                    },
                )
                .await?;
            let now = l.licenses.iter().find(|s| s.sku.eq_ignore_ascii_case(&sku));
            match now {
                Some(s) => outln!(
                    "Deposited {quantity} {} in {}: purchased {}, in use {}, balance {}",
                    s.sku,
                    l.virtual_account,
                    s.purchased,
                    s.in_use,
                    s.balance
                ),
                None => outln!("Deposited {quantity} {sku} in {}", l.virtual_account),
            }
        }
        AdminCommand::License(LicenseCommand::Transfer {
            account,
            from,
            to,
            sku,
            quantity,
        }) => {
            let r: TransferResult = c
                .post(
                    &["accounts", &account, "transfers"],
                    &TransferLicenses {
                        from,
                        to,
                        sku: sku.clone(),
                        quantity,
                    },
                )
                .await?;
            outln!(
                "Transferred {quantity} {} from {} to {}",
                sku.to_uppercase(),
                r.from.virtual_account,
                r.to.virtual_account
            );
        }
        AdminCommand::License(LicenseCommand::List { account, va, json }) => {
            let l: LicenseList = c
                .get(&["accounts", &account, "virtual-accounts", &va, "licenses"], &[])
                .await?;
            if json {
                return print_json(&l);
            }
            outln!("{}", license_table(&l));
        }
        AdminCommand::Token(TokenCommand::Create {
            account,
            va,
            expires_days,
            max_uses,
            description,
            export_controlled,
        }) => {
            let t: CreatedToken = c
                .post(
                    &["accounts", &account, "virtual-accounts", &va, "tokens"],
                    &CreateToken {
                        expires_days: Some(expires_days),
                        max_uses,
                        description,
                        export_controlled,
                    },
                )
                .await?;
            outln!("{}", t.token);
        }
        AdminCommand::Token(TokenCommand::List { account, va, json }) => {
            let q: Vec<(&str, &str)> = va.as_deref().map(|v| vec![("va", v)]).unwrap_or_default();
            let list: Vec<TokenInfo> = c.get(&["accounts", &account, "tokens"], &q).await?;
            if json {
                return print_json(&list);
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|t| {
                    vec![
                        t.id.clone(),
                        t.virtual_account.clone(),
                        format_rfc3339(t.expires_at),
                        match t.max_uses {
                            Some(m) => format!("{}/{m}", t.uses),
                            None => format!("{}/unlimited", t.uses),
                        },
                        t.status.as_str().to_string(),
                        if t.export_controlled { "allowed" } else { "not allowed" }.to_string(),
                        t.description.clone(),
                    ]
                })
                .collect();
            outln!(
                "{}",
                table(
                    &[
                        "ID",
                        "VIRTUAL ACCOUNT",
                        "EXPIRES",
                        "USES",
                        "STATUS",
                        "EXPORT-CONTROLLED",
                        "DESCRIPTION"
                    ],
                    &rows
                )
            );
        }
        AdminCommand::Token(TokenCommand::Revoke { account, token_id }) => {
            let t: TokenInfo = c
                .call::<(), _>(
                    Method::POST,
                    &["accounts", &account, "tokens", &token_id, "revoke"],
                    &[],
                    None,
                )
                .await?;
            outln!("Token {} revoked", t.id);
        }
        AdminCommand::Instance(InstanceCommand::List { account, va, json }) => {
            let q: Vec<(&str, &str)> = va.as_deref().map(|v| vec![("va", v)]).unwrap_or_default();
            let list: Vec<InstanceInfo> = c.get_all(&["accounts", &account, "instances"], &q).await?;
            if json {
                return print_json(&list);
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|i| {
                    vec![
                        i.id.clone(),
                        i.udi.clone(),
                        i.hostname.clone(),
                        i.virtual_account.clone(),
                        format_rfc3339(i.last_contact),
                        i.status.clone(),
                    ]
                })
                .collect();
            outln!(
                "{}",
                table(
                    &["ID", "UDI", "HOSTNAME", "VIRTUAL ACCOUNT", "LAST CONTACT", "STATUS"],
                    &rows
                )
            );
        }
        AdminCommand::Instance(InstanceCommand::Show {
            account,
            instance_id,
            json,
        }) => {
            let i: InstanceInfo = c.get(&["accounts", &account, "instances", &instance_id], &[]).await?;
            if json {
                return print_json(&i);
            }
            outln!("Instance:        {}", i.id);
            outln!("UDI:             {}", i.udi);
            outln!("Hostname:        {}", i.hostname);
            outln!("Virtual Account: {}", i.virtual_account);
            outln!("Software Tag:    {}", i.software_tag);
            outln!("Registered:      {}", format_rfc3339(i.registered_at));
            outln!("Last Contact:    {}", format_rfc3339(i.last_contact));
            outln!("ID Expires:      {}", format_rfc3339(i.id_expires_at));
            outln!("Status:          {}", i.status);
            outln!("Usage:           {}", released(&i.usage));
        }
        AdminCommand::Instance(InstanceCommand::Remove { account, instance_id }) => {
            let r: RemovedInstance = c
                .call::<(), _>(
                    Method::DELETE,
                    &["accounts", &account, "instances", &instance_id],
                    &[],
                    None,
                )
                .await?;
            outln!("Removed product instance {}; released {}", r.id, released(&r.released));
        }
        AdminCommand::User(UserCommand::Create {
            account,
            email,
            role,
            va,
            password_file,
        }) => {
            let password = match password_file {
                None => None,
                Some(f) => {
                    let text = std::fs::read_to_string(&f)
                        .with_context(|| format!("cannot read password file {}", f.display()))?;
                    let first = text.lines().next().unwrap_or("").to_string();
                    if first.is_empty() {
                        bail!("password file {} is empty", f.display());
                    }
                    Some(first)
                }
            };
            let u: CreatedUser = c
                .post(
                    &["accounts", &account, "users"],
                    &CreateUser {
                        email,
                        role,
                        va,
                        password,
                    },
                )
                .await?;
            outln!("{}", u.api_key);
        }
        AdminCommand::User(UserCommand::List { account, json }) => {
            let list: Vec<UserInfo> = c.get(&["accounts", &account, "users"], &[]).await?;
            if json {
                return print_json(&list);
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|u| {
                    vec![
                        u.id.clone(),
                        u.email.clone(),
                        u.role.to_string(),
                        u.virtual_account.clone().unwrap_or_default(),
                        if u.has_password { "yes" } else { "no" }.to_string(),
                        if u.disabled { "DISABLED" } else { "ENABLED" }.to_string(),
                    ]
                })
                .collect();
            outln!(
                "{}",
                table(
                    &["ID", "EMAIL", "ROLE", "VIRTUAL ACCOUNT", "PORTAL LOGIN", "STATUS"],
                    &rows
                )
            );
        }
        AdminCommand::User(UserCommand::Disable { account, user }) => {
            let u: UserInfo = c.post(&["accounts", &account, "users", &user, "disable"], &()).await?;
            outln!("Disabled user {}: their API key and portal sessions stopped", u.email);
        }
        AdminCommand::User(UserCommand::Enable { account, user }) => {
            let u: UserInfo = c.post(&["accounts", &account, "users", &user, "enable"], &()).await?;
            outln!("Enabled user {}", u.email);
        }
        AdminCommand::User(UserCommand::Remove { account, user }) => {
            c.call::<(), ()>(Method::DELETE, &["accounts", &account, "users", &user], &[], None)
                .await?;
            outln!("Removed user {user}");
        }
        AdminCommand::User(UserCommand::RotateKey { account, user }) => {
            let u: CreatedUser = c
                .post(&["accounts", &account, "users", &user, "rotate-key"], &())
                .await?;
            outln!("{}", u.api_key);
        }
        AdminCommand::Legacy(LegacyCommand::Issue {
            serial,
            platform,
            sessions,
            features,
            expires,
        }) => {
            let mut by_service = std::collections::BTreeMap::new();
            for (service, n) in sessions {
                if by_service.insert(service.clone(), n).is_some() {
                    bail!("--sessions {service}=… is given twice");
                }
            }
            let k: IssuedLegacyKey = c
                .post(
                    &["legacy-keys"],
                    &IssueLegacyKey {
                        serial,
                        platform,
                        sessions: by_service,
                        features,
                        expires,
                    },
                )
                .await?;
            outln!("{}", k.key);
        }
        AdminCommand::Operator(OperatorCommand::RotateKey { key_file }) => {
            let r: RotatedKey = c.post(&["operator", "rotate-key"], &()).await?;
            match key_file {
                None => outln!("{}", r.api_key),
                Some(path) => {
                    write_private(&path, &format!("{}\n", r.api_key)).with_context(|| {
                        format!(
                            "the key was rotated but could not be written to {} (new key: {})",
                            path.display(),
                            r.api_key
                        )
                    })?;
                    outln!("Wrote the new operator key to {}; the old key stopped", path.display());
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align() {
        let t = table(
            &["A", "LONGER"],
            &[vec!["xyz".into(), "1".into()], vec!["q".into(), "22".into()]],
        );
        assert_eq!(t, "A    LONGER\nxyz  1\nq    22");
    }

    proptest::proptest! {
        /// Whatever a server sends, the parser answers (never panics), and a next link among
        /// other links is found as sent.
        #[test]
        fn next_links_survive_any_header(header in "\\PC{0,200}", target in "[?a-z0-9=&_/.:-]{0,60}") {
            let _ = next_link(&header);
            let value = format!(r#"</prev>; rel="prev", <{target}>; rel="next""#);
            proptest::prop_assert_eq!(next_link(&value), Some(target));
        }
    }

    #[test]
    fn next_links_are_found() {
        assert_eq!(
            next_link(r#"<?after=abc&limit=2>; rel="next""#).as_deref(),
            Some("?after=abc&limit=2")
        );
        assert_eq!(
            next_link(r#"</x?p=1>; rel="prev", <https://h/y?p=3>; rel="last next"; title="n""#).as_deref(),
            Some("https://h/y?p=3")
        );
        assert_eq!(next_link("<?a=1>; REL=NEXT").as_deref(), Some("?a=1"));
        assert_eq!(next_link(r#"<?a=1>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
        assert_eq!(next_link(""), None);
        let base = Url::parse("https://m:8443/api/v1/accounts/Acme%20Mobile/instances?va=East").unwrap();
        assert_eq!(
            base.join("?va=East&after=xyz").unwrap().as_str(),
            "https://m:8443/api/v1/accounts/Acme%20Mobile/instances?va=East&after=xyz"
        );
    }

    #[test]
    fn urls_encode_names() {
        let conn = Connection {
            servers: vec!["https://127.0.0.1:8443/".into()],
            ca: None,
            api_key: Some("k".into()),
        };
        // Without a CA the client is refused with a clear message.
        let e = Client::new(&conn).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("--ca"), "{e}");
        // Administration talks to one manager.
        let two = Connection {
            servers: vec!["https://127.0.0.1:8443/".into(), "https://127.0.0.1:8444/".into()],
            ..conn.clone()
        };
        let e = Client::new(&two).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("pass --server once"), "{e}");
        let c = Client {
            http: reqwest::Client::builder()
                .use_preconfigured_tls(
                    rustls::ClientConfig::builder_with_provider(
                        Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
                    )
                    .with_safe_default_protocol_versions()
                    .unwrap()
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth(),
                )
                .build()
                .unwrap(),
            base: Url::parse("https://m:8443/").unwrap(),
            key: "k".into(),
        };
        let u = c
            .url(
                &["accounts", "Acme Mobile", "virtual-accounts", "a/b"],
                &[("va", "East Coast")],
            )
            .unwrap();
        assert_eq!(
            u.as_str(),
            "https://m:8443/api/v1/accounts/Acme%20Mobile/virtual-accounts/a%2Fb?va=East+Coast"
        );
    }
}
