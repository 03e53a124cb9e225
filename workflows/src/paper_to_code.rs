//! `PaperToCode`: one paper, from text to reviewed code, as a durable workflow.
//!
//! Activities, in order: `LoadPaper` → `PlanChunks` → `RecommendDataset` beside `SummarizeChunk`
//! × N (all eligible at once, on `annapurna-llm`) → `GenerateCode` → (`CheckCode` → `ReviewCode` → `FixCode`) × rounds →
//! `CheckCode` → (`ExecuteCode` on `annapurna-exec-<target>` → `DiagnoseFailure` → `FixCode`)
//! × repairs → `RecordResults`.
//! Ids: the workflow id is `paper/<paper-id>` (see [`crate::names::paper_workflow_id`]); activity
//! ids are readable (`summarize-3`, `review-1`) so the Web UI's event list reads as the pipeline.
//! Search attributes: `PaperId`, `PaperStage` (per stage), `Dataset` and `PaperOutcome` (at the end).
//! Query: `progress`.

use std::time::{Duration, UNIX_EPOCH};

use temporalio_common::error::ApplicationFailure;
use temporalio_common::search_attributes::SearchAttributeKey;
use temporalio_common::{Priority, RetryPolicy};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_workflow::{
    ActivityExecutionError, ActivityOptions, SyncWorkflowContext, WorkflowContext,
    WorkflowContextView, WorkflowResult, WorkflowTermination, join_all,
};

use crate::activities::{ExecActivities, LlmActivities, LocalActivities};
use crate::decisions::{
    RepairStep, ReviewStep, Stage, enough_chunks, input_out_of_bounds, next_repair_step,
    next_review_step,
};
use crate::names::{LLM_TASK_QUEUE, exec_task_queue, failure, search_attribute};
use crate::types::*;

mod presummarized;
pub mod repository;
mod search;
mod slack;

const PAPER_ID: SearchAttributeKey<String> =
    SearchAttributeKey::keyword(search_attribute::PAPER_ID);
const PAPER_STAGE: SearchAttributeKey<String> =
    SearchAttributeKey::keyword(search_attribute::PAPER_STAGE);
const PAPER_OUTCOME: SearchAttributeKey<String> =
    SearchAttributeKey::keyword(search_attribute::PAPER_OUTCOME);
const DATASET: SearchAttributeKey<String> = SearchAttributeKey::keyword(search_attribute::DATASET);

/// The workflow's state: its input and the progress the `progress` query reports.
#[workflow]
pub struct PaperToCode {
    input: PaperToCodeInput,
    progress: Progress,
    timings: Vec<StageTiming>,
    /// The paper's title, once loaded (for the Slack thread).
    title: String,
    /// How the pipeline ended, once it has (the Slack thread's last message).
    ended: Option<SlackEvent>,
    /// Set when the pipeline has returned, however it ended.
    pipeline_done: bool,
    /// The repository plan, once planned (the `plan` query).
    plan: Option<RepoPlanRef>,
    /// What the `approve_plan` / `reject_plan` signals said, until the workflow takes it.
    plan_decision: Option<repository::PlanDecision>,
    /// The fairness key of this paper's model calls on `annapurna-llm` (see [`fairness_key`]);
    /// `None` in histories from before [`LLM_FAIRNESS_PATCH`].
    fairness: Option<String>,
}

