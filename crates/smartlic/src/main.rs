//! `smartlic`: one executable for the license manager (`server`), a product with the Smart Agent
//! inside (`node`), its CLI (`cli`), the administration client (`account`, `va`, `license`,
//! `token`, `instance`, `user`, `reservation`, `alert`, `event`, `usage`, `webhook`), backups of a
//! SQLite manager (`backup`, `restore`), benchmarks (`bench`) and a demo (`demo`). This file only
//! parses flags and wires the library crates together.

/// jemalloc instead of glibc's allocator: the manager's renewal path allocates and frees many
/// small buffers across threads, where glibc's `malloc` and `free` took 10-13 % of the CPU; with
/// jemalloc a renewal costs about 6 % less CPU (docs/performance.md, step 17).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// `println!` that ends the process quietly when stdout is closed (`smartlic … | head`), instead
/// of panicking on the broken pipe.
macro_rules! outln {
    () => {
        $crate::write_stdout(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::write_stdout(format_args!($($arg)*))
    };
}

/// Writes one line to stdout; a closed pipe ends the process with success (the reader has what
/// it wanted), another write error with a message and status 1.
pub(crate) fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("smartlic: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

mod admin;
mod backup;
mod bench;
mod bench_fleet;
mod bench_floor;
mod bench_preload;
mod bench_year;
mod demo;
mod manual;
mod server_config;
mod shell;

use anyhow::{Context, Result};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "smartlic",
    version,
    about = "Open Smart Software Licensing: license manager, Smart Agent node and CLI"
)]
struct Cli {
    /// The admin client's connection flags (`--server`, `--ca`, `--api-key`): taken here, before
    /// the subcommand, and after the name of an administration command or `bench fleet` (see
    /// [`cli_command`]); the values given after the subcommand win.
    #[command(flatten)]
    conn: admin::Connection,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Platform {
    #[value(name = "ASR5500")]
    Asr5500,
    #[value(name = "VPC-SI")]
    VpcSi,
    #[value(name = "VPC-DI")]
    VpcDi,
}

impl Platform {
    fn name(self) -> &'static str {
        match self {
            Platform::Asr5500 => "ASR5500",
            Platform::VpcSi => "VPC-SI",
            Platform::VpcDi => "VPC-DI",
        }
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the license manager (Smart Software Manager) over HTTPS.
    Server(server_config::ServerArgs),
    /// Copy a running (or stopped) SQLite license manager and its key files into one file.
    Backup {
        /// The manager's data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// The backup file to write (0600; replaced if it exists).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Make a data directory from a file of `smartlic backup`.
    Restore {
        /// The backup file.
        #[arg(long = "in", value_name = "FILE")]
        input: PathBuf,
        /// The data directory to create (must not exist, or be empty).
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Run one product instance (a simulated StarOS node with the Smart Agent).
    Node {
        /// Directory for the licensing state, trust pool, configuration and cli.sock.
        #[arg(long)]
        data_dir: PathBuf,
        /// Hostname shown in the prompt and reported to the manager.
        #[arg(long, default_value = "asr5500")]
        hostname: String,
        /// Platform.
        #[arg(long, value_enum, ignore_case = true, default_value = "ASR5500")]
        platform: Platform,
        /// Serial number (default: generated once and kept in DATA_DIR/serial).
        #[arg(long)]
        serial: Option<String>,
        /// Read "now" from this file (RFC 3339) instead of the system clock.
        #[arg(long)]
        clock_file: Option<PathBuf>,
        /// Product catalog (TOML); default the built-in StarOS catalog.
        #[arg(long)]
        catalog: Option<PathBuf>,
        /// Serve Prometheus metrics at http://HOST:PORT/metrics.
        #[arg(long, value_name = "HOST:PORT")]
        metrics_listen: Option<String>,
        /// StarOS release: 21.6, or 21.3 (mixed mode: on/off features follow the legacy key).
        #[arg(long, default_value = "21.6")]
        release: smartlic_agent::Release,
        /// VPC-DI: service-function VMs beside the two control functions (each has a UDI).
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(0..=64))]
        sf_cards: u8,
    },
    /// Open a CLI session on a running node.
    Cli {
        /// The node's data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// Run this line as if typed at the prompt (repeatable, in order).
        #[arg(short = 'c', value_name = "LINE")]
        lines: Vec<String>,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        which: BenchCommand,
    },
    /// Start a license manager and a registered demo node, ready to look at.
    Demo {
        /// Directory for both (manager/ and node/ inside).
        #[arg(long, default_value = "demo")]
        data_dir: PathBuf,
        /// Address of the demo license manager.
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: String,
    },
    /// Print a shell completion script (e.g. `smartlic completions bash > /etc/bash_completion.d/smartlic`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write manual pages (smartlic.1 and one per subcommand) into a directory.
    Man {
        /// Directory to write them to (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    #[command(flatten)]
    Admin(admin::AdminCommand),
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// The admission hot path against a bare atomic and a Mutex<HashMap>.
    Admission {
        /// Total measuring time.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// Threads admitting on one service for the `_mt` figures.
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
    /// A fleet of simulated devices registering and renewing against running managers over HTTPS
    /// (--server, repeated for managers on one database, --ca and --api-key; loopback managers
    /// only).
    Fleet {
        /// Simulated devices.
        #[arg(long, default_value_t = 1000)]
        devices: usize,
        /// Concurrent workers.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Length of the renewal phase, seconds.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Then every device renews at once, honouring 503 + Retry-After.
        #[arg(long)]
        storm: bool,
        /// First write N product instances straight into the manager's database (a large steady
        /// fleet; they renew too), with --database.
        #[arg(long, value_name = "N")]
        preload: Option<usize>,
        /// The managers' database for --preload: its postgres:// URL or the SQLite file.
        #[arg(long, value_name = "URL")]
        database: Option<String>,
    },
    /// D days of N real Smart Agents against a real manager it starts, in virtual time (a clock
    /// file moved 6 hours at a time): renewals, ID renewals, retries; prints one JSON object.
    Year {
        /// Smart Agents.
        #[arg(long, default_value_t = 1000)]
        devices: usize,
        /// Virtual days.
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// PostgreSQL URL for the manager (default: SQLite in a temporary directory).
        #[arg(long, value_name = "URL")]
        database: Option<String>,
    },
}

/// The whole command line: the derived definition, with the connection flags also on every
/// administration command and `bench fleet`, global below them (`smartlic account list --ca F`
/// works as well as `smartlic --ca F account list`). Only there: `--help` of `server`, `node`,
/// `cli` and `demo` does not list them.
fn cli_command() -> clap::Command {
    let connected = |sub: clap::Command| {
        admin::Connection::IDS
            .into_iter()
            .fold(admin::Connection::augment_args(sub), |sub, id| {
                sub.mut_arg(id, |a| a.global(true))
            })
    };
    let admin_names: Vec<String> = admin::AdminCommand::augment_subcommands(clap::Command::new("admin"))
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    let cmd = admin_names
        .iter()
        .fold(Cli::command(), |cmd, name| cmd.mut_subcommand(name, connected));
    cmd.mut_subcommand("bench", |bench| bench.mut_subcommand("fleet", connected))
}

/// The parsed command line; exits with clap's message (status 2) on a bad one, and when
/// connection flags come before a command that does not talk to a manager.
fn parse_command_line() -> Cli {
    let matches = cli_command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.format(&mut cli_command()).exit());
    let talks_to_manager = matches!(
        cli.command,
        Command::Admin(_)
            | Command::Bench {
                which: BenchCommand::Fleet { .. }
            }
    );
    let given = admin::Connection::IDS
        .into_iter()
        .any(|id| matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine));
    if given && !talks_to_manager {
        cli_command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "--server, --ca and --api-key are options of the administration commands and `bench fleet` only",
            )
            .exit();
    }
    cli
}

