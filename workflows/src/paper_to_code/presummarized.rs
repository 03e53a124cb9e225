//! The map phase from summaries made beforehand (a `PaperBatch`'s Bedrock batch inference job):
//! `ReadBatchSummaries` gives them; those whose chunk is in this paper's plan (same index, same
//! text) are used as they are, their usage (at the batch price) counted as the paper's; every
//! other chunk is summarised on demand (`SummarizeChunk`, all at once under the worker's rate
//! limiter), with the same prompt it would have had without the batch.

use std::collections::BTreeMap;
use std::time::Duration;

use temporalio_workflow::{ActivityExecutionError, WorkflowContext, join_all};

use super::{
    PaperToCode, add_usage, failure_reason, llm_options, local_options, model_unusable,
    progress_mut,
};
use crate::activities::{LlmActivities, LocalActivities};
use crate::types::*;

/// The patch id of the map phase from summaries made beforehand.
pub const BATCH_SUMMARIES_PATCH: &str = "annapurna-batch-summaries";

/// The plan's chunks split into those with a summary made beforehand (the summaries, in chunk
/// order) and those without (to summarise now). A summary counts only for a chunk at its index
/// whose text has the hash it was made from.
pub fn split_plan(
    chunks: &[ChunkRef],
    made: &[PresummarizedChunk],
) -> (Vec<SummaryRef>, Vec<ChunkRef>) {
    let by_index: BTreeMap<u32, &PresummarizedChunk> =
        made.iter().map(|m| (m.summary.index, m)).collect();
    let mut ready = Vec::new();
    let mut rest = Vec::new();
    for chunk in chunks {
        match by_index.get(&chunk.index) {
            Some(m) if m.chunk_sha256 == chunk.text.sha256 => ready.push(m.summary.clone()),
            _ => rest.push(chunk.clone()),
        }
    }
    (ready, rest)
}

/// The map phase of `plan` with the summaries in `made` (a blob of [`PresummarizedChunk`]s).
pub(super) async fn summarize(
    ctx: &WorkflowContext<PaperToCode>,
    input: &PaperToCodeInput,
    paper: &PaperRef,
    plan: &ChunkPlan,
    made: &BlobRef,
) -> Result<(Vec<SummaryRef>, Vec<ChunkFailure>), ActivityExecutionError> {
    let read = ctx
        .execute_activity(
            LocalActivities::read_batch_summaries,
            made.clone(),
            local_options(
                "batch-summaries".into(),
                Duration::from_secs(120),
                input.heartbeat_timeout(),
            ),
        )
        .await;
    // Summaries that cannot be read are summaries not made: the paper goes on demand.
    let made = match read {
        Ok(made) => made,
        Err(e @ ActivityExecutionError::Cancelled(_)) => return Err(e),
        Err(_) => Vec::new(),
    };
    let (mut summaries, rest) = split_plan(&plan.chunks, &made);
    for summary in &summaries {
        add_usage(ctx, ModelRole::Summary, &summary.usage);
    }
    let ready = summaries.len() as u32;
    progress_mut(ctx, |p| p.chunks_done += ready);
    let count = plan.chunks.len() as u32;
    let calls = rest.into_iter().map(|chunk| async move {
        let index = chunk.index;
        let result = ctx
            .execute_activity(
                LlmActivities::summarize_chunk,
                SummarizeChunkInput {
                    paper_id: paper.paper_id.clone(),
                    title: paper.title.clone(),
                    chunk,
                    chunk_count: count,
                    model: input.model_for(ModelRole::Summary),
                },
                llm_options(ctx, format!("summarize-{index}"), input.heartbeat_timeout()),
            )
            .await;
        (index, result)
    });
    let mut failures = Vec::new();
    for (index, result) in join_all(calls).await {
        match result {
            Ok(summary) => {
                add_usage(ctx, ModelRole::Summary, &summary.usage);
                progress_mut(ctx, |p| p.chunks_done += 1);
                summaries.push(summary);
            }
            Err(e @ ActivityExecutionError::Cancelled(_)) => return Err(e),
            Err(e) if model_unusable(&e) => return Err(e),
            Err(e) => {
                progress_mut(ctx, |p| p.chunks_failed += 1);
                failures.push(ChunkFailure {
                    index,
                    reason: failure_reason(&e, 300),
                });
            }
        }
    }
    summaries.sort_by_key(|s| s.index);
    failures.sort_by_key(|f| f.index);
    Ok((summaries, failures))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(index: u32, sha: &str) -> ChunkRef {
        ChunkRef {
            index,
            text: BlobRef {
                uri: format!("file:///c/{index}"),
                sha256: sha.into(),
                bytes: 1,
            },
            section_titles: Vec::new(),
            characters: 1,
            kind: SectionKind::default(),
        }
    }

    fn made(index: u32, sha: &str) -> PresummarizedChunk {
        PresummarizedChunk {
            chunk_sha256: sha.into(),
            summary: SummaryRef {
                index,
                attempt: 1,
                summary: BlobRef {
                    uri: format!("file:///s/{index}"),
                    sha256: "s".into(),
                    bytes: 1,
                },
                usage: LlmUsage {
                    batch_calls: 1,
                    ..Default::default()
                },
            },
        }
    }

    #[test]
    fn only_summaries_of_the_same_chunk_text_are_used() {
        let plan = [chunk(0, "a"), chunk(1, "b"), chunk(2, "c")];
        // Chunk 1's text changed since the batch (another chunk budget): summarised again;
        // chunk 2 had no answer; chunk 7 is not in this plan.
        let given = [made(0, "a"), made(1, "old"), made(7, "z")];
        let (ready, rest) = split_plan(&plan, &given);
        assert_eq!(ready.iter().map(|s| s.index).collect::<Vec<_>>(), [0]);
        assert_eq!(rest.iter().map(|c| c.index).collect::<Vec<_>>(), [1, 2]);
        let (ready, rest) = split_plan(&plan, &[]);
        assert!(ready.is_empty());
        assert_eq!(rest.len(), 3);
    }
}
