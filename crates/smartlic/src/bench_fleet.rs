//! `smartlic bench fleet`: a fleet of simulated devices against running license managers, over
//! real HTTPS. Through the admin API it creates a Smart Account and a registration token with
//! enough uses, registers N devices (a fresh Ed25519 key each, a `SignedRequest` exactly as the
//! Smart Agent sends it), then sends signed authorization renewals with usage from C concurrent
//! workers for S seconds, verifying every signed answer as the agent does (trust pool check of the
//! signer certificate, signature, nonce). With `--storm`, every device then renews at once, as
//! after an outage, honouring 503 + Retry-After with jitter until all succeed (or a time bound).
//! Also measures, in the same run, the manager's crypto floor of one renewal on one core and the
//! transport floor (the same client and stack against a no-op endpoint; `bench_floor`). Prints one
//! JSON object. Only loopback managers are accepted.

use crate::bench_preload::Preloaded;
use anyhow::{Context, Result, anyhow, bail};
use ed25519_dalek::SigningKey;
use serde::Serialize;
use serde::de::DeserializeOwned;
use smartlic_agent::transport::{CallHome, Limits, TransportError};
use smartlic_client::{AdminClient, Url};
use smartlic_protocol::Catalog;
use smartlic_protocol::admin::InstanceInfo;
use smartlic_protocol::admin::{CreateAccount, CreateToken};
use smartlic_protocol::envelope::Message;
use smartlic_protocol::trust::pem_certificates;
use smartlic_protocol::wire::{
    AuthorizationRequest, AuthorizationResponse, RegisterRequest, RegisterResponse, Udi, Usage,
};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Most simulated devices in one run.
pub const MAX_DEVICES: usize = 200_000;
/// Most concurrent workers.
pub const MAX_CONCURRENCY: usize = 4096;
/// Longest renewal phase, seconds.
pub const MAX_SECONDS: f64 = 3600.0;
/// Time bound of the registration phase and of the storm.
const PHASE_LIMIT: Duration = Duration::from_secs(600);
/// Tries of one request that keeps getting 503.
const MAX_TRIES: u32 = 50;
/// Calls of `license list` timed after the registration phase.
pub const LIST_PROBES: usize = 100;
pub const PAGE_PROBES: usize = 20;

/// What the command line asked for, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetArgs {
    /// Manager URLs (https, loopback); devices are spread over them.
    pub servers: Vec<Url>,
    /// The managers' CA (PEM).
    pub ca: PathBuf,
    /// Operator API key.
    pub api_key: String,
    /// Simulated devices.
    pub devices: usize,
    /// Concurrent workers.
    pub concurrency: usize,
    /// Length of the renewal phase.
    pub seconds: f64,
    /// Whether to run the storm after the renewal phase.
    pub storm: bool,
    /// Instances to write straight into the database first, and that database
    /// ([`crate::bench_preload`]).
    pub preload: Option<(usize, String)>,
}

impl FleetArgs {
    /// With `--preload N --database URL` (both or neither).
    pub fn with_preload(mut self, preload: Option<usize>, database: Option<String>) -> Result<FleetArgs> {
        self.preload = match (preload, database) {
            (None, None) => None,
            (None, Some(_)) => bail!("--database goes with --preload N"),
            (Some(n), _) if !(1..=crate::bench_preload::MAX_PRELOAD).contains(&n) => {
                bail!("--preload must be 1 to {}", crate::bench_preload::MAX_PRELOAD)
            }
            (Some(n), Some(db)) => Some((n, db)),
            (Some(_), None) => bail!("--preload needs --database (the manager's postgres:// URL or SQLite file)"),
        };
        Ok(self)
    }
}

/// Checks the flags: https loopback URLs, bounded counts and time.
pub fn check_args(
    servers: &[String],
    ca: Option<&Path>,
    api_key: Option<&str>,
    devices: usize,
    concurrency: usize,
    seconds: f64,
    storm: bool,
) -> Result<FleetArgs> {
    if servers.is_empty() {
        bail!("pass --server URL");
    }
    let mut urls = Vec::new();
    for s in servers {
        let u = Url::parse(s.trim()).with_context(|| format!("invalid server URL {s:?}"))?;
        if u.scheme() != "https" {
            bail!("server URL must be https:// (got {s})");
        }
        let host = u.host_str().unwrap_or("");
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let loopback =
            host.eq_ignore_ascii_case("localhost") || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if !loopback {
            bail!("the fleet benchmark only talks to loopback managers (got {s})");
        }
        urls.push(u);
    }
    let ca = ca.ok_or_else(|| anyhow!("pass --ca FILE (the manager's ca.pem)"))?;
    let api_key = api_key
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| anyhow!("pass --api-key KEY (the manager's admin.key)"))?;
    if !(1..=MAX_DEVICES).contains(&devices) {
        bail!("--devices must be 1 to {MAX_DEVICES}");
    }
    if !(1..=MAX_CONCURRENCY).contains(&concurrency) {
        bail!("--concurrency must be 1 to {MAX_CONCURRENCY}");
    }
    if !(seconds.is_finite() && seconds > 0.0 && seconds <= MAX_SECONDS) {
        bail!("--seconds must be more than 0 and at most {MAX_SECONDS}");
    }
    Ok(FleetArgs {
        servers: urls,
        ca: ca.to_path_buf(),
        api_key: api_key.to_string(),
        devices,
        concurrency,
        seconds,
        storm,
        preload: None,
    })
}