#[workflow_methods]
impl PaperToCode {
    /// Keeps the input; nothing else happens before `run`.
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: PaperToCodeInput) -> Self {
        Self {
            progress: Progress {
                review_rounds: input.review_rounds(),
                ..Progress::default()
            },
            input,
            timings: Vec::new(),
            title: String::new(),
            ended: None,
            pipeline_done: false,
            plan: None,
            plan_decision: None,
            fairness: None,
        }
    }

    /// Runs the pipeline; on failure, marks `PaperOutcome=failed` before failing.
    #[run(name = "PaperToCode")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<PaperToCodeOutput> {
        let result = if ctx.patched(slack::SLACK_PATCH) {
            // The Slack lane runs beside the pipeline and ends after the pipeline's last message.
            let ctx: &WorkflowContext<Self> = ctx;
            let pipeline = async {
                let result = pipeline(ctx).await;
                let ended = match &result {
                    Ok(out) => Some(slack::ended_event(&Ok(out.clone()))),
                    Err(WorkflowTermination::Failed(e)) => {
                        Some(slack::ended_event(&Err(e.to_string())))
                    }
                    // Evicted or cancelled: nothing more to post.
                    Err(_) => None,
                };
                ctx.state_mut(|s| {
                    s.ended = ended;
                    s.pipeline_done = true;
                });
                result
            };
            let (result, ()) = temporalio_workflow::join!(pipeline, slack::thread(ctx));
            result
        } else {
            pipeline(ctx).await
        };
        if result.is_err() {
            ctx.upsert_search_attributes([PAPER_OUTCOME.value_set("failed".to_owned())]);
        }
        result
    }

    /// Stage and counts, for `annapurna run --follow` and `temporal workflow query`.
    #[query(name = "progress")]
    pub fn progress(&self, _ctx: &WorkflowContextView) -> Progress {
        self.progress.clone()
    }

    /// The repository plan (its blob, files in writing order, entry point, summary), once
    /// planned; `null` before (or for a single-file run).
    #[query(name = "plan")]
    pub fn plan(&self, _ctx: &WorkflowContextView) -> Option<RepoPlanRef> {
        self.plan.clone()
    }

    /// Approves the plan a run with `approve_plan: true` waits on; `{"edits": {…}}` (a JSON
    /// merge patch of the plan) changes it first. Any payload is taken: what is not an object
    /// with `edits` approves as planned, so a malformed signal cannot stop the workflow.
    #[signal(name = "approve_plan")]
    pub fn approve_plan(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        approval: serde_json::Value,
    ) {
        let edits = approval.get("edits").filter(|e| !e.is_null()).cloned();
        self.plan_decision = Some(repository::PlanDecision::Approve(edits));
    }

    /// Rejects the plan: the paper fails with `PlanRejected` and the reason
    /// (`{"reason": "…"}`; any other payload rejects without one).
    #[signal(name = "reject_plan")]
    pub fn reject_plan(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        rejection: serde_json::Value,
    ) {
        let reason = match &rejection {
            serde_json::Value::String(r) => r.clone(),
            other => other
                .get("reason")
                .and_then(|r| r.as_str())
                .unwrap_or_default()
                .to_owned(),
        };
        let reason: String = reason.chars().take(500).collect();
        self.plan_decision = Some(repository::PlanDecision::Reject(reason));
    }
}

fn now_ms(ctx: &WorkflowContext<PaperToCode>) -> u64 {
    ctx.workflow_time()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Moves to `stage`: closes the previous stage's timing, updates the search attribute and the
/// progress query.
fn enter(ctx: &WorkflowContext<PaperToCode>, stage: Stage) {
    let now = now_ms(ctx);
    ctx.state_mut(|s| {
        if let Some(last) = s.timings.last_mut()
            && last.ended_ms == 0
        {
            last.ended_ms = now;
        }
        if stage != Stage::Done {
            s.timings.push(StageTiming {
                stage: stage.as_str().to_owned(),
                started_ms: now,
                ended_ms: 0,
            });
        }
        s.progress.stage = stage.as_str().to_owned();
    });
    ctx.upsert_search_attributes([PAPER_STAGE.value_set(stage.as_str().to_owned())]);
    show_details(ctx);
}

/// Changes the progress and tells the Web UI in words (current details: the metadata query,
/// answered from memory, never in the history).
fn progress_mut(ctx: &WorkflowContext<PaperToCode>, change: impl FnOnce(&mut Progress)) {
    ctx.state_mut(|s| change(&mut s.progress));
    show_details(ctx);
}

fn show_details(ctx: &WorkflowContext<PaperToCode>) {
    let details = ctx.state(|s| crate::details::current_details(&s.progress));
    ctx.set_current_details(details);
}

fn add_usage(ctx: &WorkflowContext<PaperToCode>, role: ModelRole, usage: &LlmUsage) {
    ctx.state_mut(|s| {
        s.progress
            .by_role
            .entry(role.as_str().to_owned())
            .or_default()
            .add(usage);
        s.progress.input_tokens += usage.input_tokens;
        s.progress.output_tokens += usage.output_tokens;
        s.progress.cost_microusd += usage.cost_microusd;
    });
}

/// Options for activities on the `annapurna` queue. Activities heartbeat while they work, so a
/// killed worker's task is retried after the heartbeat timeout rather than after the whole
/// start-to-close timeout.
fn local_options(id: String, start_to_close: Duration, heartbeat: Duration) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(start_to_close)
        .activity_id(id)
        .heartbeat_timeout(heartbeat)
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_secs(1))
                .maximum_interval(Duration::from_secs(30))
                .maximum_attempts(5)
                .build(),
        )
        .build()
}

