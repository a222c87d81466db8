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

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let handle = self.recorder.handle();
        handle.run_upkeep();
        handle.render()
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
    }
}
