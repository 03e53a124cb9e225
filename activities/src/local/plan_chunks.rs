//! PlanChunks: cut at section boundaries within the budget; write each chunk as a blob.

use crate::chunking::{CHARS_PER_TOKEN, chunk_bytes_for_tokens, effective_chunk_bytes};
use crate::prelude::*;

/// PlanChunks: cut at section boundaries within the budget; write each chunk as a blob.
pub async fn plan_chunks(d: Call<'_>, input: PlanChunksInput) -> Out<ChunkPlan> {
    let text = d.text(&input.paper.text).await?;
    let sections: Vec<Section> = serde_json::from_slice(&d.blobs.get(&input.paper.sections).await?)
        .map_err(|e| {
            permanent(
                "UnparseablePaper",
                format!("sections of {}: {e}", input.paper.paper_id),
            )
        })?;
    let requested = d.settings.chunk_tokens(input.max_chunk_tokens);
    let max_bytes = effective_chunk_bytes(text.len() as u64, chunk_bytes_for_tokens(requested));
    let max_tokens = max_bytes.div_ceil(CHARS_PER_TOKEN);
    let planned = chunking::plan(&text, &sections, max_bytes);
    let mut chunks = Vec::with_capacity(planned.len());
    for (index, c) in planned.iter().enumerate() {
        let piece = &text[c.start..c.end];
        let key = format!(
            "chunks/{}/{}.txt",
            input.paper.paper_id,
            short(&sha256_hex(piece.as_bytes()))
        );
        let blob = d.blobs.put(&key, piece.to_owned()).await?;
        chunks.push(ChunkRef {
            index: index as u32,
            text: blob,
            section_titles: c
                .section_titles
                .iter()
                .take(6)
                .map(|t| t.chars().take(80).collect())
                .collect(),
            characters: piece.chars().count() as u64,
        });
    }
    Ok(ChunkPlan {
        chunks,
        max_chunk_tokens: max_tokens,
    })
}