/// Options for model calls on the `annapurna-llm` queue. Throttling is retried with the
/// provider's delay (the activity sets `next_retry_delay`), so attempts are generous; bad input
/// and refusals are non-retryable and stop at once. Each carries the paper's fairness key.
fn llm_options(
    ctx: &WorkflowContext<PaperToCode>,
    id: String,
    heartbeat: Duration,
) -> ActivityOptions {
    let mut options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(600))
        .activity_id(id)
        .task_queue(LLM_TASK_QUEUE.to_owned())
        .heartbeat_timeout(heartbeat)
        .retry_policy(
            // Capped at 10 s: a worker killed again and again must not push the next try
            // minutes away; throttling brings its own delay and the worker's AIMD pace.
            RetryPolicy::builder()
                .initial_interval(Duration::from_secs(1))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(10))
                .maximum_attempts(30)
                .build(),
        )
        .build();
    options.priority = ctx
        .state(|s| s.fairness.clone())
        .map(|key| Priority::builder().fairness_key(key).build());
    options
}

/// The patch id of the dataset recommendation beside the map rather than before it.
pub const DATASET_BESIDE_MAP_PATCH: &str = "annapurna-dataset-beside-map";

/// The patch id of a fairness key per paper on its model calls.
pub const LLM_FAIRNESS_PATCH: &str = "annapurna-llm-fairness";

/// A paper's fairness key: its workflow id, or the id's last 64 bytes (the server's limit on a
/// key) when longer — ids differ at their end (a paper, a time).
pub fn fairness_key(workflow_id: &str) -> String {
    let mut start = workflow_id.len().saturating_sub(64);
    while !workflow_id.is_char_boundary(start) {
        start += 1;
    }
    workflow_id[start..].to_owned()
}

pub(crate) fn invalid_input(message: &str) -> WorkflowTermination {
    WorkflowTermination::failed_application(
        ApplicationFailure::builder(message.to_owned())
            .type_name("InvalidInput".to_owned())
            .non_retryable(true)
            .build(),
    )
}

