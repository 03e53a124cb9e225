//! `annapurna eval DIR… [--oracle|--empty] [--json] [--follow]`: reads the ResearchCodeBench
//! task folders here (the worker never reads a path an input names), stores each as a bundle
//! blob, runs `EvaluateSuite` (`eval/<suite-run>`) and prints its table, or with `--json` one
//! object on the last line. `annapurna eval compare RUN RUN` prints the per-task delta of two
//! recorded suite runs.

use std::path::PathBuf;
use std::time::Duration;

use activities::clients::blobs::{BlobStore, sha256_hex};
use activities::eval::bundle::Bundle;
use activities::eval::{table, task_format};
use anyhow::{Context, bail};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use temporalio_client::{WorkflowGetResultOptions, WorkflowQueryOptions, WorkflowStartOptions};
use workflows::EvaluateSuite;
use workflows::names::{TASK_QUEUE, eval_workflow_id};
use workflows::types::*;

use crate::config::Config;

/// `annapurna eval`'s arguments.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EvalArgs {
    /// `compare RUN RUN`.
    #[command(subcommand)]
    pub command: Option<EvalCommand>,
    /// Task folders, or folders holding task folders.
    pub dirs: Vec<PathBuf>,
    /// Put each original snippet back (the harness's own test: must score 1.0).
    #[arg(long, conflicts_with = "empty")]
    pub oracle: bool,
    /// Leave each TODO in place (must score near 0).
    #[arg(long)]
    pub empty: bool,
    /// One JSON object on the last line of stdout.
    #[arg(long)]
    pub json: bool,
    /// Progress bars while the suite runs.
    #[arg(long)]
    pub follow: bool,
    /// The suite run's name (results in `results/eval/<NAME>/`); default: the mode and the time.
    #[arg(long)]
    pub name: Option<String>,
    /// Snippets answered and tested at once.
    #[arg(long)]
    pub max_concurrent: Option<u32>,
    /// Snippets per workflow run before it continues as new.
    #[arg(long)]
    pub snippets_per_run: Option<u32>,
    /// The code model (default: the configured one).
    #[arg(long)]
    pub code_model: Option<String>,
    /// The summary model (default: the configured one).
    #[arg(long)]
    pub summary_model: Option<String>,
    /// Where the tests run: cpu, cuda or trainium.
    #[arg(long, default_value = "cpu", value_parser = ["cpu", "cuda", "trainium"])]
    pub target: String,
}