/// The storm: every device renews at once.
#[derive(Debug, Serialize)]
pub struct StormFigures {
    /// Devices that renewed.
    pub devices: usize,
    /// Devices that eventually got a valid signed authorization.
    pub succeeded: usize,
    /// 503 answers received on the way.
    pub overloaded_503: u64,
    /// Other failures.
    pub errors: u64,
    /// Most tries one device needed.
    pub max_tries: u32,
    /// From the start of the storm until the last device succeeded (or gave up).
    pub converged_in_s: f64,
    /// Whether every device succeeded.
    pub converged: bool,
}

/// The figures printed.
#[derive(Debug, Serialize)]
pub struct FleetFigures {
    /// Manager URLs.
    pub servers: Vec<String>,
    /// Simulated devices.
    pub devices: usize,
    /// Workers.
    pub concurrency: usize,
    /// Devices registered.
    pub registered: usize,
    /// Instances written straight into the database before the registrations (`--preload`).
    pub preloaded: usize,
    /// How long that took, s.
    pub preload_s: f64,
    /// Registrations per second (registration phase, C workers).
    pub registrations_per_s: f64,
    /// Median latency of a registration, ms.
    pub registration_p50_ms: f64,
    /// 99th percentile latency of a registration, ms.
    pub registration_p99_ms: f64,
    /// Successful renewals in the renewal phase.
    pub renewals: u64,
    /// Length of the renewal phase, s.
    pub renewal_seconds: f64,
    /// Successful renewals per second.
    pub renewals_per_s: f64,
    /// Median latency of a renewal, ms (request signed, sent, answer verified).
    pub p50_ms: f64,
    /// 99th percentile latency of a renewal, ms.
    pub p99_ms: f64,
    /// Slowest renewal, ms.
    pub max_ms: f64,
    /// Failed requests of the registration and renewal phases (503s included).
    pub errors: u64,
    /// Of which 503 overloaded.
    pub overloaded_503: u64,
    /// Share of renewals whose reported usage differs from the steady count ([`USAGE_CHANGE_RATIO`]).
    pub usage_change_ratio: f64,
    /// One core: verify one request signature + sign one answer, per second.
    pub crypto_floor_per_s: f64,
    /// `renewals_per_s / crypto_floor_per_s` (0 without a floor): the figure that compares runs on
    /// machines of different speed.
    pub renewals_per_crypto_floor: f64,
    /// The same client, TLS and HTTP stack and the manager's listener and middleware against an
    /// endpoint that does no work, C workers, requests per second ([`crate::bench_floor`]).
    pub transport_floor_per_s: f64,
    /// Requests of the transport floor that did not get the no-op answer.
    pub transport_floor_errors: u64,
    /// `license list` of the benchmark's VA (all registered devices in it), over the admin API on a
    /// kept-alive connection, median of [`LIST_PROBES`] calls, ms.
    pub license_list_p50_ms: f64,
    /// Its 99th percentile, ms.
    pub license_list_p99_ms: f64,
    /// The first page of the VA's instance list (the API's default page of 1,000), median of
    /// [`PAGE_PROBES`] calls, ms.
    pub instance_page_p50_ms: f64,
    /// Its 99th percentile, ms.
    pub instance_page_p99_ms: f64,
    /// One product instance (`instance show`), median of [`PAGE_PROBES`] calls, ms.
    pub instance_view_p50_ms: f64,
    /// Each manager's resident memory after the renewal phase (its `/metrics`), MiB.
    pub manager_rss_mib: Vec<f64>,
    /// CPU time (user + system) the managers spent during the renewal phase, per renewal, µs
    /// (their `process_cpu_seconds_total`; `null` where a manager does not tell). On a machine
    /// whose speed moves from run to run, this and the next compare builds better than the
    /// rate: they do not count the time the machine was away.
    pub manager_cpu_us_per_renewal: Option<f64>,
    /// CPU time this benchmark's own process (the devices' side) spent during the renewal phase,
    /// per renewal, µs (`/proc/self/stat`; `null` where it cannot be read).
    pub client_cpu_us_per_renewal: Option<f64>,
    /// The renewal phase second by second (a slow stretch shows here, not in the percentiles).
    pub per_second: Vec<SecondFigures>,
    /// The storm, with `--storm`.
    pub storm: Option<StormFigures>,
}