async fn pipeline(ctx: &WorkflowContext<PaperToCode>) -> WorkflowResult<PaperToCodeOutput> {
    let input = ctx.state(|s| s.input.clone());
    if let Some(problem) = &input.invalid_input {
        return Err(invalid_input(problem));
    }
    if input.paper_id.is_none() && input.source.is_none() {
        return Err(invalid_input(
            "PaperToCode needs {\"paper_id\": \"…\"} or {\"source\": \"path-or-uri\"}; got neither",
        ));
    }
    // Bounds on the numbers came later: older histories replay without the check.
    if let Some(problem) = input_out_of_bounds(&input)
        && ctx.patched(INPUT_BOUNDS_PATCH)
    {
        return Err(invalid_input(&problem));
    }
    // A search or a budget came later: older inputs have neither, and replay unchanged.
    if let Some(problem) = search::problem(&input) {
        return Err(invalid_input(&problem));
    }
    let target = input.target();
    if Target::parse(&target).is_none() {
        let all: Vec<&str> = Target::ALL.iter().map(|t| t.as_str()).collect();
        return Err(invalid_input(&format!(
            "target {target:?} is not one of {}",
            all.join(", ")
        )));
    }

    // Each paper's model calls dispatch fairly beside other papers' (the server's round-robin
    // across fairness keys), so a long paper's backlog does not hold short papers' calls.
    if ctx.patched(LLM_FAIRNESS_PATCH) {
        let key = fairness_key(ctx.workflow_id());
        ctx.state_mut(|s| s.fairness = Some(key));
    }
    enter(ctx, Stage::Loading);
    let paper = ctx
        .execute_activity(
            LocalActivities::load_paper,
            LoadPaperInput {
                paper_id: input.paper_id.clone(),
                source: input.source.clone(),
            },
            local_options(
                "load".into(),
                Duration::from_secs(600),
                input.heartbeat_timeout(),
            ),
        )
        .await?;
    ctx.upsert_search_attributes([PAPER_ID.value_set(paper.paper_id.clone())]);
    ctx.state_mut(|s| s.title = paper.title.clone());

    enter(ctx, Stage::Planning);
    let plan = ctx
        .execute_activity(
            LocalActivities::plan_chunks,
            PlanChunksInput {
                paper: paper.clone(),
                max_chunk_tokens: input.max_chunk_tokens,
                model: input.model_for(ModelRole::Summary),
            },
            local_options(
                "plan".into(),
                Duration::from_secs(600),
                input.heartbeat_timeout(),
            ),
        )
        .await?;
    let chunk_count = plan.chunks.len() as u32;

    let recommend = async {
        let dataset = ctx
            .execute_activity(
                LlmActivities::recommend_dataset,
                RecommendDatasetInput {
                    paper: paper.clone(),
                    model: input.model_for(ModelRole::Dataset),
                },
                llm_options(ctx, "dataset".into(), input.heartbeat_timeout()),
            )
            .await?;
        add_usage(ctx, ModelRole::Dataset, &dataset.usage);
        ctx.upsert_search_attributes([DATASET.value_set(dataset.dataset.clone())]);
        Ok::<_, ActivityExecutionError>(dataset)
    };
    // The dataset recommendation runs beside the map (the map does not need it); histories
    // from before waited for it first.
    let (dataset, summarized) = if ctx.patched(DATASET_BESIDE_MAP_PATCH) {
        enter(ctx, Stage::Summarizing);
        progress_mut(ctx, |p| p.chunks_total = chunk_count);
        let (dataset, summarized) =
            futures::join!(recommend, summarize(ctx, &input, &paper, &plan));
        (dataset?, summarized?)
    } else {
        let dataset = recommend.await?;
        enter(ctx, Stage::Summarizing);
        progress_mut(ctx, |p| p.chunks_total = chunk_count);
        (dataset, summarize(ctx, &input, &paper, &plan).await?)
    };
    let (summaries, failed_chunks) = summarized;
    if !enough_chunks(
        summaries.len() as u32,
        chunk_count,
        input.min_success_ratio(),
    ) {
        let first = failed_chunks
            .first()
            .map(|f| format!("; chunk {}: {}", f.index, f.reason))
            .unwrap_or_default();
        return Err(WorkflowTermination::failed_application(
            ApplicationFailure::builder(format!(
                "only {} of {chunk_count} chunks were summarised; at least {:.0}% are needed (min_success_ratio){first}",
                summaries.len(),
                input.min_success_ratio() * 100.0
            ))
            .type_name("TooFewChunksSummarized".to_owned())
            .non_retryable(true)
            .build(),
        ));
    }

    enter(ctx, Stage::Generating);
    // The planned repository came later: histories of single-file runs replay without it.
    let mut repo = None;
    let generated = if input.planned_repository() && ctx.patched(repository::REPOSITORY_PATCH) {
        let written =
            repository::write(ctx, &input, &paper, &plan, &summaries, &dataset.dataset).await?;
        let mut usage = written.plan.usage.clone();
        for f in &written.files {
            usage.add(&f.usage);
        }
        let generated = CodeRef {
            code: written.assembled.entry_code.clone(),
            usage,
            context: written.plan.context.clone(),
        };
        repo = Some(written);
        generated
    } else {
        let generated = ctx
            .execute_activity(
                LlmActivities::generate_code,
                GenerateCodeInput {
                    paper_id: paper.paper_id.clone(),
                    title: paper.title.clone(),
                    summaries: summaries.iter().map(|s| s.summary.clone()).collect(),
                    target: target.clone(),
                    model: input.model_for(ModelRole::Code),
                    dataset: Some(dataset.dataset.clone()),
                },
                llm_options(ctx, "generate".into(), input.heartbeat_timeout()),
            )
            .await?;
        add_usage(ctx, ModelRole::Code, &generated.usage);
        generated
    };

    enter(ctx, Stage::Reviewing);
    let (code, final_check, rounds) = match repo.as_mut() {
        Some(r) => {
            let (check, rounds) =
                repository::review(ctx, &input, &paper, r, &dataset.dataset).await?;
            (r.assembled.entry_code.clone(), check, rounds)
        }
        None => review_loop(ctx, &input, &paper, &generated, &dataset.dataset).await?,
    };
    // Execution came with version 2 of this workflow: histories recorded before it replay
    // without it.
    let (code, final_check, executions) = if input.execute() && ctx.patched(EXECUTE_PATCH) {
        // Waiting for an executor came later still: older histories go straight to ExecuteCode.
        if ctx.patched(EXECUTOR_WAIT_PATCH) {
            wait_for_executor(ctx, &input).await?;
        }
        enter(ctx, Stage::Executing);
        let context = generated.context.clone();
        execute_loop(
            ctx,
            &input,
            &paper,
            (code, context),
            final_check,
            &dataset.dataset,
            repo.as_mut(),
        )
        .await?
    } else {
        (code, final_check, Vec::new())
    };
    let execution = executions
        .last()
        .map(|e| e.report.classification.as_str().to_owned())
        .unwrap_or_default();
    // The optional hyperparameter search, once the code has run (see `search`).
    if execution == "ok" && search::wanted(&input) && ctx.patched(search::SEARCH_PATCH) {
        let repository = repo.as_ref().map(|r| r.assembled.bundle.clone());
        search::run(ctx, &input, &paper.paper_id, &code, repository).await;
    }
    let outcome = if !execution.is_empty() && execution != "ok" {
        "execution-failed"
    } else if final_check.is_blocking() {
        "succeeded-with-findings"
    } else {
        "succeeded"
    };

    enter(ctx, Stage::Recording);
    let (workflow_id, run_id) = (ctx.workflow_id().to_owned(), ctx.run_id().to_owned());
    let mut timings = ctx.state(|s| s.timings.clone());
    if let Some(last) = timings.last_mut() {
        last.ended_ms = now_ms(ctx);
    }
    let results = ctx
        .execute_activity(
            LocalActivities::record_results,
            RecordResultsInput {
                paper: paper.clone(),
                workflow_id,
                run_id,
                target: target.clone(),
                summaries: summaries.clone(),
                failed_chunks: failed_chunks.clone(),
                dataset: Some(dataset.clone()),
                generated: generated.clone(),
                code: code.clone(),
                final_check,
                rounds: rounds.clone(),
                executions: executions.clone(),
                timings,
                outcome: outcome.to_owned(),
                repository: repo.as_ref().map(|r| RepositoryRecord {
                    bundle: r.assembled.bundle.clone(),
                    plan: r.plan.plan.clone(),
                    grounding: r
                        .files
                        .iter()
                        .map(|f| RepoFile {
                            path: f.path.clone(),
                            code: f.grounding.clone(),
                        })
                        .collect(),
                    usage: std::iter::once(("PlanRepository".to_owned(), r.plan.usage.clone()))
                        .chain(
                            r.files
                                .iter()
                                .map(|f| (format!("GenerateFile {}", f.path), f.usage.clone())),
                        )
                        .collect(),
                    related_work: r.related_work.clone(),
                }),
            },
            local_options(
                "record".into(),
                Duration::from_secs(300),
                input.heartbeat_timeout(),
            ),
        )
        .await?;

    enter(ctx, Stage::Done);
    ctx.upsert_search_attributes([PAPER_OUTCOME.value_set(outcome.to_owned())]);
    let (input_tokens, output_tokens, cost_microusd, by_role) = ctx.state(|s| {
        (
            s.progress.input_tokens,
            s.progress.output_tokens,
            s.progress.cost_microusd,
            s.progress.by_role.clone(),
        )
    });
    let standin = summaries.iter().any(|s| s.usage.standin)
        || generated.usage.standin
        || rounds.iter().any(|r| {
            r.review.as_ref().is_some_and(|v| v.usage.standin)
                || r.fixed.as_ref().is_some_and(|f| f.usage.standin)
        });
    Ok(PaperToCodeOutput {
        paper_id: paper.paper_id,
        outcome: outcome.to_owned(),
        results: results.dir,
        code,
        chunks: summaries.len() as u32,
        failed_chunks: failed_chunks.len() as u32,
        dataset: dataset.dataset.clone(),
        execution,
        input_tokens,
        output_tokens,
        standin,
        cost_microusd,
        by_role,
    })
}

