//! `annapurna bench quota`: how close the map phase comes to the provider's quota. It starts its
//! own stack (a headless Temporal dev server, the Bedrock stand-in enforcing a per-model quota, an
//! in-process worker configured with the same quota), runs N synthetic papers of M chunks each,
//! and measures the map phase's makespan against the quota-bound minimum. Then, in the same
//! invocation and on the same workload, the method this project replaces: chunks summarised one
//! after another with a fixed 2-second pause and exponential backoff on throttling.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use activities::clients::llm::{LlmClient, LlmError, LlmRequest};
use activities::ingest::add_paper;
use activities::prompts;
use activities::ratelimit::ModelLimit;
use anyhow::Context;
use serde_json::json;
use temporalio_client::{WorkflowGetResultOptions, WorkflowQueryOptions, WorkflowStartOptions};
use workflows::PaperToCode;
use workflows::names::TASK_QUEUE;
use workflows::types::PaperToCodeInput;

use annapurna::config::Config;
use annapurna::dev::{TemporalServer, find_temporal, wait_for_temporal};
use annapurna::wiring;
use standin::{self, StandinOptions};

/// Options of `annapurna bench quota`.
#[derive(Debug, Clone, clap::Args)]
pub struct QuotaArgs {
    /// Papers run at once.
    #[arg(long, default_value_t = 4)]
    pub papers: u32,
    /// Chunks per paper.
    #[arg(long, default_value_t = 20)]
    pub chunks: u32,
    /// The summary model's quota: requests per minute.
    #[arg(long, default_value_t = 1000)]
    pub rpm: u32,
    /// The summary model's quota: tokens per minute (input + reserved output).
    #[arg(long, default_value_t = 2_000_000)]
    pub tpm: u32,
    /// Fixed latency of each model answer, milliseconds.
    #[arg(long, default_value_t = 300)]
    pub latency_ms: u64,
    /// Further latency per output token, milliseconds.
    #[arg(long, default_value_t = 2.0)]
    pub latency_per_token_ms: f64,
    /// Skip the sequential baseline (it takes papers × chunks × 2 s and more).
    #[arg(long)]
    pub no_baseline: bool,
    /// Print one JSON object on the last line.
    #[arg(long)]
    pub json: bool,
}

/// Seconds of quota the stand-in lets a model use at once in the benchmark.
const BURST_SECS: f64 = 1.0;
/// Output tokens reserved per summary.
const SUMMARY_MAX_TOKENS: u32 = 1_500;

/// A synthetic paper of `chunks` sections, each about 3,000 characters, unique per paper.
pub(crate) fn synthetic_paper(paper: u32, chunks: u32) -> String {
    let mut text = format!("# Synthetic Benchmark Paper {paper}\n\n");
    for c in 0..chunks {
        text.push_str(&format!("## {} Section {c} of paper {paper}\n\n", c + 1));
        for s in 0..30 {
            text.push_str(&format!(
                "Sentence {s} of section {c} in paper {paper} describes a model, its training data and a result. "
            ));
        }
        text.push_str("\n\n");
    }
    text
}

