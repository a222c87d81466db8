//! The administration client: `smartlic account|va|license|token|instance|user|reservation|alert|
//! event|usage|webhook …` as HTTPS
//! clients of the license manager's REST API (docs/interface.md §2) through [`smartlic_client`]. It
//! trusts only the CA given with `--ca` (the manager's `ca.pem`), authenticates with `--api-key`,
//! prints ids, secrets, tables or (`--json`) one JSON document, and turns an API error into one
//! line: the server's message. `cli` holds the flags, `print` the tables; this file runs one
//! command group per function.

mod cli;
mod print;
mod reservations;
mod satellite;
mod satellite_link;
mod surface;
mod va_ops;

pub use cli::{
    AccountCommand, AdminCommand, Connection, InstanceCommand, LegacyCommand, LicenseCommand, ListScope,
    OperatorCommand, RequestCommand, TokenCommand, UserCommand, VaCommand,
};

use anyhow::{Context, Result, anyhow, bail};
use print::{license_table, print_json, print_list, released, write_private};
use smartlic_client::{AdminClient, Url};
use smartlic_protocol::admin::*;
use smartlic_protocol::time::format_rfc3339;

/// The client of the one manager `conn` names, checked flag by flag.
fn client(conn: &Connection) -> Result<AdminClient> {
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
    Ok(AdminClient::new(base, ca, key)?)
}

/// Runs one administration command.
pub async fn run(conn: &Connection, cmd: AdminCommand) -> Result<()> {
    let c = client(conn)?;
    match cmd {
        AdminCommand::Account(cmd) => account(&c, cmd).await,
        AdminCommand::Va(cmd) => va(&c, cmd).await,
        AdminCommand::License(cmd) => license(&c, cmd).await,
        AdminCommand::Token(cmd) => token(&c, cmd).await,
        AdminCommand::Instance(cmd) => instance(&c, cmd).await,
        AdminCommand::User(cmd) => user(&c, cmd).await,
        AdminCommand::Legacy(cmd) => legacy(&c, cmd).await,
        AdminCommand::Operator(cmd) => operator(&c, cmd).await,
        AdminCommand::Reservation(cmd) => reservations::run(&c, cmd).await,
        AdminCommand::Alert(cmd) => surface::alert(&c, cmd).await,
        AdminCommand::Event(cmd) => surface::event(&c, cmd).await,
        AdminCommand::Usage {
            account,
            va,
            days,
            json,
        } => surface::usage(&c, &account, &va, days, json).await,
        AdminCommand::Webhook(cmd) => surface::webhook(&c, cmd).await,
        AdminCommand::Satellite(cmd) => satellite::run(&c, cmd).await,
    }
}

/// `smartlic account …`
async fn account(c: &AdminClient, cmd: AccountCommand) -> Result<()> {
    match cmd {
        AccountCommand::Create { name, domain } => {
            let a = c.create_account(&CreateAccount { name, domain }).await?;
            outln!("{}", a.id);
        }
        AccountCommand::Set { account, reservation } => {
            let a = c.set_reservation_policy(&account, reservation).await?;
            outln!("{}: reservation {}", a.name, a.reservation);
        }
        AccountCommand::List { json } => {
            let list = c.accounts().await?;
            print_list(json, &list, &["ID", "NAME", "DOMAIN", "CREATED", "RESERVATION"], |a| {
                vec![
                    a.id.clone(),
                    a.name.clone(),
                    a.domain.clone(),
                    format_rfc3339(a.created_at),
                    a.reservation.to_string(),
                ]
            })?;
        }
        AccountCommand::Request(RequestCommand::List { pending, json }) => {
            let list = c.account_requests(pending).await?;
            let headers = ["ID", "STATUS", "NAME", "DOMAIN", "REQUESTER", "ON BEHALF OF", "CREATED"];
            print_list(json, &list, &headers, |r| {
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
            })?;
        }
        AccountCommand::Request(RequestCommand::Approve { id }) => {
            let r = c.approve_account_request(&id).await?;
            outln!("account {}", r.account.id);
            outln!("sa-admin {} api key {}", r.admin.email, r.api_key);
        }
        AccountCommand::Request(RequestCommand::Reject { id, reason }) => {
            let r = c.reject_account_request(&id, &RejectAccountRequest { reason }).await?;
            outln!("{} {}", r.id, r.status);
        }
    }
    Ok(())
}

