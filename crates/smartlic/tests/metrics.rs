//! The node's Prometheus endpoint (`--metrics-listen`) shows the licensing counters.

mod common;
use common::*;
use std::io::{Read, Write};

fn scrape(addr: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.write_all(format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    Some(text)
}

#[test]
fn metrics_follow_the_calls() {
    let mut w = World::new();
    let addr = format!("127.0.0.1:{}", free_port());
    let node = w.start_node_with("prom", &["--metrics-listen", &addr]);
    let (_, ok) = cli(
        &node,
        &["configure", "license smart enable", "end", "calls connect pgw 12000"],
    );
    assert!(ok);
    let text = wait_for(10, "a scrape", || scrape(&addr));
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("smartlic_sl_enabled{hostname=\"prom\"} 1"), "{text}");
    assert!(
        text.contains("smartlic_cur_call_count{service=\"pgw\",tagid=\"0\",sku=\"ASR5K-00-PW10GTWY\"} 10000"),
        "{text}"
    );
    assert!(
        text.contains("smartlic_max_call_count{mode=\"Evaluation\",service=\"pgw\",tagid=\"0\"} 10000"),
        "{text}"
    );
    assert!(
        text.contains("smartlic_calls_rejected{service=\"pgw\",tagid=\"0\",sku=\"ASR5K-00-PW10GTWY\"} 2000"),
        "{text}"
    );
}
