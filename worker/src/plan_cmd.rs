//! `annapurna plan show|approve|reject <paper-id>`: the repository plan of a running paper
//! (the `plan` query, the plan's JSON read from the blob store) and the `approve_plan` /
//! `reject_plan` signals a run started with `approve_plan: true` waits on.

use anyhow::{Context, bail};
use temporalio_client::{WorkflowQueryOptions, WorkflowSignalOptions};
use workflows::PaperToCode;
use workflows::names::paper_workflow_id;

use crate::config::Config;

/// Prints the plan of paper `paper_id`'s run as JSON (with the stage it is in).
pub async fn show(config: &Config, paper_id: &str) -> anyhow::Result<()> {
    let client = crate::wiring::temporal_client(None).await?;
    let id = paper_workflow_id(paper_id);
    let handle = client.get_workflow_handle::<PaperToCode>(&id);
    let planned = handle
        .query(PaperToCode::plan, (), WorkflowQueryOptions::default())
        .await
        .with_context(|| format!("querying the plan of {id}"))?;
    let progress = handle
        .query(PaperToCode::progress, (), WorkflowQueryOptions::default())
        .await
        .with_context(|| format!("querying the progress of {id}"))?;
    let Some(planned) = planned else {
        bail!("{id} has no plan yet (stage {})", progress.stage);
    };
    let blobs = activities::clients::blobs::BlobStore::open(&config.storage.blobs)?;
    let plan: serde_json::Value = serde_json::from_slice(&blobs.get(&planned.plan).await?)
        .context("the stored plan does not read")?;
    let out = serde_json::json!({
        "workflow_id": id,
        "stage": progress.stage,
        "plan_problem": progress.plan_problem,
        "plan": plan,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// Sends `approve_plan`, with `edits` (a JSON merge patch of the plan: inline JSON or a file).
pub async fn approve(paper_id: &str, edits: Option<&str>) -> anyhow::Result<()> {
    let edits = match edits {
        None => None,
        Some(e) => {
            let text = if e.trim_start().starts_with('{') {
                e.to_owned()
            } else {
                std::fs::read_to_string(e).with_context(|| format!("reading the edits file {e}"))?
            };
            let value: serde_json::Value =
                serde_json::from_str(&text).context("--edits is not JSON")?;
            if !value.is_object() {
                bail!("--edits must be a JSON object (a merge patch of the plan)");
            }
            Some(value)
        }
    };
    handle(paper_id)
        .await?
        .signal(
            PaperToCode::approve_plan,
            serde_json::json!({ "edits": edits }),
            WorkflowSignalOptions::default(),
        )
        .await
        .with_context(|| format!("signalling {}", paper_workflow_id(paper_id)))?;
    println!("approved the plan of {}", paper_workflow_id(paper_id));
    Ok(())
}

/// Sends `reject_plan` with `reason`.
pub async fn reject(paper_id: &str, reason: &str) -> anyhow::Result<()> {
    handle(paper_id)
        .await?
        .signal(
            PaperToCode::reject_plan,
            serde_json::json!({ "reason": reason }),
            WorkflowSignalOptions::default(),
        )
        .await
        .with_context(|| format!("signalling {}", paper_workflow_id(paper_id)))?;
    println!("rejected the plan of {}", paper_workflow_id(paper_id));
    Ok(())
}

async fn handle(
    paper_id: &str,
) -> anyhow::Result<temporalio_client::WorkflowHandle<temporalio_client::Client, PaperToCode>> {
    let client = crate::wiring::temporal_client(None).await?;
    Ok(client.get_workflow_handle::<PaperToCode>(&paper_workflow_id(paper_id)))
}
