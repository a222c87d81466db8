//! `smartlic bench year`: a year (or D days) of a fleet in virtual time. Starts a real license
//! manager (this executable's `server`, as a child, on a clock file; SQLite in a temporary
//! directory, or the PostgreSQL database given), opens N real Smart Agents in this process (each
//! with its own state directory and its own HTTPS Call Home client, all on the same clock file),
//! registers them with one token, then moves the clock file forward [`STEP`] at a time over D
//! days. At each step every agent whose timer is due runs its own timer pass
//! ([`SmartAgent::tick`], what the agent's timer task runs every 250 ms) until nothing is due at
//! that time any more (polled; a failed try waits for the agent's own back-off), so every timer
//! fires as it would: authorization renewals (30 days, jittered), ID certificates (180 days) and
//! retries. Prints one JSON object.
//!
//! The bench is the agents' scheduler instead of 10,000 timer tasks waking every 250 ms: it asks
//! each agent when its next timer is due ([`SmartAgent::next_timer_at`]) and runs only the due
//! ones, so a step where nothing is due costs nothing.

use crate::demo::{Children, exe, spawn_ready};
use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;
use smartlic_agent::{AgentConfig, AuthorizationStatus, Release, SmartAgent, TickReport};
use smartlic_client::{AdminClient, Url};
use smartlic_clock::{FileClock, SharedClock};
use smartlic_protocol::Catalog;
use smartlic_protocol::admin::{CreateAccount, CreateToken};
use smartlic_protocol::time::{DAY, format_rfc3339};
use smartlic_protocol::wire::Udi;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::task::JoinSet;

/// Most agents in one run.
pub const MAX_DEVICES: usize = 100_000;
/// Most virtual days in one run.
pub const MAX_DAYS: u32 = 3650;
/// How far the clock moves at each step.
pub const STEP: i64 = 6 * 3600;
/// Agents talking to the manager at once (registration, and the due agents of a step).
const CONCURRENCY: usize = 64;
/// Longest a step (or the registration of 10,000 devices) may take before the run is abandoned.
const STEP_LIMIT: Duration = Duration::from_secs(600);
/// Worker threads of the bench's runtime: the agents' state is saved with fsync on the runtime's
/// threads (as in a node), so more threads than cores let the devices' disk writes overlap.
pub const WORKER_THREADS: usize = 32;
/// Poll interval while an agent waits for its own real-time back-off after a failed try.
const POLL: Duration = Duration::from_millis(20);

/// What the command line asked for, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct YearArgs {
    /// Agents.
    pub devices: usize,
    /// Virtual days.
    pub days: u32,
    /// PostgreSQL URL for the manager (SQLite in a temporary directory when absent).
    pub database: Option<String>,
}

/// Checks the flags.
pub fn check_args(devices: usize, days: u32, database: Option<&str>) -> Result<YearArgs> {
    if !(1..=MAX_DEVICES).contains(&devices) {
        bail!("--devices must be 1 to {MAX_DEVICES}");
    }
    if !(1..=MAX_DAYS).contains(&days) {
        bail!("--days must be 1 to {MAX_DAYS}");
    }
    let database = match database.map(str::trim) {
        None => None,
        Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => Some(u.to_string()),
        Some(u) => bail!("--database must be a postgres:// URL (got {u:?}); without it the manager uses SQLite"),
    };
    Ok(YearArgs {
        devices,
        days,
        database,
    })
}

