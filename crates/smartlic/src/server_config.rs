//! The settings of `smartlic server` from three sources: its flags, the environment
//! (`SMARTLIC_` + the key in capitals) and a TOML file (`--config FILE`, keys as the long flags
//! with `_` for `-`). A flag beats the environment, which beats the file, which beats the
//! default. Relative paths in the file are taken from the file's own directory.

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde::Deserialize;
use smartlic_manager::webhooks::Cidr;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// How log lines are written on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (colours only on a terminal).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The flags of `smartlic server`. Every one is optional here: what is missing comes from the
/// environment, then from `--config`, then from the defaults ([`ServerArgs::resolve`]).
#[derive(Args, Debug, Default, Clone)]
pub struct ServerArgs {
    /// TOML file of settings (keys as these flags with `_` for `-`) [env: SMARTLIC_CONFIG].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory for the CA, keys, admin.key and the SQLite database (required here, in the
    /// environment or in the file) [env: SMARTLIC_DATA_DIR].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8443] [env: SMARTLIC_LISTEN].
    #[arg(long)]
    pub listen: Option<String>,
    /// Database URL (postgres://…); default SQLite at DATA_DIR/smartlic.db [env: SMARTLIC_DATABASE].
    #[arg(long)]
    pub database: Option<String>,
    /// Read "now" from this file (RFC 3339) instead of the system clock [env: SMARTLIC_CLOCK_FILE].
    #[arg(long)]
    pub clock_file: Option<PathBuf>,
    /// Product catalog (TOML); default the built-in StarOS catalog [env: SMARTLIC_CATALOG].
    #[arg(long)]
    pub catalog: Option<PathBuf>,
    /// The master key that seals private keys in the store; default DATA_DIR/master.key
    /// (created on a new store). Every manager of one database needs the same key
    /// [env: SMARTLIC_MASTER_KEY, or SMARTLIC_MASTER_KEY_FILE].
    #[arg(long)]
    pub master_key: Option<PathBuf>,
    /// Remove events older than this many days from the event log (0 keeps them all)
    /// [default: 400] [env: SMARTLIC_EVENT_RETENTION_DAYS].
    #[arg(long)]
    pub event_retention_days: Option<u32>,
    /// Let alert webhooks point into this loopback or private range, e.g. 10.20.0.0/16 or
    /// 127.0.0.1/32 for a local relay (repeatable; link-local and metadata addresses never)
    /// [env: SMARTLIC_WEBHOOK_ALLOW, comma-separated].
    #[arg(long, value_name = "CIDR")]
    pub webhook_allow: Vec<Cidr>,
    /// Serve this PEM certificate chain to browsers and clients instead of the manager's own
    /// (with --tls-key; SIGHUP reloads both) [env: SMARTLIC_TLS_CERT].
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert [env: SMARTLIC_TLS_KEY].
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// An extra DNS name or IP address for the manager's own TLS certificate, e.g. the name
    /// clients use with --listen 0.0.0.0:8443 (repeatable) [env: SMARTLIC_TLS_SAN,
    /// comma-separated].
    #[arg(long, value_name = "NAME")]
    pub tls_san: Vec<String>,
    /// Log lines on stderr as text or one JSON object per line [default: text]
    /// [env: SMARTLIC_LOG_FORMAT].
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,
    /// On a satellite linked with --parent: exchange with the parent at start and then every
    /// HOURS (decimals allowed, e.g. 0.5); a failed exchange is retried after 1 minute, doubling
    /// up to HOURS [env: SMARTLIC_SYNC_EVERY].
    #[arg(long, value_name = "HOURS")]
    pub sync_every: Option<f64>,
}

/// The `--config` file: every key optional, an unknown key an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    listen: Option<String>,
    database: Option<String>,
    clock_file: Option<PathBuf>,
    catalog: Option<PathBuf>,
    master_key: Option<PathBuf>,
    event_retention_days: Option<u32>,
    webhook_allow: Option<Vec<String>>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    tls_san: Option<Vec<String>>,
    log_format: Option<LogFormat>,
    sync_every: Option<f64>,
}

