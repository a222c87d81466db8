//! `smartlic server`: open the store, set up (or reuse) the PKI and the files of the data
//! directory, and serve HTTPS until SIGTERM or Ctrl-C.
//!
//! Files in the data directory:
//! - `smartlic.db` — the SQLite store (unless `--database postgres://…`);
//! - `ca.pem` — the root CA, the trust anchor devices import (the same on every server of a store);
//! - `server.pem`, `server.key` (0600) — this server's TLS chain and key, issued by the CA for the
//!   listen host (unless 0.0.0.0 or ::), the `--tls-san` names, `localhost`, `127.0.0.1` and
//!   `::1`; reused while they name all of these and are far from expiry;
//! - `admin.key` (0600) — the operator's API key, written only by the server that set the PKI up.
//!
//! With [`OperatorTls`] (`--tls-cert`, `--tls-key`) the server presents the operator's certificate
//! instead of `server.pem` and reloads it on SIGHUP (new handshakes get the new one; a reload that
//! fails keeps the old). Every HTTP request is logged once (target `smartlic::http`).

use crate::api;
use crate::error::ManagerError;
use crate::pki::Pki;
use crate::secrets::{self, MasterKey};
use crate::state::{AppState, setup_pki};
use crate::store::Store;
use crate::tokens;
use smartlic_clock::SharedClock;
use smartlic_protocol::Catalog;
use smartlic_protocol::time::MAX_CLOCK_SKEW;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";

/// How `smartlic server` runs.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Data directory (created if missing).
    pub data_dir: PathBuf,
    /// `HOST:PORT` to listen on (default [`DEFAULT_LISTEN`]); port 0 picks a free port.
    pub listen: String,
    /// `postgres://…`; `None` uses SQLite at `DIR/smartlic.db`.
    pub database: Option<String>,
    /// The licensing clock.
    pub clock: SharedClock,
    /// The product catalog.
    pub catalog: Catalog,
    /// The master key file; `None` uses (or on a new store creates) `DIR/master.key`.
    pub master_key: Option<PathBuf>,
    /// Events older than this many days are removed from the event log (0 keeps them all).
    pub event_retention_days: u32,
    /// Loopback and private ranges webhooks may point at (`--webhook-allow`; none by default).
    pub webhook_allow: Vec<crate::webhooks::Cidr>,
    /// Extra names (DNS names or IP addresses) of the manager's own TLS certificate
    /// (`--tls-san`), beside the listen host and the loopback names; see [`check_tls_san`].
    pub tls_sans: Vec<String>,
    /// A satellite's scheduled exchange with its parent (`--sync-every`): one at start, then one
    /// per interval ([`crate::satellite_sync`]); `None`: only on `satellite sync`.
    pub sync_every: Option<Duration>,
}

pub use crate::pki::check_tls_san;

/// Default of [`ServerOptions::event_retention_days`]: a little over a year, so that a year's
/// audit trail is always there.
pub const DEFAULT_EVENT_RETENTION_DAYS: u32 = 400;

/// Splits `HOST:PORT` (`[v6]:PORT` too) into host and port.
pub fn split_listen(listen: &str) -> Result<(String, u16), ManagerError> {
    let bad = |reason: &str| ManagerError::Listen {
        addr: listen.to_string(),
        reason: reason.to_string(),
    };
    let (host, port) = listen.rsplit_once(':').ok_or_else(|| bad("expected HOST:PORT"))?;
    let port: u16 = port.parse().map_err(|_| bad("port must be a number from 0 to 65535"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad("host is empty"));
    }
    Ok((host.to_string(), port))
}

/// Writes a file of the data directory atomically: a fresh temporary file (created 0600 by
/// `tempfile`, never a leftover one whose mode would be kept), fsynced, then renamed.
fn write_file(path: &Path, contents: &str) -> Result<(), ManagerError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| ManagerError::file(dir, e))?;
    tmp.write_all(contents.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| ManagerError::file(tmp.path(), e))?;
    tmp.persist(path).map_err(|e| ManagerError::file(path, e.error))?;
    Ok(())
}