/// Runs the benchmark and prints its report.
pub async fn quota(mut config: Config, args: QuotaArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("creating a scratch directory")?;
    let d = dir.path();
    config.storage.blobs = d.join("blobs").display().to_string();
    config.storage.results = d.join("results").display().to_string();
    config.storage.papers = d.join("papers.db");
    config.models.summary_max_tokens = SUMMARY_MAX_TOKENS;
    let model = config.models.summary_model.clone();
    config.models.limits = BTreeMap::from([(
        model.clone(),
        ModelLimit {
            rpm: args.rpm,
            tpm: args.tpm,
        },
    )]);
    config.worker.max_concurrent_llm_activities =
        (args.papers * args.chunks).clamp(1, 256) as usize;
    config.worker.graceful_shutdown_secs = 1;

    let options = StandinOptions {
        latency_ms: args.latency_ms,
        latency_per_token_ms: args.latency_per_token_ms,
        rpm: args.rpm,
        tpm: args.tpm,
        quota_burst_secs: BURST_SECS,
        ..Default::default()
    };
    let (standin_addr, standin_task) = standin::start(([127, 0, 0, 1], 0).into(), options).await?;
    let standin_url = format!("http://{standin_addr}");
    let (server, client, _port) = start_temporal(&config, d).await?;
    let llm = wiring::bedrock(&config, Some(&standin_url)).await;
    let deps = wiring::deps(&config, llm.clone()).await?;

    let mut ids = Vec::new();
    for p in 0..args.papers {
        let path = d.join(format!("paper-{p}.md"));
        std::fs::write(&path, synthetic_paper(p, args.chunks))?;
        ids.push(
            add_paper(&deps.blobs, &deps.papers, &path.display().to_string())
                .await?
                .0
                .id,
        );
    }
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let worker = wiring::run_workers(client.clone(), &config, deps, async {
        let _ = stop_rx.await;
    });
    // The worker is not Send: it runs beside the measurement in this task.
    let measure = async {
        let result = map_phase(&client, &ids, &args).await;
        let _ = stop_tx.send(());
        result
    };
    let (worker_result, measured) = tokio::join!(worker, measure);
    worker_result?;
    let (makespan, failed) = measured?;
    let stats = reqwest_stats(&standin_url).await?;
    let summary_requests = stats["by_kind"][prompts::Task::Summarize.as_str()]
        .as_u64()
        .unwrap_or(0);
    let throttled = stats["by_outcome"]["over-quota"].as_u64().unwrap_or(0)
        + stats["by_outcome"]["throttled"].as_u64().unwrap_or(0);

    // The quota-bound minimum: the demand over the quota's rate, less what the provider's bucket
    // holds at the start, plus one answer's latency.
    let demand_requests = (args.papers * args.chunks) as f64;
    let sample = synthetic_paper(0, args.chunks);
    let chunk_chars = sample.len() as f64 / args.chunks as f64;
    let demand_tokens = demand_requests * (chunk_chars / 4.0 + 250.0 + SUMMARY_MAX_TOKENS as f64);
    let (rps, tps) = (args.rpm as f64 / 60.0, args.tpm as f64 / 60.0);
    let latency = (args.latency_ms as f64 + args.latency_per_token_ms * 120.0) / 1000.0;
    let bound = (demand_requests / rps).max(demand_tokens / tps) - BURST_SECS + latency;
    let bound = bound.max(latency);
    let makespan_s = makespan.as_secs_f64();

    // The old method, on the same workload: one chunk after another, 2 s apart.
    let sequential = if args.no_baseline {
        None
    } else {
        eprintln!(
            "bench: the old method (sequential, 2 s pause) on the same {} chunks …",
            args.papers * args.chunks
        );
        Some(sequential_baseline(llm.as_ref(), &model, args.papers, args.chunks).await?)
    };
    standin_task.abort();
    server.stop().await;

    let utilisation = bound / makespan_s;
    let report = json!({
        "papers": args.papers,
        "chunks": args.chunks,
        "rpm": args.rpm,
        "tpm": args.tpm,
        "summary_requests": summary_requests,
        "makespan_s": round2(makespan_s),
        "bound_s": round2(bound),
        "utilisation": round2(utilisation),
        "throttled": throttled,
        "throttled_share": round2(throttled as f64 / summary_requests.max(1) as f64),
        "failed": failed,
        "sequential_makespan_s": sequential.map(round2),
        "speedup": sequential.map(|s| round2(s / makespan_s)),
        "standin": true,
    });
    if !args.json {
        eprintln!(
            "map phase {makespan_s:.1} s (quota-bound minimum {bound:.1} s, utilisation {utilisation:.2}), \
             {throttled} throttled of {summary_requests} summary requests, {failed} failed papers"
        );
        if let Some(s) = sequential {
            eprintln!("old method {s:.1} s: speed-up {:.1}×", s / makespan_s);
        }
        eprintln!("(model answers from the Bedrock stand-in: templates with a latency model)");
    }
    println!("{report}");
    Ok(())
}

