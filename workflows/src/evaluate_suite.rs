//! `EvaluateSuite` (workflow id `eval/<suite-run>`): a suite of ResearchCodeBench-format tasks.
//!
//! 1. `PrepareEvalTask` (`annapurna`) per task: parse the stored folder (tags, yaml), the program
//!    that runs its test on an unchanged copy, and in model mode the paper stored.
//! 2. `ExecuteCode` (`annapurna-exec-<target>`) per task on that program: a task whose own
//!    reference fails, or whose imports are missing here, is `broken` and never scored.
//! 3. Model mode: `PlanChunks` and `SummarizeChunk` × chunks per paper (the same map phase as
//!    `PaperToCode`, summaries cached by content and shared by the paper's snippets).
//! 4. Per snippet, in lanes: `AnswerSnippet` (`annapurna-llm`; oracle and empty answers make no
//!    model call) then `ExecuteCode` on a copy of the folder with the answer in place.
//! 5. `RecordEval` (`annapurna`): `results/eval/<suite-run>/`.
//!
//! After `snippets_per_run` snippets it continues as new with what is done (`carried`), so a
//! suite of thousands of snippets keeps a short history; finished snippets are never run again.

use std::time::Duration;

use temporalio_macros::{workflow, workflow_methods};
use temporalio_workflow::{
    ActivityExecutionError, ActivityOptions, ContinueAsNewOptions, WorkflowContext,
    WorkflowContextView, WorkflowResult, join_all,
};

use crate::activities::{ExecActivities, LlmActivities, LocalActivities};
use crate::eval_score::{plan_snippets, reference_verdict, score, verdict};
use crate::names::{LLM_TASK_QUEUE, exec_task_queue};
use crate::types::*;

/// Snippets one run handles before it continues as new, by default.
pub const SNIPPETS_PER_RUN: u32 = 100;
/// Snippets answered and tested at once, by default.
pub const LANES: u32 = 4;

/// The suite's state (its progress is what the `progress` query shows).
#[workflow]
pub struct EvaluateSuite {
    input: EvaluateSuiteInput,
    progress: EvalProgress,
}

fn options(
    queue: Option<String>,
    id: String,
    start_to_close: Duration,
    attempts: u32,
) -> ActivityOptions {
    crate::options::activity(
        queue,
        id,
        start_to_close,
        crate::options::Retry::quick(attempts),
    )
}

fn reason(e: &ActivityExecutionError) -> String {
    crate::paper_to_code::failure_reason(e, 500)
}

#[workflow_methods]
impl EvaluateSuite {
    /// Keeps the input.
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: EvaluateSuiteInput) -> Self {
        let progress = crate::carry::summary_from(&input.carried, |c| &c.progress);
        Self { input, progress }
    }

    /// Prepares, checks the references, answers and tests every snippet, scores, records.
    #[run(name = "EvaluateSuite")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<EvaluateSuiteOutput> {
        let input = ctx.state(|s| s.input.clone());
        crate::carry::refuse_injected(ctx, input.carried.is_some(), "EvaluateSuite")?;
        if input.carried.is_none() && input.tasks.is_empty() {
            return Err(crate::paper_to_code::invalid_input(
                "EvaluateSuite needs at least one task ({\"tasks\": [{\"name\", \"bundle\"}]}); `annapurna eval DIR` makes them",
            ));
        }
        let (tasks, remaining, mut results) = match input.carried.clone() {
            Some(c) => (c.tasks, c.remaining, c.results),
            None => {
                let tasks = prepare(ctx, &input).await;
                let remaining = plan_snippets(&tasks);
                ctx.state_mut(|s| s.progress.snippets_total = remaining.len() as u32);
                (tasks, remaining, Vec::new())
            }
        };
        ctx.state_mut(|s| s.progress.stage = "snippets".to_owned());
        let per_run = input.snippets_per_run.unwrap_or(SNIPPETS_PER_RUN).max(1) as usize;
        let (now, later) = remaining.split_at(remaining.len().min(per_run));
        let lanes = (input.max_concurrent.unwrap_or(LANES).max(1) as usize).min(now.len().max(1));
        let tasks_ref = &tasks;
        let lane_futures = (0..lanes).map(|lane| {
            let mine: Vec<(u32, u32)> = now.iter().copied().skip(lane).step_by(lanes).collect();
            let ctx = &*ctx;
            let input = &input;
            async move {
                let mut done = Vec::new();
                for (t, s) in mine {
                    let r = answer_and_test(ctx, input, &tasks_ref[t as usize], t, s).await;
                    done.push(((t, s), r));
                }
                done
            }
        });
        let mut finished: Vec<((u32, u32), SnippetResult)> =
            join_all(lane_futures).await.into_iter().flatten().collect();
        finished.sort_by_key(|(k, _)| *k);
        results.extend(finished.into_iter().map(|(_, r)| r));
        if !later.is_empty() {
            let next = EvaluateSuiteInput {
                carried: Some(EvalCarry {
                    tasks: tasks.clone(),
                    remaining: later.to_vec(),
                    results: results.clone(),
                    progress: ctx.state(|s| s.progress.clone()),
                }),
                ..input.clone()
            };
            ctx.continue_as_new(next, ContinueAsNewOptions::default())?;
        }

        ctx.state_mut(|s| s.progress.stage = "recording".to_owned());
        let suite = score(&tasks, &results);
        let recorded = ctx
            .execute_activity(
                LocalActivities::record_eval,
                RecordEvalInput {
                    suite_run: input.suite_run.clone(),
                    mode: input.mode(),
                    score: suite.clone(),
                    results: results.clone(),
                },
                options(None, "record".into(), Duration::from_secs(120), 10),
            )
            .await?;
        ctx.state_mut(|s| s.progress.stage = "done".to_owned());
        Ok(EvaluateSuiteOutput {
            suite_run: input.suite_run.clone(),
            mode: input.mode(),
            score: suite,
            results,
            results_dir: recorded,
        })
    }

    /// The suite's progress.
    #[query(name = "progress")]
    pub fn progress(&self, _ctx: &WorkflowContextView) -> EvalProgress {
        self.progress.clone()
    }
}