/// Makes the data directory readable by its owner only: the directory 0700 and every file in it
/// 0600 (keys, the database and its `-wal`/`-shm`, leftovers of an older version), so that
/// nothing there is readable by another local user whatever the umask was.
pub fn lock_down_data_dir(dir: &Path) -> Result<(), ManagerError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).map_err(|e| ManagerError::file(dir, e))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| ManagerError::file(dir, e))?;
    for entry in std::fs::read_dir(dir).map_err(|e| ManagerError::file(dir, e))? {
        let entry = entry.map_err(|e| ManagerError::file(dir, e))?;
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).map_err(|e| ManagerError::file(&path, e))?;
        if meta.is_file() && meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| ManagerError::file(&path, e))?;
        }
    }
    Ok(())
}

/// Creates the SQLite database file 0600 before SQLite opens it (SQLite gives its `-wal` and
/// `-shm` files the mode of the database file).
fn create_private_file(path: &Path) -> Result<(), ManagerError> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(ManagerError::file(path, e)),
    }
}

/// The master key: the file named by `--master-key`, else `DIR/master.key`; on a store that no
/// server has set up yet, a new key is made and written to `DIR/master.key` (0600).
async fn master_key(opts: &ServerOptions, store: &Store) -> Result<MasterKey, ManagerError> {
    let path = opts
        .master_key
        .clone()
        .unwrap_or_else(|| opts.data_dir.join(secrets::MASTER_KEY_FILE));
    if let Some(key) = secrets::read_key_file(&path).map_err(|e| ManagerError::file(&path, e))? {
        return Ok(key);
    }
    // A store whose keys are sealed needs the key they were sealed under; a new store, or one
    // set up before keys were sealed, gets a new key (and its keys sealed under it).
    let sealed = store
        .load_pki()
        .await?
        .is_some_and(|row| secrets::is_sealed(&row.ca_key_pem) || secrets::is_sealed(&row.signing_key));
    if opts.master_key.is_some() || sealed {
        return Err(ManagerError::MasterKey(format!(
            "{} does not exist, and this store's private keys are sealed under a master key: copy master.key \
             from the manager that set the store up (every manager of one database needs the same file)",
            path.display()
        )));
    }
    let (key, text) = MasterKey::generate();
    write_file(&path, &text)?;
    tracing::info!("created the master key {}", path.display());
    Ok(key)
}

fn read_optional(path: &Path) -> Result<Option<String>, ManagerError> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ManagerError::file(path, e)),
    }
}

/// What [`prepare`] set up.
#[derive(Debug)]
pub struct Prepared {
    /// The handlers' state.
    pub state: AppState,
    /// TLS chain (PEM) and key (PEM) for this server.
    pub tls: (String, String),
    /// Listen host.
    pub host: String,
    /// Listen port.
    pub port: u16,
}