/// One second of the renewal phase: renewals that ended in it.
#[derive(Debug, Clone, Serialize)]
pub struct SecondFigures {
    /// Renewals that succeeded.
    pub renewals: usize,
    /// Their 99th percentile latency, ms.
    pub p99_ms: f64,
}

/// Renewal latencies (µs) grouped by the second of the phase they ended in.
pub fn per_second(timed: &[(u32, u32)]) -> Vec<SecondFigures> {
    let seconds = timed.iter().map(|&(s, _)| s as usize + 1).max().unwrap_or(0);
    let mut by_second: Vec<Vec<u32>> = vec![Vec::new(); seconds];
    for &(s, us) in timed {
        by_second[s as usize].push(us);
    }
    by_second
        .into_iter()
        .map(|mut lat| {
            lat.sort_unstable();
            SecondFigures {
                renewals: lat.len(),
                p99_ms: percentile_ms(&lat, 0.99),
            }
        })
        .collect()
}

pub(crate) fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Why one request failed.
#[derive(Debug)]
enum Failure {
    /// 503, with Retry-After seconds.
    Busy(Option<u64>),
    /// Anything else.
    Other(String),
}

struct Bench {
    /// One admin API client per manager (the set-up calls go to the first).
    admins: Vec<AdminClient>,
    /// One device protocol client per manager.
    homes: Vec<CallHome>,
    anchors: Vec<Vec<u8>>,
}

#[derive(Clone)]
struct Device {
    key: SigningKey,
    instance_id: String,
    server: usize,
    /// The hostname it registered with, and reports in every renewal (as a node does).
    hostname: String,
    /// Its number for [`renewal_usage`].
    usage_index: usize,
}

/// The devices that renew: those registered over HTTPS, then the preloaded ones (derived when
/// renewed, not kept; a count of 0 without `--preload`).
struct Fleet {
    registered: Vec<Device>,
    preloaded: Preloaded,
}

impl Fleet {
    fn len(&self) -> usize {
        self.registered.len() + self.preloaded.count
    }

    /// Device `i` of [`Fleet::len`]: a registered one, or past them the preloaded one of that
    /// number.
    fn device(&self, i: usize) -> Cow<'_, Device> {
        if let Some(d) = self.registered.get(i) {
            return Cow::Borrowed(d);
        }
        let n = i - self.registered.len();
        let d = self.preloaded.device(n);
        Cow::Owned(Device {
            key: d.key,
            instance_id: d.instance_id,
            server: n,
            hostname: d.hostname,
            usage_index: n,
        })
    }

    /// The `j`-th device a renewal worker takes: every device once per round, in an order that
    /// spreads a large fleet's renewals over the whole table rather than its first rows.
    fn nth(&self, j: usize) -> Cow<'_, Device> {
        let n = self.len();
        let pos = j % n;
        if self.preloaded.count == 0 {
            return self.device(pos);
        }
        // A prime stride that is coprime to n visits each position once per round.
        const STRIDE: u128 = 1_000_003;
        let stride = if (n as u128).is_multiple_of(STRIDE) { 1 } else { STRIDE };
        self.device(((pos as u128 * stride) % n as u128) as usize)
    }
}

impl Bench {
    fn new(args: &FleetArgs, pool: usize) -> Result<Bench> {
        let pem = std::fs::read_to_string(&args.ca).with_context(|| format!("cannot read {}", args.ca.display()))?;
        let anchors = pem_certificates(&pem).map_err(|e| anyhow!("CA file {}: {e}", args.ca.display()))?;
        let limits = Limits {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            max_idle_per_host: pool,
        };
        let mut admins = Vec::new();
        let mut homes = Vec::new();
        for server in &args.servers {
            admins.push(AdminClient::new(server.clone(), &args.ca, args.api_key.clone())?);
            homes.push(CallHome::with_limits(server.as_str(), &anchors, None, limits).context("HTTP client set-up")?);
        }
        if admins.is_empty() {
            bail!("pass --server URL");
        }
        Ok(Bench { admins, homes, anchors })
    }

    /// The first manager's admin API: the benchmark's set-up calls.
    fn admin(&self) -> &AdminClient {
        &self.admins[0]
    }