/// `annapurna eval` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum EvalCommand {
    /// The per-task delta of two recorded suite runs (`results/eval/<RUN>/score.json`).
    Compare {
        /// The earlier run.
        before: String,
        /// The later run.
        after: String,
        /// One JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Build the evaluation venv on this executor host: what the tasks in DIR import beyond the
    /// execution venv, installed from what the suite declares (the tasks' requirements files and
    /// the pip list of an `environment.yml` in DIR). Benchmark runs then use it.
    Env {
        /// Task folders, or folders of them (with the suite's `environment.yml`).
        dirs: Vec<std::path::PathBuf>,
        /// One JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `annapurna eval`.
pub async fn run(config: &Config, args: EvalArgs) -> anyhow::Result<()> {
    if let Some(EvalCommand::Compare {
        before,
        after,
        json,
    }) = &args.command
    {
        return compare(config, before, after, *json).await;
    }
    if let Some(EvalCommand::Env { dirs, json }) = &args.command {
        return crate::eval_env_cmd::run(config, dirs, *json);
    }
    if args.dirs.is_empty() {
        bail!("give task folders (or a folder of them): annapurna eval ../shared/rcb");
    }
    let mode = if args.oracle {
        AnswerMode::Oracle
    } else if args.empty {
        AnswerMode::Empty
    } else {
        AnswerMode::Model
    };
    let dirs = task_format::discover(&args.dirs)?;
    let blobs = BlobStore::open(&config.storage.blobs)?;
    let mut tasks = Vec::new();
    for dir in &dirs {
        let files = task_format::read_files(dir)?;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string());
        // Parsed here too, so that a folder with bad tags is named at once; the suite still
        // reports it as broken with the same message.
        if let Err(e) = task_format::parse_task(&name, files.clone()) {
            eprintln!("warning: {}: {e}", dir.display());
        }
        let bytes = serde_json::to_vec(&Bundle::new(&name, &files))?;
        let key = format!("eval/tasks/{name}-{}.json", &sha256_hex(&bytes)[..16]);
        let bundle = blobs
            .put(&key, bytes)
            .await
            .with_context(|| format!("storing the task folder {}", dir.display()))?;
        tasks.push(EvalTaskSource { name, bundle });
    }
    let suite_run = args.name.clone().unwrap_or_else(|| {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        format!("{mode}-{ms}")
    });
    let input = EvaluateSuiteInput {
        suite_run: suite_run.clone(),
        tasks,
        mode: Some(mode),
        code_model: args.code_model.clone(),
        summary_model: args.summary_model.clone(),
        target: Some(args.target.clone()),
        max_concurrent: args.max_concurrent,
        snippets_per_run: args.snippets_per_run,
        carried: None,
    };
    let client = crate::wiring::temporal_client(None).await?;
    let id = eval_workflow_id(&suite_run);
    let started = std::time::Instant::now();
    let handle = client
        .start_workflow(
            EvaluateSuite::run,
            input,
            WorkflowStartOptions::new(TASK_QUEUE, &id).build(),
        )
        .await
        .with_context(|| format!("starting {id}"))?;
    eprintln!("started {id}: {} tasks, mode {mode}", dirs.len());
    let result = handle.get_result(WorkflowGetResultOptions::default());
    tokio::pin!(result);
    let bars = MultiProgress::new();
    let stage = bars.add(ProgressBar::new_spinner());
    let snippets = bars.add(ProgressBar::new(0));
    if args.follow {
        stage.set_style(ProgressStyle::with_template("{spinner} {msg}").unwrap());
        snippets.set_style(
            ProgressStyle::with_template("  snippets [{bar:30}] {pos}/{len} {msg}")
                .unwrap()
                .progress_chars("=> "),
        );
    } else {
        stage.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        snippets.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let output: EvaluateSuiteOutput = loop {
        tokio::select! {
            r = &mut result => break r.with_context(|| format!("{id} did not complete"))?,
            _ = tick.tick(), if args.follow => {
                // After a continue-as-new the handle still names the workflow id: the query goes
                // to the latest run.
                let latest = client.get_workflow_handle::<EvaluateSuite>(&id);
                if let Ok(p) = latest.query(EvaluateSuite::progress, (), WorkflowQueryOptions::default()).await {
                    stage.set_message(format!(
                        "{id}: {} ({} tasks, {} broken, ≈ ${:.4}{})",
                        p.stage, p.tasks, p.broken, p.cost_microusd as f64 / 1e6,
                        if p.standin { ", STAND-IN answers" } else { "" }
                    ));
                    snippets.set_length(p.snippets_total as u64);
                    snippets.set_position(p.snippets_done as u64);
                    snippets.set_message(format!("{} passed", p.passed));
                }
                stage.tick();
            }
        }
    };
    stage.finish_and_clear();
    snippets.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let score = &output.score;
    if !args.json {
        print!("{}", table::render(score));
        eprintln!(
            "{id}: {} snippets in {seconds:.1} s; results: {}",
            score.snippets, output.results_dir
        );
        return Ok(());
    }
    let tasks: Vec<serde_json::Value> = score
        .tasks
        .iter()
        .map(|t| {
            serde_json::json!({
                "task": t.task, "status": t.status, "reason": t.reason, "score": t.score,
                "score_unweighted": t.score_unweighted, "snippets": t.snippets, "passed": t.passed,
                "executability": t.executability, "cost_usd": t.cost_usd,
            })
        })
        .collect();
    let line = serde_json::json!({
        "suite_run": output.suite_run,
        "mode": output.mode,
        "score": score.score,
        "score_unweighted": score.score_unweighted,
        "snippets": score.snippets,
        "passed": score.passed,
        "executability": score.executability,
        "cost_usd": score.cost_usd,
        "standin": score.standin,
        "score_kind": if score.standin { "template score (stand-in answers)" } else { "model score" },
        "seconds": seconds,
        "results": output.results_dir,
        "tasks": tasks,
    });
    println!("{line}");
    Ok(())
}

/// A recorded suite run's `score.json`.
async fn recorded(results: &BlobStore, run: &str) -> anyhow::Result<serde_json::Value> {
    let uri = results.uri_of(&format!("eval/{run}/score.json"));
    let bytes = results
        .try_get_uri(&uri)
        .await?
        .with_context(|| format!("no recorded suite run {run:?} ({uri})"))?;
    Ok(serde_json::from_slice(&bytes)?)
}

/// Prints the per-task delta of two recorded runs.
async fn compare(config: &Config, before: &str, after: &str, json: bool) -> anyhow::Result<()> {
    let results = BlobStore::open(&config.storage.results)?;
    let (a, b) = (
        recorded(&results, before).await?,
        recorded(&results, after).await?,
    );
    let tasks = |v: &serde_json::Value| -> Vec<(String, serde_json::Value)> {
        v["score"]["tasks"]
            .as_array()
            .map(|ts| {
                ts.iter()
                    .map(|t| (t["task"].as_str().unwrap_or("").to_owned(), t.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (ta, tb) = (tasks(&a), tasks(&b));
    let mut names: Vec<String> = ta.iter().chain(&tb).map(|(n, _)| n.clone()).collect();
    names.sort();
    names.dedup();
    let find = |ts: &[(String, serde_json::Value)], n: &str| {
        ts.iter().find(|(m, _)| m == n).map(|(_, t)| t.clone())
    };
    let mut rows = Vec::new();
    for n in &names {
        let (x, y) = (find(&ta, n), find(&tb, n));
        let s = |t: &Option<serde_json::Value>| {
            t.as_ref()
                .filter(|t| t["status"] == "scored")
                .and_then(|t| t["score"].as_f64())
        };
        rows.push(serde_json::json!({
            "task": n, "before": s(&x), "after": s(&y),
            "delta": match (s(&x), s(&y)) { (Some(p), Some(q)) => Some(q - p), _ => None },
        }));
    }
    let overall = |v: &serde_json::Value| v["score"]["score"].as_f64().unwrap_or(0.0);
    if json {
        println!(
            "{}",
            serde_json::json!({"before": before, "after": after, "score_before": overall(&a),
                "score_after": overall(&b), "delta": overall(&b) - overall(&a), "tasks": rows})
        );
        return Ok(());
    }
    let show = |v: &serde_json::Value| {
        v.as_f64()
            .map(|f| format!("{f:.3}"))
            .unwrap_or_else(|| "-".into())
    };
    println!("{:<24} {:>8} {:>8} {:>8}", "task", before, after, "delta");
    for r in &rows {
        println!(
            "{:<24} {:>8} {:>8} {:>8}",
            r["task"].as_str().unwrap_or(""),
            show(&r["before"]),
            show(&r["after"]),
            r["delta"]
                .as_f64()
                .map(|d| format!("{d:+.3}"))
                .unwrap_or_else(|| "-".into())
        );
    }
    println!(
        "{:<24} {:>8.3} {:>8.3} {:>+8.3}",
        "all",
        overall(&a),
        overall(&b),
        overall(&b) - overall(&a)
    );
    for (v, run) in [(&a, before), (&b, after)] {
        if v["standin"] == true {
            println!("{run}: STAND-IN answers (a template score)");
        }
    }
    Ok(())
}
