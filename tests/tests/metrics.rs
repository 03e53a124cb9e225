//! The worker's Prometheus endpoint: a worker with `telemetry.prometheus-listen` on a free port
//! runs one paper; `/metrics` then holds the SDK's worker metrics and Annapurna's counters with
//! the values the run had.

use std::io::{Read, Write};
use std::net::TcpStream;

use annapurna_tests::{
    Proc, Stack, free_port, paper_input, read_json, real_papers, wait_port, wait_result,
};
use workflows::names::paper_workflow_id;
use workflows::types::PaperToCodeInput;

fn scrape(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    response.split_once("\r\n\r\n").unwrap().1.to_owned()
}

/// The sum of a series' values over all its label sets.
fn total(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| labels.iter().all(|x| l.contains(x)))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_endpoint_counts_one_paper() {
    let mut stack = Stack::start(&[]).await;
    stack.kill_worker();
    let port = free_port();
    let mut cmd = stack.command();
    cmd.arg("worker").env(
        "ANNAPURNA_TELEMETRY__PROMETHEUS_LISTEN",
        format!("127.0.0.1:{port}"),
    );
    let _worker = Proc::spawn(cmd, stack.dir.path().join("metrics-worker.log"));
    wait_port(port, "the worker's Prometheus endpoint");
    let id = stack.add_paper(&real_papers()[0]);
    let input = PaperToCodeInput {
        max_chunk_tokens: Some(4_000),
        execute: Some(false),
        ..paper_input(&id)
    };
    let handle = stack
        .start_paper(&paper_workflow_id(&id), input)
        .await
        .unwrap();
    let out = wait_result(&handle, 300).await;
    let metadata = read_json(&Stack::path_of(&out.results).join("metadata.json"));
    let text = scrape(port);
    let outcome = format!("outcome=\"{}\"", out.outcome);
    assert_eq!(
        total(&text, "annapurna_papers_completed_total", &[&outcome]),
        1.0,
        "{text}"
    );
    assert_eq!(total(&text, "annapurna_papers_started_total", &[]), 1.0);
    assert_eq!(total(&text, "annapurna_papers_failed_total", &[]), 0.0);
    let planned =
        metadata["chunks"].as_u64().unwrap() + metadata["failed_chunks"].as_u64().unwrap();
    assert!(planned >= 2, "{planned} chunks");
    assert_eq!(
        total(&text, "annapurna_chunks_planned_total", &[]),
        planned as f64
    );
    assert_eq!(
        total(&text, "annapurna_chunks_summarized_total", &[]),
        out.chunks as f64
    );
    let requests = stack.standin_stats()["requests"].as_u64().unwrap();
    assert!(requests > 0);
    assert_eq!(
        total(&text, "annapurna_model_requests_total", &["result=\"ok\""]),
        requests as f64,
        "{text}"
    );
    assert_eq!(
        total(
            &text,
            "annapurna_model_requests_total",
            &["role=\"summary\""]
        ),
        out.chunks as f64,
        "one summary call per chunk: {text}"
    );
    assert_eq!(
        total(&text, "annapurna_model_tokens_total", &["kind=\"input\""]),
        metadata["tokens"]["input"].as_u64().unwrap() as f64
    );
    assert_eq!(
        total(&text, "annapurna_model_tokens_total", &["kind=\"output\""]),
        metadata["tokens"]["output"].as_u64().unwrap() as f64
    );
    assert_eq!(
        total(&text, "annapurna_model_latency_seconds_count", &[]),
        requests as f64
    );
    // The SDK's own worker metrics share the endpoint.
    assert!(
        text.contains("temporal_"),
        "no Temporal SDK metrics: {text}"
    );
    dashboard_queries_name_exported_metrics(&text);
}

/// Every metric the provisioned Grafana dashboard (`deploy/grafana/dashboards/annapurna.json`)
/// queries is one the worker exports: seen in this scrape, or one that only a path this paper did
/// not take (a failure, a throttle, an execution, an evaluation, a cache hit) would have counted.
fn dashboard_queries_name_exported_metrics(scraped: &str) {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/grafana/dashboards/annapurna.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let exported: std::collections::BTreeSet<&str> = scraped
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let not_taken = [
        "annapurna_papers_failed_total",
        "annapurna_model_throttles_total",
        "annapurna_model_cache_hits_total",
        "annapurna_executions_total",
        "annapurna_execution_seconds_bucket",
        "annapurna_eval_score_bucket",
    ];
    let mut queried = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for name in expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("annapurna_") || w.starts_with("temporal_"))
            {
                queried += 1;
                assert!(
                    exported.contains(name) || not_taken.contains(&name),
                    "the dashboard's panel {:?} queries {name}, which the worker does not export",
                    panel["title"]
                );
            }
        }
    }
    assert!(queried >= 12, "{queried} metric names in the dashboard");
}