/// Every task prepared, its reference run, and (model mode) its paper summarised.
async fn prepare(
    ctx: &WorkflowContext<EvaluateSuite>,
    input: &EvaluateSuiteInput,
) -> Vec<EvalTaskState> {
    ctx.state_mut(|s| {
        s.progress.stage = "preparing".to_owned();
        s.progress.tasks = input.tasks.len() as u32;
    });
    let mode = input.mode();
    let prepared = join_all(
        input
            .tasks
            .iter()
            .enumerate()
            .map(|(n, source)| async move {
                let result = ctx
                    .execute_activity(
                        LocalActivities::prepare_eval_task,
                        PrepareEvalTaskInput {
                            suite_run: input.suite_run.clone(),
                            task: source.clone(),
                            store_paper: mode == AnswerMode::Model,
                        },
                        options(None, format!("prepare-{n}"), Duration::from_secs(300), 5),
                    )
                    .await;
                match result {
                    Ok(task) => task,
                    Err(e) => EvalTask {
                        name: source.name.clone(),
                        bundle: source.bundle.clone(),
                        reference_program: source.bundle.clone(),
                        timeout_secs: 0,
                        snippets: Vec::new(),
                        problem: Some(reason(&e)),
                        paper: None,
                    },
                }
            }),
    )
    .await;

    ctx.state_mut(|s| s.progress.stage = "references".to_owned());
    let target = input.target.clone().unwrap_or_else(|| "cpu".to_owned());
    let checked = join_all(prepared.into_iter().enumerate().map(|(n, task)| {
        let target = target.clone();
        async move {
            if let Some(problem) = &task.problem {
                let reason = format!("the task folder cannot be read: {problem}");
                return EvalTaskState {
                    task,
                    status: TaskStatus::Broken,
                    reason,
                    summaries: vec![],
                    chunks: vec![],
                    summary_cost_microusd: 0,
                };
            }
            let run = ctx
                .execute_activity(
                    ExecActivities::execute_code,
                    ExecuteCodeInput {
                        paper_id: format!("eval/{}/{}", input.suite_run, task.name),
                        code: task.reference_program.clone(),
                        target: target.clone(),
                        timeout_secs: task.timeout_secs,
                        attempt: 0,
                        environment: Some("eval".to_owned()),
                        repository: None,
                        trial: None,
                    },
                    options(
                        Some(exec_task_queue(&target)),
                        format!("reference-{n}"),
                        Duration::from_secs(task.timeout_secs + 120),
                        3,
                    ),
                )
                .await;
            let (status, reason) = match run {
                Ok(report) => reference_verdict(&report),
                Err(e) => (
                    TaskStatus::Broken,
                    format!("the reference could not be run: {}", reason(&e)),
                ),
            };
            EvalTaskState {
                task,
                status,
                reason,
                summaries: vec![],
                chunks: vec![],
                summary_cost_microusd: 0,
            }
        }
    }))
    .await;
    let broken = checked
        .iter()
        .filter(|t| t.status == TaskStatus::Broken)
        .count() as u32;
    ctx.state_mut(|s| s.progress.broken = broken);
    if mode != AnswerMode::Model {
        return checked;
    }

    ctx.state_mut(|s| s.progress.stage = "summarising".to_owned());
    join_all(
        checked
            .into_iter()
            .enumerate()
            .map(|(n, state)| summarise(ctx, input, n, state)),
    )
    .await
}