    /// Times `probes` calls of `call` (after one warm-up), µs, sorted.
    async fn time_calls<F, Fut, T>(probes: usize, mut call: F) -> Result<Vec<u32>>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let mut lat = Vec::with_capacity(probes);
        for i in 0..=probes {
            let t = Instant::now();
            call().await?;
            if i > 0 {
                lat.push(micros(t.elapsed()));
            }
        }
        lat.sort_unstable();
        Ok(lat)
    }

    /// Times [`PAGE_PROBES`] calls of the first page of `va`'s instance list, then as many of
    /// instance `one`, on the first manager, µs, sorted.
    async fn time_instance_reads(&self, account: &str, va: &str, one: &str) -> Result<(Vec<u32>, Vec<u32>)> {
        let page = Self::time_calls(PAGE_PROBES, || async {
            let rows: Vec<InstanceInfo> = self
                .admin()
                .get(&["accounts", account, "instances"], &[("va", va)])
                .await
                .with_context(|| format!("admin API instance list of {account}/{va}"))?;
            if rows.is_empty() {
                bail!("the instance list of {account}/{va} is empty");
            }
            Ok(())
        })
        .await?;
        let view = Self::time_calls(PAGE_PROBES, || async {
            self.admin()
                .instance(account, one)
                .await
                .with_context(|| format!("admin API instance {one}"))
        })
        .await?;
        Ok((page, view))
    }

    /// Times `LIST_PROBES` calls of `license list` of `va` on the first manager (after one
    /// warm-up), µs, sorted.
    async fn time_license_list(&self, account: &str, va: &str) -> Result<Vec<u32>> {
        Self::time_calls(LIST_PROBES, || async {
            self.admin()
                .licenses(account, va)
                .await
                .with_context(|| format!("admin API license list of {account}/{va}"))
        })
        .await
    }

    /// One figure of each manager's `/metrics` (`None` where a manager does not tell).
    async fn manager_figures(&self, name: &str) -> Vec<Option<f64>> {
        let mut out = Vec::new();
        for admin in &self.admins {
            let text = admin.metrics().await.unwrap_or_default();
            out.push(metric_value(&text, name));
        }
        out
    }

    /// Each manager's `process_resident_memory_bytes`, MiB (NaN where it does not tell).
    async fn resident_mib(&self) -> Vec<f64> {
        self.manager_figures("process_resident_memory_bytes")
            .await
            .into_iter()
            .map(|b| b.map(|b| b / (1024.0 * 1024.0)).unwrap_or(f64::NAN))
            .collect()
    }

    /// The managers' CPU seconds together, and this process's (`None` where one is unknown).
    async fn cpu_seconds(&self) -> (Option<f64>, Option<f64>) {
        let managers = self
            .manager_figures("process_cpu_seconds_total")
            .await
            .into_iter()
            .sum();
        let own = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|t| stat_cpu_seconds(&t));
        (managers, own)
    }

    /// One authorization renewal of a registered device.
    async fn renew(&self, d: &Device, body: &AuthorizationRequest) -> Result<AuthorizationResponse, Failure> {
        self.exchange(d.server, "/authorize", &d.key, Some(d.instance_id.clone()), body)
            .await
    }

    /// One signed exchange, verified as the agent verifies it (it is the agent's).
    async fn exchange<B: Serialize + Message, R: DeserializeOwned + Message>(
        &self,
        server: usize,
        path: &str,
        key: &SigningKey,
        instance_id: Option<String>,
        body: &B,
    ) -> Result<R, Failure> {
        let home = &self.homes[server % self.homes.len()];
        home.exchange(path, key, instance_id, body, &self.anchors, now_s)
            .await
            .map_err(|e| match e {
                TransportError::Busy { retry_after } => Failure::Busy(retry_after),
                other => Failure::Other(other.to_string()),
            })
    }
}

/// Share of renewals that report a changed licence count (sessions come and go; the licence count
/// of a node, one per 10,000 sessions, changes rarely between 30-day renewals).
pub const USAGE_CHANGE_RATIO: f64 = 0.1;

/// The licence count device `i` reports: its own steady 1-4, one more on [`USAGE_CHANGE_RATIO`]
/// of renewals (`roll` is uniform in 0..1).
pub fn renewal_usage(i: usize, roll: f64) -> u64 {
    let steady = 1 + (i % 4) as u64;
    if roll < USAGE_CHANGE_RATIO { steady + 1 } else { steady }
}

/// Retry-After with +0-50 % jitter, as the agent waits.
fn busy_wait(retry_after: Option<u64>) -> Duration {
    let secs = retry_after.unwrap_or(1).clamp(1, 60) as f64;
    Duration::from_secs_f64(secs * (1.0 + rand::random::<f64>() * 0.5))
}

/// The value of the unlabelled series `name` in a Prometheus text exposition.
fn metric_value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse::<f64>().ok())
}

/// User + system CPU seconds from a `/proc/PID/stat` line: fields 14 and 15, counted after the
/// command name's closing parenthesis (the name itself may hold spaces and parentheses), in
/// Linux's fixed user-visible tick of 1/100 s.
fn stat_cpu_seconds(stat: &str) -> Option<f64> {
    const TICKS_PER_S: f64 = 100.0;
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / TICKS_PER_S)
}

/// CPU µs per renewal between two readings of CPU seconds (`None` without both or renewals).
fn cpu_us_per_renewal(before: Option<f64>, after: Option<f64>, renewals: u64) -> Option<f64> {
    match (before, after) {
        (Some(b), Some(a)) if renewals > 0 && a >= b => Some((a - b) * 1e6 / renewals as f64),
        _ => None,
    }
}

