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
    Ok(out)
}
