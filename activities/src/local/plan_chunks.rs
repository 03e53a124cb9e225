//! PlanChunks: the paper's parts by kind; the main text cut at section boundaries within the
//! budget, then the appendices that fit their budget; each chunk written as a blob. References,
//! acknowledgements and checklists are left out, and recorded as skipped with their size.

use crate::chunking::{CHARS_PER_TOKEN, chunk_bytes_for_tokens, effective_chunk_bytes};
use crate::prelude::*;
use crate::sections::{Region, regions};

/// PlanChunks: the main text cut at section boundaries within the budget, then the appendices
/// that fit theirs; each chunk written as a blob; the parts left out recorded as skipped.
pub async fn plan_chunks(d: Call<'_>, input: PlanChunksInput) -> Out<ChunkPlan> {
    let text = d.text(&input.paper.text).await?;
    let sections: Vec<Section> = serde_json::from_slice(&d.blobs.get(&input.paper.sections).await?)
        .map_err(|e| {
            permanent(
                "UnparseablePaper",
                format!("sections of {}: {e}", input.paper.paper_id),
            )
        })?;
    // The chunks follow the context of the model that will summarise them.
    let model = d.settings.model_for(ModelRole::Summary, &input.model)?;
    let requested = d.settings.chunk_tokens(input.max_chunk_tokens, &model);
    let max_bytes = effective_chunk_bytes(text.len() as u64, chunk_bytes_for_tokens(requested));
    let plan = plan_parts(
        &text,
        &sections,
        max_bytes,
        d.settings.appendix_budget_tokens,
    );
    let mut chunks = Vec::with_capacity(plan.pieces.len());
    for (index, (c, kind)) in plan.pieces.iter().enumerate() {
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
            kind: *kind,
        });
    }
    Ok(ChunkPlan {
        chunks,
        max_chunk_tokens: max_bytes.div_ceil(CHARS_PER_TOKEN),
        skipped: plan.skipped,
    })
}

/// What goes to the model and what does not.
#[derive(Debug, Default)]
pub struct PartsPlan {
    /// Chunks in the order they are summarised, with their kind.
    pub pieces: Vec<(chunking::PlannedChunk, SectionKind)>,
    /// What is left out.
    pub skipped: Vec<SkippedPart>,
}

/// Plans a paper's chunks by kind: summarised regions that follow each other are cut together;
/// appendix chunks come after all the main text, as many as fit `appendix_tokens`.
pub fn plan_parts(
    text: &str,
    sections: &[Section],
    max_bytes: u64,
    appendix_tokens: u64,
) -> PartsPlan {
    let mut out = PartsPlan::default();
    let mut main: Vec<(chunking::PlannedChunk, SectionKind)> = Vec::new();
    let mut appendix: Vec<chunking::PlannedChunk> = Vec::new();
    let all = regions(text, sections);
    let mut i = 0;
    while i < all.len() {
        let r = &all[i];
        if !r.kind.summarised() {
            out.skipped
                .push(skipped(text, r, format!("{} are not summarised", r.kind)));
            i += 1;
            continue;
        }
        // The run of summarised regions of the same side (main or appendix) from here.
        let side = r.kind == SectionKind::Appendix;
        let mut j = i;
        while j + 1 < all.len()
            && all[j + 1].kind.summarised()
            && (all[j + 1].kind == SectionKind::Appendix) == side
            && all[j + 1].start == all[j].end
        {
            j += 1;
        }
        let (start, end) = (all[i].start, all[j].end);
        let local: Vec<Section> = sections
            .iter()
            .filter(|s| (s.offset as usize) >= start && (s.offset as usize) < end)
            .map(|s| Section {
                offset: s.offset - start as u64,
                ..s.clone()
            })
            .collect();
        // Appendix chunks are no larger than their whole budget, so that some always fit.
        let size = if side {
            max_bytes.min(appendix_tokens.saturating_mul(CHARS_PER_TOKEN).max(1))
        } else {
            max_bytes
        };
        for mut c in chunking::plan(&text[start..end], &local, size) {
            c.start += start;
            c.end += start;
            if side {
                appendix.push(c);
            } else {
                // The kind of the region the chunk starts in.
                let kind = all[i..=j]
                    .iter()
                    .find(|r| r.start <= c.start && c.start < r.end)
                    .map_or(SectionKind::Main, |r| r.kind);
                main.push((c, kind));
            }
        }
        i = j + 1;
    }
    out.pieces = main;
    let mut used = 0u64;
    for c in appendix {
        let tokens = ((c.end - c.start) as u64).div_ceil(CHARS_PER_TOKEN);
        if used + tokens <= appendix_tokens {
            used += tokens;
            out.pieces.push((c, SectionKind::Appendix));
        } else {
            let region = Region {
                start: c.start,
                end: c.end,
                kind: SectionKind::Appendix,
                title: c.section_titles.first().cloned().unwrap_or_default(),
            };
            out.skipped.push(skipped(
                text,
                &region,
                format!("over the appendix budget of {appendix_tokens} tokens (models.appendix-budget-tokens)"),
            ));
        }
    }
    out
}

