//! `annapurna bench quota`: how close the map phase comes to the provider's quota, in Bedrock's
//! world and with the worker's default configuration. It starts its own stack (a headless
//! Temporal dev server; the Bedrock stand-in with Bedrock's accounting — input + max_tokens
//! reserved, settled at input + cache write + output × burndown 5, in a bucket a minute deep —
//! its latency model from the published figures and summaries of 600–1,500 tokens; workers with
//! the default settings and the account's quota, by default the model's default quota from the
//! catalogue, in `models.limits`) and runs a scenario:
//! - `many`: 4 papers × 20 chunks at once;
//! - `long`: one paper of 232 chunks (what the 18-million-character paper gives);
//! - `mixed`: the long paper first, then 10 papers of 5 chunks, whose map time is compared with
//!   the same short papers run alone;
//! - `workers`: `many` on 3 worker processes sharing the one quota.
//!
//! The report gives utilisation (the quota-bound minimum over the makespan: the work beyond the
//! minute the account holds at the start, at the quota's pace, plus one median answer),
//! throttled share, hedged calls (late ones sent a second time, `models.hedge`: the quota they
//! spent is not counted as work in the minimum), failed papers, p50/p95 summary latency and
//! `config_overrides` (the settings it changed from the defaults: none). The old method (one
//! chunk after another, 2 s apart) is the baseline.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use activities::clients::llm::{LlmClient, LlmError, LlmRequest};
use activities::ingest::add_paper;
use activities::prompts;
use activities::ratelimit::ModelLimit;
use anyhow::Context;
use serde_json::json;
use temporalio_client::{WorkflowQueryOptions, WorkflowStartOptions, WorkflowTerminateOptions};
use workflows::PaperToCode;
use workflows::names::TASK_QUEUE;
use workflows::types::PaperToCodeInput;

use annapurna::config::Config;
use annapurna::dev::{TemporalServer, find_temporal, wait_for_temporal};
use annapurna::wiring;
use standin::{self, StandinOptions};

/// Which workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// 4 papers × 20 chunks at once.
    Many,
    /// One paper of 232 chunks.
    Long,
    /// The long paper, then 10 papers of 5 chunks.
    Mixed,
    /// `many` on 3 worker processes sharing one quota.
    Workers,
}

/// Options of `annapurna bench quota`.
#[derive(Debug, Clone, clap::Args)]
pub struct QuotaArgs {
    /// The workload.
    #[arg(long, value_enum, default_value_t = Scenario::Many)]
    pub scenario: Scenario,
    /// Papers (`many`, `workers`: 4).
    #[arg(long)]
    pub papers: Option<u32>,
    /// Chunks per paper (`many`, `workers`: 20; `long`, `mixed`: the long paper's, 232).
    #[arg(long)]
    pub chunks: Option<u32>,
    /// Worker processes (`workers`: 3).
    #[arg(long, default_value_t = 3)]
    pub workers: u32,
    /// The account's quota for the summary model: requests per minute (default: the
    /// catalogue's default quota of the model, Haiku 4.5's 250).
    #[arg(long)]
    pub rpm: Option<u32>,
    /// The account's quota: tokens per minute, Bedrock's accounting (default: the catalogue's,
    /// Haiku 4.5's 1,000,000).
    #[arg(long)]
    pub tpm: Option<u32>,
    /// Characters per chunk: sections this long are one chunk each at the default
    /// `max-chunk-tokens` (24,000).
    #[arg(long, default_value_t = 88_000)]
    pub chunk_chars: usize,
    /// Summary lengths, tokens.
    #[arg(long, default_value = "600-1500")]
    pub summary_tokens: String,
    /// Instead of Bedrock's latency model: a fixed latency, milliseconds.
    #[arg(long)]
    pub latency_ms: Option<u64>,
    /// Chunks the sequential baseline runs (its time per chunk is extrapolated to the whole
    /// workload; 0: no baseline).
    #[arg(long, default_value_t = 6)]
    pub baseline_chunks: u32,
    /// Print one JSON object on the last line.
    #[arg(long)]
    pub json: bool,
    /// Where the `workers` scenario's worker processes write their logs (`worker-N.log`);
    /// default: the scratch directory, removed at the end.
    #[arg(long)]
    pub logs: Option<std::path::PathBuf>,
}

