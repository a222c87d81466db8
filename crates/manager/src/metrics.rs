//! Prometheus metrics of one manager process. The recorder is local (never installed globally),
//! so two managers in one test process do not mix their counts.

use crate::store::LicenceGauges;
use metrics::{Counter, Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};

const METADATA: Metadata<'static> = Metadata::new("smartlic_manager", Level::INFO, Some(module_path!()));

/// The manager's counters.
#[derive(Debug)]
pub struct Metrics {
    recorder: PrometheusRecorder,
    /// The `process_*` gauges (resident memory, CPU time, open files, threads…), read at each
    /// scrape by `metrics-process`.
    process: metrics_process::Collector,
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
        recorder.describe_counter(
            "smartlic_satellite_exchanges_total".into(),
            None,
            "Satellite exchanges, by side (parent: requests answered; satellite: answers imported) and result".into(),
        );
        recorder.describe_counter(
            "smartlic_webhook_deliveries_total".into(),
            None,
            "Alert webhook delivery tries, by result (delivered or failed)".into(),
        );
        let process = metrics_process::Collector::default();
        metrics::with_local_recorder(&recorder, || process.describe());
        Metrics { recorder, process }
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

    /// Counts one satellite exchange: `side` is `parent` (a request answered) or `satellite` (an
    /// answer imported, or a sync that failed before it); `result` is `ok` or the error code.
    pub fn satellite_exchange(&self, side: &'static str, result: &'static str) {
        self.counter(
            "smartlic_satellite_exchanges_total",
            vec![Label::new("side", side), Label::new("result", result)],
        )
        .increment(1);
    }

    /// Counts one try of an alert webhook delivery.
    pub fn webhook_delivery(&self, delivered: bool) {
        let result = if delivered { "delivered" } else { "failed" };
        self.counter("smartlic_webhook_deliveries_total", vec![Label::new("result", result)])
            .increment(1);
    }

    /// The Prometheus text exposition: this process's counters, the store's figures read for
    /// this scrape (licences per account, VA and SKU; instances by status) and the standard
    /// `process_*` gauges (`process_resident_memory_bytes`, …) where the platform tells them.
    pub fn render(&self, licences: &LicenceGauges, instances: &[(String, i64)]) -> String {
        metrics::with_local_recorder(&self.recorder, || self.process.collect());
        let handle = self.recorder.handle();
        handle.run_upkeep();
        let mut text = handle.render();
        text.push_str(&store_figures(licences, instances));
        text
    }
}

/// The store's figures as gauges of a recorder made for this scrape alone, so a VA or SKU that
/// is gone leaves no stale series behind.
fn store_figures(licences: &LicenceGauges, instances: &[(String, i64)]) -> String {
    let recorder = PrometheusBuilder::new().build_recorder();
    let describe = |name: &'static str, help: &'static str| recorder.describe_gauge(name.into(), None, help.into());
    describe(
        "smartlic_licences_purchased",
        "Licences purchased and not ended, by account, VA and SKU",
    );
    describe(
        "smartlic_licences_in_use",
        "Licences in use (instances and reservations), by account, VA and SKU",
    );
    describe(
        "smartlic_licences_short",
        "Licences in use beyond those purchased, by account, VA and SKU",
    );
    describe(
        "smartlic_licence_series_dropped",
        "Account/VA/SKU rows left out of this scrape (bounded label set)",
    );
    describe("smartlic_instances", "Product instances by last authorization status");
    let gauge = |name: &'static str, labels: Vec<Label>, value: i64| {
        recorder
            .register_gauge(&Key::from_parts(name, labels), &METADATA)
            .set(value as f64);
    };
    for r in &licences.rows {
        let labels = || {
            vec![
                Label::new("account", r.account.clone()),
                Label::new("va", r.va.clone()),
                Label::new("sku", r.sku.clone()),
            ]
        };
        gauge("smartlic_licences_purchased", labels(), r.purchased);
        gauge("smartlic_licences_in_use", labels(), r.in_use);
        gauge("smartlic_licences_short", labels(), r.short());
    }
    gauge("smartlic_licence_series_dropped", Vec::new(), licences.dropped as i64);
    for (status, n) in instances {
        gauge("smartlic_instances", vec![Label::new("status", status.clone())], *n);
    }
    recorder.handle().render()
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
        m.webhook_delivery(false);
        m.satellite_exchange("parent", "ok");
        let licences = LicenceGauges {
            rows: vec![crate::store::gauges::LicenceGauge {
                account: "Acme".into(),
                va: "DEFAULT".into(),
                sku: "ASR5K-00-PW10GTWY".into(),
                purchased: 2,
                in_use: 5,
            }],
            dropped: 0,
        };
        let text = m.render(&licences, &[("AUTHORIZED".into(), 7)]);
        let series = "{account=\"Acme\",va=\"DEFAULT\",sku=\"ASR5K-00-PW10GTWY\"}";
        assert!(text.contains(&format!("smartlic_licences_short{series} 3")), "{text}");
        assert!(text.contains(&format!("smartlic_licences_in_use{series} 5")), "{text}");
        assert!(text.contains("smartlic_instances{status=\"AUTHORIZED\"} 7"), "{text}");
        assert!(
            text.contains("smartlic_webhook_deliveries_total{result=\"failed\"} 1"),
            "{text}"
        );
        assert!(text.contains("smartlic_registrations_total{result=\"ok\"} 2"), "{text}");
        assert!(
            text.contains("smartlic_satellite_exchanges_total{side=\"parent\",result=\"ok\"} 1"),
            "{text}"
        );
        assert!(text.contains("smartlic_http_requests_total"), "{text}");
        #[cfg(target_os = "linux")]
        {
            let rss = text
                .lines()
                .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
                .and_then(|v| v.parse::<f64>().ok());
            assert!(rss.is_some_and(|b| b > 0.0), "{text}");
            assert!(text.contains("\nprocess_open_fds "), "{text}");
            assert!(text.contains("\nprocess_threads "), "{text}");
        }
    }
}