/// `rate / floor`, or 0 when the floor is not a positive figure.
fn ratio(rate: f64, floor: f64) -> f64 {
    if floor > 0.0 && rate.is_finite() {
        rate / floor
    } else {
        0.0
    }
}

fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let i = ((sorted_us.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted_us[i.min(sorted_us.len() - 1)]) / 1000.0
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    errors: AtomicU64,
    busy: AtomicU64,
}

/// Runs the benchmark.
// Long: the phases in the order they run (floor, set-up, registration, list, renewals, storm, figures).
pub async fn run(args: FleetArgs) -> Result<FleetFigures> {
    let bench = Arc::new(Bench::new(&args, args.concurrency.max(args.devices.min(2048)))?);
    // Crypto floor first, while nothing else of ours runs.
    let crypto_floor =
        tokio::task::spawn_blocking(|| crate::bench_floor::crypto_floor_per_s(Duration::from_millis(700))).await?;

    // Account and token through the admin API.
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let account_name = format!("fleet-bench-{stamp}");
    let account = bench
        .admin()
        .create_account(&CreateAccount {
            name: account_name,
            domain: "fleet.bench.invalid".into(),
        })
        .await
        .context("admin API /api/v1/accounts")?;
    let token = bench
        .admin()
        .create_token(
            &account.id,
            "DEFAULT",
            &CreateToken {
                expires_days: Some(1),
                max_uses: Some(args.devices as u64),
                description: "smartlic bench fleet".into(),
                export_controlled: false,
            },
        )
        .await
        .with_context(|| {
            format!(
                "admin API /api/v1/accounts/{}/virtual-accounts/DEFAULT/tokens",
                account.id
            )
        })?;
    let catalog = Catalog::staros();
    let software_tag = catalog
        .software_for("ASR5500")
        .map(|s| s.tag.clone())
        .ok_or_else(|| anyhow!("the built-in catalog has no ASR5500"))?;
    let sku = catalog
        .service
        .first()
        .map(|s| s.sku.clone())
        .ok_or_else(|| anyhow!("the built-in catalog has no service"))?;

    // A large steady fleet first, straight into the database.
    let (preloaded, preload_s) = match &args.preload {
        Some((n, database)) => {
            let (p, secs) =
                crate::bench_preload::preload(database, &account.id, *n, stamp, &software_tag, &sku).await?;
            (p, secs)
        }
        None => (Preloaded { stamp, count: 0 }, 0.0),
    };

    // Registration: C workers take the next device index until N.
    let tally = Arc::new(Tally::default());
    let (devices, mut reg_lat, reg_elapsed) =
        register_fleet(&bench, &args, &token.token, &software_tag, stamp, &tally).await?;
    if devices.is_empty() {
        bail!(
            "no device could register ({} errors)",
            tally.errors.load(Ordering::Relaxed)
        );
    }
    reg_lat.sort_unstable();
    let one = devices[0].instance_id.clone();
    let fleet = Arc::new(Fleet {
        registered: devices,
        preloaded,
    });

    // The administrator's view of a VA holding every device.
    let list_lat = bench.time_license_list(&account.id, "DEFAULT").await?;
    let (page_lat, view_lat) = bench.time_instance_reads(&account.id, "DEFAULT", &one).await?;

    // Renewals: worker w renews devices w, w+C, w+2C, … in turn for S seconds.
    let (managers_before, own_before) = bench.cpu_seconds().await;
    let (timed, renewed, renew_elapsed) = renew_fleet(&bench, &fleet, &args, &sku, &tally).await?;
    let (managers_after, own_after) = bench.cpu_seconds().await;
    let renewals_per_s = renewed as f64 / renew_elapsed;
    let mut lat: Vec<u32> = timed.iter().map(|&(_, us)| us).collect();
    lat.sort_unstable();

    let rss = bench.resident_mib().await;
    // The transport floor, with the renewals' workers, for a quarter of their time (0.5-5 s).
    let floor_time = Duration::from_secs_f64((args.seconds / 4.0).clamp(0.5, 5.0));
    let transport = crate::bench_floor::transport_floor(&bench.homes, args.concurrency, floor_time).await;
    let storm = if args.storm {
        Some(storm(&bench, &fleet, &sku).await?)
    } else {
        None
    };

    Ok(FleetFigures {
        servers: args.servers.iter().map(|u| u.to_string()).collect(),
        devices: args.devices,
        concurrency: args.concurrency,
        registered: fleet.registered.len(),
        preloaded: fleet.preloaded.count,
        preload_s,
        registrations_per_s: fleet.registered.len() as f64 / reg_elapsed,
        registration_p50_ms: percentile_ms(&reg_lat, 0.50),
        registration_p99_ms: percentile_ms(&reg_lat, 0.99),
        renewals: renewed,
        renewal_seconds: renew_elapsed,
        renewals_per_s,
        p50_ms: percentile_ms(&lat, 0.50),
        p99_ms: percentile_ms(&lat, 0.99),
        max_ms: lat.last().map(|&us| f64::from(us) / 1000.0).unwrap_or(0.0),
        errors: tally.errors.load(Ordering::Relaxed),
        overloaded_503: tally.busy.load(Ordering::Relaxed),
        usage_change_ratio: USAGE_CHANGE_RATIO,
        crypto_floor_per_s: crypto_floor,
        renewals_per_crypto_floor: ratio(renewals_per_s, crypto_floor),
        transport_floor_per_s: transport.per_s,
        transport_floor_errors: transport.errors,
        license_list_p50_ms: percentile_ms(&list_lat, 0.50),
        license_list_p99_ms: percentile_ms(&list_lat, 0.99),
        instance_page_p50_ms: percentile_ms(&page_lat, 0.50),
        instance_page_p99_ms: percentile_ms(&page_lat, 0.99),
        instance_view_p50_ms: percentile_ms(&view_lat, 0.50),
        manager_rss_mib: rss,
        manager_cpu_us_per_renewal: cpu_us_per_renewal(managers_before, managers_after, renewed),
        client_cpu_us_per_renewal: cpu_us_per_renewal(own_before, own_after, renewed),
        per_second: per_second(&timed),
        storm,
    })
}

