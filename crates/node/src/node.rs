//! The running node: the Smart Agent, the simulated sessions, the node configuration and the CLI
//! socket.

use crate::cli::{Grammar, Mode};
use crate::config::{ConfigError, NodeConfig};
use crate::protocol::{LineRead, MAX_LINE, Reply, Request, read_line};
use smartlic_agent::admission::Session;
use smartlic_agent::{AgentConfig, AgentError, SmartAgent};
use smartlic_clock::SharedClock;
use smartlic_protocol::Catalog;
use smartlic_protocol::wire::Udi;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

/// How to start a node.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// Data directory.
    pub dir: PathBuf,
    /// Hostname.
    pub hostname: String,
    /// Platform (`ASR5500`, `VPC-SI`, `VPC-DI`).
    pub platform: String,
    /// Serial number (generated and kept in `DIR/serial` when absent).
    pub serial: Option<String>,
    /// The clock.
    pub clock: SharedClock,
    /// The product catalog.
    pub catalog: Catalog,
    /// Serve Prometheus metrics on this address (`/metrics`), if set.
    pub metrics_listen: Option<String>,
    /// The StarOS release whose licensing rules apply (21.3: mixed mode).
    pub release: smartlic_agent::Release,
    /// VPC-DI: service-function VMs (cards 3 and up) beside the two control functions.
    pub sf_cards: u8,
}

/// The HA UDI list of a VPC-DI: control functions in slots 1 and 2 (the active one first), then
/// one service function per card from slot 3. Each VM's serial is the chassis serial with its
/// slot (`SN-CF1`, `SN-SF3`, …). Empty for a single-chassis platform.
pub fn ha_udis(platform: &str, serial: &str, sf_cards: u8, active_cf: u8) -> Vec<smartlic_protocol::HaUdi> {
    if !platform.eq_ignore_ascii_case("VPC-DI") {
        return Vec::new();
    }
    let udi = |sn: String| Udi {
        pid: platform.to_string(),
        sn,
    };
    let (active, standby) = if active_cf == 2 { (2, 1) } else { (1, 2) };
    let mut out = vec![
        smartlic_protocol::HaUdi {
            role: "Active".into(),
            udi: udi(format!("{serial}-CF{active}")),
        },
        smartlic_protocol::HaUdi {
            role: "Standby".into(),
            udi: udi(format!("{serial}-CF{standby}")),
        },
    ];
    out.extend((0..sf_cards).map(|i| smartlic_protocol::HaUdi {
        role: "Member".into(),
        udi: udi(format!("{serial}-SF{}", u16::from(i) + 3)),
    }));
    out
}

/// Node failures.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The agent failed to start.
    #[error("{0}")]
    Agent(#[from] AgentError),
    /// The configuration could not be read.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// File system or socket trouble.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Bad options.
    #[error("{0}")]
    Invalid(String),
}

/// A running product instance.
#[derive(Debug)]
pub struct Node {
    pub(crate) agent: SmartAgent,
    pub(crate) config: Mutex<NodeConfig>,
    pub(crate) sessions: Mutex<Vec<Vec<Session>>>,
    pub(crate) grammar: &'static Grammar,
    pub(crate) hostname: String,
    pub(crate) dir: PathBuf,
    pub(crate) services: Arc<crate::services::Services>,
    pub(crate) sf_cards: u8,
}