/// Opens the store and sets up the PKI and the files of the data directory.
pub async fn prepare(opts: &ServerOptions) -> Result<Prepared, ManagerError> {
    let (host, port) = split_listen(&opts.listen)?;
    let dir = &opts.data_dir;
    lock_down_data_dir(dir)?;
    let db_path = dir.join("smartlic.db");
    if opts.database.is_none() {
        create_private_file(&db_path)?;
    }
    let store = Store::open(opts.database.as_deref(), &db_path).await?;
    let master = master_key(opts, &store).await?;
    let now = opts.clock.now();

    let key_path = dir.join("admin.key");
    let existing_key = read_optional(&key_path)?
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty());
    let candidate = existing_key.clone().unwrap_or_else(tokens::new_api_key);
    let setup = setup_pki(&store, now, &candidate, &master).await?;
    if setup.created && existing_key.is_none() {
        write_file(&key_path, &format!("{candidate}\n"))?;
        tracing::info!("created the PKI and the operator key {}", key_path.display());
    } else if !setup.created && existing_key.is_none() {
        tracing::info!("the store's PKI was set up by another server: no admin.key written here");
    }
    let pki = setup.pki;

    let ca_path = dir.join("ca.pem");
    if read_optional(&ca_path)?.as_deref() != Some(pki.ca_pem()) {
        write_file(&ca_path, pki.ca_pem())?;
    }
    for name in &opts.tls_sans {
        check_tls_san(name).map_err(|why| ManagerError::Pki(format!("--tls-san: {why}")))?;
    }
    let tls = tls_files(&pki, dir, &host, &opts.tls_sans)?;
    // SQLite made its -wal and -shm files by now; whatever mode they got, tighten them.
    lock_down_data_dir(dir)?;
    let state = AppState::new(store, opts.clock.clone(), opts.catalog.clone(), pki, master);
    state.webhooks().set_allow(opts.webhook_allow.clone());
    Ok(Prepared { state, tls, host, port })
}

fn tls_files(pki: &Pki, dir: &Path, host: &str, sans: &[String]) -> Result<(String, String), ManagerError> {
    let chain_path = dir.join("server.pem");
    let key_path = dir.join("server.key");
    if let (Some(chain), Some(key)) = (read_optional(&chain_path)?, read_optional(&key_path)?)
        && pki.tls_reusable(&chain, host, sans)
    {
        return Ok((chain, key));
    }
    let (chain, key) = pki
        .issue_tls(host, sans)
        .map_err(|e| ManagerError::Pki(e.to_string()))?;
    write_file(&key_path, &key)?;
    write_file(&chain_path, &chain)?;
    Ok((chain, key))
}

/// A rustls server configuration (aws-lc-rs, TLS 1.2/1.3, h2 and http/1.1) for a PEM chain and
/// key. Independent of any process-wide crypto provider.
pub fn tls_config(chain_pem: &str, key_pem: &str) -> Result<rustls::ServerConfig, ManagerError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ManagerError::Pki(format!("TLS chain: {e}")))?;
    let key =
        PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| ManagerError::Pki(format!("TLS key: {e}")))?;
    let mut config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| ManagerError::Pki(format!("TLS versions: {e}")))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| ManagerError::Pki(format!("TLS certificate: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Every minute: forgets nonces too old to be replayed, and removes events older than the event
/// log's retention (`retention_days`, 0 keeps them), a bounded number a round.
async fn prune_nonces(state: AppState, retention_days: u32) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        // Keep a margin: the clock may move back.
        let before = state.now() - 4 * MAX_CLOCK_SKEW;
        if let Err(e) = state.store().prune_nonces(before).await {
            tracing::warn!("pruning nonces: {e}");
        }
        if retention_days > 0 {
            let before = state
                .now()
                .saturating_sub(i64::from(retention_days) * smartlic_protocol::time::DAY);
            match state.store().prune_events(before, 10_000).await {
                Ok(0) => {}
                Ok(n) => tracing::info!("removed {n} event(s) older than {retention_days} days"),
                Err(e) => tracing::warn!("pruning the event log: {e}"),
            }
        }
    }
}

/// Removes instances that failed to renew, every [`crate::webhooks::ROUND_EVERY`] (a task of its
/// own: webhook deliveries never hold it up).
async fn expire_instances(state: AppState) {
    let mut tick = tokio::time::interval(crate::webhooks::ROUND_EVERY);
    loop {
        tick.tick().await;
        match crate::admin::expire_instances(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!("removed {n} product instance(s) that failed to renew"),
            Err(e) => tracing::warn!("expiring product instances: {e}"),
        }
    }
}

