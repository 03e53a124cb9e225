//! `annapurna bench chaos`: papers run while the worker is SIGKILLed again and again; every paper
//! must still complete, and the report says what each kill cost.

#![allow(unused_imports)]
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

use crate::quota::{reqwest_stats, round2, synthetic_paper};
use annapurna::config::Config;
use annapurna::dev::{TemporalServer, find_temporal, wait_for_temporal};
use annapurna::wiring;
use standin::{self, StandinOptions};

/// Options of `annapurna bench chaos`.
#[derive(Debug, Clone, clap::Args)]
pub struct ChaosArgs {
    /// Worker kills (SIGKILL), at random points of the run.
    #[arg(long, default_value_t = 10)]
    pub kills: u32,
    /// Papers run at once.
    #[arg(long, default_value_t = 2)]
    pub papers: u32,
    /// Seed of the kill schedule (default: from the clock; printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print one JSON object on the last line.
    #[arg(long)]
    pub json: bool,
}

/// One side of the chaos benchmark: its own stores and its worker processes.
struct Side {
    dir: std::path::PathBuf,
    address: String,
    standin_url: String,
    worker: Option<tokio::process::Child>,
    ids: Vec<String>,
}

impl Side {
    async fn new(
        root: &std::path::Path,
        name: &str,
        address: &str,
        standin_url: &str,
        papers: u32,
    ) -> anyhow::Result<Side> {
        let dir = root.join(name);
        let blobs =
            activities::clients::blobs::BlobStore::open(&dir.join("blobs").display().to_string())?;
        let store: activities::clients::papers::PaperStore =
            activities::clients::papers::SqlitePaperStore::open(&dir.join("papers.db"))?.into();
        let mut ids = Vec::new();
        for p in 0..papers {
            let path = root.join(format!("paper-{p}.md"));
            if !path.exists() {
                std::fs::write(&path, synthetic_paper(p, 12))?;
            }
            ids.push(
                add_paper(&blobs, &store, &path.display().to_string())
                    .await?
                    .0
                    .id,
            );
        }
        Ok(Side {
            dir,
            address: address.to_owned(),
            standin_url: standin_url.to_owned(),
            worker: None,
            ids,
        })
    }

    fn start_worker(&mut self) -> anyhow::Result<()> {
        let d = &self.dir;
        let child = tokio::process::Command::new(annapurna_bin()?)
            .arg("worker")
            .env("TEMPORAL_ADDRESS", &self.address)
            .env("ANNAPURNA_STORAGE__BLOBS", d.join("blobs"))
            .env("ANNAPURNA_STORAGE__RESULTS", d.join("results"))
            .env("ANNAPURNA_STORAGE__PAPERS", d.join("papers.db"))
            .env("ANNAPURNA_BEDROCK__STANDIN", "always")
            .env("ANNAPURNA_BEDROCK__ENDPOINT_URL", &self.standin_url)
            .env("ANNAPURNA_WORKER__STICKY_TIMEOUT_SECS", "2")
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        self.worker = Some(child);
        Ok(())
    }

    async fn kill_worker(&mut self) {
        if let Some(mut w) = self.worker.take() {
            let _ = w.start_kill(); // SIGKILL
            let _ = w.wait().await;
        }
    }
}

fn chaos_input(paper_id: &str) -> PaperToCodeInput {
    PaperToCodeInput {
        paper_id: Some(paper_id.to_owned()),
        max_chunk_tokens: Some(1_000),
        parallel_chunks: Some(1),
        heartbeat_timeout_secs: Some(2),
        execute: Some(false),
        ..Default::default()
    }
}