/// The figures printed.
#[derive(Debug, Serialize)]
pub struct YearFigures {
    /// Agents.
    pub devices: usize,
    /// Virtual days.
    pub days: u32,
    /// `sqlite` or `postgresql`.
    pub database: &'static str,
    /// Hours of virtual time per step.
    pub step_hours: f64,
    /// Wall time of the whole run (manager start, registrations, the days), s.
    pub wall_s: f64,
    /// Of which the registrations (each followed by its first authorization), s.
    pub registration_s: f64,
    /// Authorizations made by the agents' timers (renewals; the first one after registration
    /// is not counted).
    pub renewals: u64,
    /// ID certificate renewals.
    pub id_renewals: u64,
    /// Failed conversations (registrations and timers; each failed try counts).
    pub errors: u64,
    /// Agents whose status is AUTHORIZED at the end.
    pub authorized_at_end: usize,
    /// Renewals on the busiest virtual day.
    pub peak_day_renewals: u64,
    /// Renewals per virtual day, mean over the days.
    pub mean_day_renewals: f64,
    /// peak_day_renewals / mean_day_renewals.
    pub peak_to_mean: f64,
    /// Largest resident memory of the manager seen (/proc, sampled at every step), MiB.
    pub max_manager_rss_mib: f64,
    /// Largest resident memory of this process (the N agents) seen, sampled likewise, MiB.
    pub max_agents_rss_mib: f64,
}

/// The manager child.
struct Manager {
    pid: u32,
    url: String,
    ca: PathBuf,
    api_key: String,
}

fn start_manager(root: &Path, clock: &Path, database: Option<&str>, children: &mut Children) -> Result<Manager> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .context("cannot find a free port")?
        .port();
    let dir = root.join("manager");
    let mut cmd = Command::new(exe()?);
    cmd.args(["server", "--data-dir"])
        .arg(&dir)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--clock-file"])
        .arg(clock);
    if let Some(db) = database {
        cmd.args(["--database", db]);
    }
    if std::env::var_os("SMARTLIC_LOG").is_none() {
        cmd.env("SMARTLIC_LOG", "warn");
    }
    let (child, line) = spawn_ready(&mut cmd, "listening on https://", "the license manager")?;
    let pid = child.id();
    children.0.push(child);
    let api_key = std::fs::read_to_string(dir.join("admin.key"))
        .context("reading the manager's admin.key")?
        .trim()
        .to_string();
    Ok(Manager {
        pid,
        url: line.trim().trim_start_matches("listening on ").to_string(),
        ca: dir.join("ca.pem"),
        api_key,
    })
}

/// The child's resident memory, MiB (0 when /proc does not tell).
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

fn write_clock(path: &Path, t: i64) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format_rfc3339(t)).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// A registration token for `devices` registrations in a new Smart Account.
async fn fleet_token(m: &Manager, devices: usize, stamp: u128) -> Result<String> {
    let base = Url::parse(&m.url).with_context(|| format!("manager URL {}", m.url))?;
    let admin = AdminClient::new(base, &m.ca, m.api_key.clone())?;
    let account = admin
        .create_account(&CreateAccount {
            name: format!("year-bench-{stamp}"),
            domain: "year.bench.invalid".into(),
        })
        .await
        .context("admin API /api/v1/accounts")?;
    let token = admin
        .create_token(
            &account.id,
            "DEFAULT",
            &CreateToken {
                expires_days: Some(1),
                max_uses: Some(devices as u64),
                description: "smartlic bench year".into(),
                export_controlled: false,
            },
        )
        .await
        .context("admin API: create token")?;
    Ok(token.token)
}

/// Opens agent `i` in `root/agents/i`, pointed at the manager and trusting its CA.
async fn open_agent(root: &Path, i: usize, stamp: u128, clock: &SharedClock, m: &Manager) -> Result<SmartAgent> {
    let catalog = Catalog::staros();
    let software_tag = catalog
        .software_for("ASR5500")
        .map(|s| s.tag.clone())
        .ok_or_else(|| anyhow!("the built-in catalog has no ASR5500"))?;
    let agent = SmartAgent::open(AgentConfig {
        dir: root.join("agents").join(i.to_string()),
        catalog,
        clock: clock.clone(),
        udi: Udi {
            pid: "ASR5500".into(),
            sn: format!("BY{stamp}-{i}"),
        },
        hostname: format!("year-{i}"),
        software_tag,
        release: Release::default(),
        ha_udis: Vec::new(),
    })?;
    agent.set_enabled(true)?;
    agent.set_url(Some(m.url.clone()))?;
    agent.import_trust(&m.ca).await?;
    Ok(agent)
}