/// The patch id of failing the paper at once when the model itself cannot be called.
pub const MODEL_UNUSABLE_PATCH: &str = "annapurna-model-unusable-fails-paper";

/// Whether an activity failed because its model cannot be called at all (retired, or a bare id
/// of a model that only inference profiles serve): no other chunk can succeed either.
fn model_unusable(e: &ActivityExecutionError) -> bool {
    match e.cause() {
        Some(temporalio_common::error::IncomingError::Application(a)) => {
            a.type_name().is_some_and(|t| {
                [
                    failure::MODEL_RETIRED,
                    failure::MODEL_NEEDS_INFERENCE_PROFILE,
                    failure::MODEL_NOT_ALLOWED,
                ]
                .contains(&t)
            })
        }
        _ => false,
    }
}

/// Why an activity failed, as its last attempt said (the application failure's message).
pub(crate) fn failure_reason(e: &ActivityExecutionError, max_chars: usize) -> String {
    let reason = e
        .failure()
        .map(|f| match &f.cause {
            Some(cause) => cause.message.clone(),
            None => f.message.clone(),
        })
        .unwrap_or_else(|| e.to_string());
    reason.chars().take(max_chars).collect()
}

/// Summarises every chunk in a fixed number of lanes: lane `k` takes chunks `k, k+L, k+2L, …` one
/// after another, and the lanes run side by side under the SDK's deterministic `join_all`. A
/// chunk whose summary fails for good is recorded and skipped; cancellation stops everything.
async fn summarize(
    ctx: &WorkflowContext<PaperToCode>,
    input: &PaperToCodeInput,
    paper: &PaperRef,
    plan: &ChunkPlan,
) -> Result<(Vec<SummaryRef>, Vec<ChunkFailure>), ActivityExecutionError> {
    // Summaries made beforehand by a batch's batch inference job: only the rest on demand.
    if let Some(made) = input.summaries.as_ref()
        && ctx.patched(presummarized::BATCH_SUMMARIES_PATCH)
    {
        return presummarized::summarize(ctx, input, paper, plan, made).await;
    }
    let count = plan.chunks.len();
    // Without `parallel_chunks`, every chunk is eligible at once and the worker's rate limiter
    // (its calls taking turns by paper) is the bound; histories from before ran 4 lanes.
    let lanes = match input.parallel_chunks {
        None if ctx.patched(MAP_ALL_CHUNKS_PATCH) => count,
        _ => input.lanes() as usize,
    };
    let lanes = lanes.min(count.max(1));
    let lane_futures = (0..lanes).map(|lane| {
        let chunks: Vec<ChunkRef> = plan
            .chunks
            .iter()
            .skip(lane)
            .step_by(lanes)
            .cloned()
            .collect();
        async move {
            let mut done = Vec::with_capacity(chunks.len());
            let mut failed = Vec::new();
            for chunk in chunks {
                let index = chunk.index;
                let result = ctx
                    .execute_activity(
                        LlmActivities::summarize_chunk,
                        SummarizeChunkInput {
                            paper_id: paper.paper_id.clone(),
                            title: paper.title.clone(),
                            chunk,
                            chunk_count: count as u32,
                            model: input.model_for(ModelRole::Summary),
                        },
                        llm_options(ctx, format!("summarize-{index}"), input.heartbeat_timeout()),
                    )
                    .await;
                match result {
                    Ok(summary) => {
                        add_usage(ctx, ModelRole::Summary, &summary.usage);
                        progress_mut(ctx, |p| p.chunks_done += 1);
                        done.push(summary);
                    }
                    Err(e @ ActivityExecutionError::Cancelled(_)) => return Err(e),
                    // A retired model (or a bare id of a profile-only one) fails every chunk
                    // alike: the paper fails at once, naming the model and its replacement.
                    Err(e) if model_unusable(&e) && ctx.patched(MODEL_UNUSABLE_PATCH) => {
                        return Err(e);
                    }
                    Err(e) => {
                        progress_mut(ctx, |p| p.chunks_failed += 1);
                        failed.push(ChunkFailure {
                            index,
                            reason: failure_reason(&e, 300),
                        });
                    }
                }
            }
            Ok::<_, ActivityExecutionError>((done, failed))
        }
    });
    let mut summaries = Vec::with_capacity(count);
    let mut failures = Vec::new();
    for lane in join_all(lane_futures).await {
        let (done, failed) = lane?;
        summaries.extend(done);
        failures.extend(failed);
    }
    summaries.sort_by_key(|s| s.index);
    failures.sort_by_key(|f| f.index);
    Ok((summaries, failures))
}

