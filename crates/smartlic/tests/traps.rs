//! SNMP traps (docs/interface.md §4, docs/snmp-bulkstats.md): a real `snmptrapd` with the project's MIB loaded
//! receives the node's SNMPv2c notifications and prints them by name.
//!
//! Needs Debian's `snmptrapd`, `snmp` and `smitools` (`.ci/run` installs them) and the IETF base
//! MIB modules: `SMARTLIC_BASE_MIBS` names a directory holding SNMPv2-SMI/-TC/-CONF/-MIB (`.ci/run`
//! sets it); when unset, the test fetches the npm package `net-snmp`, which carries them.

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

const PGW: &str = "ASR5K-00-PW10GTWY";
const MIB: &str = "STARENT-SMARTLIC-MIB";

fn repo_mibs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../mibs")
}

fn require(tool: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "`{tool}` is not installed: this test needs Debian's snmptrapd, snmp and smitools \
         (apt-get install -y snmptrapd snmp smitools; .ci/run installs them)"
    );
}

/// The directory of the IETF base MIB modules.
fn base_mibs() -> PathBuf {
    if let Some(dir) = std::env::var_os("SMARTLIC_BASE_MIBS") {
        let dir = PathBuf::from(dir);
        assert!(dir.is_dir(), "SMARTLIC_BASE_MIBS={} is not a directory", dir.display());
        return dir;
    }
    let prefix = std::env::temp_dir().join("smartlic-base-mibs");
    let dir = prefix.join("node_modules/net-snmp/lib/mibs");
    if !dir.join("SNMPv2-SMI.mib").exists() {
        require("npm");
        run_ok(
            Command::new("npm")
                .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
                .arg(&prefix)
                .arg("net-snmp"),
            "npm install net-snmp (for the base MIB modules)",
        );
    }
    assert!(dir.is_dir(), "no base MIB modules in {}", dir.display());
    dir
}

fn mib_path() -> String {
    format!("{}:{}", base_mibs().display(), repo_mibs().display())
}

/// A running snmptrapd that prints one line per notification: `TRAP vb~~vb~~…`.
struct TrapD {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    port: u16,
}