/// The map phase of `PaperToCode` for a task's paper: chunks, then every chunk's summary (cached
/// by content). A chunk whose summary fails is left out; the snippets still get the chunks.
async fn summarise(
    ctx: &WorkflowContext<EvaluateSuite>,
    input: &EvaluateSuiteInput,
    n: usize,
    mut state: EvalTaskState,
) -> EvalTaskState {
    let Some(paper) = state.task.paper.clone() else {
        return state;
    };
    if state.status != TaskStatus::Scored {
        return state;
    }
    let plan = match ctx
        .execute_activity(
            LocalActivities::plan_chunks,
            PlanChunksInput {
                paper: paper.clone(),
                max_chunk_tokens: None,
                model: input.summary_model.clone(),
            },
            options(None, format!("chunks-{n}"), Duration::from_secs(300), 5),
        )
        .await
    {
        Ok(plan) => plan,
        Err(_) => return state,
    };
    let count = plan.chunks.len() as u32;
    let summaries = join_all(plan.chunks.iter().map(|chunk| {
        let paper = &paper;
        async move {
            ctx.execute_activity(
                LlmActivities::summarize_chunk,
                SummarizeChunkInput {
                    paper_id: paper.paper_id.clone(),
                    title: paper.title.clone(),
                    chunk: chunk.clone(),
                    chunk_count: count,
                    model: input.summary_model.clone(),
                },
                options(
                    Some(LLM_TASK_QUEUE.to_owned()),
                    format!("summary-{n}-{}", chunk.index),
                    Duration::from_secs(600),
                    30,
                ),
            )
            .await
            .ok()
        }
    }))
    .await;
    for s in summaries.into_iter().flatten() {
        state.summary_cost_microusd += s.usage.cost_microusd;
        ctx.state_mut(|p| {
            p.progress.cost_microusd += s.usage.cost_microusd;
            p.progress.standin |= s.usage.standin;
        });
        state.summaries.push(s.summary);
    }
    state.chunks = plan.chunks;
    state
}

/// One snippet: its answer, then its test on a copy of the folder with the answer in place. Never
/// fails the suite: a failure is the snippet's outcome.
async fn answer_and_test(
    ctx: &WorkflowContext<EvaluateSuite>,
    input: &EvaluateSuiteInput,
    state: &EvalTaskState,
    t: u32,
    s: u32,
) -> SnippetResult {
    let task = &state.task;
    let snippet = task.snippets[s as usize].clone();
    let mut result = SnippetResult {
        task: task.name.clone(),
        file: snippet.file.clone(),
        name: snippet.name.clone(),
        lines: snippet.lines,
        passed: false,
        reason: String::new(),
        detail: String::new(),
        executable: false,
        input_tokens: 0,
        output_tokens: 0,
        cost_microusd: 0,
        seconds: 0.0,
        standin: false,
    };
    let answer = ctx
        .execute_activity(
            LlmActivities::answer_snippet,
            AnswerSnippetInput {
                suite_run: input.suite_run.clone(),
                task: task.name.clone(),
                bundle: task.bundle.clone(),
                snippet,
                mode: input.mode(),
                summaries: state.summaries.clone(),
                chunks: state.chunks.clone(),
                title: task
                    .paper
                    .as_ref()
                    .map(|p| p.title.clone())
                    .unwrap_or_default(),
                model: input.code_model.clone(),
            },
            options(
                Some(LLM_TASK_QUEUE.to_owned()),
                format!("answer-{t}-{s}"),
                Duration::from_secs(900),
                30,
            ),
        )
        .await;
    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            result.reason = "not-run: no answer".to_owned();
            result.detail = reason(&e);
            return finish(ctx, result);
        }
    };
    result.input_tokens = answer.usage.input_tokens;
    result.output_tokens = answer.usage.output_tokens;
    result.cost_microusd = answer.usage.cost_microusd;
    result.standin = answer.usage.standin;
    result.seconds = answer.usage.latency_ms as f64 / 1000.0;
    let target = input.target.clone().unwrap_or_else(|| "cpu".to_owned());
    let run = ctx
        .execute_activity(
            ExecActivities::execute_code,
            ExecuteCodeInput {
                paper_id: format!("eval/{}/{}", input.suite_run, task.name),
                code: answer.program,
                target: target.clone(),
                timeout_secs: task.timeout_secs,
                attempt: s + 1,
                environment: Some("eval".to_owned()),
                repository: None,
                trial: None,
            },
            options(
                Some(exec_task_queue(&target)),
                format!("test-{t}-{s}"),
                Duration::from_secs(task.timeout_secs + 120),
                3,
            ),
        )
        .await;
    match run {
        Ok(report) => {
            let (passed, why, detail, executable) = verdict(&report);
            result.passed = passed;
            result.reason = why;
            result.detail = detail;
            result.executable = executable;
            result.seconds += report.wall_ms as f64 / 1000.0;
        }
        Err(e) => {
            result.reason = "not-run: the test could not be run".to_owned();
            result.detail = reason(&e);
        }
    }
    finish(ctx, result)
}

/// Counts a finished snippet in the progress.
fn finish(ctx: &WorkflowContext<EvaluateSuite>, result: SnippetResult) -> SnippetResult {
    ctx.state_mut(|p| {
        p.progress.snippets_done += 1;
        p.progress.passed += result.passed as u32;
        p.progress.cost_microusd += result.cost_microusd;
        p.progress.standin |= result.standin;
    });
    result
}
