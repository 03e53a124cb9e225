//! `annapurna`: the command line. It parses the arguments, loads the configuration, and calls
//! the subcommand's function in the `annapurna` library (`worker/src/lib.rs` lists them);
//! `annapurna bench …` runs the `annapurna-bench` binary beside it (the `bench` crate).

use annapurna::{
    check_cmd, complete_cmd, config, dev, doctor, eval_cmd, exec_cmd, ingest_cmd, judge_cmd,
    papers_cmd, replay, rerun, run_cmd, telemetry, wiring, worker_cmd,
};
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use config::{Config, StandinMode};

/// Turns machine-learning papers into reviewed, runnable PyTorch code, one durable Temporal
/// workflow per paper.
#[derive(Parser)]
#[command(name = "annapurna", version)]
struct Cli {
    /// Configuration file (default: ./annapurna.toml when present).
    #[arg(long, global = true, env = "ANNAPURNA_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the embedded stack in the foreground: Temporal dev server + Web UI, the Bedrock
    /// stand-in when no AWS credentials are configured, and a worker.
    Dev {
        /// Temporal's gRPC port.
        #[arg(long, default_value_t = 7233)]
        port: u16,
        /// The Web UI's port.
        #[arg(long, default_value_t = 8233)]
        ui_port: u16,
        /// Use the Bedrock stand-in: auto (when no AWS credentials), always, never.
        #[arg(long, value_parser = ["auto", "always", "never"])]
        standin: Option<String>,
    },
    /// Run a worker (task queues annapurna and annapurna-llm) against the Temporal server that
    /// TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE / temporal.toml name.
    Worker {
        /// Run an executor instead: poll only annapurna-exec-<TARGET> and run code in the
        /// sandbox (`worker.max-concurrent-executions` at once).
        #[arg(long, value_parser = ["cpu", "cuda", "trainium"])]
        exec: Option<String>,
    },
    /// Add, list and show papers.
    Paper {
        #[command(subcommand)]
        command: PaperCommand,
    },
    /// The repository plan of a running paper: show it, approve it (optionally with edits), or
    /// reject it (runs started with `approve_plan: true` wait for one or the other).
    Plan {
        #[command(subcommand)]
        command: PlanCommand,
    },
    /// Check the paper judge before a prompt or profile change ships.
    Judge {
        #[command(subcommand)]
        command: JudgeCommand,
    },
    /// Start PaperToCode for a paper file or stored paper id.
    Run(run_cmd::RunArgs),
    /// Evaluate on ResearchCodeBench-format task folders (EvaluateSuite): per masked snippet an
    /// answer (the model, or --oracle / --empty) and the task's test in the sandbox; pass@1
    /// weighted by lines. `eval compare RUN RUN` prints the per-task delta of two runs.
    Eval(eval_cmd::EvalArgs),
    /// Fill the `# TODO` lines (or empty tagged blocks) of your own half-written implementation
    /// from a stored paper, as `eval` answers a benchmark snippet (CompleteCode).
    Complete(complete_cmd::CompleteArgs),
    /// Statistics of the recorded runs: one self-contained HTML page with charts (--out), or the
    /// same figures as JSON (--json).
    Report(annapurna::report::ReportArgs),
    /// Start a PaperBatch: papers selected by id, recency, at random, by query or title, each run
    /// as a child PaperToCode (`paper/<id>`), `--max-concurrent` at a time.
    Batch {
        /// A paper id (repeat for more).
        #[arg(long = "paper-id")]
        paper_ids: Vec<String>,
        /// Papers published in the last N days (a file added by hand: stored in them).
        #[arg(long)]
        recent_days: Option<u32>,
        /// N papers at random.
        #[arg(long)]
        random: Option<u32>,
        /// Words to find in titles, headings and abstracts; with the OpenSearch paper store also
        /// query DSL as JSON ('{"match": {"abstract": "diffusion"}}').
        #[arg(long)]
        query: Option<String>,
        /// Papers whose title contains this.
        #[arg(long)]
        title: Option<String>,
        /// At most this many papers.
        #[arg(long)]
        max_papers: Option<u32>,
        /// Papers at once.
        #[arg(long, default_value_t = 4)]
        max_concurrent: u32,
        /// Do not execute the generated code.
        #[arg(long)]
        no_execute: bool,
        /// `batch`: the chunk summaries of all the papers as one Bedrock batch inference job, at
        /// half the price, for work that can wait; `on-demand` (the default) calls as it goes.
        #[arg(long, default_value = "on-demand", value_parser = ["on-demand", "batch"])]
        llm_mode: String,
        /// Wait for the batch and print its summary.
        #[arg(long)]
        follow: bool,
    },
    /// Start IngestPapers: read arXiv, OpenReview or MLSys feeds (optionally searched for a
    /// term), download the PDFs, ask the judge,
    /// index what passes (and with --batch, run PaperBatch over it).
    Ingest {
        #[command(flatten)]
        feeds: ingest_cmd::FeedArgs,
        /// Wait for the ingestion and print its summary.
        #[arg(long)]
        follow: bool,
    },
    /// Temporal Schedules that start IngestPapers.
    Schedule {
        #[command(subcommand)]
        command: ScheduleCommand,
    },
    /// Static checks of a Python file, as CheckCode runs them; exit status 1 when a finding
    /// blocks.
    Check {
        /// The Python file.
        file: PathBuf,
        /// cpu, cuda or trainium.
        #[arg(long, default_value = "cpu", value_parser = ["cpu", "cuda", "trainium"])]
        target: String,
        /// The dataset the code must train on (or the synthetic fallback).
        #[arg(long)]
        dataset: Option<String>,
        /// A JSON array of findings on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Run one Python file in the sandbox, as ExecuteCode does, and print the execution report;
    /// exit status 1 unless the run was clean.
    Exec {
        /// The Python file.
        file: PathBuf,
        /// cpu, cuda or trainium.
        #[arg(long, default_value = "cpu", value_parser = ["cpu", "cuda", "trainium"])]
        target: String,
        /// Wall-clock limit, seconds (default: sandbox.timeout-secs).
        #[arg(long)]
        timeout: Option<u64>,
        /// One JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Replay a history against the current workflow code: by workflow id (fetched from the
    /// server) or from a file (`annapurna history export`). Exit status 1 when the code no
    /// longer fits the history.
    Replay {
        /// The workflow id, e.g. paper/<paper-id>.
        workflow_id: Option<String>,
        /// A history file instead.
        #[arg(long, conflicts_with = "workflow_id")]
        history: Option<PathBuf>,
    },
    /// Workflow histories.
    History {
        #[command(subcommand)]
        command: HistoryCommand,
    },
    /// Check that this machine is ready: Temporal and its search attributes, each model role
    /// (catalogue, life cycle, access, a one-token call, the account's quotas), the sandbox and
    /// the stores. Each problem comes with its fix; exits 1 when any check failed.
    Doctor {
        /// One JSON report instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Run a finished or failed paper again: with the answer cache, no model is paid again;
    /// `--from STAGE` resets the run to that stage instead.
    Rerun {
        /// The paper's id.
        paper_id: String,
        /// loading, planning, dataset, summarizing, generating, reviewing or recording.
        #[arg(long)]
        from: Option<String>,
        /// Wait for the outcome.
        #[arg(long)]
        follow: bool,
    },
    /// Benchmarks that start their own stack (`annapurna bench quota|chaos|stores --help`); runs
    /// the `annapurna-bench` binary beside this one.
    Bench {
        /// The benchmark and its options.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Stand-ins for services that cannot be reached.
    Standin {
        #[command(subcommand)]
        service: StandinCommand,
    },
}

#[derive(Subcommand)]
enum PaperCommand {
    /// Add a .pdf, .tex, .md or .txt paper, or Paper2Code's .json; prints its id on the last line.
    Add {
        /// The paper file.
        file: String,
        /// Print the whole record as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List stored papers.
    List {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a paper and its runs, as JSON.
    Show {
        /// The paper's id.
        id: String,
    },
}

#[derive(Subcommand)]
enum PlanCommand {
    /// Print the plan (components, files, interfaces, config) and the stage, as JSON.
    Show {
        /// The paper's id.
        paper_id: String,
    },
    /// Approve the plan; `--edits` changes it first (a JSON merge patch of the plan, inline or
    /// a file: `{"files": [...]}` replaces the file list).
    Approve {
        /// The paper's id.
        paper_id: String,
        /// The edits: JSON, or a file holding it.
        #[arg(long)]
        edits: Option<String>,
    },
    /// Reject the plan: the paper fails with PlanRejected and the reason.
    Reject {
        /// The paper's id.
        paper_id: String,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
    },
}

#[derive(Subcommand)]
enum JudgeCommand {
    /// Run the current judge over stored papers (changing nothing) and print its agreement
    /// with their stored decisions, or with `--labels`, and the disagreements.
    Check {
        /// Judged papers to sample (at random, seeded).
        #[arg(long, default_value_t = 20)]
        sample: usize,
        /// A CSV of `paper id,pass|fail` to check against instead of the stored decisions.
        #[arg(long)]
        labels: Option<std::path::PathBuf>,
        /// The sample's seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ScheduleCommand {
    /// Register a schedule, e.g. `schedule create daily-cs-lg --cron "0 6 * * *" --arxiv cs.LG
    /// --days 1 --batch`.
    Create {
        /// The schedule's id.
        id: String,
        #[command(flatten)]
        when: ingest_cmd::When,
        // Boxed: the feed arguments are most of the enum's size.
        #[command(flatten)]
        feeds: Box<ingest_cmd::FeedArgs>,
        /// Also start one ingestion right away.
        #[arg(long)]
        trigger_now: bool,
    },
    /// Show a schedule's state (next runs, recent workflows) as JSON.
    Describe {
        /// The schedule's id.
        id: String,
    },
    /// Delete a schedule.
    Delete {
        /// The schedule's id.
        id: String,
    },
}

#[derive(Subcommand)]
enum HistoryCommand {
    /// Write a workflow's history as JSON (the form `annapurna replay --history` reads).
    Export {
        /// The workflow id.
        workflow_id: String,
        /// The file to write (default: stdout).
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum StandinCommand {
    /// Serve the Bedrock Converse API and OpenAI's Chat Completions (`/v1/chat/completions`) on
    /// one port, with template answers.
    Bedrock {
        /// Port on 127.0.0.1.
        #[arg(long, default_value_t = 8788)]
        port: u16,
        #[command(flatten)]
        options: standin::StandinOptions,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // The PDF extractor child (see activities::extract::PDF_EXTRACTOR): PDF on stdin, text on
    // stdout, exit 2 with the reason when the PDF cannot be read. Not a user command.
    if std::env::args().nth(1).as_deref() == Some("extract-pdf") {
        use std::io::{Read, Write};
        let mut pdf = Vec::new();
        std::io::stdin().read_to_end(&mut pdf)?;
        match activities::extract::pdf_text_here(&pdf) {
            Ok(text) => std::io::stdout().write_all(text.as_bytes())?,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        }
        return Ok(());
    }
    // Every PDF this process reads (paper add, LoadPaper, DownloadPaper) is parsed in a child
    // with memory and time limits.
    if let Ok(me) = std::env::current_exe() {
        let _ = activities::extract::PDF_EXTRACTOR.set(me);
    }
    let cli = Cli::parse();
    let mut config = Config::load(cli.config.as_deref())?;
    let _telemetry = telemetry::init(&config.telemetry)?;
    match cli.command {
        Command::Dev {
            port,
            ui_port,
            standin,
        } => {
            if let Some(mode) = standin {
                config.bedrock.standin = match mode.as_str() {
                    "always" => StandinMode::Always,
                    "never" => StandinMode::Never,
                    _ => StandinMode::Auto,
                };
            }
            dev::run(config, port, ui_port).await
        }
        Command::Worker { exec } => worker_cmd::run(&config, exec).await,
        Command::Paper { command } => match command {
            PaperCommand::Add { file, json } => {
                papers_cmd::add(&config, &file, json).await.map(|_| ())
            }
            PaperCommand::List { json } => papers_cmd::list(&config, json).await,
            PaperCommand::Show { id } => papers_cmd::show(&config, &id).await,
        },
        Command::Plan { command } => match command {
            PlanCommand::Show { paper_id } => annapurna::plan_cmd::show(&config, &paper_id).await,
            PlanCommand::Approve { paper_id, edits } => {
                annapurna::plan_cmd::approve(&paper_id, edits.as_deref()).await
            }
            PlanCommand::Reject { paper_id, reason } => {
                annapurna::plan_cmd::reject(&paper_id, &reason).await
            }
        },
        Command::Judge {
            command:
                JudgeCommand::Check {
                    sample,
                    labels,
                    seed,
                    json,
                },
        } => judge_cmd::check(&config, Some(sample), labels.as_deref(), seed, json)
            .await
            .map(|_| ()),
        Command::Run(args) => run_cmd::run(&config, args).await,
        Command::Eval(args) => eval_cmd::run(&config, args).await,
        Command::Complete(args) => complete_cmd::run(&config, args).await,
        Command::Report(args) => annapurna::report::run(&config, args).await,
        Command::Batch {
            paper_ids,
            recent_days,
            random,
            query,
            title,
            max_papers,
            max_concurrent,
            no_execute,
            llm_mode,
            follow,
        } => {
            let input = workflows::types::PaperBatchInput {
                paper_ids,
                recent_days,
                random,
                query,
                title,
                max_papers,
                max_concurrent: Some(max_concurrent),
                paper: no_execute.then(|| workflows::types::PaperToCodeInput {
                    execute: Some(false),
                    ..Default::default()
                }),
                carried: None,
                papers_per_run: None,
                invalid_input: None,
                llm_mode: workflows::types::LlmMode::parse(&llm_mode),
                batch_poll_secs: None,
            };
            wiring::start_from_cli(workflows::PaperBatch::run, input, "batch", follow).await
        }
        Command::Ingest { feeds, follow } => ingest_cmd::ingest(&feeds, follow).await,
        Command::Schedule { command } => match command {
            ScheduleCommand::Create {
                id,
                when,
                feeds,
                trigger_now,
            } => ingest_cmd::schedule_create(&id, &when, &feeds, trigger_now).await,
            ScheduleCommand::Describe { id } => ingest_cmd::schedule_describe(&id).await,
            ScheduleCommand::Delete { id } => ingest_cmd::schedule_delete(&id).await,
        },
        Command::Check {
            file,
            target,
            dataset,
            json,
        } => check_cmd::run(&config, &file, target, dataset, json).await,
        Command::Exec {
            file,
            target,
            timeout,
            json,
        } => exec_cmd::run(&config, &file, target, timeout, json).await,
        Command::Replay {
            workflow_id,
            history,
        } => replay::replay_cli(workflow_id, history).await,
        Command::History {
            command:
                HistoryCommand::Export {
                    workflow_id,
                    output,
                },
        } => replay::export_cli(workflow_id, output).await,
        Command::Doctor { json } => doctor::run(&config, json).await,
        Command::Rerun {
            paper_id,
            from,
            follow,
        } => rerun::rerun(&paper_id, from.as_deref(), follow).await,
        Command::Bench { args } => {
            let me = std::env::current_exe().context("finding this binary")?;
            let bench = me.with_file_name("annapurna-bench");
            let status = std::process::Command::new(&bench)
                .args(&args)
                .status()
                .with_context(|| {
                    format!(
                        "running {}; build it with `cargo build --bin annapurna-bench`",
                        bench.display()
                    )
                })?;
            std::process::exit(status.code().unwrap_or(1));
        }
        Command::Standin {
            service: StandinCommand::Bedrock { port, options },
        } => {
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let (bound, task) = standin::start(addr, options).await?;
            eprintln!(
                "model stand-in (template answers, not generation) on http://{bound}: Bedrock Converse at /model/{{id}}/converse, OpenAI Chat Completions at /v1/chat/completions"
            );
            tokio::select! {
                r = task => r.context("the stand-in stopped")?,
                _ = wiring::shutdown_signal() => {}
            }
            Ok(())
        }
    }
}