fn skipped(text: &str, r: &Region, reason: String) -> SkippedPart {
    SkippedPart {
        title: r.title.chars().take(80).collect(),
        kind: r.kind,
        characters: text[r.start..r.end].chars().count() as u64,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::{Format, extract};

    /// On every paper in `../shared/papers`: references, acknowledgements and checklists never
    /// reach a chunk; appendices come after the main text; every character is either in a chunk
    /// or in a skipped part. Prints what was skipped and the tokens saved per paper (for
    /// BENCHMARKS.md).
    #[test]
    fn real_papers_skip_what_nobody_implements() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/papers");
        let mut with_references = 0;
        let mut papers = 0;
        for entry in std::fs::read_dir(&dir).expect("../shared/papers is beside the checkout") {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let Some(format) = Format::from_path(&name) else {
                continue;
            };
            if name == "README.md" {
                continue;
            }
            let e = extract(&std::fs::read(&path).unwrap(), format).unwrap();
            let plan = plan_parts(&e.text, &e.sections, 24_000 * 4, 12_000);
            let kept: u64 = plan
                .pieces
                .iter()
                .map(|(c, _)| e.text[c.start..c.end].chars().count() as u64)
                .sum();
            let left: u64 = plan.skipped.iter().map(|s| s.characters).sum();
            assert_eq!(
                kept + left,
                e.text.chars().count() as u64,
                "{name}: every character is kept or skipped"
            );
            for (c, kind) in &plan.pieces {
                assert!(kind.summarised(), "{name}: a {kind} chunk");
                let body = &e.text[c.start..c.end];
                assert!(
                    !body.contains("\n# References\n") && !body.contains("\n# REFERENCES"),
                    "{name}: a reference list in a {kind} chunk"
                );
            }
            let first_appendix = plan
                .pieces
                .iter()
                .position(|(_, k)| *k == SectionKind::Appendix)
                .unwrap_or(plan.pieces.len());
            assert!(
                plan.pieces[first_appendix..]
                    .iter()
                    .all(|(_, k)| *k == SectionKind::Appendix),
                "{name}: main text after an appendix"
            );
            if plan
                .skipped
                .iter()
                .any(|s| s.kind == SectionKind::References)
            {
                with_references += 1;
            }
            let skipped: Vec<String> = plan
                .skipped
                .iter()
                .map(|s| format!("{} ({}, {} chars)", s.title, s.kind, s.characters))
                .collect();
            eprintln!(
                "{name}: {} chunks, {} of {} characters skipped (~{} tokens): {}",
                plan.pieces.len(),
                left,
                kept + left,
                left.div_ceil(CHARS_PER_TOKEN),
                skipped.join("; ")
            );
            papers += 1;
        }
        assert!(papers >= 9, "read {papers} papers");
        assert!(
            with_references >= 2,
            "reference lists found in only {with_references} papers"
        );
    }
}