/// The product's serial number: `--serial`, else the one kept in `DIR/serial`, else a new one.
/// It is kept in `DIR/serial` either way: the agent's state is bound to it, so a later start
/// without `--serial` must find the same one.
fn serial_for(dir: &Path, given: Option<String>) -> Result<String, NodeError> {
    let path = dir.join("serial");
    let kept = std::fs::read_to_string(&path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let write = |s: &str| {
        smartlic_agent::state::write_atomic(&path, s.as_bytes(), Some(0o644)).map_err(|e| NodeError::Io {
            context: format!("writing {}", path.display()),
            source: e,
        })
    };
    if let Some(s) = given {
        if s.is_empty() || s.len() > 64 || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(NodeError::Invalid(format!(
                "serial number must be 1 to 64 letters, digits or '-', not {s:?}"
            )));
        }
        if kept.as_deref() != Some(s.as_str()) {
            write(&s)?;
        }
        return Ok(s);
    }
    if let Some(s) = kept {
        return Ok(s);
    }
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";
    let s: String = std::iter::once("FLM".to_string())
        .chain((0..8).map(|_| (ALPHABET[rand_index(ALPHABET.len())] as char).to_string()))
        .collect();
    write(&s)?;
    Ok(s)
}

fn rand_index(n: usize) -> usize {
    let mut b = [0u8; 8];
    // Uniqueness, not secrecy: a serial number. Use the clock's nanoseconds and the address of a
    // local to avoid a dependency on a random generator here.
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    b[..4].copy_from_slice(&t.to_le_bytes());
    let addr = &b as *const _ as usize;
    (u64::from_le_bytes(b) as usize ^ addr.rotate_left(17)).wrapping_mul(0x9E37_79B9) % n
}

impl Node {
    /// Opens the node's state (agent, configuration) in `opts.dir`.
    pub fn open(opts: NodeOptions) -> Result<Arc<Node>, NodeError> {
        std::fs::create_dir_all(&opts.dir).map_err(|e| NodeError::Io {
            context: format!("creating {}", opts.dir.display()),
            source: e,
        })?;
        let software = opts
            .catalog
            .software_for(&opts.platform)
            .ok_or_else(|| NodeError::Invalid(format!("unknown platform {}", opts.platform)))?
            .clone();
        let serial = serial_for(&opts.dir, opts.serial.clone())?;
        let mut config = NodeConfig::load(&opts.dir)?;
        if config.active_cf == 0 {
            config.active_cf = 1;
        }
        let ha = ha_udis(&software.platform, &serial, opts.sf_cards, config.active_cf);
        let agent = SmartAgent::open(AgentConfig {
            dir: opts.dir.clone(),
            catalog: opts.catalog.clone(),
            clock: opts.clock.clone(),
            udi: Udi {
                pid: software.platform.clone(),
                sn: serial,
            },
            hostname: opts.hostname.clone(),
            software_tag: software.tag.clone(),
            release: opts.release,
            ha_udis: ha,
        })?;
        let services = opts.catalog.service.len();
        Ok(Arc::new(Node {
            agent,
            config: Mutex::new(config),
            sf_cards: opts.sf_cards,
            sessions: Mutex::new((0..services).map(|_| Vec::new()).collect()),
            grammar: Grammar::standard(),
            hostname: opts.hostname,
            dir: opts.dir,
            services: Arc::default(),
        }))
    }

    /// VPC-DI: the number of service-function VMs.
    pub fn sf_cards(&self) -> u8 {
        self.sf_cards
    }

    /// The Smart Agent.
    pub fn agent(&self) -> &SmartAgent {
        &self.agent
    }

    pub(crate) fn sessions(&self) -> MutexGuard<'_, Vec<Vec<Session>>> {
        match self.sessions.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    pub(crate) fn config(&self) -> MutexGuard<'_, NodeConfig> {
        match self.config.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// `calls connect SERVICE COUNT`: tries COUNT new sessions; returns (admitted, rejected).
    pub fn connect_calls(&self, service: usize, count: u64) -> (u64, u64) {
        let _ = self.agent.refresh();
        let adm = self.agent.admission();
        let mut admitted = 0;
        let mut held = self.sessions();
        let Some(list) = held.get_mut(service) else {
            return (0, count);
        };
        for _ in 0..count {
            if let Ok(t) = adm.try_admit(service) {
                list.push(t.detach(service));
                admitted += 1;
            }
        }
        drop(held);
        let _ = self.agent.refresh();
        (admitted, count - admitted)
    }

