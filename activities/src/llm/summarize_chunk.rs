//! SummarizeChunk: one chunk through the fast model.

use crate::prelude::*;

/// The request that summarises `chunk` (the text of `input.chunk`) with `model`: the same
/// whether it goes on demand or in a batch inference job (`SubmitBatchInference`).
pub(crate) fn request(
    settings: &Settings,
    input: &SummarizeChunkInput,
    chunk: &str,
    model: String,
) -> LlmRequest {
    let prompt = prompts::summarize(
        &input.title,
        input.chunk.index,
        input.chunk_count,
        &input.chunk.section_titles,
        chunk,
    );
    LlmRequest::single(model, prompt, settings.summary_max_tokens, 0.2)
}

/// SummarizeChunk: one chunk through the fast model.
pub async fn summarize_chunk(d: Call<'_>, input: SummarizeChunkInput) -> Out<SummaryRef> {
    let chunk = d.text(&input.chunk.text).await?;
    let model = d.settings.model_for(ModelRole::Summary, &input.model)?;
    let request = request(&d.settings, &input, &chunk, model);
    let mut usage = LlmUsage::default();
    // Calls waiting for the quota take turns by paper: a long paper does not starve the others.
    let answer = crate::ratelimit::fair_share(
        input.paper_id.clone(),
        d.converse_whole(request, &mut usage),
    )
    .await?;
    let summary = d
        .blobs
        .put(
            &summary_key(&input.paper_id, input.chunk.index, &answer),
            answer,
        )
        .await?;
    Ok(SummaryRef {
        index: input.chunk.index,
        attempt: d.ctx.info().attempt,
        summary,
        usage,
    })
}

/// Where a chunk's summary is stored: `summaries/<paper>/<index>-<hash>.md`.
pub(crate) fn summary_key(paper_id: &str, index: u32, answer: &str) -> String {
    format!(
        "summaries/{paper_id}/{index:04}-{}.md",
        short(&sha256_hex(answer.as_bytes()))
    )
}