/// Sends alerts to the accounts' webhooks every [`crate::webhooks::ROUND_EVERY`]; a round starts
/// its sends and does not wait for their answers.
async fn deliver_alerts(state: AppState) {
    let mut tick = tokio::time::interval(crate::webhooks::ROUND_EVERY);
    loop {
        tick.tick().await;
        if let Err(e) = crate::webhooks::start_round(&state).await {
            tracing::warn!("alert webhooks: {e}");
        }
    }
}

/// The operator's own TLS certificate chain and key (`--tls-cert`, `--tls-key`), served to
/// browsers and clients instead of the manager's; SIGHUP reloads them. Device trust does not
/// change: `ca.pem` still anchors the signed device protocol.
#[derive(Debug, Clone)]
pub struct OperatorTls {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key of the leaf.
    pub key: PathBuf,
}

impl OperatorTls {
    /// Reads both files and makes a server configuration of them.
    pub fn load(&self) -> Result<rustls::ServerConfig, ManagerError> {
        let chain = std::fs::read_to_string(&self.cert).map_err(|e| ManagerError::file(&self.cert, e))?;
        let key = std::fs::read_to_string(&self.key).map_err(|e| ManagerError::file(&self.key, e))?;
        tls_config(&chain, &key)
    }
}

/// Reloads the operator's certificate on every SIGHUP. Connections already open keep theirs;
/// a reload that fails is logged and the certificate served so far stays.
async fn reload_on_hangup(
    mut hangup: tokio::signal::unix::Signal,
    tls: OperatorTls,
    served: axum_server::tls_rustls::RustlsConfig,
) {
    while hangup.recv().await.is_some() {
        match tls.load() {
            Ok(config) => {
                served.reload_from_config(Arc::new(config));
                tracing::info!("reloaded the TLS certificate {}", tls.cert.display());
            }
            Err(e) => tracing::error!("SIGHUP: the TLS certificate was not reloaded, the old one stays: {e}"),
        }
    }
}

/// Logs each HTTP request once, when its response starts: method, path (never the query, the
/// body or a header), status, duration and the client's address.
async fn log_request(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let client = req
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.to_string())
        .unwrap_or_default();
    let response = next.run(req).await;
    tracing::info!(
        target: "smartlic::http",
        method = %method,
        path = %path,
        status = response.status().as_u16(),
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        client = %client,
        "request"
    );
    response
}

/// Runs the license manager until SIGTERM or Ctrl-C. Prints `listening on https://HOST:PORT`
/// on stdout once it accepts connections.
pub async fn run_server(opts: ServerOptions) -> Result<(), ManagerError> {
    run_server_with(opts, None).await
}