/// The settings `smartlic server` runs with, every source merged.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub listen: String,
    pub database: Option<String>,
    pub clock_file: Option<PathBuf>,
    pub catalog: Option<PathBuf>,
    pub master_key: Option<PathBuf>,
    pub event_retention_days: u32,
    pub webhook_allow: Vec<Cidr>,
    /// The operator's certificate chain and key (both or neither).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Extra names of the manager's own TLS certificate.
    pub tls_sans: Vec<String>,
    pub log_format: LogFormat,
    /// The satellite's scheduled exchange with its parent.
    pub sync_every: Option<std::time::Duration>,
}

/// The environment variable of a key: `SMARTLIC_` + the key in capitals.
fn env_name(key: &str) -> String {
    format!("SMARTLIC_{}", key.to_ascii_uppercase())
}

impl ServerArgs {
    /// Merges the flags, the environment (`env` looks a variable up; an empty value counts as
    /// unset), the `--config` file and the defaults.
    // Long: one statement per setting, each naming its flag, variable and file key side by side.
    pub fn resolve(self, env: impl Fn(&str) -> Option<OsString>) -> Result<ServerConfig> {
        let var = |key: &str| env(&env_name(key)).filter(|v| !v.is_empty());
        let text = |key: &str| -> Result<Option<String>> {
            var(key)
                .map(|v| {
                    v.into_string()
                        .map_err(|_| anyhow::anyhow!("{} is not valid UTF-8", env_name(key)))
                })
                .transpose()
        };
        let path = |key: &str| var(key).map(PathBuf::from);

        let config_path = self.config.clone().or_else(|| path("config"));
        let (file, base) = match &config_path {
            Some(p) => {
                let body = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read the config file {}", p.display()))?;
                let file: FileConfig = toml::from_str(&body).with_context(|| format!("config file {}", p.display()))?;
                let base = p.parent().map(Path::to_path_buf).unwrap_or_default();
                (file, base)
            }
            None => (FileConfig::default(), PathBuf::new()),
        };
        let file_path = |p: Option<PathBuf>| p.map(|p| base.join(p));

        let data_dir = self
            .data_dir
            .or_else(|| path("data_dir"))
            .or_else(|| file_path(file.data_dir))
            .context("no data directory: give --data-dir DIR, SMARTLIC_DATA_DIR or data_dir in --config")?;
        let listen = match self.listen {
            Some(l) => l,
            None => text("listen")?
                .or(file.listen)
                .unwrap_or_else(|| smartlic_manager::server::DEFAULT_LISTEN.to_string()),
        };
        let database = match self.database {
            Some(d) => Some(d),
            None => text("database")?.or(file.database),
        };
        let clock_file = self
            .clock_file
            .or_else(|| path("clock_file"))
            .or_else(|| file_path(file.clock_file));
        let catalog = self
            .catalog
            .or_else(|| path("catalog"))
            .or_else(|| file_path(file.catalog));
        let master_key = self
            .master_key
            .or_else(|| path("master_key"))
            .or_else(|| path("master_key_file"))
            .or_else(|| file_path(file.master_key));
        let event_retention_days = match self.event_retention_days {
            Some(d) => d,
            None => match text("event_retention_days")? {
                Some(v) => v
                    .trim()
                    .parse()
                    .with_context(|| format!("SMARTLIC_EVENT_RETENTION_DAYS={v}: expected a number of days"))?,
                None => file
                    .event_retention_days
                    .unwrap_or(smartlic_manager::server::DEFAULT_EVENT_RETENTION_DAYS),
            },
        };
        let webhook_allow = if !self.webhook_allow.is_empty() {
            self.webhook_allow
        } else if let Some(v) = text("webhook_allow")? {
            parse_cidrs(
                v.split(',').map(str::trim).filter(|s| !s.is_empty()),
                "SMARTLIC_WEBHOOK_ALLOW",
            )?
        } else {
            parse_cidrs(
                file.webhook_allow.iter().flatten().map(String::as_str),
                "webhook_allow in the config file",
            )?
        };
        let tls_cert = self
            .tls_cert
            .or_else(|| path("tls_cert"))
            .or_else(|| file_path(file.tls_cert));
        let tls_key = self
            .tls_key
            .or_else(|| path("tls_key"))
            .or_else(|| file_path(file.tls_key));
        let tls = match (tls_cert, tls_key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            (Some(_), None) => bail!("--tls-cert needs --tls-key (the certificate's private key)"),
            (None, Some(_)) => bail!("--tls-key needs --tls-cert (the certificate chain it belongs to)"),
        };
        let tls_sans = if !self.tls_san.is_empty() {
            self.tls_san
        } else if let Some(v) = text("tls_san")? {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        } else {
            file.tls_san.unwrap_or_default()
        };
        for name in &tls_sans {
            smartlic_manager::server::check_tls_san(name).map_err(|why| anyhow::anyhow!("--tls-san: {why}"))?;
        }
        let log_format = match self.log_format {
            Some(f) => f,
            None => match text("log_format")? {
                Some(v) => LogFormat::from_str(v.trim(), true)
                    .map_err(|_| anyhow::anyhow!("SMARTLIC_LOG_FORMAT={v}: expected json or text"))?,
                None => file.log_format.unwrap_or_default(),
            },
        };
        let sync_every = match self.sync_every {
            Some(h) => Some(sync_interval(h, "--sync-every")?),
            None => match text("sync_every")? {
                Some(v) => {
                    let h: f64 = v
                        .trim()
                        .parse()
                        .with_context(|| format!("SMARTLIC_SYNC_EVERY={v}: expected a number of hours"))?;
                    Some(sync_interval(h, "SMARTLIC_SYNC_EVERY")?)
                }
                None => file
                    .sync_every
                    .map(|h| sync_interval(h, "sync_every in the config file"))
                    .transpose()?,
            },
        };
        Ok(ServerConfig {
            data_dir,
            listen,
            database,
            clock_file,
            catalog,
            master_key,
            event_retention_days,
            webhook_allow,
            tls,
            tls_sans,
            log_format,
            sync_every,
        })
    }
}

