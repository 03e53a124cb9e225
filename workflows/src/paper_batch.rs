//! `PaperBatch`: selects papers (`SelectPapers`) and runs `PaperToCode` for each as a child
//! workflow with id `paper/<paper-id>`, `max_concurrent` at a time (lanes, as in the map phase),
//! and returns a summary (outcomes, failures by reason, tokens, cost, time). Past
//! `papers_per_run` (500) papers in one run it continues as new, carrying the remaining ids and
//! the summary, so the history stays small. With `llm_mode: "batch"`, the map phase of each run's
//! papers is one Bedrock batch inference job first (`inference.rs`).

use std::time::{Duration, UNIX_EPOCH};

use temporalio_common::RetryPolicy;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_workflow::{
    ActivityOptions, ChildWorkflowOptions, ContinueAsNewOptions, WorkflowContext,
    WorkflowContextView, WorkflowResult, join_all,
};

use crate::PaperToCode;
use crate::activities::LocalActivities;
use crate::names::paper_workflow_id;
use crate::types::*;

mod inference;
pub use inference::BATCH_INFERENCE_PATCH;

/// Papers one run of the batch workflow handles before it continues as new, by default.
pub const PAPERS_PER_RUN: usize = 500;

/// The batch's state.
#[workflow]
pub struct PaperBatch {
    input: PaperBatchInput,
    summary: BatchSummary,
}

pub(crate) fn now_ms(ctx: &WorkflowContext<PaperBatch>) -> u64 {
    ctx.workflow_time()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[workflow_methods]
impl PaperBatch {
    /// Keeps the input.
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: PaperBatchInput) -> Self {
        let summary = crate::carry::summary_from(&input.carried, |c| &c.summary);
        Self { input, summary }
    }

    /// Selects, runs, summarises.
    #[run(name = "PaperBatch")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<BatchSummary> {
        let input = ctx.state(|s| s.input.clone());
        let invalid = input
            .invalid_input
            .as_ref()
            .or_else(|| input.paper.as_ref()?.invalid_input.as_ref());
        if let Some(problem) = invalid {
            return Err(crate::paper_to_code::invalid_input(problem));
        }
        crate::carry::refuse_injected(ctx, input.carried.is_some(), "PaperBatch")?;
        let started = now_ms(ctx);
        let ids = match &input.carried {
            Some(carry) => carry.remaining.clone(),
            None => {
                let mut selection = input.clone();
                selection.carried = None;
                let ids = ctx
                    .execute_activity(
                        LocalActivities::select_papers,
                        SelectPapersInput { selection },
                        ActivityOptions::with_start_to_close_timeout(Duration::from_secs(120))
                            .activity_id("select".to_owned())
                            .retry_policy(RetryPolicy::builder().maximum_attempts(5).build())
                            .build(),
                    )
                    .await?;
                ctx.state_mut(|s| s.summary.selected = ids.len() as u32);
                ids
            }
        };
        ctx.state_mut(|s| s.summary.runs += 1);
        let per_run = input
            .papers_per_run
            .map(|n| n.max(1) as usize)
            .unwrap_or(PAPERS_PER_RUN);
        let (now, later) = ids.split_at(ids.len().min(per_run));
        let lanes = (input.max_concurrent.unwrap_or(4).max(1) as usize).min(now.len().max(1));
        let template = input.paper.clone().unwrap_or_default();
        // The map phase as one batch inference job, when asked for (runs before the patch, and
        // on-demand batches, start the papers at once).
        let mut presummarized = std::collections::BTreeMap::new();
        if input.llm_mode() == LlmMode::Batch && ctx.patched(BATCH_INFERENCE_PATCH) {
            if let Some(problem) = batch_input_problem(&input) {
                return Err(crate::paper_to_code::invalid_input(&problem));
            }
            let (map, report) = inference::map_phase(ctx, &input, now).await?;
            presummarized = map;
            ctx.state_mut(|s| s.summary.batch_inference.push(report));
        }
        let presummarized = &presummarized;
        let lane_futures = (0..lanes).map(|lane| {
            let mine: Vec<String> = now.iter().skip(lane).step_by(lanes).cloned().collect();
            let template = template.clone();
            let ctx = &*ctx;
            async move {
                let mut items = Vec::new();
                for id in mine {
                    let input = PaperToCodeInput {
                        paper_id: Some(id.clone()),
                        summaries: presummarized.get(&id).cloned(),
                        ..template.clone()
                    };
                    let options = ChildWorkflowOptions::workflow_id(paper_workflow_id(&id));
                    let outcome = match ctx
                        .start_child_workflow(PaperToCode::run, input, options)
                        .await
                    {
                        Ok(child) => match child.result().await {
                            Ok(out) => {
                                ctx.state_mut(|s| {
                                    s.summary.completed += 1;
                                    s.summary.input_tokens += out.input_tokens;
                                    s.summary.output_tokens += out.output_tokens;
                                    s.summary.cost_microusd += out.cost_microusd;
                                    for (role, usage) in &out.by_role {
                                        s.summary
                                            .by_role
                                            .entry(role.clone())
                                            .or_default()
                                            .add(usage);
                                    }
                                    s.summary.standin |= out.standin;
                                });
                                out.outcome
                            }
                            Err(e) => failed(ctx, &e.to_string()),
                        },
                        Err(e) => failed(ctx, &e.to_string()),
                    };
                    items.push(BatchItem {
                        paper_id: id,
                        outcome,
                    });
                }
                items
            }
        });
        let mut items: Vec<BatchItem> =
            join_all(lane_futures).await.into_iter().flatten().collect();
        items.sort_by(|a, b| a.paper_id.cmp(&b.paper_id));
        let elapsed = now_ms(ctx).saturating_sub(started);
        ctx.state_mut(|s| {
            s.summary.elapsed_ms += elapsed;
            let room = 1_000usize.saturating_sub(s.summary.items.len());
            s.summary.items.extend(items.into_iter().take(room));
        });
        let summary = ctx.state(|s| s.summary.clone());
        if !later.is_empty() {
            let next = PaperBatchInput {
                carried: Some(BatchCarry {
                    remaining: later.to_vec(),
                    summary: summary.clone(),
                }),
                ..input
            };
            ctx.continue_as_new(next, ContinueAsNewOptions::default())?;
        }
        if ctx.patched(BATCH_SLACK_PATCH) {
            post_summary(ctx, &summary).await;
        }
        Ok(summary)
    }
}

