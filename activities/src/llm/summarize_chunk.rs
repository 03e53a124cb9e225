//! SummarizeChunk: one chunk through the fast model.

use crate::prelude::*;

/// SummarizeChunk: one chunk through the fast model.
pub async fn summarize_chunk(d: Call<'_>, input: SummarizeChunkInput) -> Out<SummaryRef> {
    let chunk = d.text(&input.chunk.text).await?;
    let prompt = prompts::summarize(
        &input.title,
        input.chunk.index,
        input.chunk_count,
        &input.chunk.section_titles,
        &chunk,
    );
    let model = d.settings.model_for(ModelRole::Summary, &input.model)?;
    let request = LlmRequest::single(model, prompt, d.settings.summary_max_tokens, 0.2);
    let mut usage = LlmUsage::default();
    // Calls waiting for the quota take turns by paper: a long paper does not starve the others.
    let answer = crate::ratelimit::fair_share(
        input.paper_id.clone(),
        d.converse_whole(request, &mut usage),
    )
    .await?;
    let key = format!(
        "summaries/{}/{:04}-{}.md",
        input.paper_id,
        input.chunk.index,
        short(&sha256_hex(answer.as_bytes()))
    );
    let summary = d.blobs.put(&key, answer).await?;
    Ok(SummaryRef {
        index: input.chunk.index,
        attempt: d.ctx.info().attempt,
        summary,
        usage,
    })
}