async fn all_closed(client: &temporalio_client::Client, ids: &[String], prefix: &str) -> bool {
    for (i, _) in ids.iter().enumerate() {
        let h = client.get_workflow_handle::<PaperToCode>(format!("{prefix}/{i}"));
        match h.describe(Default::default()).await {
            Ok(d)
                if d.raw_description
                    .workflow_execution_info
                    .as_ref()
                    .is_some_and(|x| x.status == 1) =>
            {
                return false;
            }
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    true
}

/// `annapurna bench chaos`: papers run while the worker is SIGKILLed N times; reports how many
/// completed, how many were lost, repeated model calls per kill (against an undisturbed run of
/// the same papers) and the recovery time after each kill.
pub async fn chaos(config: Config, args: ChaosArgs) -> anyhow::Result<()> {
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            | 1
    });
    eprintln!("bench chaos: seed {seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let dir = tempfile::tempdir().context("creating a scratch directory")?;
    let options = StandinOptions {
        latency_ms: 500,
        ..Default::default()
    };
    let (addr, standin_task) = standin::start(([127, 0, 0, 1], 0).into(), options).await?;
    let standin_url = format!("http://{addr}");
    let (server, client, port) = crate::quota::start_temporal(&config, dir.path()).await?;
    let address = format!("127.0.0.1:{port}");

    let run_side = async |side: &mut Side,
                          prefix: &str,
                          kills: u32,
                          rng: &mut fastrand::Rng|
           -> anyhow::Result<(u64, Vec<f64>)> {
        let before = reqwest_stats(&side.standin_url).await?["requests"]
            .as_u64()
            .unwrap_or(0);
        side.start_worker()?;
        for (i, id) in side.ids.iter().enumerate() {
            let options = WorkflowStartOptions::new(TASK_QUEUE, format!("{prefix}/{i}")).build();
            client
                .start_workflow(PaperToCode::run, chaos_input(id), options)
                .await?;
        }
        let mut recoveries = Vec::new();
        for _ in 0..kills {
            tokio::time::sleep(Duration::from_millis(rng.u64(200..1000))).await;
            if all_closed(&client, &side.ids, prefix).await {
                break;
            }
            side.kill_worker().await;
            let killed = Instant::now();
            side.start_worker()?;
            let at_kill = reqwest_stats(&side.standin_url).await?["requests"]
                .as_u64()
                .unwrap_or(0);
            while reqwest_stats(&side.standin_url).await?["requests"]
                .as_u64()
                .unwrap_or(0)
                == at_kill
                && !all_closed(&client, &side.ids, prefix).await
                && killed.elapsed() < Duration::from_secs(120)
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            recoveries.push(round2(killed.elapsed().as_secs_f64()));
        }
        let deadline = Instant::now() + Duration::from_secs(1800);
        while !all_closed(&client, &side.ids, prefix).await {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the papers did not finish in 30 minutes"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        side.kill_worker().await;
        let after = reqwest_stats(&side.standin_url).await?["requests"]
            .as_u64()
            .unwrap_or(0);
        Ok((after - before, recoveries))
    };

    let mut calm = Side::new(dir.path(), "calm", &address, &standin_url, args.papers).await?;
    eprintln!("bench chaos: the undisturbed run …");
    let (calm_requests, _) = run_side(&mut calm, "calm", 0, &mut rng).await?;
    let mut wild = Side::new(dir.path(), "chaos", &address, &standin_url, args.papers).await?;
    eprintln!(
        "bench chaos: the same papers with {} worker kills …",
        args.kills
    );
    let (requests, recoveries) = run_side(&mut wild, "chaos", args.kills, &mut rng).await?;
    let kills = recoveries.len() as u32;
    let mut completed = 0;
    let mut same_code = 0;
    for i in 0..args.papers as usize {
        let a = client
            .get_workflow_handle::<PaperToCode>(format!("calm/{i}"))
            .get_result(WorkflowGetResultOptions::default())
            .await;
        let b = client
            .get_workflow_handle::<PaperToCode>(format!("chaos/{i}"))
            .get_result(WorkflowGetResultOptions::default())
            .await;
        if let Ok(b) = &b {
            completed += 1;
            if a.as_ref().is_ok_and(|a| a.code.sha256 == b.code.sha256) {
                same_code += 1;
            }
        }
    }
    standin_task.abort();
    server.stop().await;
    let duplicates = requests.saturating_sub(calm_requests);
    let report = json!({
        "seed": seed,
        "papers": args.papers,
        "kills": kills,
        "completed": completed,
        "lost": args.papers - completed,
        "same_results": same_code,
        "model_requests": requests,
        "undisturbed_model_requests": calm_requests,
        "duplicate_calls_per_kill": round2(duplicates as f64 / kills.max(1) as f64),
        "recovery_s": recoveries,
        "standin": true,
    });
    if !args.json {
        eprintln!(
            "{completed}/{} papers completed after {kills} kills ({same_code} with results identical to the undisturbed run); \
             {duplicates} repeated model calls ({:.2} per kill); recovery {:?} s",
            args.papers,
            duplicates as f64 / kills.max(1) as f64,
            recoveries
        );
    }
    println!("{report}");
    Ok(())
}

/// The `annapurna` binary beside this one (both are built into the same directory).
pub(crate) fn annapurna_bin() -> anyhow::Result<std::path::PathBuf> {
    let me = std::env::current_exe()?;
    let bin = me.with_file_name("annapurna");
    anyhow::ensure!(
        bin.is_file(),
        "{} is missing: build it with `cargo build --bin annapurna`",
        bin.display()
    );
    Ok(bin)
}