/// Seconds of quota the account holds (Bedrock's quotas are per minute: the stand-in's
/// bucket is a minute deep, full at the start).
const WINDOW_SECS: f64 = standin::world::QUOTA_WINDOW_SECS;
/// How long the in-process worker runs before the measurement, as a deployed one has: its
/// count of the workers sharing the account settles (two counts alike, a second apart).
const WARM_UP: Duration = Duration::from_secs(3);
/// Short papers of `mixed`.
const SHORT_PAPERS: u32 = 10;
const SHORT_CHUNKS: u32 = 5;
/// The long paper's chunks.
const LONG_CHUNKS: u32 = 232;

/// A synthetic paper of `chunks` sections, each about 3,000 characters, unique per paper.
pub(crate) fn synthetic_paper(paper: u32, chunks: u32) -> String {
    sized_paper(paper, chunks, 3_000)
}

/// A synthetic paper of `chunks` sections of about `chars` characters, unique per paper.
fn sized_paper(paper: u32, chunks: u32, chars: usize) -> String {
    let mut text = format!("# Synthetic Benchmark Paper {paper}\n\n");
    for c in 0..chunks {
        text.push_str(&format!("## {} Section {c} of paper {paper}\n\n", c + 1));
        let start = text.len();
        let mut s = 0;
        while text.len() - start < chars {
            text.push_str(&format!(
                "Sentence {s} of section {c} in paper {paper} describes a model, its training data and a result. "
            ));
            s += 1;
        }
        text.push_str("\n\n");
    }
    text
}

/// The settings the benchmark changed from the defaults, as `section.key`: the worker and
/// models sections (but the quota, `models.limits`, which is the account's) and the input.
fn config_overrides(config: &Config, input: &PaperToCodeInput) -> Vec<String> {
    let default = Config::default();
    let mut out = Vec::new();
    let pairs = [
        ("worker", json!(config.worker), json!(default.worker)),
        ("models", json!(config.models), json!(default.models)),
    ];
    for (section, ours, theirs) in pairs {
        if let (Some(a), Some(b)) = (ours.as_object(), theirs.as_object()) {
            for (k, v) in a {
                if k != "limits" && b.get(k) != Some(v) {
                    out.push(format!("{section}.{k}"));
                }
            }
        }
    }
    let bare = json!(PaperToCodeInput::default());
    if let (Some(a), Some(b)) = (json!(input).as_object(), bare.as_object()) {
        for (k, v) in a {
            if k != "paper_id" && k != "execute" && b.get(k) != Some(v) {
                out.push(format!("input.{k}"));
            }
        }
    }
    out
}

/// One paper to run: its id, its workflow id, and when it is started (seconds after the first).
struct Job {
    id: String,
    workflow_id: String,
    delay: Duration,
    short: bool,
}

