//! `annapurna run FILE|PAPER_ID [--follow]`: adds the paper if needed and starts `PaperToCode`
//! with workflow id `paper/<paper-id>`, exactly as `temporal workflow start` would.

use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use temporalio_client::{WorkflowGetResultOptions, WorkflowQueryOptions, WorkflowStartOptions};
use workflows::PaperToCode;
use workflows::names::{TASK_QUEUE, paper_workflow_id};
use workflows::types::{PaperToCodeInput, PaperToCodeOutput};

use crate::config::Config;
use crate::papers_cmd;

/// Options of `annapurna run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// A paper file (.pdf, .tex, .md, .txt, or Paper2Code .json) or the id of a stored paper.
    pub paper: String,
    /// Show progress until the run ends, then where the results are.
    #[arg(long)]
    pub follow: bool,
    /// cpu, cuda or trainium.
    #[arg(long, default_value = "cpu")]
    pub target: String,
    /// Largest chunk in estimated tokens (default: models.max-chunk-tokens).
    #[arg(long)]
    pub max_chunk_tokens: Option<u64>,
    /// Chunk summaries at once.
    #[arg(long)]
    pub parallel_chunks: Option<u32>,
    /// Review/fix rounds at most.
    #[arg(long)]
    pub review_rounds: Option<u32>,
    /// Seconds the code may wait for an executor of the target before the paper fails
    /// (default: worker.executor-wait-secs).
    #[arg(long)]
    pub executor_wait_secs: Option<u64>,
    /// Tune the hyperparameters once the code has run: a search as JSON, e.g.
    /// `{"trials": 6, "parallel": 2, "metric": "val_accuracy", "direction": "maximize", "seed": 0}`.
    #[arg(long, value_parser = parse_search)]
    pub search: Option<workflows::types::SearchSpec>,
    /// The model-size budget, MB at 32 bits per parameter (a trial over it is shrunk).
    #[arg(long)]
    pub max_model_mb: Option<f64>,
    /// The parameter budget.
    #[arg(long)]
    pub max_params: Option<u64>,
    /// The Web UI's address, for the link printed at the end.
    #[arg(
        long,
        default_value = "http://localhost:8233",
        env = "ANNAPURNA_WEB_UI"
    )]
    pub web_ui: String,
}

/// `--search`'s JSON, checked as the workflow checks it.
fn parse_search(text: &str) -> Result<workflows::types::SearchSpec, String> {
    let spec: workflows::types::SearchSpec =
        serde_json::from_str(text).map_err(|e| format!("not a search: {e}"))?;
    match spec.problem() {
        Some(problem) => Err(problem),
        None => Ok(spec),
    }
}