/// Runs `agent`'s timer passes until nothing is due at `t` (or `deadline`); what they did.
async fn settle_agent(agent: &SmartAgent, t: i64, deadline: Instant) -> TickReport {
    let mut sum = TickReport::default();
    loop {
        let r = agent.tick().await;
        sum.registrations += r.registrations;
        sum.id_renewals += r.id_renewals;
        sum.authorizations += r.authorizations;
        sum.failures += r.failures;
        if agent.next_timer_at().is_none_or(|n| n > t) {
            return sum;
        }
        if Instant::now() >= deadline {
            sum.failures += 1;
            return sum;
        }
        if r == TickReport::default() {
            // Waiting for the agent's own real-time back-off after a failed try.
            tokio::time::sleep(POLL).await;
        }
    }
}

/// Opens and registers every agent (C at a time); the agents, in order, and the number of
/// failed registrations (a failed one is retried by the agent's timers).
async fn register_all(
    root: &Path,
    devices: usize,
    stamp: u128,
    clock: &SharedClock,
    m: &Arc<Manager>,
    token: &str,
) -> Result<(Vec<SmartAgent>, u64)> {
    let mut set = JoinSet::new();
    let mut agents: Vec<Option<SmartAgent>> = vec![None; devices];
    let mut errors = 0;
    let mut next = 0;
    // STEP_LIMIT for every 10,000 devices (a registration costs about what a step of 10,000 does).
    let limit = STEP_LIMIT * (devices.div_ceil(10_000) as u32);
    let deadline = Instant::now() + limit;
    while next < devices || !set.is_empty() {
        while next < devices && set.len() < CONCURRENCY {
            let (root, clock, m, token, i) = (root.to_path_buf(), clock.clone(), m.clone(), token.to_string(), next);
            set.spawn(async move {
                let agent = open_agent(&root, i, stamp, &clock, &m).await?;
                let failed = agent.register(&token).await.is_err();
                Ok::<_, anyhow::Error>((i, agent, failed))
            });
            next += 1;
        }
        if let Some(done) = set.join_next().await {
            let (i, agent, failed) = done??;
            errors += u64::from(failed);
            agents[i] = Some(agent);
        }
        if Instant::now() >= deadline {
            bail!("the registrations took more than {} s", limit.as_secs());
        }
    }
    Ok((agents.into_iter().flatten().collect(), errors))
}

/// Runs the due agents of the step ending at `t` (C at a time); what their timers did.
async fn run_step(agents: &Arc<Vec<SmartAgent>>, next_at: &mut [i64], t: i64) -> Result<TickReport> {
    let deadline = Instant::now() + STEP_LIMIT;
    let due: Vec<usize> = (0..agents.len()).filter(|&i| next_at[i] <= t).collect();
    let mut sum = TickReport::default();
    let mut set = JoinSet::new();
    let mut it = due.into_iter();
    loop {
        while set.len() < CONCURRENCY {
            let Some(i) = it.next() else { break };
            let agents = agents.clone();
            set.spawn(async move {
                let a = &agents[i];
                let r = settle_agent(a, t, deadline).await;
                (i, r, a.next_timer_at().unwrap_or(i64::MAX))
            });
        }
        let Some(done) = set.join_next().await else { break };
        let (i, r, n) = done?;
        next_at[i] = n;
        sum.registrations += r.registrations;
        sum.id_renewals += r.id_renewals;
        sum.authorizations += r.authorizations;
        sum.failures += r.failures;
    }
    Ok(sum)
}