/// Longest `--sync-every`: a year.
const MAX_SYNC_HOURS: f64 = 8760.0;

/// `--sync-every HOURS` as an interval: more than 0, at most a year.
fn sync_interval(hours: f64, source: &str) -> Result<std::time::Duration> {
    if !(hours > 0.0 && hours <= MAX_SYNC_HOURS) {
        bail!("{source}: expected a number of hours above 0 and at most {MAX_SYNC_HOURS} (got {hours})");
    }
    Ok(std::time::Duration::from_secs_f64(hours * 3600.0))
}

fn parse_cidrs<'a>(items: impl Iterator<Item = &'a str>, source: &str) -> Result<Vec<Cidr>> {
    items
        .map(|s| s.parse::<Cidr>().with_context(|| format!("{source}: {s}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::collections::HashMap;

    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        args: ServerArgs,
    }

    fn args(flags: &[&str]) -> ServerArgs {
        let mut argv = vec!["server"];
        argv.extend_from_slice(flags);
        Cmd::try_parse_from(argv).expect("flags").args
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let map: HashMap<String, OsString> = pairs.iter().map(|(k, v)| (k.to_string(), OsString::from(v))).collect();
        move |k| map.get(k).cloned()
    }

    fn config_file(dir: &Path, body: &str) -> String {
        let p = dir.join("smartlic.toml");
        std::fs::write(&p, body).expect("write config");
        p.to_string_lossy().into_owned()
    }

    #[test]
    fn defaults_apply_when_nothing_else_says() {
        let c = args(&["--data-dir", "/d"]).resolve(env(&[])).expect("resolve");
        assert_eq!(c.data_dir, PathBuf::from("/d"));
        assert_eq!(c.listen, "127.0.0.1:8443");
        assert_eq!(c.event_retention_days, 400);
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.tls, None);
        assert!(c.webhook_allow.is_empty() && c.database.is_none() && c.master_key.is_none());
    }

    #[test]
    fn flag_beats_environment_beats_file_beats_default() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = config_file(
            dir.path(),
            r#"
data_dir = "/file/data"
listen = "127.0.0.1:1111"
database = "postgres://file/db"
event_retention_days = 30
webhook_allow = ["10.0.0.0/8"]
log_format = "json"
tls_cert = "cert.pem"
tls_key = "/abs/key.pem"
catalog = "catalog.toml"
"#,
        );
        // File only (beats the defaults); relative paths are the file's directory's.
        let c = args(&["--config", &file]).resolve(env(&[])).expect("resolve");
        assert_eq!(c.data_dir, PathBuf::from("/file/data"));
        assert_eq!(c.listen, "127.0.0.1:1111");
        assert_eq!(c.database.as_deref(), Some("postgres://file/db"));
        assert_eq!(c.event_retention_days, 30);
        assert_eq!(c.webhook_allow, vec!["10.0.0.0/8".parse::<Cidr>().expect("cidr")]);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(
            c.tls,
            Some((dir.path().join("cert.pem"), PathBuf::from("/abs/key.pem")))
        );
        assert_eq!(c.catalog, Some(dir.path().join("catalog.toml")));

        // The environment beats the file.
        let e = env(&[
            ("SMARTLIC_DATA_DIR", "/env/data"),
            ("SMARTLIC_LISTEN", "127.0.0.1:2222"),
            ("SMARTLIC_EVENT_RETENTION_DAYS", "7"),
            ("SMARTLIC_WEBHOOK_ALLOW", "127.0.0.1/32, 192.168.0.0/16"),
            ("SMARTLIC_LOG_FORMAT", "text"),
            ("SMARTLIC_DATABASE", ""), // empty counts as unset
        ]);
        let c = args(&["--config", &file]).resolve(&e).expect("resolve");
        assert_eq!(c.data_dir, PathBuf::from("/env/data"));
        assert_eq!(c.listen, "127.0.0.1:2222");
        assert_eq!(c.event_retention_days, 7);
        assert_eq!(c.webhook_allow.len(), 2);
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.database.as_deref(), Some("postgres://file/db"));

        // A flag beats both.
        let c = args(&[
            "--config",
            &file,
            "--data-dir",
            "/flag/data",
            "--listen",
            "127.0.0.1:3333",
            "--event-retention-days",
            "0",
            "--webhook-allow",
            "172.16.0.0/12",
            "--log-format",
            "json",
        ])
        .resolve(&e)
        .expect("resolve");
        assert_eq!(c.data_dir, PathBuf::from("/flag/data"));
        assert_eq!(c.listen, "127.0.0.1:3333");
        assert_eq!(c.event_retention_days, 0);
        assert_eq!(c.webhook_allow, vec!["172.16.0.0/12".parse::<Cidr>().expect("cidr")]);
        assert_eq!(c.log_format, LogFormat::Json);
    }

    #[test]
    fn sync_every_comes_from_flag_environment_or_file_and_is_checked() {
        use std::time::Duration;
        let dir = tempfile::tempdir().expect("tempdir");
        let file = config_file(dir.path(), "data_dir = \"/d\"\nsync_every = 24\n");
        let hours = |h: u64| Some(Duration::from_secs(h * 3600));
        assert_eq!(
            args(&["--data-dir", "/d"])
                .resolve(env(&[]))
                .expect("resolve")
                .sync_every,
            None
        );
        let c = args(&["--config", &file]).resolve(env(&[])).expect("resolve");
        assert_eq!(c.sync_every, hours(24));
        let e = env(&[("SMARTLIC_SYNC_EVERY", "6")]);
        assert_eq!(
            args(&["--config", &file]).resolve(&e).expect("resolve").sync_every,
            hours(6)
        );
        let c = args(&["--config", &file, "--sync-every", "0.5"])
            .resolve(&e)
            .expect("resolve");
        assert_eq!(c.sync_every, Some(Duration::from_secs(1800)));
        for (flags, vars, says) in [
            (
                vec!["--sync-every", "0"],
                vec![],
                "--sync-every: expected a number of hours above 0",
            ),
            (vec!["--sync-every", "9000"], vec![], "at most 8760"),
            (
                vec![],
                vec![("SMARTLIC_SYNC_EVERY", "daily")],
                "SMARTLIC_SYNC_EVERY=daily: expected a number of hours",
            ),
            (
                vec![],
                vec![("SMARTLIC_SYNC_EVERY", "-1")],
                "SMARTLIC_SYNC_EVERY: expected a number of hours above 0",
            ),
        ] {
            let mut all = vec!["--data-dir", "/d"];
            all.extend(flags);
            let err = args(&all).resolve(env(&vars)).expect_err(says);
            assert!(format!("{err:#}").contains(says), "{err:#}");
        }
    }

    #[test]
    fn extra_tls_names_come_from_flag_environment_or_file_and_are_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = config_file(dir.path(), "data_dir = \"/d\"\ntls_san = [\"file.example.net\"]\n");
        let c = args(&["--config", &file]).resolve(env(&[])).expect("resolve");
        assert_eq!(c.tls_sans, vec!["file.example.net"]);
        let e = env(&[("SMARTLIC_TLS_SAN", "env.example.net, 10.1.2.3")]);
        let c = args(&["--config", &file]).resolve(&e).expect("resolve");
        assert_eq!(c.tls_sans, vec!["env.example.net", "10.1.2.3"]);
        let c = args(&["--config", &file, "--tls-san", "flag.example.net", "--tls-san", "::1"])
            .resolve(&e)
            .expect("resolve");
        assert_eq!(c.tls_sans, vec!["flag.example.net", "::1"]);
        let err = format!(
            "{:#}",
            args(&["--data-dir", "/d", "--tls-san", "bad name!"])
                .resolve(env(&[]))
                .expect_err("not a name")
        );
        assert!(err.contains("--tls-san") && err.contains("bad name!"), "{err}");
    }

    #[test]
    fn the_config_file_may_come_from_the_environment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = config_file(dir.path(), "data_dir = \"data\"\n");
        let c = args(&[]).resolve(env(&[("SMARTLIC_CONFIG", &file)])).expect("resolve");
        assert_eq!(c.data_dir, dir.path().join("data"));
    }

    #[test]
    fn master_key_keeps_its_older_variable() {
        let c = args(&["--data-dir", "/d"])
            .resolve(env(&[("SMARTLIC_MASTER_KEY_FILE", "/old")]))
            .expect("resolve");
        assert_eq!(c.master_key, Some(PathBuf::from("/old")));
        let c = args(&["--data-dir", "/d"])
            .resolve(env(&[
                ("SMARTLIC_MASTER_KEY_FILE", "/old"),
                ("SMARTLIC_MASTER_KEY", "/new"),
            ]))
            .expect("resolve");
        assert_eq!(c.master_key, Some(PathBuf::from("/new")));
    }

    #[test]
    fn mistakes_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = config_file(dir.path(), "data_dir = \"/d\"\nlisten_addr = \"x\"\n");
        let e = format!(
            "{:#}",
            args(&["--config", &file]).resolve(env(&[])).expect_err("unknown key")
        );
        assert!(e.contains("listen_addr"), "{e}");

        let e = format!("{:#}", args(&[]).resolve(env(&[])).expect_err("no data dir"));
        assert!(e.contains("--data-dir") && e.contains("SMARTLIC_DATA_DIR"), "{e}");

        let e = format!(
            "{:#}",
            args(&["--data-dir", "/d", "--tls-cert", "c.pem"])
                .resolve(env(&[]))
                .expect_err("cert without key")
        );
        assert!(e.contains("--tls-key"), "{e}");
        let e = format!(
            "{:#}",
            args(&["--data-dir", "/d"])
                .resolve(env(&[("SMARTLIC_TLS_KEY", "k.pem")]))
                .expect_err("key without cert")
        );
        assert!(e.contains("--tls-cert"), "{e}");

        let e = format!(
            "{:#}",
            args(&["--data-dir", "/d"])
                .resolve(env(&[("SMARTLIC_EVENT_RETENTION_DAYS", "many")]))
                .expect_err("bad number")
        );
        assert!(e.contains("SMARTLIC_EVENT_RETENTION_DAYS"), "{e}");
        let e = format!(
            "{:#}",
            args(&["--data-dir", "/d"])
                .resolve(env(&[("SMARTLIC_LOG_FORMAT", "xml")]))
                .expect_err("bad format")
        );
        assert!(e.contains("json or text"), "{e}");
        assert!(
            args(&["--config", "/nonexistent/smartlic.toml"])
                .resolve(env(&[]))
                .is_err()
        );
    }
}
