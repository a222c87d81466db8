//! Prometheus metrics of one manager process. The recorder is local (never installed globally),
//! so two managers in one test process do not mix their counts.

use metrics::{Counter, Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};

const METADATA: Metadata<'static> = Metadata::new("smartlic_manager", Level::INFO, Some(module_path!()));

/// The manager's counters.
#[derive(Debug)]
pub struct Metrics {
    recorder: PrometheusRecorder,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A fresh set of counters.
    pub fn new() -> Metrics {
        let recorder = PrometheusBuilder::new().build_recorder();
        recorder.describe_counter(
            "smartlic_http_requests_total".into(),
            None,
            "HTTP requests answered, by route and status".into(),
        );
        recorder.describe_counter(
            "smartlic_registrations_total".into(),
            None,
            "Device registrations, by result".into(),
        );
        recorder.describe_counter(
            "smartlic_authorizations_total".into(),
            None,
            "Device authorization requests answered, by compliance".into(),
        );
        Metrics { recorder }
    }

    fn counter(&self, name: &'static str, labels: Vec<Label>) -> Counter {
        self.recorder
            .register_counter(&Key::from_parts(name, labels), &METADATA)
    }

    /// Counts an answered HTTP request.
    pub fn request(&self, route: &str, status: u16) {
        self.counter(
            "smartlic_http_requests_total",
            vec![
                Label::new("route", route.to_string()),
                Label::new("status", status.to_string()),
            ],
        )
        .increment(1);
    }

    /// Counts a registration outcome (`ok` or an error code).
    pub fn registration(&self, result: &str) {
        self.counter(
            "smartlic_registrations_total",
            vec![Label::new("result", result.to_string())],
        )
        .increment(1);
    }

    /// Counts an authorization answer (`AUTHORIZED`, `OUT_OF_COMPLIANCE`) or refusal code.
    pub fn authorization(&self, result: &str) {
        self.counter(
            "smartlic_authorizations_total",
            vec![Label::new("result", result.to_string())],
        )
        .increment(1);
    }

    /// The Prometheus text exposition, with the process's resident memory (standard name
    /// `process_resident_memory_bytes`) read at scrape time where the platform tells it.
    pub fn render(&self) -> String {
        let handle = self.recorder.handle();
        handle.run_upkeep();
        let mut text = handle.render();
        if let Some(bytes) = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| resident_bytes(&s))
        {
            text.push_str("# HELP process_resident_memory_bytes Resident memory size in bytes.\n");
            text.push_str("# TYPE process_resident_memory_bytes gauge\n");
            text.push_str(&format!("process_resident_memory_bytes {bytes}\n"));
        }
        text
    }
}

/// `VmRSS` of a Linux `/proc/PID/status` text, in bytes.
pub(crate) fn resident_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut words = line.split_whitespace().skip(1);
    let n: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => n.checked_mul(1024),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render() {
        let m = Metrics::new();
        m.request("/healthz", 200);
        m.registration("ok");
        m.registration("ok");
        m.authorization("AUTHORIZED");
        let text = m.render();
        assert!(text.contains("smartlic_registrations_total{result=\"ok\"} 2"), "{text}");
        assert!(text.contains("smartlic_http_requests_total"), "{text}");
        #[cfg(target_os = "linux")]
        assert!(text.contains("\nprocess_resident_memory_bytes "), "{text}");
    }

    #[test]
    fn resident_memory_is_read_from_proc_status() {
        let status = "Name:\tsmartlic\nVmPeak:\t  9000 kB\nVmRSS:\t   51234 kB\nThreads:\t4\n";
        assert_eq!(resident_bytes(status), Some(51234 * 1024));
        assert_eq!(resident_bytes("VmRSS:\t12 MB\n"), None);
        assert_eq!(resident_bytes("Name: x\n"), None);
        assert_eq!(resident_bytes("VmRSS:\tlots kB\n"), None);
    }
}