/// `smartlic va …`
async fn va(c: &AdminClient, cmd: VaCommand) -> Result<()> {
    match cmd {
        VaCommand::Create {
            account,
            name,
            description,
        } => {
            let v = c
                .create_virtual_account(&account, &CreateVirtualAccount { name, description })
                .await?;
            outln!("{}", v.id);
        }
        VaCommand::List { account, json } => {
            let list = c.virtual_accounts(&account).await?;
            print_list(json, &list, &["ID", "NAME", "DESCRIPTION"], |v| {
                vec![v.id.clone(), v.name.clone(), v.description.clone()]
            })?;
        }
        VaCommand::Rename { account, va, new_name } => va_ops::rename(c, &account, &va, &new_name).await?,
        VaCommand::Delete { account, va } => va_ops::delete(c, &account, &va).await?,
    }
    Ok(())
}

/// `smartlic license …`
async fn license(c: &AdminClient, cmd: LicenseCommand) -> Result<()> {
    match cmd {
        LicenseCommand::Deposit {
            account,
            va,
            sku,
            quantity,
            expires,
        } => {
            let deposit = DepositLicenses {
                sku: sku.clone(),
                quantity,
                expires,
            };
            let l = c.deposit(&account, &va, &deposit).await?;
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
        LicenseCommand::Transfer {
            account,
            from,
            to,
            sku,
            quantity,
        } => {
            let transfer = TransferLicenses {
                from,
                to,
                sku: sku.clone(),
                quantity,
            };
            let r = c.transfer(&account, &transfer).await?;
            outln!(
                "Transferred {quantity} {} from {} to {}",
                sku.to_uppercase(),
                r.from.virtual_account,
                r.to.virtual_account
            );
        }
        LicenseCommand::List {
            account, va, csv: true, ..
        } => surface::write_raw(&c.licenses_csv(&account, &va).await?),
        LicenseCommand::List {
            account,
            va,
            json,
            csv: false,
        } => {
            let l = c.licenses(&account, &va).await?;
            if json {
                return print_json(&l);
            }
            outln!("{}", license_table(&l));
        }
    }
    Ok(())
}

/// `smartlic token …`
async fn token(c: &AdminClient, cmd: TokenCommand) -> Result<()> {
    match cmd {
        TokenCommand::Create {
            account,
            va,
            expires_days,
            max_uses,
            description,
            export_controlled,
        } => {
            let create = CreateToken {
                expires_days: Some(expires_days),
                max_uses,
                description,
                export_controlled,
            };
            let t = c.create_token(&account, &va, &create).await?;
            outln!("{}", t.token);
        }
        TokenCommand::List(ListScope { account, va, json }) => {
            let list = c.tokens(&account, va.as_deref()).await?;
            let headers = [
                "ID",
                "VIRTUAL ACCOUNT",
                "EXPIRES",
                "USES",
                "STATUS",
                "EXPORT-CONTROLLED",
                "DESCRIPTION",
            ];
            print_list(json, &list, &headers, |t| {
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
            })?;
        }
        TokenCommand::Revoke { account, token_id } => {
            let t = c.revoke_token(&account, &token_id).await?;
            outln!("Token {} revoked", t.id);
        }
    }
    Ok(())
}

/// `smartlic instance …`
async fn instance(c: &AdminClient, cmd: InstanceCommand) -> Result<()> {
    match cmd {
        InstanceCommand::List {
            scope: ListScope { account, va, .. },
            csv: true,
        } => surface::write_raw(&c.instances_csv(&account, va.as_deref()).await?),
        InstanceCommand::List {
            scope: ListScope { account, va, json },
            csv: false,
        } => {
            let list = c.instances(&account, va.as_deref()).await?;
            let headers = ["ID", "UDI", "HOSTNAME", "VIRTUAL ACCOUNT", "LAST CONTACT", "STATUS"];
            print_list(json, &list, &headers, |i| {
                vec![
                    i.id.clone(),
                    i.udi.clone(),
                    i.hostname.clone(),
                    satellite::va_cell(i),
                    format_rfc3339(i.last_contact),
                    i.status.clone(),
                ]
            })?;
        }
        InstanceCommand::Show {
            account,
            instance_id,
            json,
        } => {
            let i = c.instance(&account, &instance_id).await?;
            if json {
                return print_json(&i);
            }
            outln!("Instance:        {}", i.id);
            outln!("UDI:             {}", i.udi);
            outln!("Hostname:        {}", i.hostname);
            outln!("Virtual Account: {}", satellite::va_cell(&i));
            outln!("Software Tag:    {}", i.software_tag);
            outln!("Registered:      {}", format_rfc3339(i.registered_at));
            outln!("Last Contact:    {}", format_rfc3339(i.last_contact));
            outln!("ID Expires:      {}", format_rfc3339(i.id_expires_at));
            outln!("Status:          {}", i.status);
            outln!("Usage:           {}", released(&i.usage));
        }
        InstanceCommand::Remove { account, instance_id } => {
            let r = c.remove_instance(&account, &instance_id).await?;
            outln!("Removed product instance {}; released {}", r.id, released(&r.released));
        }
        InstanceCommand::Move {
            account,
            instance_id,
            to_va,
        } => va_ops::move_instance(c, &account, &instance_id, &to_va).await?,
    }
    Ok(())
}

/// The first line of a password file.
fn read_password(f: &std::path::Path) -> Result<String> {
    let text = std::fs::read_to_string(f).with_context(|| format!("cannot read password file {}", f.display()))?;
    let first = text.lines().next().unwrap_or("").to_string();
    if first.is_empty() {
        bail!("password file {} is empty", f.display());
    }
    Ok(first)
}

/// `smartlic user …`
async fn user(c: &AdminClient, cmd: UserCommand) -> Result<()> {
    match cmd {
        UserCommand::Create {
            account,
            email,
            role,
            va,
            password_file,
        } => {
            let password = password_file.as_deref().map(read_password).transpose()?;
            let create = CreateUser {
                email,
                role,
                va,
                password,
            };
            let u = c.create_user(&account, &create).await?;
            outln!("{}", u.api_key);
        }
        UserCommand::List { account, json } => {
            let list = c.users(&account).await?;
            let headers = ["ID", "EMAIL", "ROLE", "VIRTUAL ACCOUNT", "PORTAL LOGIN", "STATUS"];
            print_list(json, &list, &headers, |u| {
                vec![
                    u.id.clone(),
                    u.email.clone(),
                    u.role.to_string(),
                    u.virtual_account.clone().unwrap_or_default(),
                    if u.has_password { "yes" } else { "no" }.to_string(),
                    if u.disabled { "DISABLED" } else { "ENABLED" }.to_string(),
                ]
            })?;
        }
        UserCommand::Disable { account, user } => {
            let u = c.disable_user(&account, &user).await?;
            outln!("Disabled user {}: their API key and portal sessions stopped", u.email);
        }
        UserCommand::Enable { account, user } => {
            let u = c.enable_user(&account, &user).await?;
            outln!("Enabled user {}", u.email);
        }
        UserCommand::Remove { account, user } => {
            c.remove_user(&account, &user).await?;
            outln!("Removed user {user}");
        }
        UserCommand::RotateKey { account, user } => {
            let u = c.rotate_user_key(&account, &user).await?;
            outln!("{}", u.api_key);
        }
    }
    Ok(())
}

/// `smartlic legacy …`
async fn legacy(c: &AdminClient, cmd: LegacyCommand) -> Result<()> {
    let LegacyCommand::Issue {
        serial,
        platform,
        sessions,
        features,
        expires,
    } = cmd;
    let mut by_service = std::collections::BTreeMap::new();
    for (service, n) in sessions {
        if by_service.insert(service.clone(), n).is_some() {
            bail!("--sessions {service}=… is given twice");
        }
    }
    let issue = IssueLegacyKey {
        serial,
        platform,
        sessions: by_service,
        features,
        expires,
    };
    let k = c.issue_legacy_key(&issue).await?;
    outln!("{}", k.key);
    Ok(())
}

/// `smartlic operator …`
async fn operator(c: &AdminClient, cmd: OperatorCommand) -> Result<()> {
    let OperatorCommand::RotateKey { key_file } = cmd;
    let r = c.rotate_operator_key().await?;
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_checked() {
        let conn = Connection {
            servers: vec!["https://127.0.0.1:8443/".into()],
            ca: None,
            api_key: Some("k".into()),
        };
        // Without a CA the client is refused with a clear message.
        let e = client(&conn).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("--ca"), "{e}");
        // Administration talks to one manager.
        let two = Connection {
            servers: vec!["https://127.0.0.1:8443/".into(), "https://127.0.0.1:8444/".into()],
            ..conn.clone()
        };
        let e = client(&two).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("pass --server once"), "{e}");
        let http = Connection {
            servers: vec!["http://127.0.0.1:8443/".into()],
            ..conn
        };
        let e = client(&http).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("--server must be an https:// URL"), "{e}");
    }
}
