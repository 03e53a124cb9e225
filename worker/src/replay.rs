//! `annapurna replay`: replays a recorded history against the current workflow code and says,
//! in plain words, whether the code still fits it. A history comes from the server (by workflow
//! id) or from a file: the proto3 JSON of `temporal workflow show --output json` and the Web UI's
//! download, or the SDK's JSON (`annapurna history export`, and the recorded histories under
//! `tests/histories/`).

use std::path::Path;

use anyhow::Context;
use temporalio_client::{WorkflowFetchHistoryOptions, WorkflowHistory};
use temporalio_sdk::workflow_replayer::{
    WorkflowReplayError, WorkflowReplayFailure, WorkflowReplayer, WorkflowReplayerOptions,
};
use workflows::PaperToCode;

/// A replayer with every workflow of this project registered.
pub fn replayer() -> anyhow::Result<WorkflowReplayer> {
    let options = WorkflowReplayerOptions::new()
        .register_workflow::<PaperToCode>()
        .context("registering PaperToCode for replay")?
        .register_workflow::<workflows::PaperBatch>()
        .context("registering PaperBatch for replay")?
        .register_workflow::<workflows::IngestPapers>()
        .context("registering IngestPapers for replay")?
        .register_workflow::<workflows::EvaluateSuite>()
        .context("registering EvaluateSuite for replay")?
        .register_workflow::<workflows::CompleteCode>()
        .context("registering CompleteCode for replay")?
        .register_workflow::<workflows::SearchHyperparameters>()
        .context("registering SearchHyperparameters for replay")?
        .build();
    WorkflowReplayer::new(options).context("creating the replayer")
}

/// Replays one history: `Ok(None)` when the code fits it, `Ok(Some(explanation))` when it does
/// not.
pub async fn replay(history: WorkflowHistory) -> anyhow::Result<Option<String>> {
    match replayer()?.replay_workflow(history).await {
        Ok(()) => Ok(None),
        Err(WorkflowReplayError::Replay(failure)) => Ok(Some(explain(&failure))),
        Err(e) => Err(e).context("replaying the history"),
    }
}

fn explain(failure: &WorkflowReplayFailure) -> String {
    match failure {
        WorkflowReplayFailure::Nondeterminism { message } => format!(
            "NONDETERMINISTIC: the current workflow code does not do what the history recorded.\n{message}\n\
             A running workflow of this type would fail its next workflow task; guard the change with \
             ctx.patched(\"…\") so old runs keep the old path."
        ),
        WorkflowReplayFailure::InvalidHistory { message } => {
            format!("the history is invalid or incomplete: {message}")
        }
        WorkflowReplayFailure::WorkflowTaskFailure { message } => {
            format!("the workflow code failed a task during replay: {message}")
        }
        other => other.to_string(),
    }
}

/// Reads a history file: the proto3 JSON of `temporal workflow show --output json` and of the
/// Web UI's download, or the SDK's JSON (`annapurna history export`).
pub fn history_from_file(path: &Path) -> anyhow::Result<WorkflowHistory> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if let Ok(h) = WorkflowHistory::from_json(&bytes) {
        return Ok(h);
    }
    let history = crate::history_json::history_from_proto_json(&bytes).with_context(|| {
        format!(
            "{} is not a workflow history; give the output of `temporal workflow show --output json` \
             or of `annapurna history export`",
            path.display()
        )
    })?;
    Ok(history.into())
}

/// Fetches a workflow's history from the server.
pub async fn history_from_server(
    client: &temporalio_client::Client,
    workflow_id: &str,
) -> anyhow::Result<WorkflowHistory> {
    let handle = client.get_workflow_handle::<PaperToCode>(workflow_id);
    let events = handle
        .fetch_history(WorkflowFetchHistoryOptions::default())
        .into_events()
        .await
        .with_context(|| format!("fetching the history of {workflow_id}"))?;
    Ok(temporalio_common::protos::temporal::api::history::v1::History { events }.into())
}

/// `annapurna replay [WORKFLOW_ID] [--history FILE]`: exits 1, saying what does not fit, when the
/// current code does not replay the history.
pub async fn replay_cli(
    workflow_id: Option<String>,
    history: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let (name, history) = match (workflow_id, history) {
        (_, Some(file)) => (file.display().to_string(), history_from_file(&file)?),
        (Some(id), None) => {
            let client = crate::wiring::temporal_client(None).await?;
            (id.clone(), history_from_server(&client, &id).await?)
        }
        (None, None) => anyhow::bail!("give a workflow id or --history FILE"),
    };
    match replay(history).await? {
        None => {
            println!("{name}: replayed cleanly: the current code fits this history");
            Ok(())
        }
        Some(problem) => {
            println!("{name}: {problem}");
            std::process::exit(1);
        }
    }
}

/// `annapurna history export WORKFLOW_ID [--output FILE]`.
pub async fn export_cli(
    workflow_id: String,
    output: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let client = crate::wiring::temporal_client(None).await?;
    let history = history_from_server(&client, &workflow_id).await?;
    let json = history.to_json().await.context("encoding the history")?;
    match output {
        Some(path) => {
            std::fs::write(&path, json).with_context(|| format!("writing {}", path.display()))?
        }
        None => println!("{}", String::from_utf8_lossy(&json)),
    }
    Ok(())
}
