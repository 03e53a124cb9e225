//! `PaperBatch` with `llm_mode: "batch"`: the map phase of all the run's papers as one Bedrock
//! batch inference job, for work that can wait (half the on-demand price).
//!
//! `SubmitBatchInference` writes every chunk's prompt to S3 as JSONL and creates the job; a
//! timer loop then calls `CheckBatchInference` (`GetModelInvocationJob`) at growing intervals, so
//! the wait is durable: a worker or the server may restart while the job runs, and the loop
//! carries on from its last timer. `CollectBatchInference` reads the output and stores each
//! chunk's summary as `SummarizeChunk` would; each `PaperToCode` child then gets its summaries
//! (`PaperToCodeInput::summaries`) and summarises only the chunks the job did not answer.
//! When there is no job (fewer records than the job minimum, no S3 location, the service
//! refused) or the job fails, the papers summarise on demand, and the summary says why. When the
//! batch is cancelled while it waits, `StopBatchInference` stops the job.
//! Activity ids: `batch-submit`, `batch-check-<n>`, `batch-collect`, `batch-stop`.

use std::collections::BTreeMap;
use std::time::Duration;

use temporalio_workflow::{
    ActivityExecutionError, TimerResult, WorkflowCancellationToken, WorkflowContext,
    WorkflowTermination,
};

use super::{PaperBatch, now_ms};
use crate::activities::LocalActivities;
use crate::options::{Retry, activity};
use crate::types::*;

/// The patch id of the batch inference path (`llm_mode: "batch"`).
pub const BATCH_INFERENCE_PATCH: &str = "annapurna-batch-inference";

/// The longest pause between two checks of a job, seconds.
pub const MAX_POLL_SECS: u64 = 600;

/// The next pause between checks: 1.5× the last, at most [`MAX_POLL_SECS`].
pub fn next_poll_secs(last: u64) -> u64 {
    (last * 3).div_ceil(2).clamp(1, MAX_POLL_SECS)
}

/// Stops the job of a cancelled batch (`StopBatchInference`, outside the workflow's
/// cancellation, a few tries): nobody will read its answers.
async fn stop(ctx: &WorkflowContext<PaperBatch>, job: &BatchJobRef) {
    let mut options = activity(
        None,
        "batch-stop".to_owned(),
        Duration::from_secs(60),
        Retry::quick(3),
    );
    options.cancellation_token = Some(WorkflowCancellationToken::new());
    let _ = ctx
        .execute_activity(LocalActivities::stop_batch_inference, job.clone(), options)
        .await;
}

/// What a failed activity says, shortened for the summary.
fn reason(e: &ActivityExecutionError) -> String {
    crate::paper_to_code::failure_reason(e, 300)
}

/// The map phase of `ids` as one batch inference job: each paper's summaries blob (papers
/// absent from the map summarise on demand) and the job's report.
pub(super) async fn map_phase(
    ctx: &WorkflowContext<PaperBatch>,
    input: &PaperBatchInput,
    ids: &[String],
) -> Result<(BTreeMap<String, BlobRef>, BatchInferenceReport), WorkflowTermination> {
    let mut report = BatchInferenceReport {
        status: "not-submitted".to_owned(),
        ..Default::default()
    };
    let submit = SubmitBatchInferenceInput {
        batch_key: format!("{}/{}", ctx.workflow_id(), ctx.run_id()),
        paper_ids: ids.to_vec(),
        paper: input.paper.clone().unwrap_or_default(),
    };
    let submitted = ctx
        .execute_activity(
            LocalActivities::submit_batch_inference,
            submit,
            activity(
                None,
                "batch-submit".to_owned(),
                Duration::from_secs(3600),
                Retry::patient(5),
            ),
        )
        .await;
    let submitted = match submitted {
        Ok(s) => s,
        Err(e @ ActivityExecutionError::Cancelled(_)) => return Err(e.into()),
        Err(e) => {
            report.fallback = Some(format!("submitting the job failed: {}", reason(&e)));
            return Ok((BTreeMap::new(), report));
        }
    };
    report.records = submitted.records;
    let Some(job) = submitted.job else {
        report.fallback = submitted.reason.or(Some("no job was created".to_owned()));
        return Ok((BTreeMap::new(), report));
    };
    report.job_arn = job.job_arn.clone();
    report.status = "Submitted".to_owned();
    let started = now_ms(ctx);
    let mut pause = u64::from(input.batch_poll_secs()).max(1);
    let status = loop {
        if let TimerResult::Cancelled = ctx.timer(Duration::from_secs(pause)).await {
            stop(ctx, &job).await;
            return Err(WorkflowTermination::cancelled());
        }
        report.checks += 1;
        let checked = ctx
            .execute_activity(
                LocalActivities::check_batch_inference,
                job.clone(),
                activity(
                    None,
                    format!("batch-check-{}", report.checks),
                    Duration::from_secs(120),
                    Retry::patient(10),
                ),
            )
            .await;
        match checked {
            Ok(status) if status.done => break Ok(status),
            Ok(status) => report.status = status.status,
            Err(e @ ActivityExecutionError::Cancelled(_)) => {
                stop(ctx, &job).await;
                return Err(e.into());
            }
            Err(e) => break Err(reason(&e)),
        }
        pause = next_poll_secs(pause);
    };
    report.wait_ms = now_ms(ctx).saturating_sub(started);
    let status = match status {
        Ok(status) => status,
        Err(why) => {
            report.fallback = Some(format!("checking the job failed: {why}"));
            return Ok((BTreeMap::new(), report));
        }
    };
    report.status = status.status.clone();
    if !status.has_output {
        report.fallback = Some(format!(
            "the job ended {}{}",
            status.status,
            status.message.map(|m| format!(": {m}")).unwrap_or_default()
        ));
        return Ok((BTreeMap::new(), report));
    }
    let collected = ctx
        .execute_activity(
            LocalActivities::collect_batch_inference,
            job.clone(),
            activity(
                None,
                "batch-collect".to_owned(),
                Duration::from_secs(3600),
                Retry::patient(5),
            ),
        )
        .await;
    let papers = match collected {
        Ok(p) => p,
        Err(e @ ActivityExecutionError::Cancelled(_)) => return Err(e.into()),
        Err(e) => {
            report.fallback = Some(format!("reading the job's output failed: {}", reason(&e)));
            return Ok((BTreeMap::new(), report));
        }
    };
    report.summarised = papers.iter().map(|p| p.chunks).sum();
    let missed: u32 = papers.iter().map(|p| p.failed).sum::<u32>()
        + report
            .records
            .saturating_sub(report.summarised + papers.iter().map(|p| p.failed).sum::<u32>());
    if missed > 0 {
        report.fallback = Some(format!(
            "{missed} of {} chunks had no usable answer in the job and are summarised on demand",
            report.records
        ));
    }
    let map = papers
        .into_iter()
        .map(|p| (p.paper_id, p.summaries))
        .collect();
    Ok((map, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_slow_down_to_ten_minutes() {
        assert_eq!(next_poll_secs(60), 90);
        assert_eq!(next_poll_secs(1), 2);
        assert_eq!(next_poll_secs(2), 3);
        assert_eq!(next_poll_secs(3), 5);
        assert_eq!(next_poll_secs(500), MAX_POLL_SECS);
        let mut p = 60;
        let mut waited = 0;
        for _ in 0..200 {
            waited += p;
            p = next_poll_secs(p);
        }
        // A day's job is checked about 150 times, not 1,440.
        assert!(waited > 24 * 3600, "{waited}");
    }
}