/// The patch id of the map phase without a default lane count: all chunks at once unless
/// `parallel_chunks` says otherwise.
pub const MAP_ALL_CHUNKS_PATCH: &str = "annapurna-map-all-chunks";

/// The patch id of the bounds check on the input's numbers.
pub const INPUT_BOUNDS_PATCH: &str = "annapurna-input-bounds";

/// The patch id of the execution stage (see `ctx.patched`).
pub const EXECUTE_PATCH: &str = "annapurna-execute-code";
/// The patch id of the wait for an executor before the first run.
pub const EXECUTOR_WAIT_PATCH: &str = "annapurna-executor-wait";

/// Stage `waiting-for-executor` until an executor of the target takes `ProbeExecutor` from
/// `annapurna-exec-<target>`; when none has within `executor_wait_secs`, the paper fails with
/// `NoExecutor`, naming the queue and how to start one, instead of waiting forever.
async fn wait_for_executor(
    ctx: &WorkflowContext<PaperToCode>,
    input: &PaperToCodeInput,
) -> WorkflowResult<()> {
    let target = input.target();
    let queue = exec_task_queue(&target);
    enter(ctx, Stage::WaitingForExecutor);
    progress_mut(ctx, |p| p.waiting_on_queue = queue.clone());
    let wait = input.executor_wait();
    let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(60))
        .activity_id("probe-executor".to_owned())
        .task_queue(queue.clone())
        .schedule_to_start_timeout(wait)
        .retry_policy(RetryPolicy::builder().maximum_attempts(1).build())
        .build();
    let probe = ctx
        .execute_activity(
            ExecActivities::probe_executor,
            ProbeExecutorInput {
                target: target.clone(),
            },
            options,
        )
        .await;
    progress_mut(ctx, |p| p.waiting_on_queue.clear());
    match probe {
        Ok(_) => Ok(()),
        Err(e) => Err(WorkflowTermination::failed_application(
            ApplicationFailure::builder(format!(
                "no executor took the code from task queue {queue} within {} s (executor_wait_secs): start one on a {target} host with `annapurna worker --exec {target}` (as root), or start the paper with another target or \"execute\": false ({})",
                wait.as_secs(),
                failure_reason(&e, 200)
            ))
            .type_name(failure::NO_EXECUTOR.to_owned())
            .non_retryable(true)
            .build(),
        )),
    }
}