/// Runs the benchmark and prints its report.
pub async fn quota(mut config: Config, args: QuotaArgs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("creating a scratch directory")?;
    let d = dir.path();
    // Configuration: the defaults, but where the files go and the account's quota.
    config.storage.blobs = d.join("blobs").display().to_string();
    config.storage.results = d.join("results").display().to_string();
    config.storage.papers = d.join("papers.db");
    let model = config.models.summary_model.clone();
    // The account's quota: as given, else the catalogue's default for the model.
    let defaults = config
        .models
        .model_info(&model)
        .map(|k| (k.info.default_rpm, k.info.default_tpm));
    let rpm = args
        .rpm
        .or(defaults.map(|d| d.0))
        .filter(|r| *r > 0)
        .with_context(|| format!("no default quota for {model}: give --rpm and --tpm"))?;
    let tpm = args
        .tpm
        .or(defaults.and_then(|d| u32::try_from(d.1).ok()))
        .filter(|t| *t > 0)
        .with_context(|| format!("no default quota for {model}: give --rpm and --tpm"))?;
    config.models.limits = BTreeMap::from([(model.clone(), ModelLimit { rpm, tpm })]);
    let input_of = |id: &str| PaperToCodeInput {
        paper_id: Some(id.to_owned()),
        execute: Some(false),
        ..Default::default()
    };
    let overrides = config_overrides(&config, &input_of("x"));

    let options = StandinOptions {
        bedrock_latency: args.latency_ms.is_none(),
        latency_ms: args.latency_ms.unwrap_or(0),
        summary_tokens: Some(args.summary_tokens.clone()),
        rpm,
        tpm,
        quota_burst_secs: WINDOW_SECS,
        ..Default::default()
    };
    let (standin_addr, standin_task) = standin::start(([127, 0, 0, 1], 0).into(), options).await?;
    let standin_url = format!("http://{standin_addr}");
    let (server, client, port) = start_temporal(&config, d).await?;
    let llm = wiring::bedrock(&config, Some(&standin_url)).await;
    let deps = wiring::deps(&config, llm.clone()).await?;

    // The workloads: (paper number, chunks, delay, short).
    let (papers, chunks) = match args.scenario {
        Scenario::Many | Scenario::Workers => (args.papers.unwrap_or(4), args.chunks.unwrap_or(20)),
        Scenario::Long | Scenario::Mixed => (1, args.chunks.unwrap_or(LONG_CHUNKS)),
    };
    let mut main: Vec<(u32, u32, Duration, bool)> = (0..papers)
        .map(|p| (p, chunks, Duration::ZERO, false))
        .collect();
    let mut alone = Vec::new();
    if args.scenario == Scenario::Mixed {
        for s in 0..SHORT_PAPERS {
            main.push((100 + s, SHORT_CHUNKS, Duration::from_secs(2), true));
            alone.push((200 + s, SHORT_CHUNKS, Duration::ZERO, true));
        }
    }
    let add =
        async |set: &[(u32, u32, Duration, bool)], prefix: &str| -> anyhow::Result<Vec<Job>> {
            let mut jobs = Vec::new();
            for &(p, chunks, delay, short) in set {
                let path = d.join(format!("paper-{p}.md"));
                std::fs::write(&path, sized_paper(p, chunks, args.chunk_chars))?;
                let id = add_paper(&deps.blobs, &deps.papers, &path.display().to_string())
                    .await?
                    .0
                    .id;
                jobs.push(Job {
                    id,
                    workflow_id: format!("bench/{prefix}/{p}"),
                    delay,
                    short,
                });
            }
            Ok(jobs)
        };
    let main_jobs = add(&main, "main").await?;
    let alone_jobs = add(&alone, "alone").await?;
    drop(deps);

    let workers = if args.scenario == Scenario::Workers {
        args.workers.max(1)
    } else {
        0
    };
    let mut children = Vec::new();
    let measured = if workers > 0 {
        let toml = d.join("annapurna.toml");
        std::fs::write(
            &toml,
            format!(
                "[models.limits.\"{model}\"]\nrpm = {}\ntpm = {}\n",
                rpm, tpm
            ),
        )?;
        let logs = args.logs.clone().unwrap_or_else(|| d.to_owned());
        std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
        for w in 0..workers {
            let log = logs.join(format!("worker-{w}.log"));
            let file = std::fs::File::create(&log)
                .with_context(|| format!("creating {}", log.display()))?;
            children.push(
                tokio::process::Command::new(crate::chaos::annapurna_bin()?)
                    .arg("worker")
                    .env("ANNAPURNA_CONFIG", &toml)
                    .env("TEMPORAL_ADDRESS", format!("127.0.0.1:{port}"))
                    .env("ANNAPURNA_STORAGE__BLOBS", d.join("blobs"))
                    .env("ANNAPURNA_STORAGE__RESULTS", d.join("results"))
                    .env("ANNAPURNA_STORAGE__PAPERS", d.join("papers.db"))
                    .env("ANNAPURNA_BEDROCK__STANDIN", "always")
                    .env("ANNAPURNA_BEDROCK__ENDPOINT_URL", &standin_url)
                    .env(
                        "RUST_LOG",
                        std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
                    )
                    .stdout(file.try_clone()?)
                    .stderr(file)
                    .kill_on_drop(true)
                    .spawn()
                    .context("starting a worker process")?,
            );
        }
        // As with one worker in this process: the map starts once every worker polls the
        // model queue (their start is not the map's).
        let polling = Instant::now();
        loop {
            let seen = wiring::llm_workers(&client).await.unwrap_or(0);
            if seen >= workers {
                break;
            }
            anyhow::ensure!(
                polling.elapsed() < Duration::from_secs(120),
                "{seen} of {workers} worker processes poll {} after two minutes (logs: {})",
                workflows::names::LLM_TASK_QUEUE,
                logs.display()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        tokio::time::sleep(WARM_UP).await;
        let main = map_phase(&client, &main_jobs).await?;
        for mut c in children.drain(..) {
            let _ = c.start_kill();
            let _ = c.wait().await;
        }
        (main, None)
    } else {
        let deps = wiring::deps(&config, llm.clone()).await?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let worker = wiring::run_workers(client.clone(), &config, deps, async {
            let _ = stop_rx.await;
        });
        // The worker is not Send: it runs beside the measurement in this task.
        let measure = async {
            let result = async {
                tokio::time::sleep(WARM_UP).await;
                // The short papers alone first, then the scenario; between them the account
                // (and the worker's share of it) fills up again: both start from a full minute.
                let alone = if alone_jobs.is_empty() {
                    None
                } else {
                    let r = map_phase(&client, &alone_jobs).await?;
                    tokio::time::sleep(Duration::from_secs_f64(WINDOW_SECS + 2.0)).await;
                    Some(r)
                };
                let before = reqwest_stats(&standin_url).await?;
                let main = map_phase(&client, &main_jobs).await?;
                anyhow::Ok((main, alone.map(|a| (a, before))))
            }
            .await;
            let _ = stop_tx.send(());
            result
        };
        let (worker_result, measured) = tokio::join!(worker, measure);
        worker_result?;
        measured?
    };
    let (main_run, alone) = measured;
    let stats = reqwest_stats(&standin_url).await?;
    let (base, latencies_from) = match &alone {
        Some((_, before)) => (
            before.clone(),
            before["summary_latency_ms"].as_array().map_or(0, Vec::len),
        ),
        None => (json!({}), 0),
    };
    let count = |v: &serde_json::Value, path: &[&str]| {
        path.iter().fold(v, |v, k| &v[*k]).as_u64().unwrap_or(0)
    };
    let delta = |path: &[&str]| count(&stats, path) - count(&base, path);
    let summarize = prompts::Task::Summarize.as_str();
    let summary_requests = delta(&["by_kind", summarize]);
    let throttled = delta(&["by_outcome", "over-quota"]) + delta(&["by_outcome", "throttled"]);
    let used_tokens = delta(&["quota_tokens_by_model", model.as_str()]);
    // A late call's second request that was left unanswered (a hedge): quota spent, no work.
    let hedged = delta(&["abandoned_by_kind", summarize]);
    let ok_requests = summary_requests.saturating_sub(throttled + hedged);
    let mut latencies: Vec<u64> = stats["summary_latency_ms"]
        .as_array()
        .map(|a| {
            a.iter()
                .skip(latencies_from)
                .filter_map(|v| v.as_u64())
                .collect()
        })
        .unwrap_or_default();
    latencies.sort_unstable();
    let pct = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map(|ms| *ms as f64 / 1000.0)
    };

    // The quota-bound minimum: the work as the quota counts it (requests; tokens as Bedrock
    // settled them) over the quota's rate, less what the provider's bucket holds at the start,
    // plus one median answer's latency.
    let (rps, tps) = (rpm as f64 / 60.0, tpm as f64 / 60.0);
    let median = pct(0.5).unwrap_or(0.0);
    let bound = ((ok_requests as f64 / rps).max(used_tokens as f64 / tps) - WINDOW_SECS + median)
        .max(median);
    let makespan_s = main_run.makespan.as_secs_f64();
    let utilisation = bound / makespan_s;

    // The old method, on a sample of the same kind of chunks, extrapolated to the workload.
    let total_chunks: u32 = main.iter().map(|p| p.1).sum();
    let sequential = if args.baseline_chunks == 0 {
        None
    } else {
        eprintln!(
            "bench: the old method (sequential, 2 s pause) on {} chunks …",
            args.baseline_chunks
        );
        let per_chunk = sequential_baseline(
            llm.as_ref(),
            &model,
            config.models.summary_max_tokens,
            args.baseline_chunks,
            args.chunk_chars,
        )
        .await?
            / args.baseline_chunks as f64;
        Some(per_chunk * total_chunks as f64)
    };
    standin_task.abort();
    server.stop().await;

    let short_map = |run: &Run| {
        let t: Vec<f64> = run
            .map_times
            .iter()
            .filter(|(short, _)| *short)
            .map(|(_, t)| t.as_secs_f64())
            .collect();
        (!t.is_empty()).then(|| t.iter().cloned().fold(0.0, f64::max))
    };
    let short_mixed = short_map(&main_run);
    let short_alone = alone.as_ref().and_then(|(a, _)| short_map(a));
    let report = json!({
        "scenario": format!("{:?}", args.scenario).to_lowercase(),
        "papers": main.len(),
        "chunks": total_chunks,
        "workers": workers.max(1),
        "rpm": rpm,
        "tpm": tpm,
        "summary_requests": summary_requests,
        "quota_tokens": used_tokens,
        "makespan_s": round2(makespan_s),
        "planned_s": round2(main_run.planned.as_secs_f64()),
        "bound_s": round2(bound),
        "utilisation": round2(utilisation),
        "throttled": throttled,
        "throttled_share": (throttled as f64 / summary_requests.max(1) as f64 * 1000.0).round() / 1000.0,
        "hedged": hedged,
        "failed": main_run.failed,
        "latency_p50_s": pct(0.5).map(round2),
        "latency_p95_s": pct(0.95).map(round2),
        "short_papers_map_s": short_mixed.map(round2),
        "short_papers_alone_map_s": short_alone.map(round2),
        "short_papers_slowdown": short_mixed.zip(short_alone).map(|(m, a)| round2(m / a)),
        "config_overrides": overrides,
        "account_quota": "models.limits for the summary model = the stand-in's quota",
        "sequential_makespan_s": sequential.map(round2),
        "sequential_measured_chunks": sequential.map(|_| args.baseline_chunks),
        "speedup": sequential.map(|s| round2(s / makespan_s)),
        "standin": true,
    });
    if !args.json {
        eprintln!(
            "{:?}: map phase {makespan_s:.1} s (quota-bound minimum {bound:.1} s, utilisation {utilisation:.2}), \
             {throttled} throttled and {hedged} late ones sent again of {summary_requests} summary requests, \
             {} failed papers",
            args.scenario, main_run.failed
        );
        eprintln!(
            "(model answers from the Bedrock stand-in: templates with Bedrock's latency model)"
        );
    }
    println!("{report}");
    Ok(())
}

/// A measured run: the makespan of the map phase, each paper's map time (from its own start)
/// with whether it is a short one, and the papers that lost chunks (each paper's workflow is
/// terminated once its map is measured).
struct Run {
    makespan: Duration,
    /// When the last paper had its chunks planned (loading and chunking come before the map).
    planned: Duration,
    map_times: Vec<(bool, Duration)>,
    failed: u32,
}

/// Starts the papers (each after its delay) and waits until each has summarised all its chunks.
async fn map_phase(client: &temporalio_client::Client, jobs: &[Job]) -> anyhow::Result<Run> {
    eprintln!("bench: {} papers …", jobs.len());
    let started = Instant::now();
    let mut handles = Vec::new();
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|i| jobs[*i].delay);
    let mut start_at = vec![Duration::ZERO; jobs.len()];
    let mut by_index = Vec::new();
    for i in order {
        let job = &jobs[i];
        if let Some(wait) = job.delay.checked_sub(started.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        start_at[i] = started.elapsed();
        let input = PaperToCodeInput {
            paper_id: Some(job.id.clone()),
            execute: Some(false),
            ..Default::default()
        };
        let options = WorkflowStartOptions::new(TASK_QUEUE, job.workflow_id.clone()).build();
        handles.push(
            client
                .start_workflow(PaperToCode::run, input, options)
                .await?,
        );
        by_index.push(i);
    }
    let mut map_done: Vec<Option<Duration>> = vec![None; handles.len()];
    let mut failed = 0;
    let mut planned: Vec<Option<Duration>> = vec![None; handles.len()];
    while map_done.iter().any(Option::is_none) {
        for (h_i, h) in handles.iter().enumerate() {
            if map_done[h_i].is_none()
                && let Ok(p) = h
                    .query(PaperToCode::progress, (), WorkflowQueryOptions::default())
                    .await
                && p.chunks_total > 0
            {
                planned[h_i].get_or_insert(started.elapsed());
                if p.chunks_done + p.chunks_failed >= p.chunks_total {
                    map_done[h_i] = Some(started.elapsed());
                    failed += u32::from(p.chunks_failed > 0);
                }
            }
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(3600),
            "the map phase took over an hour"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let makespan = map_done.iter().flatten().max().copied().unwrap_or_default();
    let planned = planned.iter().flatten().max().copied().unwrap_or_default();
    let map_times = by_index
        .iter()
        .zip(&map_done)
        .map(|(i, done)| {
            (
                jobs[*i].short,
                done.unwrap_or_default().saturating_sub(start_at[*i]),
            )
        })
        .collect();
    // What comes after the map (planning, writing and reviewing code) is not measured here.
    for h in &handles {
        let _ = h
            .terminate(
                WorkflowTerminateOptions::builder()
                    .reason("annapurna bench quota measures the map phase only")
                    .build(),
            )
            .await;
    }
    Ok(Run {
        makespan,
        planned,
        map_times,
        failed,
    })
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
/// exponential backoff (1 s, 2 s, 4 s, … up to 5 tries); returns the seconds `chunks` took.
async fn sequential_baseline(
    llm: &dyn LlmClient,
    model: &str,
    max_tokens: u32,
    chunks: u32,
    chunk_chars: usize,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let text = sized_paper(1000, chunks, chunk_chars);
    let parts: Vec<&str> = text.split("\n## ").skip(1).collect();
    for (c, part) in parts.iter().enumerate() {
        let prompt = prompts::summarize("baseline", c as u32, chunks, &[], part);
        let request = LlmRequest::single(model.to_owned(), prompt, max_tokens, 0.2);
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