    /// `calls disconnect SERVICE COUNT`: releases up to COUNT sessions; returns how many.
    pub fn disconnect_calls(&self, service: usize, count: u64) -> u64 {
        let _ = self.agent.refresh();
        let adm = self.agent.admission();
        let mut held = self.sessions();
        let Some(list) = held.get_mut(service) else { return 0 };
        let n = (count as usize).min(list.len());
        for s in list.drain(list.len() - n..) {
            adm.release(s);
        }
        drop(held);
        let _ = self.agent.refresh();
        n as u64
    }

    /// Handles one request of a CLI session.
    pub async fn handle(&self, mode: &mut Mode, req: Request) -> Reply {
        match req {
            Request::Prompt => Reply {
                ok: true,
                prompt: mode.prompt(&self.hostname),
                ..Reply::default()
            },
            Request::Help { line } => {
                let output = match self.grammar.help(*mode, &line) {
                    Ok(items) => crate::cli::format_help(&items),
                    Err(e) => format!("{}\n", e.render(&line)),
                };
                Reply {
                    output,
                    ok: true,
                    prompt: mode.prompt(&self.hostname),
                    ..Reply::default()
                }
            }
            Request::Complete { line } => {
                let c = self.grammar.complete(*mode, &line);
                Reply {
                    ok: true,
                    prompt: mode.prompt(&self.hostname),
                    start: c.start,
                    candidates: c.candidates,
                    ..Reply::default()
                }
            }
            Request::Exec { line } => {
                let (output, ok, exit) = crate::dispatch::execute(self, mode, &line).await;
                Reply {
                    output,
                    ok,
                    exit,
                    prompt: mode.prompt(&self.hostname),
                    ..Reply::default()
                }
            }
        }
    }

    async fn serve_connection(self: Arc<Self>, stream: UnixStream) {
        let (read, mut write) = stream.into_split();
        let mut reader = BufReader::new(read);
        let mut mode = Mode::Exec;
        loop {
            // At most MAX_LINE bytes are kept; a longer line is read to its newline and dropped
            // whole, so no piece of it runs as a request, and the session goes on.
            let reply = match read_line(&mut reader, MAX_LINE).await {
                Ok(LineRead::Line(line)) => match serde_json::from_slice::<Request>(&line) {
                    Ok(req) => self.handle(&mut mode, req).await,
                    Err(e) => Reply {
                        output: format!("Failure: malformed request: {e}\n"),
                        ok: false,
                        prompt: mode.prompt(&self.hostname),
                        ..Reply::default()
                    },
                },
                Ok(LineRead::TooLong) => Reply {
                    output: format!("Failure: command line too long (over {MAX_LINE} bytes); it was ignored\n"),
                    ok: false,
                    prompt: mode.prompt(&self.hostname),
                    ..Reply::default()
                },
                Ok(LineRead::Eof) | Err(_) => return,
            };
            let mut text = serde_json::to_string(&reply).unwrap_or_else(|_| "{}".into());
            text.push('\n');
            if write.write_all(text.as_bytes()).await.is_err() || reply.exit {
                return;
            }
        }
    }
}