/// Starts (and with `--follow`, follows) a paper's run.
pub async fn run(config: &Config, args: RunArgs) -> anyhow::Result<()> {
    let (paper_id, title) = if std::path::Path::new(&args.paper).is_file() {
        let added = papers_cmd::add(config, &args.paper, false).await?;
        (added.id, added.title)
    } else {
        let papers = papers_cmd::paper_store(config).await?;
        let Some(record) = papers.get(&args.paper).await? else {
            bail!(
                "{:?} is neither a file nor the id of a stored paper; give a .pdf/.tex/.md/.txt path or see `annapurna paper list`",
                args.paper
            );
        };
        (args.paper.clone(), record.title)
    };
    let client = crate::wiring::temporal_client(None).await?;
    let workflow_id = paper_workflow_id(&paper_id);
    let input = PaperToCodeInput {
        paper_id: Some(paper_id.clone()),
        target: Some(args.target.clone()),
        max_chunk_tokens: args.max_chunk_tokens,
        parallel_chunks: args.parallel_chunks,
        review_rounds: args.review_rounds,
        search: args.search.clone(),
        max_model_mb: args.max_model_mb,
        max_params: args.max_params,
        executor_wait_secs: Some(
            args.executor_wait_secs
                .unwrap_or(config.worker.executor_wait_secs),
        ),
        ..Default::default()
    };
    // The Web UI's one-line summary of the run: the paper, the target, the main models.
    let roles = config.models.roles();
    let shown: Vec<(&str, &str)> = roles
        .iter()
        .filter(|(role, _)| matches!(*role, "summary" | "code"))
        .map(|(role, model)| (*role, model.as_str()))
        .collect();
    let title = if title.trim().is_empty() {
        &paper_id
    } else {
        &title
    };
    let summary = workflows::details::static_summary(title, &args.target, &shown);
    warn_without_executor(&client, &args.target).await;
    let handle = client
        .start_workflow(
            PaperToCode::run,
            input,
            WorkflowStartOptions::new(TASK_QUEUE, &workflow_id)
                .static_summary(summary)
                .build(),
        )
        .await
        .with_context(|| {
            format!("starting {workflow_id}; if it is already running, follow it in the Web UI or wait for it to end")
        })?;
    let link = format!(
        "{}/namespaces/default/workflows/{}",
        args.web_ui.trim_end_matches('/'),
        workflow_id.replace('/', "%2F")
    );
    eprintln!(
        "started {workflow_id} (run {})",
        handle.run_id().unwrap_or_default()
    );
    if !args.follow {
        println!("{workflow_id}");
        eprintln!("Web UI: {link}");
        return Ok(());
    }
    let bars = MultiProgress::new();
    let stage = bars.add(ProgressBar::new_spinner());
    stage.set_style(ProgressStyle::with_template("{spinner} {msg}").unwrap());
    let chunks = bars.add(ProgressBar::new(0));
    chunks.set_style(
        ProgressStyle::with_template("  chunks  [{bar:30}] {pos}/{len} summarised")
            .unwrap()
            .progress_chars("=> "),
    );
    let result = handle.get_result(WorkflowGetResultOptions::default());
    tokio::pin!(result);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let output: PaperToCodeOutput = loop {
        tokio::select! {
            r = &mut result => match r {
                Ok(output) => break output,
                Err(temporalio_client::errors::WorkflowGetResultError::Failed(failure)) => {
                    stage.finish_and_clear();
                    chunks.finish_and_clear();
                    bail!("{workflow_id} failed: {}; see {link}", describe_failure(failure.failure()));
                }
                Err(e) => return Err(e).with_context(|| format!("{workflow_id} did not finish; see {link}")),
            },
            _ = tick.tick() => {
                if let Ok(p) = handle.query(PaperToCode::progress, (), WorkflowQueryOptions::default()).await {
                    let waiting = if p.waiting_on_queue.is_empty() {
                        String::new()
                    } else {
                        format!(" on {}", p.waiting_on_queue)
                    };
                    let files = if p.files_total > 0 {
                        format!(", files {}/{}", p.files_done, p.files_total)
                    } else {
                        String::new()
                    };
                    stage.set_message(format!(
                        "{workflow_id}: {}{waiting} (review round {}/{}{files}, tokens {} in / {} out, ≈ ${:.4})",
                        p.stage, p.review_round, p.review_rounds, p.input_tokens, p.output_tokens,
                        p.cost_microusd as f64 / 1e6
                    ));
                    chunks.set_length(p.chunks_total as u64);
                    chunks.set_position(p.chunks_done as u64);
                }
                stage.tick();
            }
        }
    };
    stage.finish_and_clear();
    chunks.finish_and_clear();
    println!("{}", serde_json::to_string_pretty(&output)?);
    if output.standin {
        eprintln!(
            "NOTE: model answers came from the Bedrock stand-in (templates, not generation)."
        );
    }
    eprintln!(
        "outcome: {}\nresults: {}\nWeb UI:  {link}",
        output.outcome, output.results
    );
    if args.search.is_some() || args.max_model_mb.is_some() || args.max_params.is_some() {
        eprintln!(
            "search:  {}/search (trials/, best.json, curve.csv)",
            output.results.trim_end_matches('/')
        );
    }
    Ok(())
}

/// Says so when no executor polls the target's task queue (Temporal's DescribeTaskQueue): the
/// code would wait in stage `waiting-for-executor` until one does or `executor_wait_secs` ends.
async fn warn_without_executor(client: &temporalio_client::Client, target: &str) {
    let queue = workflows::names::exec_task_queue(target);
    match crate::wiring::describe_activity_queue(client, &queue).await {
        Ok(r) if r.pollers.is_empty() => eprintln!(
            "WARNING: no executor polls {queue}: the code will wait in stage waiting-for-executor. \
             Start one on a {target} host with `annapurna worker --exec {target}` (as root), or run with --target cpu."
        ),
        Ok(_) => {}
        Err(e) => tracing::debug!(error = %e.message(), "could not describe {queue}"),
    }
}

/// A failure and its causes in one line, each with its type name where it has one
/// (`NoExecutor: no executor took the code …`), as the Web UI shows them.
pub fn describe_failure(
    failure: &temporalio_protos::temporal::api::failure::v1::Failure,
) -> String {
    use temporalio_protos::temporal::api::failure::v1::failure::FailureInfo;
    let mut parts = Vec::new();
    let mut next = Some(failure);
    while let Some(f) = next {
        match &f.failure_info {
            Some(FailureInfo::ApplicationFailureInfo(a)) if !a.r#type.is_empty() => {
                parts.push(format!("{}: {}", a.r#type, f.message))
            }
            _ if !f.message.is_empty() => parts.push(f.message.clone()),
            _ => {}
        }
        next = f.cause.as_deref();
    }
    parts.join(" <- ")
}
