//! `annapurna rerun PAPER_ID [--from STAGE]`: runs a finished or failed paper again. Without
//! `--from`, a new run of `paper/<id>` with the previous run's input: every model answer comes
//! from the cache, so the outputs are the same and no model is paid again. With `--from`,
//! Temporal's reset: the workflow goes back to the workflow task that scheduled the stage's first
//! activity and continues from there on the current code (as `temporal workflow reset
//! --workflow-id paper/<id> --event-id <that task's completion event>` would).

use anyhow::{Context, bail};
use temporalio_client::{
    NamespacedClient, WorkflowFetchHistoryOptions, WorkflowGetResultOptions, WorkflowStartOptions,
};
use temporalio_common::protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_common::protos::temporal::api::history::v1::HistoryEvent;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_common::protos::temporal::api::workflowservice::v1::ResetWorkflowExecutionRequest;
use workflows::PaperToCode;
use workflows::Stage;
use workflows::names::{TASK_QUEUE, paper_workflow_id};
use workflows::types::PaperToCodeInput;

/// The event id to reset to for `stage`: the completion of the workflow task that scheduled the
/// stage's first activity. The stages are `workflows::Stage::ALL`, the same list the workflow
/// and its `PaperStage` search attribute use.
pub fn reset_point(events: &[HistoryEvent], stage: &str) -> anyhow::Result<i64> {
    let Some((parsed, activity)) =
        Stage::parse(stage).and_then(|s| s.first_activity().map(|a| (s, a)))
    else {
        bail!(
            "unknown stage {stage:?}; use one of {}",
            Stage::ALL
                .iter()
                .filter(|s| s.first_activity().is_some())
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    events
        .iter()
        .find_map(|e| match &e.attributes {
            Some(Attributes::ActivityTaskScheduledEventAttributes(a))
                if a.activity_type.as_ref().is_some_and(|t| parsed.opened_by(&t.name)) =>
            {
                Some(a.workflow_task_completed_event_id)
            }
            _ => None,
        })
        .with_context(|| format!("the run never reached {stage} ({activity} was never scheduled); rerun without --from"))
}

fn previous_input(events: &[HistoryEvent]) -> anyhow::Result<PaperToCodeInput> {
    let started = events.first().and_then(|e| match &e.attributes {
        Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) => Some(a),
        _ => None,
    });
    let payload = started
        .and_then(|a| a.input.as_ref())
        .and_then(|p| p.payloads.first())
        .context("the previous run has no input")?;
    serde_json::from_slice(&payload.data).context("reading the previous run's input")
}

/// Reruns a paper; with `follow`, waits for the outcome.
pub async fn rerun(paper_id: &str, from: Option<&str>, follow: bool) -> anyhow::Result<()> {
    let client = crate::wiring::temporal_client(None).await?;
    let workflow_id = paper_workflow_id(paper_id);
    let handle = client.get_workflow_handle::<PaperToCode>(&workflow_id);
    let events = handle
        .fetch_history(WorkflowFetchHistoryOptions::default())
        .into_events()
        .await
        .with_context(|| {
            format!("no run of {workflow_id} found; start one with `annapurna run {paper_id}`")
        })?;
    let run_id = match from {
        None => {
            let input = previous_input(&events)?;
            let started = client
                .start_workflow(PaperToCode::run, input, WorkflowStartOptions::new(TASK_QUEUE, &workflow_id).build())
                .await
                .with_context(|| format!("starting {workflow_id} again; is it still running? then use --from to reset it"))?;
            started.run_id().unwrap_or_default().to_owned()
        }
        Some(stage) => {
            let event_id = reset_point(&events, stage)?;
            let describe = handle
                .describe(Default::default())
                .await
                .context("describing the run")?;
            let current_run = describe
                .raw_description
                .workflow_execution_info
                .as_ref()
                .and_then(|i| i.execution.as_ref())
                .map(|e| e.run_id.clone())
                .unwrap_or_default();
            let request = ResetWorkflowExecutionRequest {
                namespace: client.namespace(),
                workflow_execution: Some(WorkflowExecution {
                    workflow_id: workflow_id.clone(),
                    run_id: current_run,
                }),
                reason: format!("annapurna rerun --from {stage}"),
                workflow_task_finish_event_id: event_id,
                request_id: format!("rerun-{paper_id}-{stage}-{event_id}-{}", std::process::id()),
                ..Default::default()
            };
            let mut service = client.connection().workflow_service();
            let response = service
                .reset_workflow_execution(temporalio_client::tonic::Request::new(request))
                .await
                .with_context(|| format!("resetting {workflow_id} to event {event_id}"))?;
            eprintln!(
                "reset {workflow_id} to event {event_id} (the workflow task before {stage}); \
                 the same as `temporal workflow reset --workflow-id {workflow_id} --event-id {event_id} --reason ...`"
            );
            response.into_inner().run_id
        }
    };
    eprintln!("rerunning {workflow_id}: run {run_id}");
    println!("{run_id}");
    if follow {
        let out = client
            .get_workflow_handle::<PaperToCode>(&workflow_id)
            .get_result(WorkflowGetResultOptions::default())
            .await
            .with_context(|| format!("{workflow_id} failed"))?;
        eprintln!("outcome: {}\nresults: {}", out.outcome, out.results);
    }
    Ok(())
}
