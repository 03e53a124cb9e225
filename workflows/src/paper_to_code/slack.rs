//! The paper's Slack thread: a lane beside the pipeline that watches its stage and posts through
//! `NotifySlack` — the parent once the paper is loaded, a reply at each stage it sees, then the
//! failure or the result. It never fails or holds up the pipeline: each post has a few quick
//! attempts and is then dropped; when the worker has no Slack configured, the first answer says so
//! and the lane ends after that one activity.

use temporalio_workflow::WorkflowContext;

use super::PaperToCode;
use crate::activities::LocalActivities;
use crate::types::*;

/// The patch id of the Slack lane.
pub const SLACK_PATCH: &str = "annapurna-slack-thread";

/// The final event of a run, from its result.
pub(super) fn ended_event(result: &Result<PaperToCodeOutput, String>) -> SlackEvent {
    match result {
        Ok(out) => SlackEvent::Finished {
            outcome: out.outcome.clone(),
            cost_usd: out.cost_microusd as f64 / 1e6,
            tokens: out.input_tokens + out.output_tokens,
            results: out.results.clone(),
            standin: out.standin,
        },
        Err(reason) => SlackEvent::Failed {
            reason: reason.clone(),
        },
    }
}

/// Posts one event; the thread it is in, or `None` when Slack is off or the post was dropped
/// (`Err(())` when off: the lane stops asking).
async fn post(
    ctx: &WorkflowContext<PaperToCode>,
    key: String,
    thread: Option<SlackThread>,
    event: SlackEvent,
) -> Result<Option<SlackThread>, ()> {
    let options = crate::options::notify(format!("slack-{key}"));
    let input = NotifySlackInput {
        workflow_id: ctx.workflow_id().to_owned(),
        key: format!("{}/{key}", ctx.run_id()),
        thread,
        event,
    };
    match ctx
        .execute_activity(LocalActivities::notify_slack, input, options)
        .await
    {
        Ok(out) if !out.enabled => Err(()),
        Ok(out) => Ok(out.thread),
        // Dropped: the activity's failure (in the history) says why.
        Err(_) => Ok(None),
    }
}

/// The lane: runs until the pipeline has ended and its last message is posted (or dropped).
pub(super) async fn thread(ctx: &WorkflowContext<PaperToCode>) {
    let loaded =
        |s: &PaperToCode| s.pipeline_done || !matches!(s.progress.stage.as_str(), "" | "loading");
    if ctx.wait_condition(loaded).await.is_err()
        || ctx.state(|s| s.pipeline_done && s.ended.is_none())
    {
        return;
    }
    let (title, target) = ctx.state(|s| {
        let title = if s.title.trim().is_empty() {
            s.input
                .paper_id
                .clone()
                .or_else(|| s.input.source.clone())
                .unwrap_or_default()
        } else {
            s.title.clone()
        };
        (title, s.input.target())
    });
    let thread = match post(
        ctx,
        "started".into(),
        None,
        SlackEvent::Started { title, target },
    )
    .await
    {
        Ok(Some(thread)) => thread,
        // Off, or the parent could not be posted: no thread to reply in.
        Ok(None) | Err(()) => return,
    };
    let mut posts = 0u32;
    let mut last_stage = String::new();
    loop {
        let (stage, details, ended, done) = ctx.state(|s| {
            (
                s.progress.stage.clone(),
                crate::details::current_details(&s.progress),
                s.ended.clone(),
                s.pipeline_done,
            )
        });
        if stage != last_stage && !matches!(stage.as_str(), "" | "loading" | "done") {
            posts += 1;
            let event = SlackEvent::Stage {
                stage: stage.clone(),
                details,
            };
            let _ = post(
                ctx,
                format!("stage-{posts}-{stage}"),
                Some(thread.clone()),
                event,
            )
            .await;
            last_stage = stage;
            continue;
        }
        if done {
            if let Some(event) = ended {
                let _ = post(ctx, "ended".into(), Some(thread.clone()), event).await;
            }
            return;
        }
        let seen = last_stage.clone();
        let changed = move |s: &PaperToCode| s.pipeline_done || s.progress.stage != seen;
        if ctx.wait_condition(changed).await.is_err() {
            return;
        }
    }
}