/// Run → (diagnose → fix → check) → run …, as `next_repair_step` decides. Runs go to the
/// target's executors (`annapurna-exec-<target>`); a run waits there until an executor of that
/// kind polls.
async fn execute_loop(
    ctx: &WorkflowContext<PaperToCode>,
    input: &PaperToCodeInput,
    paper: &PaperRef,
    (mut code, context): (BlobRef, Option<BlobRef>),
    mut check: CheckReport,
    dataset: &str,
    mut repo: Option<&mut repository::Repo>,
) -> Result<(BlobRef, CheckReport, Vec<ExecutionRound>), ActivityExecutionError> {
    let target = input.target();
    let heartbeat = input.heartbeat_timeout();
    let timeout = input.exec_timeout_secs();
    let mut rounds: Vec<ExecutionRound> = Vec::new();
    loop {
        let attempt = rounds.len() as u32 + 1;
        progress_mut(ctx, |p| p.execution_attempt = attempt);
        let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(
            timeout.saturating_add(120),
        ))
        .activity_id(format!("execute-{attempt}"))
        .task_queue(exec_task_queue(&target))
        .heartbeat_timeout(heartbeat)
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_secs(1))
                .maximum_interval(Duration::from_secs(30))
                .maximum_attempts(3)
                .build(),
        )
        .build();
        let report = ctx
            .execute_activity(
                ExecActivities::execute_code,
                ExecuteCodeInput {
                    paper_id: paper.paper_id.clone(),
                    code: code.clone(),
                    target: target.clone(),
                    timeout_secs: timeout,
                    attempt,
                    environment: None,
                    repository: repo.as_ref().map(|r| r.assembled.bundle.clone()),
                    trial: None,
                },
                options,
            )
            .await?;
        let step = next_repair_step(report.classification, attempt - 1, input.max_repairs());
        let mut round = ExecutionRound {
            attempt,
            code: code.clone(),
            report: report.clone(),
            diagnosis: None,
            fixed: None,
        };
        if step != RepairStep::Repair {
            rounds.push(round);
            break;
        }
        // In a repository, the file the error points at is diagnosed and fixed.
        let blamed = repo.as_ref().map(|r| {
            let paths: Vec<String> = r.files.iter().map(|f| f.path.clone()).collect();
            crate::decisions::blamed_file(&report.stderr_tail, &paths)
                .unwrap_or_else(|| r.assembled.entry.clone())
        });
        let blamed_code = match (&repo, &blamed) {
            (Some(r), Some(path)) => r.code_of(path).unwrap_or_else(|| code.clone()),
            _ => code.clone(),
        };
        let diagnosis = ctx
            .execute_activity(
                LlmActivities::diagnose_failure,
                DiagnoseFailureInput {
                    paper_id: paper.paper_id.clone(),
                    code: blamed_code.clone(),
                    report,
                    target: target.clone(),
                    model: input.model_for(ModelRole::Diagnose),
                    context: context.clone(),
                },
                llm_options(ctx, format!("diagnose-{attempt}"), heartbeat),
            )
            .await?;
        add_usage(ctx, ModelRole::Diagnose, &diagnosis.usage);
        round.diagnosis = Some(diagnosis.clone());
        if diagnosis.kind == "system" {
            rounds.push(round);
            break;
        }
        let fixed = ctx
            .execute_activity(
                LlmActivities::fix_code,
                FixCodeInput {
                    paper_id: paper.paper_id.clone(),
                    code: blamed_code.clone(),
                    findings: diagnosis.findings.clone(),
                    target: target.clone(),
                    model: input.model_for(ModelRole::Fix),
                    round: 100 + attempt,
                    context: context.clone(),
                    repository: match (&repo, &blamed) {
                        (Some(r), Some(path)) => Some(r.context_for(path)),
                        _ => None,
                    },
                },
                llm_options(ctx, format!("repair-{attempt}"), heartbeat),
            )
            .await?;
        add_usage(ctx, ModelRole::Fix, &fixed.usage);
        if let (Some(r), Some(path)) = (repo.as_deref_mut(), &blamed) {
            check =
                repository::repair(ctx, input, paper, r, path, &fixed, attempt, dataset).await?;
            code = r.assembled.entry_code.clone();
            round.fixed = Some(fixed);
            rounds.push(round);
            continue;
        }
        code = fixed.code.clone();
        round.fixed = Some(fixed);
        rounds.push(round);
        check = ctx
            .execute_activity(
                LocalActivities::check_code,
                CheckCodeInput {
                    paper_id: paper.paper_id.clone(),
                    code: code.clone(),
                    target: target.clone(),
                    dataset: Some(dataset.to_owned()),
                    repository: None,
                },
                local_options(
                    format!("recheck-{attempt}"),
                    Duration::from_secs(120),
                    heartbeat,
                ),
            )
            .await?;
    }
    Ok((code, check, rounds))
}