/// What is wrong with a batch-mode input's own numbers, if anything.
pub fn batch_input_problem(input: &PaperBatchInput) -> Option<String> {
    match input.batch_poll_secs {
        Some(n) if !(1..=3600).contains(&n) => Some(format!(
            "batch_poll_secs must be between 1 and 3600 seconds; got {n}"
        )),
        _ => None,
    }
}

/// The patch id of the batch's summary message in Slack.
pub const BATCH_SLACK_PATCH: &str = "annapurna-slack-batch-summary";

/// The batch's summary in words, for Slack.
pub fn summary_text(workflow_id: &str, summary: &BatchSummary) -> String {
    let failed: u32 = summary.failed.values().sum();
    let mut text = format!(
        ":bar_chart: batch `{workflow_id}`: {} selected, {} completed, {failed} failed · {} \
         tokens · ${:.4} · {:.0} s",
        summary.selected,
        summary.completed,
        summary.input_tokens + summary.output_tokens,
        summary.cost_microusd as f64 / 1e6,
        summary.elapsed_ms as f64 / 1000.0
    );
    for (reason, n) in summary.failed.iter().take(5) {
        text.push_str(&format!(" · {n}× {reason}"));
    }
    for job in &summary.batch_inference {
        text.push_str(&format!(
            " · batch inference {}: {} of {} chunks",
            job.status, job.summarised, job.records
        ));
        if let Some(why) = &job.fallback {
            text.push_str(&format!(" (on demand: {why})"));
        }
    }
    if summary.standin {
        text.push_str(" · model answers were the stand-in's templates, not generation");
    }
    text
}

/// Posts the summary as a message of its own (nothing when Slack is off; dropped after a few
/// attempts: a batch never fails for Slack).
async fn post_summary(ctx: &WorkflowContext<PaperBatch>, summary: &BatchSummary) {
    let options = crate::options::notify("slack-batch-summary".to_owned());
    let input = NotifySlackInput {
        workflow_id: ctx.workflow_id().to_owned(),
        key: format!("{}/batch-summary", ctx.run_id()),
        thread: None,
        event: SlackEvent::BatchSummary {
            text: summary_text(ctx.workflow_id(), summary),
        },
    };
    let _ = ctx
        .execute_activity(LocalActivities::notify_slack, input, options)
        .await;
}

/// Records a failed paper under a short reason and returns its outcome line.
fn failed(ctx: &WorkflowContext<PaperBatch>, error: &str) -> String {
    let reason: String = error.chars().take(120).collect();
    ctx.state_mut(|s| *s.summary.failed.entry(reason.clone()).or_default() += 1);
    format!("failed: {reason}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slack_summary_says_how_the_batch_job_went() {
        let mut summary = BatchSummary {
            selected: 5,
            completed: 5,
            ..Default::default()
        };
        assert!(!summary_text("b", &summary).contains("batch inference"));
        summary.batch_inference.push(BatchInferenceReport {
            status: "Failed".into(),
            records: 10,
            fallback: Some("the job ended Failed".into()),
            ..Default::default()
        });
        let text = summary_text("b", &summary);
        assert!(
            text.contains(
                "batch inference Failed: 0 of 10 chunks (on demand: the job ended Failed)"
            ),
            "{text}"
        );
    }

    #[test]
    fn poll_intervals_are_bounded() {
        let input = |n| PaperBatchInput {
            batch_poll_secs: Some(n),
            ..Default::default()
        };
        assert!(batch_input_problem(&input(0)).is_some());
        assert!(batch_input_problem(&input(3601)).is_some());
        assert!(batch_input_problem(&input(60)).is_none());
        assert!(batch_input_problem(&PaperBatchInput::default()).is_none());
        let bad: PaperBatchInput = serde_json::from_str(r#"{"llm_mode": "cheap"}"#).unwrap();
        let why = bad.invalid_input.unwrap();
        assert!(why.contains("llm_mode") && why.contains("cheap"), "{why}");
        let good: PaperBatchInput = serde_json::from_str(r#"{"llm_mode": "batch"}"#).unwrap();
        assert_eq!(good.llm_mode(), LlmMode::Batch);
        assert_eq!(PaperBatchInput::default().llm_mode(), LlmMode::OnDemand);
    }
}