/// Starts every paper at once and waits until each has summarised all its chunks; returns the
/// makespan of the map phase and the number of papers that failed or lost chunks.
async fn map_phase(
    client: &temporalio_client::Client,
    ids: &[String],
    args: &QuotaArgs,
) -> anyhow::Result<(Duration, u32)> {
    eprintln!(
        "bench: {} papers × {} chunks at {} rpm / {} tpm …",
        args.papers, args.chunks, args.rpm, args.tpm
    );
    let started = Instant::now();
    let mut handles = Vec::new();
    for (p, id) in ids.iter().enumerate() {
        let input = PaperToCodeInput {
            paper_id: Some(id.clone()),
            max_chunk_tokens: Some(1_000),
            parallel_chunks: Some(args.chunks),
            execute: Some(false),
            ..Default::default()
        };
        let options = WorkflowStartOptions::new(TASK_QUEUE, format!("bench/{p}")).build();
        handles.push(
            client
                .start_workflow(PaperToCode::run, input, options)
                .await?,
        );
    }
    let mut map_done: Vec<Option<Duration>> = vec![None; handles.len()];
    while map_done.iter().any(Option::is_none) {
        for (i, h) in handles.iter().enumerate() {
            if map_done[i].is_none()
                && let Ok(p) = h
                    .query(PaperToCode::progress, (), WorkflowQueryOptions::default())
                    .await
                && p.chunks_total > 0
                && p.chunks_done + p.chunks_failed >= p.chunks_total
            {
                map_done[i] = Some(started.elapsed());
            }
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(1800),
            "the map phase took over 30 minutes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let makespan = map_done.iter().flatten().max().copied().unwrap_or_default();
    let mut failed = 0;
    for h in &handles {
        match h.get_result(WorkflowGetResultOptions::default()).await {
            Ok(out) if out.failed_chunks == 0 => {}
            _ => failed += 1,
        }
    }
    Ok((makespan, failed))
}

pub(crate) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub(crate) async fn reqwest_stats(base: &str) -> anyhow::Result<serde_json::Value> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(b"GET /_standin/stats HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await?;
    let mut response = String::new();
    s.read_to_string(&mut response).await?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or("");
    Ok(serde_json::from_str(body)?)
}

/// The replaced method: sequential summaries with a fixed 2 s pause, and on throttling an
/// exponential backoff (1 s, 2 s, 4 s, … up to 5 tries).
async fn sequential_baseline(
    llm: &dyn LlmClient,
    model: &str,
    papers: u32,
    chunks: u32,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    for p in 0..papers {
        let text = synthetic_paper(p + 1000, chunks);
        let parts: Vec<&str> = text.split("\n## ").collect();
        for (c, part) in parts.iter().enumerate().take(chunks as usize) {
            let prompt = prompts::summarize("baseline", c as u32, chunks, &[], part);
            let request = LlmRequest::single(model.to_owned(), prompt, SUMMARY_MAX_TOKENS, 0.2);
            let mut backoff = Duration::from_secs(1);
            for _ in 0..5 {
                match llm.converse(&request).await {
                    Err(LlmError::Throttled { .. }) => {
                        tokio::time::sleep(backoff).await;
                        backoff *= 2;
                    }
                    _ => break,
                }
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
    Ok(started.elapsed().as_secs_f64())
}

/// A Temporal dev server on a free loopback port with its database in `dir`, and a client of it.
pub(crate) async fn start_temporal(
    config: &Config,
    dir: &std::path::Path,
) -> anyhow::Result<(TemporalServer, temporalio_client::Client, u16)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let temporal = find_temporal(config)?;
    let mut server = TemporalServer::start(&temporal, &dir.join("temporal.db"), port, None, true)?;
    let client = wait_for_temporal(&mut server, &format!("127.0.0.1:{port}")).await?;
    Ok((server, client, port))
}
