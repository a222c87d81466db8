//! `smartlic bench year` end to end: a real manager, real agents over HTTPS, 400 virtual days.

mod common;

use common::{BIN, wait_for};
use std::process::{Command, Stdio};

fn year(devices: &str, days: &str) -> serde_json::Value {
    let mut child = Command::new(BIN)
        .args(["bench", "year", "--devices", devices, "--days", days])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("smartlic bench year");
    let status = wait_for(600, "bench year to finish", || child.try_wait().expect("wait"));
    let out = std::io::read_to_string(child.stdout.take().expect("stdout")).expect("stdout");
    assert!(status.success(), "bench year failed: {out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not one JSON object ({e}): {out}"))
}

#[test]
fn a_small_fleet_lives_through_400_days_without_error() {
    let v = year("20", "400");
    let n = |k: &str| v[k].as_f64().unwrap_or_else(|| panic!("{k} missing: {v}"));
    assert_eq!(n("devices"), 20.0, "{v}");
    assert_eq!(n("days"), 400.0, "{v}");
    assert_eq!(n("errors"), 0.0, "{v}");
    assert_eq!(n("authorized_at_end"), 20.0, "{v}");
    // Every 18-30 days: at least 13 renewals each in 400 days (12 asked).
    assert!(n("renewals") >= 20.0 * 12.0, "{v}");
    // 180 days (jittered to 150-180): two ID renewals each in 400 days.
    assert!(n("id_renewals") >= 40.0, "{v}");
    assert!(
        n("peak_day_renewals") >= 1.0 && n("peak_day_renewals") <= n("renewals"),
        "{v}"
    );
    assert!(n("max_manager_rss_mib") > 0.0, "{v}");
    assert!(n("max_agents_rss_mib") > 0.0, "{v}");
    assert!(n("wall_s") > 0.0, "{v}");
}

#[test]
fn bad_arguments_are_refused_with_one_line() {
    for args in [
        &["--devices", "0", "--days", "1"][..],
        &["--devices", "1", "--days", "0"],
        &["--devices", "1", "--days", "1", "--database", "mysql://x"],
    ] {
        let out = Command::new(BIN)
            .args(["bench", "year"])
            .args(args)
            .output()
            .expect("run");
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("error: ") && err.trim().lines().count() == 1, "{err}");
    }
}