/// [`run_server`], serving the operator's certificate (reloaded on SIGHUP) when there is one.
pub async fn run_server_with(opts: ServerOptions, operator_tls: Option<OperatorTls>) -> Result<(), ManagerError> {
    // A bad operator certificate stops the server before anything is set up.
    let operator_config = operator_tls.as_ref().map(OperatorTls::load).transpose()?;
    let prepared = prepare(&opts).await?;
    let config = match operator_config {
        Some(c) => c,
        None => tls_config(&prepared.tls.0, &prepared.tls.1)?,
    };
    let listen_err = |reason: String| ManagerError::Listen {
        addr: opts.listen.clone(),
        reason,
    };
    let addr: SocketAddr = tokio::net::lookup_host((prepared.host.as_str(), prepared.port))
        .await
        .map_err(|e| listen_err(e.to_string()))?
        .next()
        .ok_or_else(|| listen_err("host does not resolve".into()))?;
    let listener = std::net::TcpListener::bind(addr).map_err(|e| listen_err(e.to_string()))?;
    listener.set_nonblocking(true).map_err(|e| listen_err(e.to_string()))?;

    let handle = axum_server::Handle::new();
    let served = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(config));
    let server = axum_server::tls_rustls::from_tcp_rustls(listener, served.clone())
        .map_err(|e| listen_err(e.to_string()))?
        // TCP_NODELAY: without it, on a fresh connection (a product closes its connection after
        // each conversation), Nagle's algorithm held a small segment of the handshake or the
        // answer back until the client's delayed ACK (docs/performance.md, `bench year`).
        .map(|tls| tls.acceptor(axum_server::accept::NoDelayAcceptor::new()))
        .handle(handle.clone());
    let reloading = match operator_tls {
        Some(tls) => {
            // Watched before the server says it listens, so no early SIGHUP ends the process.
            let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
                .map_err(|e| listen_err(format!("cannot watch SIGHUP: {e}")))?;
            Some(tokio::spawn(reload_on_hangup(hangup, tls, served.clone())))
        }
        None => None,
    };
    let app = api::router(prepared.state.clone())
        .layer(axum::middleware::from_fn(log_request))
        .into_make_service_with_connect_info::<SocketAddr>();
    let mut serving = tokio::spawn(async move { server.serve(app).await });
    let pruning = tokio::spawn(prune_nonces(prepared.state.clone(), opts.event_retention_days));
    let alerting = tokio::spawn(deliver_alerts(prepared.state.clone()));
    let expiring = tokio::spawn(expire_instances(prepared.state.clone()));
    let syncing = opts
        .sync_every
        .map(|every| tokio::spawn(crate::satellite_sync::run_schedule(prepared.state.clone(), every)));

    let bound = handle
        .listening()
        .await
        .ok_or_else(|| listen_err("the server did not start listening".into()))?;
    let host = if prepared.host.contains(':') {
        format!("[{}]", prepared.host)
    } else {
        prepared.host.clone()
    };
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on https://{host}:{}", bound.port())
            .and_then(|()| out.flush())
            .map_err(ManagerError::Serve)?;
    }

    let result = tokio::select! {
        r = &mut serving => r,
        () = shutdown_signal() => {
            tracing::info!("shutting down");
            handle.graceful_shutdown(Some(Duration::from_secs(10)));
            serving.await
        }
    };
    pruning.abort();
    alerting.abort();
    if let Some(r) = reloading {
        r.abort();
    }
    expiring.abort();
    if let Some(s) = syncing {
        s.abort();
    }
    prepared.state.store().close().await;
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(ManagerError::Serve(e)),
        Err(e) => Err(ManagerError::Serve(std::io::Error::other(e.to_string()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smartlic_clock::FixedClock;

    #[test]
    fn listen_addresses_split() {
        assert_eq!(split_listen("127.0.0.1:8443").unwrap(), ("127.0.0.1".into(), 8443));
        assert_eq!(split_listen("[::1]:0").unwrap(), ("::1".into(), 0));
        assert_eq!(
            split_listen("manager.example.net:443").unwrap(),
            ("manager.example.net".into(), 443)
        );
        assert!(split_listen("8443").is_err());
        assert!(split_listen(":8443").is_err());
        assert!(split_listen("host:http").is_err());
    }

    fn opts(dir: &Path) -> ServerOptions {
        ServerOptions {
            data_dir: dir.to_path_buf(),
            listen: "127.0.0.1:0".into(),
            database: None,
            clock: Arc::new(FixedClock::new(1_800_000_000)),
            catalog: Catalog::staros(),
            master_key: None,
            event_retention_days: DEFAULT_EVENT_RETENTION_DAYS,
            webhook_allow: Vec::new(),
            tls_sans: Vec::new(),
            sync_every: None,
        }
    }

    #[tokio::test]
    async fn first_start_creates_the_files_and_later_starts_reuse_them() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = prepare(&opts(dir.path())).await.unwrap();
        // No private key lies open in the database: both are sealed under the master key.
        let row = p.state.store().load_pki().await.unwrap().unwrap();
        assert!(crate::secrets::is_sealed(&row.ca_key_pem) && crate::secrets::is_sealed(&row.signing_key));
        p.state.store().close().await;
        let ca = std::fs::read_to_string(dir.path().join("ca.pem")).unwrap();
        let key = std::fs::read_to_string(dir.path().join("admin.key")).unwrap();
        let server = std::fs::read_to_string(dir.path().join("server.pem")).unwrap();
        let mode = |f: &str| std::fs::metadata(dir.path().join(f)).unwrap().permissions().mode() & 0o777;
        // The directory and every file in it: owner only.
        assert_eq!(mode(""), 0o700);
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            assert_eq!(mode(&name), 0o600, "{name}");
        }
        for f in ["admin.key", "server.key", "master.key", "smartlic.db", "ca.pem"] {
            assert_eq!(mode(f), 0o600, "{f}");
        }
        let db_bytes = std::fs::read(dir.path().join("smartlic.db")).unwrap();
        let db_text = String::from_utf8_lossy(&db_bytes);
        assert!(!db_text.contains("PRIVATE KEY"));
        assert!(key.trim().starts_with("slk_"));
        assert!(tls_config(&p.tls.0, &p.tls.1).is_ok());

        // A leftover world-readable file (an old version's temp file) and a loosened directory
        // are tightened on the next start, and a rewritten key file never keeps a leftover's mode.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.path().join("server.tmp"), "x").unwrap();
        std::fs::set_permissions(dir.path().join("server.tmp"), std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::remove_file(dir.path().join("server.key")).unwrap();

        let again = prepare(&opts(dir.path())).await.unwrap();
        assert_eq!(mode(""), 0o700);
        assert_eq!(mode("server.tmp"), 0o600);
        assert_eq!(mode("server.key"), 0o600);
        assert_eq!(std::fs::read_to_string(dir.path().join("ca.pem")).unwrap(), ca);
        assert_eq!(std::fs::read_to_string(dir.path().join("admin.key")).unwrap(), key);
        // server.key was gone, so a new TLS certificate was issued with it.
        assert_ne!(std::fs::read_to_string(dir.path().join("server.pem")).unwrap(), server);
        let op = crate::admin::principal_for_key(&again.state, key.trim()).await.unwrap();
        assert_eq!(op, Some(crate::auth::Principal::Operator));
        again.state.store().close().await;

        // Another master key cannot open the store's keys, and a missing one is not replaced by
        // a new one on a store already set up: the server refuses to start, saying why.
        let master = std::fs::read_to_string(dir.path().join("master.key")).unwrap();
        std::fs::write(dir.path().join("master.key"), format!("{}\n", "11".repeat(32))).unwrap();
        let e = prepare(&opts(dir.path())).await.unwrap_err().to_string();
        assert!(e.contains("another master key"), "{e}");
        std::fs::remove_file(dir.path().join("master.key")).unwrap();
        let e = prepare(&opts(dir.path())).await.unwrap_err().to_string();
        assert!(e.contains("copy master.key"), "{e}");
        assert!(!dir.path().join("master.key").exists());
        std::fs::write(dir.path().join("master.key"), master).unwrap();
        let back = prepare(&opts(dir.path())).await.unwrap();
        assert_eq!(back.state.pki().ca_pem(), ca);
        back.state.store().close().await;
    }

    #[tokio::test]
    async fn a_store_with_plain_keys_has_them_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(None, &dir.path().join("smartlic.db")).await.unwrap();
        let plain = Pki::generate(1_800_000_000).unwrap();
        assert!(
            store
                .insert_pki_if_absent(&plain, "h", &crate::store::Audit::system())
                .await
                .unwrap()
        );
        store.close().await;
        let p = prepare(&opts(dir.path())).await.unwrap();
        let row = p.state.store().load_pki().await.unwrap().unwrap();
        assert!(crate::secrets::is_sealed(&row.ca_key_pem) && crate::secrets::is_sealed(&row.signing_key));
        assert_eq!(row.ca_cert_pem, plain.ca_cert_pem);
        assert_eq!(p.state.pki().ca_pem(), plain.ca_cert_pem);
        p.state.store().close().await;
    }
}