/// Runs a node until SIGINT/SIGTERM: agent timers, CLI socket.
pub async fn run(opts: NodeOptions) -> Result<(), NodeError> {
    let opts_metrics = opts.metrics_listen.clone();
    let node = Node::open(opts)?;
    crate::services::start(&node);
    let timers = node.agent.spawn_timers();
    let sock = node.dir.join("cli.sock");
    if sock.exists() {
        // A socket left by a killed node: remove it unless a live node answers on it.
        if UnixStream::connect(&sock).await.is_ok() {
            return Err(NodeError::Invalid(format!(
                "another node is already running on {}",
                sock.display()
            )));
        }
        let _ = std::fs::remove_file(&sock);
    }
    let metrics = match opts_metrics {
        Some(addr) => Some(
            crate::metrics::serve(node.clone(), &addr)
                .await
                .map_err(|e| NodeError::Io {
                    context: format!("metrics listener on {addr}"),
                    source: e,
                })?,
        ),
        None => None,
    };
    let listener = UnixListener::bind(&sock).map_err(|e| NodeError::Io {
        context: format!("binding {}", sock.display()),
        source: e,
    })?;
    println!(
        "node {} ({}) ready; CLI: smartlic cli --data-dir {}",
        node.hostname,
        node.agent.config().udi,
        node.dir.display()
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let serve = {
        let node = node.clone();
        async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        tokio::spawn(node.clone().serve_connection(stream));
                    }
                    Err(e) => tracing::warn!("CLI socket accept failed: {e}"),
                }
            }
        }
    };
    tokio::select! {
        _ = serve => {}
        _ = shutdown_signal() => {}
    }
    timers.abort();
    if let Some(m) = metrics {
        m.abort();
    }
    let _ = std::fs::remove_file(&sock);
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use smartlic_clock::FixedClock;
    use std::time::Duration;
    use tokio::io::AsyncBufReadExt;

    async fn reply(reader: &mut (impl tokio::io::AsyncBufRead + Unpin)) -> Reply {
        let mut line = String::new();
        match tokio::time::timeout(Duration::from_secs(20), reader.read_line(&mut line)).await {
            Ok(Ok(n)) if n > 0 => {}
            other => panic!("no reply: {other:?}"),
        }
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    #[tokio::test]
    async fn the_tail_of_an_over_long_line_never_runs() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let node = Node::open(NodeOptions {
            dir: dir.path().to_path_buf(),
            hostname: "asr1".into(),
            platform: "ASR5500".into(),
            serial: Some("FLM12345678".into()),
            clock: Arc::new(FixedClock::new(1_798_761_600)),
            catalog: Catalog::staros(),
            metrics_listen: None,
            release: smartlic_agent::Release::R21_6,
            sf_cards: 0,
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let (client, server) = UnixStream::pair().unwrap_or_else(|e| panic!("{e}"));
        tokio::spawn(node.clone().serve_connection(server));
        let (read, mut write) = client.into_split();
        let mut read = BufReader::new(read);
        // Padding past the limit, then a request that must not run: before the fix, the bytes
        // after the first MAX_LINE + 1 were read as the next request and entered Config mode.
        let mut bytes = vec![b' '; MAX_LINE + 100];
        bytes.extend_from_slice(br#"{"op":"exec","line":"configure"}"#);
        bytes.push(b'\n');
        bytes.extend_from_slice(b"{\"op\":\"prompt\"}\n");
        write.write_all(&bytes).await.unwrap_or_else(|e| panic!("{e}"));
        let first = reply(&mut read).await;
        assert!(
            !first.ok && first.output.starts_with("Failure: command line too long"),
            "{first:?}"
        );
        let second = reply(&mut read).await;
        assert!(second.ok && second.output.is_empty(), "{second:?}");
        assert_eq!(second.prompt, "[local]asr1#", "the session is still in Exec mode");
        // A line of exactly MAX_LINE bytes is still a request.
        let mut exact = br#"{"op":"exec","line":"show license udi"}"#.to_vec();
        exact.resize(MAX_LINE, b' ');
        exact.push(b'\n');
        write.write_all(&exact).await.unwrap_or_else(|e| panic!("{e}"));
        let third = reply(&mut read).await;
        assert!(third.ok && third.output.contains("SN:FLM12345678"), "{third:?}");
        // Bytes that are not UTF-8: a malformed request, and the session goes on.
        write
            .write_all(b"\xff\xfe\n{\"op\":\"prompt\"}\n")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let fourth = reply(&mut read).await;
        assert!(
            !fourth.ok && fourth.output.starts_with("Failure: malformed request"),
            "{fourth:?}"
        );
        assert!(reply(&mut read).await.ok);
    }
}