fn load_catalog(path: Option<&PathBuf>) -> Result<smartlic_protocol::Catalog> {
    match path {
        None => Ok(smartlic_protocol::Catalog::staros()),
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("cannot read catalog {}", p.display()))?;
            Ok(smartlic_protocol::Catalog::from_toml_str(&text).with_context(|| format!("catalog {}", p.display()))?)
        }
    }
}

fn init_logging() {
    init_logging_as(server_config::LogFormat::Text);
}

/// Log lines on stderr, filtered by `SMARTLIC_LOG` (default `info`): text (colours only when
/// stderr is a terminal) or one JSON object per line.
fn init_logging_as(format: server_config::LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("SMARTLIC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        server_config::LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        server_config::LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_ansi(false)
            .try_init(),
    };
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

// Long: one arm per subcommand, each only wiring flags to the crate that does the work.
fn run(cli: Cli) -> Result<bool> {
    match cli.command {
        Command::Server(args) => {
            let config = args.resolve(|k| std::env::var_os(k))?;
            init_logging_as(config.log_format);
            let opts = smartlic_manager::ServerOptions {
                data_dir: config.data_dir,
                listen: config.listen,
                database: config.database,
                clock: smartlic_clock::from_option(config.clock_file.as_deref()),
                catalog: load_catalog(config.catalog.as_ref())?,
                master_key: config.master_key,
                event_retention_days: config.event_retention_days,
                webhook_allow: config.webhook_allow,
                tls_sans: config.tls_sans,
                sync_every: config.sync_every,
            };
            let tls = config
                .tls
                .map(|(cert, key)| smartlic_manager::server::OperatorTls { cert, key });
            runtime()?.block_on(smartlic_manager::server::run_server_with(opts, tls))?;
            Ok(true)
        }
        Command::Backup { data_dir, out } => {
            runtime()?.block_on(backup::backup(&data_dir, &out))?;
            Ok(true)
        }
        Command::Restore { input, data_dir } => {
            runtime()?.block_on(backup::restore(&input, &data_dir))?;
            Ok(true)
        }
        Command::Node {
            data_dir,
            hostname,
            platform,
            serial,
            clock_file,
            catalog,
            metrics_listen,
            release,
            sf_cards,
        } => {
            init_logging();
            let opts = smartlic_node::NodeOptions {
                dir: data_dir,
                hostname,
                platform: platform.name().to_string(),
                serial,
                clock: smartlic_clock::from_option(clock_file.as_deref()),
                catalog: load_catalog(catalog.as_ref())?,
                metrics_listen,
                release,
                sf_cards,
            };
            runtime()?.block_on(smartlic_node::run(opts))?;
            Ok(true)
        }
        Command::Cli { data_dir, lines } => {
            if lines.is_empty() {
                shell::interactive(&data_dir)
            } else {
                shell::run_lines(&data_dir, &lines)
            }
        }
        Command::Bench {
            which: BenchCommand::Admission { seconds, threads },
        } => {
            let figures = bench::admission(seconds, threads);
            outln!("{}", serde_json::to_string_pretty(&figures)?);
            Ok(true)
        }
        Command::Bench {
            which:
                BenchCommand::Fleet {
                    devices,
                    concurrency,
                    seconds,
                    storm,
                    preload,
                    database,
                },
        } => {
            let args = bench_fleet::check_args(
                &cli.conn.servers,
                cli.conn.ca.as_deref(),
                cli.conn.api_key.as_deref(),
                devices,
                concurrency,
                seconds,
                storm,
            )?
            .with_preload(preload, database)?;
            let figures = runtime()?.block_on(bench_fleet::run(args))?;
            outln!("{}", serde_json::to_string_pretty(&figures)?);
            Ok(true)
        }
        Command::Bench {
            which:
                BenchCommand::Year {
                    devices,
                    days,
                    database,
                },
        } => {
            let args = bench_year::check_args(devices, days, database.as_deref())?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(bench_year::WORKER_THREADS)
                .enable_all()
                .build()?;
            let figures = rt.block_on(bench_year::run(args))?;
            outln!("{}", serde_json::to_string_pretty(&figures)?);
            Ok(true)
        }
        Command::Demo { data_dir, listen } => {
            init_logging();
            runtime()?.block_on(demo::run(&data_dir, &listen))?;
            Ok(true)
        }
        Command::Completions { shell } => {
            manual::completions(&mut cli_command(), shell, &mut std::io::stdout());
            Ok(true)
        }
        Command::Man { out } => {
            let pages = manual::man_pages(cli_command(), &out)?;
            println!("{pages} manual pages written to {}", out.display());
            Ok(true)
        }
        Command::Admin(cmd) => {
            runtime()?.block_on(admin::run(&cli.conn, cmd))?;
            Ok(true)
        }
    }
}

fn main() -> ExitCode {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = parse_command_line();
    match run(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