/// Runs the benchmark.
// Long: the phases in the order they run (manager, agents, registration, the days, figures).
pub async fn run(args: YearArgs) -> Result<YearFigures> {
    let started = Instant::now();
    let root = tempfile::tempdir().context("cannot create a temporary directory")?;
    let clock_path = root.path().join("clock");
    // Virtual time starts now (whole day), so TLS certificates are valid by the real clock too.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("system clock before 1970")?;
    let t0 = now.as_secs() as i64 / DAY * DAY;
    let stamp = now.as_millis();
    write_clock(&clock_path, t0)?;
    let clock: SharedClock = Arc::new(FileClock::new(&clock_path));
    let mut children = Children(Vec::new());
    let m = start_manager(root.path(), &clock_path, args.database.as_deref(), &mut children)?;
    let token = fleet_token(&m, args.devices, stamp).await?;
    let m = Arc::new(m);
    let reg_start = Instant::now();
    let (agents, mut errors) = register_all(root.path(), args.devices, stamp, &clock, &m, &token).await?;
    let agents = Arc::new(agents);
    let registration_s = reg_start.elapsed().as_secs_f64();
    let mut next_at: Vec<i64> = agents.iter().map(|a| a.next_timer_at().unwrap_or(t0)).collect();

    let mut per_day = vec![0u64; args.days as usize];
    let (mut renewals, mut id_renewals) = (0u64, 0u64);
    let mut max_rss = rss_mib(m.pid);
    let mut max_agents_rss = rss_mib(std::process::id());
    let end = t0 + i64::from(args.days) * DAY;
    let mut t = t0;
    while t < end {
        t = (t + STEP).min(end);
        write_clock(&clock_path, t)?;
        let r = run_step(&agents, &mut next_at, t).await?;
        let day = ((t - t0 - 1) / DAY) as usize;
        if let Some(d) = per_day.get_mut(day) {
            *d += u64::from(r.authorizations);
        }
        renewals += u64::from(r.authorizations);
        id_renewals += u64::from(r.id_renewals);
        errors += u64::from(r.failures);
        max_rss = max_rss.max(rss_mib(m.pid));
        max_agents_rss = max_agents_rss.max(rss_mib(std::process::id()));
    }
    let authorized_at_end = agents
        .iter()
        .filter(|a| a.snapshot().authorization_word == AuthorizationStatus::Authorized)
        .count();
    let peak = per_day.iter().copied().max().unwrap_or(0);
    let mean = renewals as f64 / f64::from(args.days);
    drop(children);
    Ok(YearFigures {
        devices: args.devices,
        days: args.days,
        database: if args.database.is_some() {
            "postgresql"
        } else {
            "sqlite"
        },
        step_hours: STEP as f64 / 3600.0,
        wall_s: started.elapsed().as_secs_f64(),
        registration_s,
        renewals,
        id_renewals,
        errors,
        authorized_at_end,
        peak_day_renewals: peak,
        mean_day_renewals: mean,
        peak_to_mean: if mean > 0.0 { peak as f64 / mean } else { 0.0 },
        max_manager_rss_mib: max_rss,
        max_agents_rss_mib: max_agents_rss,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_checked() {
        let a = check_args(10, 365, None).unwrap();
        assert_eq!((a.devices, a.days, a.database), (10, 365, None));
        let pg = check_args(1, 1, Some(" postgres://127.0.0.1/test ")).unwrap();
        assert_eq!(pg.database.as_deref(), Some("postgres://127.0.0.1/test"));
        assert!(check_args(0, 365, None).is_err());
        assert!(check_args(MAX_DEVICES + 1, 365, None).is_err());
        assert!(check_args(10, 0, None).is_err());
        assert!(check_args(10, MAX_DAYS + 1, None).is_err());
        assert!(check_args(10, 365, Some("sqlite:///tmp/x.db")).is_err());
    }

    #[test]
    fn resident_memory_of_this_process_is_read() {
        assert!(rss_mib(std::process::id()) > 0.0);
        assert_eq!(rss_mib(u32::MAX), 0.0);
    }
}