/// Check → review → fix, round after round, as `next_review_step` decides; then a final check.
async fn review_loop(
    ctx: &WorkflowContext<PaperToCode>,
    input: &PaperToCodeInput,
    paper: &PaperRef,
    generated: &CodeRef,
    dataset: &str,
) -> Result<(BlobRef, CheckReport, Vec<ReviewRound>), ActivityExecutionError> {
    let target = input.target();
    let mut code = generated.code.clone();
    let mut rounds: Vec<ReviewRound> = Vec::new();
    let mut check_no = 0u32;
    let check_target = target.clone();
    let mut check = move |code: BlobRef| {
        check_no += 1;
        ctx.execute_activity(
            LocalActivities::check_code,
            CheckCodeInput {
                paper_id: paper.paper_id.clone(),
                code,
                target: check_target.clone(),
                dataset: Some(dataset.to_owned()),
                repository: None,
            },
            local_options(
                format!("check-{check_no}"),
                Duration::from_secs(120),
                input.heartbeat_timeout(),
            ),
        )
    };
    let mut latest = check(code.clone()).await?;
    loop {
        let round = match next_review_step(&rounds, &latest, input.review_rounds()) {
            ReviewStep::Stop { .. } => break,
            ReviewStep::Review { round } => round,
        };
        progress_mut(ctx, |p| p.review_round = round);
        let review = ctx
            .execute_activity(
                LlmActivities::review_code,
                ReviewCodeInput {
                    paper_id: paper.paper_id.clone(),
                    title: paper.title.clone(),
                    code: code.clone(),
                    check: latest.clone(),
                    target: target.clone(),
                    model: input.model_for(ModelRole::Review),
                    round,
                    context: generated.context.clone(),
                    repository: None,
                },
                llm_options(ctx, format!("review-{round}"), input.heartbeat_timeout()),
            )
            .await?;
        add_usage(ctx, ModelRole::Review, &review.usage);
        let mut findings: Vec<Finding> = latest.findings.clone();
        findings.extend(review.findings.iter().cloned());
        let fixed = if findings.iter().any(Finding::is_blocking) {
            let fixed = ctx
                .execute_activity(
                    LlmActivities::fix_code,
                    FixCodeInput {
                        paper_id: paper.paper_id.clone(),
                        code: code.clone(),
                        findings,
                        target: target.clone(),
                        model: input.model_for(ModelRole::Fix),
                        round,
                        context: generated.context.clone(),
                        repository: None,
                    },
                    llm_options(ctx, format!("fix-{round}"), input.heartbeat_timeout()),
                )
                .await?;
            add_usage(ctx, ModelRole::Fix, &fixed.usage);
            Some(fixed)
        } else {
            None
        };
        rounds.push(ReviewRound {
            file: String::new(),
            round,
            code: code.clone(),
            check: latest.clone(),
            review: Some(review),
            fixed: fixed.clone(),
        });
        match fixed {
            Some(fixed) => {
                code = fixed.code;
                latest = check(code.clone()).await?;
            }
            None => break,
        }
    }
    Ok((code, latest, rounds))
}
