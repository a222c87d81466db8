//! Prometheus metrics of the node (`smartlic node --metrics-listen HOST:PORT`, path `/metrics`):
//! the same counters as `show license statistics` and the bulk statistics, for the modern path.
//!
//! The gauges are read from one agent snapshot at scrape time and rendered by
//! `metrics-exporter-prometheus` (escaping, `# HELP`/`# TYPE` lines) from a recorder made for that
//! scrape alone: every value is pulled from the agent on demand, and a recorder that lives only
//! for one scrape leaves no stale series behind. It is never installed globally.

use crate::node::Node;
use metrics::{Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};
use smartlic_agent::Mode;
use smartlic_agent::Snapshot;
use smartlic_agent::admission::CallPolicy;
use smartlic_agent::agent::ServiceView;
use smartlic_agent::state::ServiceStats;
use smartlic_protocol::Catalog;
use std::sync::Arc;

const METADATA: Metadata<'static> = Metadata::new("smartlic_node", Level::INFO, Some(module_path!()));

/// One row of a gauge: its labels and its value.
type Row = (Vec<Label>, f64);

/// The gauges of one scrape.
struct Exposition {
    recorder: PrometheusRecorder,
}

impl Exposition {
    fn new() -> Exposition {
        Exposition {
            recorder: PrometheusBuilder::new().build_recorder(),
        }
    }

    /// One gauge: its help and one sample per row of labels.
    fn gauge(&self, name: &'static str, help: &'static str, rows: Vec<Row>) {
        self.recorder.describe_gauge(name.into(), None, help.into());
        for (labels, v) in rows {
            self.recorder
                .register_gauge(&Key::from_parts(name, labels), &METADATA)
                .set(v);
        }
    }

    fn render(self) -> String {
        self.recorder.handle().render()
    }
}

/// The exposition text.
pub fn render(node: &Node) -> String {
    let snap = node.agent.snapshot();
    let cat = node.agent.catalog();
    let x = Exposition::new();
    product_gauges(&x, &snap);
    service_gauges(&x, &snap, cat);
    per_mode_gauges(&x, &snap, cat);
    x.render()
}

/// The product-wide gauges: state, mode, enable/disable counts, evaluation left.
fn product_gauges(x: &Exposition, snap: &Snapshot) {
    let st = &snap.state;
    let host = || vec![Label::new("hostname", snap.hostname.clone())];
    x.gauge(
        "smartlic_sl_enabled",
        "1 when Smart Licensing is enabled (current_sl_state).",
        vec![(host(), f64::from(u8::from(st.enabled)))],
    );
    x.gauge(
        "smartlic_sl_registered_mode",
        "1 in Registered mode, 0 in Evaluation mode (current_sl_mode).",
        vec![(host(), f64::from(u8::from(snap.mode == Mode::Registered)))],
    );
    x.gauge(
        "smartlic_sl_enabled_total",
        "Times Smart Licensing was enabled (total_sl_enabled).",
        vec![(Vec::new(), st.total_enabled as f64)],
    );
    x.gauge(
        "smartlic_sl_disabled_total",
        "Times Smart Licensing was disabled (total_sl_disabled).",
        vec![(Vec::new(), st.total_disabled as f64)],
    );
    x.gauge(
        "smartlic_eval_remaining_seconds",
        "Evaluation period left.",
        vec![(Vec::new(), snap.eval_remaining as f64)],
    );
}

/// The gauges per service: sessions now, blocked or not, calls refused.
fn service_gauges(x: &Exposition, snap: &Snapshot, cat: &Catalog) {
    let service_rows = |f: &dyn Fn(&ServiceView) -> f64| -> Vec<Row> {
        cat.service
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let labels = vec![
                    Label::new("service", s.service.clone()),
                    Label::new("tagid", s.tag_id.to_string()),
                    Label::new("sku", s.sku.clone()),
                ];
                (labels, snap.services.get(i).map_or(0.0, f))
            })
            .collect()
    };
    x.gauge(
        "smartlic_cur_call_count",
        "Current sessions per service (cur_call_count).",
        service_rows(&|v| v.cur_call_count as f64),
    );
    x.gauge(
        "smartlic_call_policy_block",
        "1 when new calls of the service are blocked (cur_call_policy BLOCK).",
        service_rows(&|v| f64::from(u8::from(v.policy == CallPolicy::Block))),
    );
    x.gauge(
        "smartlic_calls_rejected",
        "Calls refused by the licensing policy since the node started.",
        service_rows(&|v| v.rejected as f64),
    );
}

/// The gauges per mode and service, from the statistics `show license statistics` prints.
fn per_mode_gauges(x: &Exposition, snap: &Snapshot, cat: &Catalog) {
    type Field = fn(&ServiceStats) -> u64;
    let per_mode: [(&'static str, &'static str, Field); 4] = [
        (
            "smartlic_max_call_count",
            "Highest session count per mode and service (max_call_count).",
            |s| s.max_call_count,
        ),
        (
            "smartlic_last_lic_count",
            "Licence count last reported per mode and service (last_lic_count).",
            |s| s.last_lic_count,
        ),
        (
            "smartlic_max_lic_count",
            "Highest licence count reported per mode and service (max_lic_count).",
            |s| s.max_lic_count,
        ),
        (
            "smartlic_policy_change_block_calls",
            "Times the service's policy changed to BLOCK (policy_change_block_calls).",
            |s| s.policy_change_block_calls,
        ),
    ];
    for (name, help, field) in per_mode {
        let rows = snap
            .statistics(cat)
            .into_iter()
            .map(|r| {
                let labels = vec![
                    Label::new("mode", r.mode.to_string()),
                    Label::new("service", r.service.service.clone()),
                    Label::new("tagid", r.service.tag_id.to_string()),
                ];
                (labels, field(&r.stats) as f64)
            })
            .collect();
        x.gauge(name, help, rows);
    }
}

/// Serves `/metrics` on `listen` until the task is dropped.
pub async fn serve(node: Arc<Node>, listen: &str) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let node = node.clone();
            async move { ([("content-type", "text/plain; version=0.0.4")], render(&node)) }
        }),
    );
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!("metrics listener stopped: {e}");
        }
    }))
}
