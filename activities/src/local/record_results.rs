//! RecordResults: the results directory and the paper's status.

use crate::prelude::*;

/// RecordResults: the results directory and the paper's status.
pub async fn record_results(d: Call<'_>, input: RecordResultsInput) -> Out<ResultsRef> {
    let out = results::write(&d.blobs, &d.results, &input).await?;
    d.papers
        .record_run(&RunRecord {
            paper_id: input.paper.paper_id.clone(),
            workflow_id: input.workflow_id.clone(),
            run_id: input.run_id.clone(),
            outcome: input.outcome.clone(),
            results: out.dir.clone(),
            code: input.code.uri.clone(),
            execution: input
                .executions
                .last()
                .map(|e| e.report.classification.as_str().to_owned())
                .unwrap_or_default(),
        })
        .await?;
    // An accepted repository (it ran, no blocking findings) becomes code examples for the
    // repositories of later papers (see PlanRepository).
    if let Some(repo) = &input.repository
        && input.outcome == "succeeded"
        && input
            .executions
            .last()
            .is_some_and(|e| e.report.classification == Classification::Ok)
    {
        let bundle: RepoBundle = serde_json::from_str(&d.text(&repo.bundle).await?)
            .map_err(|e| permanent("InvalidRepository", e.to_string()))?;
        for (path, text) in bundle.files.iter().filter(|(p, _)| p.ends_with(".py")) {
            d.blobs
                .put(
                    &format!("examples/{}/{path}", input.paper.paper_id),
                    text.clone(),
                )
                .await?;
        }
    }
    Ok(out)
}