/// The registration phase: C workers take the next device index until N (or the time bound);
/// the devices registered, their latencies (µs, in the order they ended) and the phase's length, s.
// Long, but one story: the workers' loop with its three outcomes (registered, busy, failed).
async fn register_fleet(
    bench: &Arc<Bench>,
    args: &FleetArgs,
    token: &str,
    software_tag: &str,
    run_id: u128,
    tally: &Arc<Tally>,
) -> Result<(Vec<Device>, Vec<u32>, f64)> {
    let next = Arc::new(AtomicUsize::new(0));
    let reg_start = Instant::now();
    let reg_deadline = reg_start + PHASE_LIMIT;
    let mut workers = Vec::new();
    for _ in 0..args.concurrency.min(args.devices) {
        let (bench, tally, next, token, tag) = (
            bench.clone(),
            tally.clone(),
            next.clone(),
            token.to_string(),
            software_tag.to_string(),
        );
        let devices = args.devices;
        workers.push(tokio::spawn(async move {
            let mut out: Vec<(Device, u32)> = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= devices || Instant::now() >= reg_deadline {
                    break;
                }
                let key = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
                let body = RegisterRequest {
                    token: token.clone(),
                    udi: Udi {
                        pid: "ASR5500".into(),
                        sn: format!("FB{run_id}-{i}"),
                    },
                    hostname: format!("fleet-{i}"),
                    software_tag: tag.clone(),
                    public_key: smartlic_protocol::envelope::encode_public_key(&key.verifying_key()),
                    agent_version: "bench-fleet".into(),
                    ha_udis: Vec::new(),
                };
                for _ in 0..MAX_TRIES {
                    let t = Instant::now();
                    match bench
                        .exchange::<_, RegisterResponse>(i, "/register", &key, None, &body)
                        .await
                    {
                        Ok(r) => {
                            tally.ok.fetch_add(1, Ordering::Relaxed);
                            out.push((
                                Device {
                                    key: key.clone(),
                                    instance_id: r.instance_id,
                                    server: i,
                                    hostname: format!("fleet-{i}"),
                                    usage_index: i,
                                },
                                micros(t.elapsed()),
                            ));
                            break;
                        }
                        Err(Failure::Busy(ra)) => {
                            tally.errors.fetch_add(1, Ordering::Relaxed);
                            tally.busy.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(busy_wait(ra)).await;
                        }
                        Err(Failure::Other(e)) => {
                            tally.errors.fetch_add(1, Ordering::Relaxed);
                            tracing::debug!("registration {i}: {e}");
                            break;
                        }
                    }
                }
            }
            out
        }));
    }
    let mut devices = Vec::new();
    let mut reg_lat = Vec::new();
    for w in workers {
        for (d, us) in w.await? {
            devices.push(d);
            reg_lat.push(us);
        }
    }
    Ok((devices, reg_lat, reg_start.elapsed().as_secs_f64()))
}

