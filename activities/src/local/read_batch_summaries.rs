//! ReadBatchSummaries: a paper's summaries made by its batch's batch inference job.

use crate::prelude::*;

/// ReadBatchSummaries: the list `CollectBatchInference` stored for a paper. Only blobs under the
/// store's `batch-inference/` are read: a workflow input cannot point a paper at other files.
pub async fn read_batch_summaries(d: Call<'_>, input: BlobRef) -> Out<Vec<PresummarizedChunk>> {
    if !input.uri.starts_with(&d.blobs.uri_of("batch-inference/")) {
        return Err(permanent(
            "InvalidInput",
            format!(
                "summaries {} are not a batch inference job's (they must be under {})",
                input.uri,
                d.blobs.uri_of("batch-inference/")
            ),
        ));
    }
    let bytes = d.blobs.get(&input).await?;
    serde_json::from_slice(&bytes).map_err(|e| {
        permanent(
            "InvalidInput",
            format!("summaries {} do not parse: {e}", input.uri),
        )
    })
}