impl TrapD {
    fn start() -> TrapD {
        require("snmptrapd");
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .map(|a| a.port())
            .expect("a free UDP port");
        let mut child = Command::new("snmptrapd")
            .args(["-f", "-C", "-Lo", "-n", "--disableAuthorization=yes", "-m", "ALL", "-M"])
            .arg(mib_path())
            .args(["-F", "TRAP %V~~%v\n"])
            .arg(format!("udp:127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start snmptrapd");
        let lines = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    lines.lock().expect("lines").push(line);
                }
            });
        }
        let d = TrapD { child, lines, port };
        wait_for(20, "snmptrapd to start", || {
            d.all().iter().any(|l| l.contains("NET-SNMP version")).then_some(())
        });
        d
    }

    /// Configures `node` to send its notifications here as target `nms`.
    fn configure_on(&self, node: &Node) {
        let target = format!("snmp target nms 127.0.0.1 port {} community public", self.port);
        let (out, ok) = cli(node, &["configure", &target, "end"]);
        assert!(ok, "{out}");
        assert!(cli_ok(node, "show configuration").contains("snmp target nms 127.0.0.1"));
    }

    fn all(&self) -> Vec<String> {
        self.lines.lock().expect("lines").clone()
    }

    /// Notifications received with this name, as `snmptrapd` printed them.
    fn named(&self, name: &str) -> Vec<String> {
        let key = format!("snmpTrapOID.0 = OID: {MIB}::{name}~~");
        self.all()
            .into_iter()
            .filter(|l| l.starts_with("TRAP ") && l.contains(&key))
            .collect()
    }

    /// Waits (30 s at most) for a notification by name and returns its line.
    fn wait(&self, name: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if let Some(line) = self.named(name).into_iter().next() {
                return line;
            }
            if std::time::Instant::now() > deadline {
                panic!(
                    "no trap {name} within 30s; snmptrapd printed:\n{}",
                    self.all().join("\n")
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

impl Drop for TrapD {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value printed for one object of a trap line (`…::obj.0 = TYPE: value`).
fn varbind(line: &str, object: &str) -> Option<String> {
    let key = format!("{MIB}::{object}.0 = ");
    line.split("~~").find_map(|vb| vb.strip_prefix(&key)).map(|v| {
        let v = v.split_once(": ").map(|(_, v)| v).unwrap_or(v);
        v.trim().trim_matches('"').to_string()
    })
}

fn check(line: &str, kind: &str, name: Option<&str>, tag_has: &str, state: &str) {
    assert_eq!(
        varbind(line, "starSmartLicEntitlementKind").as_deref(),
        Some(kind),
        "{line}"
    );
    if let Some(n) = name {
        assert_eq!(
            varbind(line, "starSmartLicEntitlementName").as_deref(),
            Some(n),
            "{line}"
        );
    }
    let tag = varbind(line, "starSmartLicEntitlementTag").unwrap_or_default();
    assert!(tag.contains(tag_has), "tag {tag:?} lacks {tag_has}: {line}");
    assert_eq!(varbind(line, "starSmartLicState").as_deref(), Some(state), "{line}");
    assert!(
        varbind(line, "starSmartLicDetail").is_some_and(|d| !d.is_empty()),
        "{line}"
    );
    assert!(line.contains("SNMPv2-MIB::sysUpTime.0 = Timeticks"), "{line}");
}

#[test]
fn mib_passes_smilint_and_loads_in_net_snmp() {
    require("smilint");
    require("snmptranslate");
    let file = repo_mibs().join(format!("{MIB}.my"));
    let out = Command::new("smilint")
        .args(["-l", "3"])
        .arg(&file)
        .env("SMIPATH", mib_path())
        .output()
        .expect("run smilint");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.trim().is_empty(),
        "smilint -l 3 reports:\n{text}"
    );

    for (name, oid) in [
        ("starSmartLicenseServiceOOC", ".1.3.6.1.4.1.8164.2.1349"),
        ("starSmartLicenseEvalMode", ".1.3.6.1.4.1.8164.2.1350"),
        ("starSmartLicenseEvalModeExpire", ".1.3.6.1.4.1.8164.2.1351"),
        ("starSmartLicenseCSSMConntectionFail", ".1.3.6.1.4.1.8164.2.1352"),
        ("starSmartLicenseServiceEvalExpiry", ".1.3.6.1.4.1.8164.2.1353"),
        ("starSmartLicenseServiceOOClear", ".1.3.6.1.4.1.8164.90.0.1349"),
        ("starSmartLicenseEvalModeClear", ".1.3.6.1.4.1.8164.90.0.1350"),
        ("starSmartLicenseEvalModeExpireClear", ".1.3.6.1.4.1.8164.90.0.1351"),
        ("starSmartLicenseCSSMConnectionFailClear", ".1.3.6.1.4.1.8164.90.0.1352"),
        ("starSmartLicenseServiceEvalExpiryClear", ".1.3.6.1.4.1.8164.90.0.1353"),
    ] {
        let out = Command::new("snmptranslate")
            .args(["-m", &format!("+{MIB}"), "-M"])
            .arg(format!("+{}", mib_path()))
            .args(["-On", &format!("{MIB}::{name}")])
            .output()
            .expect("run snmptranslate");
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(text.trim(), oid, "{name}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn traps_reach_snmptrapd_by_name_through_evaluation_ooc_and_clear() {
    let trapd = TrapD::start();
    let mut w = World::with_acme();
    w.deposit("Acme", "DEFAULT", PGW, 1);
    let node = w.start_node("trap1");
    w.prepare_node(&node);
    trapd.configure_on(&node);

    // Evaluation: licences in use while unregistered.
    assert_eq!(admitted(&cli_ok(&node, "calls connect pgw 100")), (100, 0));
    let line = trapd.wait("starSmartLicenseEvalMode");
    check(&line, "product(1)", Some("ASR5500"), "ASR5500", "evalMode(3)");

    // Day 91: the evaluation period is used up.
    w.advance_days(91);
    let line = trapd.wait("starSmartLicenseEvalModeExpire");
    check(&line, "product(1)", None, "regid.", "evalExpired(5)");
    let line = trapd.wait("starSmartLicenseEvalModeClear");
    check(&line, "product(1)", None, "regid.", "evalModeEnded(4)");

    // Registration clears the expiry; 15000 pgw sessions on one licence are out of compliance.
    let token = w.token("Acme", "DEFAULT", &[]);
    cli_ok(&node, &idtoken(&token));
    let line = trapd.wait("starSmartLicenseEvalModeExpireClear");
    check(&line, "product(1)", None, "regid.", "evalExpiryCleared(6)");
    assert_eq!(admitted(&cli_ok(&node, "calls connect pgw 14900")), (14900, 0));
    let line = trapd.wait("starSmartLicenseServiceOOC");
    check(&line, "service(2)", Some("pgw"), PGW, "outOfCompliance(1)");
    assert_eq!(varbind(&line, "starSmartLicSku").as_deref(), Some(PGW), "{line}");

    // One more licence and an authorization renewal clear it, with its own notification.
    w.deposit("Acme", "DEFAULT", PGW, 1);
    cli_ok(&node, "license smart renew auth");
    let line = trapd.wait("starSmartLicenseServiceOOClear");
    check(&line, "service(2)", Some("pgw"), PGW, "inCompliance(2)");

    let hist = cli_ok(&node, "show snmp trap history");
    for name in [
        "starSmartLicenseEvalMode ",
        "starSmartLicenseEvalModeExpire ",
        "starSmartLicenseServiceOOC ",
        "starSmartLicenseServiceOOClear ",
    ] {
        assert!(hist.contains(name), "history lacks {name}:\n{hist}");
    }
    assert!(
        hist.contains("1349") && hist.contains("1350") && hist.contains("sent to nms"),
        "{hist}"
    );

    // A restart resends nothing; the next transition (the manager unreachable) is trap 1352.
    w.kill("trap1");
    let node = w.start_node("trap1");
    w.kill("manager");
    let (_, ok) = cli(&node, &["license smart renew auth"]);
    assert!(!ok, "renewal with the manager down must fail");
    let line = trapd.wait("starSmartLicenseCSSMConntectionFail");
    check(&line, "product(1)", None, "regid.", "connectionFailed(7)");
    for name in [
        "starSmartLicenseEvalMode",
        "starSmartLicenseEvalModeClear",
        "starSmartLicenseEvalModeExpire",
        "starSmartLicenseEvalModeExpireClear",
        "starSmartLicenseServiceOOC",
        "starSmartLicenseServiceOOClear",
        "starSmartLicenseCSSMConntectionFail",
    ] {
        assert_eq!(
            trapd.named(name).len(),
            1,
            "{name} must arrive exactly once:\n{}",
            trapd.all().join("\n")
        );
    }
}

#[test]
fn reservation_install_and_return_reach_snmptrapd_by_name() {
    let trapd = TrapD::start();
    let mut w = World::with_acme();
    w.admin_ok(&["account", "set", "Acme", "--reservation", "specific"]);
    w.deposit("Acme", "DEFAULT", PGW, 2);
    let node = w.start_node("resv");
    w.prepare_node(&node);
    trapd.configure_on(&node);
    let (out, ok) = cli(&node, &["configure", "license smart reservation", "end"]);
    assert!(ok, "{out}");
    let request = cli_ok(&node, "license smart reservation request local");
    let licence = format!("{PGW}=2");
    let args = reservation_create_args("Acme", "DEFAULT", request.trim(), &["--license", &licence]);
    let auth = w.admin_ok(&args);
    cli_ok(&node, &format!("license smart reservation install \"{auth}\""));

    let line = trapd.wait("starSmartLicReservationInstalled");
    assert_eq!(
        varbind(&line, "starSmartLicState").as_deref(),
        Some("reservationInstalled(15)"),
        "{line}"
    );
    assert!(
        varbind(&line, "starSmartLicDetail").is_some_and(|d| d.contains("SPECIFIC")),
        "{line}"
    );
    cli_ok(&node, "license smart reservation return local");
    let line = trapd.wait("starSmartLicReservationReturned");
    assert_eq!(
        varbind(&line, "starSmartLicState").as_deref(),
        Some("reservationReturned(16)"),
        "{line}"
    );
}