/// The renewal phase: worker w renews devices w, w+C, w+2C, … in turn for S seconds; each
/// renewal's (second of the phase it ended in, latency µs), the renewals and the phase's length, s.
async fn renew_fleet(
    bench: &Arc<Bench>,
    devices: &Arc<Fleet>,
    args: &FleetArgs,
    sku: &str,
    tally: &Arc<Tally>,
) -> Result<(Vec<(u32, u32)>, u64, f64)> {
    let c = args.concurrency.min(devices.len());
    let renew_start = Instant::now();
    let renew_end = renew_start + Duration::from_secs_f64(args.seconds);
    let renewals = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for w in 0..c {
        let (bench, tally, devices, renewals, sku) = (
            bench.clone(),
            tally.clone(),
            devices.clone(),
            renewals.clone(),
            sku.to_string(),
        );
        workers.push(tokio::spawn(async move {
            // (second of the phase it ended in, latency µs)
            let mut lat: Vec<(u32, u32)> = Vec::new();
            let mut j = w;
            // Bounded by time, and by count as a safety net.
            while Instant::now() < renew_end && lat.len() < 50_000_000 {
                let d = devices.nth(j);
                j += c;
                let body = AuthorizationRequest {
                    hostname: d.hostname.clone(),
                    usage: vec![Usage {
                        sku: sku.clone(),
                        count: renewal_usage(d.usage_index, rand::random::<f64>()),
                    }],
                };
                let t = Instant::now();
                match bench.renew(&d, &body).await {
                    Ok(_) => {
                        lat.push((renew_start.elapsed().as_secs() as u32, micros(t.elapsed())));
                        renewals.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(Failure::Busy(ra)) => {
                        tally.errors.fetch_add(1, Ordering::Relaxed);
                        tally.busy.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(busy_wait(ra).min(renew_end.saturating_duration_since(Instant::now())))
                            .await;
                    }
                    Err(Failure::Other(e)) => {
                        tally.errors.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!("renewal: {e}");
                    }
                }
            }
            lat
        }));
    }
    let mut timed = Vec::new();
    for w in workers {
        timed.extend(w.await?);
    }
    Ok((
        timed,
        renewals.load(Ordering::Relaxed),
        renew_start.elapsed().as_secs_f64(),
    ))
}

/// Every device renews at once; each retries after Retry-After + jitter until it succeeds.
/// The registered devices storm; preloaded ones do not.
async fn storm(bench: &Arc<Bench>, fleet: &Arc<Fleet>, sku: &str) -> Result<StormFigures> {
    let start = Instant::now();
    let deadline = start + PHASE_LIMIT;
    let tally = Arc::new(Tally::default());
    let mut tasks = Vec::with_capacity(fleet.registered.len());
    for i in 0..fleet.registered.len() {
        let (bench, fleet, tally, sku) = (bench.clone(), fleet.clone(), tally.clone(), sku.to_string());
        tasks.push(tokio::spawn(async move {
            let d = &fleet.registered[i];
            let body = AuthorizationRequest {
                hostname: d.hostname.clone(),
                usage: vec![Usage { sku, count: 1 }],
            };
            for tries in 1..=MAX_TRIES {
                if Instant::now() >= deadline {
                    break;
                }
                match bench.renew(d, &body).await {
                    Ok(_) => {
                        tally.ok.fetch_add(1, Ordering::Relaxed);
                        return (true, tries, start.elapsed());
                    }
                    Err(Failure::Busy(ra)) => {
                        tally.busy.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(busy_wait(ra)).await;
                    }
                    Err(Failure::Other(e)) => {
                        // A failure that is not backpressure (e.g. a timeout): retry like the
                        // agent, after its first back-off step.
                        tally.errors.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!("storm renewal: {e}");
                        tokio::time::sleep(busy_wait(Some(2))).await;
                    }
                }
            }
            (false, MAX_TRIES, start.elapsed())
        }));
    }
    let mut succeeded = 0;
    let mut max_tries = 0;
    let mut last = Duration::ZERO;
    for t in tasks {
        let (ok, tries, at) = t.await?;
        succeeded += usize::from(ok);
        max_tries = max_tries.max(tries);
        last = last.max(at);
    }
    Ok(StormFigures {
        devices: fleet.registered.len(),
        succeeded,
        overloaded_503: tally.busy.load(Ordering::Relaxed),
        errors: tally.errors.load(Ordering::Relaxed),
        max_tries,
        converged_in_s: last.as_secs_f64(),
        converged: succeeded == fleet.registered.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(servers: &[&str], devices: usize, conc: usize, secs: f64) -> Result<FleetArgs> {
        let servers: Vec<String> = servers.iter().map(|s| s.to_string()).collect();
        check_args(
            &servers,
            Some(Path::new("ca.pem")),
            Some("key"),
            devices,
            conc,
            secs,
            false,
        )
    }

    #[test]
    fn arguments_are_checked() {
        let a = check(&["https://127.0.0.1:8443", "https://localhost:9443/"], 10, 4, 2.0).unwrap();
        assert_eq!(a.servers.len(), 2);
        assert!(check(&["https://[::1]:8443"], 1, 1, 0.5).is_ok());
        // Loopback only, https only.
        assert!(check(&["https://10.0.0.1:8443"], 10, 4, 2.0).is_err());
        assert!(check(&["https://example.com"], 10, 4, 2.0).is_err());
        assert!(check(&["http://127.0.0.1:8443"], 10, 4, 2.0).is_err());
        assert!(check(&[], 10, 4, 2.0).is_err());
        // Bounds.
        assert!(check(&["https://127.0.0.1:1"], 0, 4, 2.0).is_err());
        assert!(check(&["https://127.0.0.1:1"], MAX_DEVICES + 1, 4, 2.0).is_err());
        assert!(check(&["https://127.0.0.1:1"], 10, 0, 2.0).is_err());
        assert!(check(&["https://127.0.0.1:1"], 10, 4, 0.0).is_err());
        assert!(check(&["https://127.0.0.1:1"], 10, 4, f64::NAN).is_err());
        // Missing CA or key.
        let s = vec!["https://127.0.0.1:1".to_string()];
        assert!(check_args(&s, None, Some("k"), 1, 1, 1.0, false).is_err());
        assert!(check_args(&s, Some(Path::new("ca")), Some("  "), 1, 1, 1.0, false).is_err());
        // --preload and --database: both or neither, and a bounded count.
        let base = || check(&["https://127.0.0.1:1"], 10, 4, 2.0).unwrap();
        assert_eq!(base().with_preload(None, None).unwrap().preload, None);
        let db = || Some("postgres://postgres@127.0.0.1/x".to_string());
        assert_eq!(
            base().with_preload(Some(5), db()).unwrap().preload,
            Some((5, "postgres://postgres@127.0.0.1/x".to_string()))
        );
        assert!(base().with_preload(Some(5), None).is_err());
        assert!(base().with_preload(None, db()).is_err());
        assert!(base().with_preload(Some(0), db()).is_err());
        let too_many = crate::bench_preload::MAX_PRELOAD + 1;
        assert!(base().with_preload(Some(too_many), db()).is_err());
    }

    #[test]
    fn percentiles_and_busy_wait() {
        let v: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&v, 0.5), 51.0);
        assert_eq!(percentile_ms(&v, 0.99), 99.0);
        assert_eq!(percentile_ms(&[], 0.5), 0.0);
        let w = busy_wait(Some(2));
        assert!(w >= Duration::from_secs(2) && w <= Duration::from_secs(3));
    }

    #[test]
    fn the_ratio_to_the_floor_needs_a_floor() {
        assert_eq!(ratio(7_500.0, 21_000.0), 7_500.0 / 21_000.0);
        assert_eq!(ratio(7_500.0, 0.0), 0.0, "no floor measured");
        assert_eq!(ratio(f64::NAN, 21_000.0), 0.0, "a renewal phase of no time");
        assert_eq!(ratio(f64::INFINITY, 21_000.0), 0.0);
    }

    #[test]
    fn cpu_time_is_read_from_metrics_and_proc_stat() {
        let text = "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total_x 9\n\
                    process_cpu_seconds_total 12.5\nprocess_resident_memory_bytes 1048576\n";
        assert_eq!(metric_value(text, "process_cpu_seconds_total"), Some(12.5));
        assert_eq!(metric_value(text, "process_resident_memory_bytes"), Some(1_048_576.0));
        assert_eq!(metric_value(text, "process_open_fds"), None);
        assert_eq!(metric_value("process_open_fds many", "process_open_fds"), None);

        // The command name may hold spaces and parentheses; utime 250 and stime 50 ticks.
        let stat = "4242 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 3 0 100 1000 10";
        assert_eq!(stat_cpu_seconds(stat), Some(3.0));
        assert_eq!(stat_cpu_seconds("4242 (x) S 1 2"), None, "too few fields");
        assert_eq!(stat_cpu_seconds("no parenthesis"), None);
        // Our own line reads.
        let own = std::fs::read_to_string("/proc/self/stat").unwrap();
        assert!(stat_cpu_seconds(&own).is_some_and(|s| s >= 0.0), "{own}");

        assert_eq!(cpu_us_per_renewal(Some(10.0), Some(12.0), 4_000), Some(500.0));
        assert_eq!(cpu_us_per_renewal(Some(10.0), None, 4_000), None);
        assert_eq!(cpu_us_per_renewal(Some(10.0), Some(12.0), 0), None, "no renewals");
        assert_eq!(
            cpu_us_per_renewal(Some(12.0), Some(10.0), 5),
            None,
            "a manager restarted"
        );
    }

    #[test]
    fn renewals_are_grouped_by_second() {
        let timed = [(0, 1_000), (2, 5_000), (0, 3_000), (2, 7_000), (2, 6_000)];
        let s = per_second(&timed);
        assert_eq!(s.iter().map(|x| x.renewals).collect::<Vec<_>>(), [2, 0, 3]);
        assert_eq!(s[0].p99_ms, 3.0);
        assert_eq!(s[1].p99_ms, 0.0, "a second without renewals shows as one");
        assert_eq!(s[2].p99_ms, 7.0);
        assert!(per_second(&[]).is_empty());
    }
}
