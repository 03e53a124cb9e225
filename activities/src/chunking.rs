//! Cutting a paper's text into chunks: cut points come from the text (section starts, paragraph
//! breaks, line starts), and [`plan_spans`], a pure function, chooses among them within the
//! budget; the budget arithmetic ([`chunk_bytes_for_tokens`], [`effective_chunk_bytes`]) is here
//! too. Activities cut; the workflow only sees the chunk references.

use workflows::types::Section;

/// Characters per token used to estimate token counts before a model has seen the text. English
/// prose with LaTeX runs close to 4 for Claude's tokenizer; a slight overestimate is safe.
pub const CHARS_PER_TOKEN: u64 = 4;

/// A place where a chunk may end, in order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CutKind {
    /// The start of a section heading (best).
    Section,
    /// A blank line between paragraphs.
    Paragraph,
    /// The start of any line.
    Line,
}

/// A byte offset where the text may be cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutPoint {
    /// Byte offset (start of the next piece).
    pub offset: u64,
    /// How good a place it is.
    pub kind: CutKind,
}

/// A planned chunk: the byte range `[start, end)` of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSpan {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

/// Cuts `[0, len)` into spans of at most `max_bytes`, ending each span at the best cut point
/// available: the last section start that fits, else the last paragraph break, else the last line
/// start, else exactly at `max_bytes` (a line longer than the budget). One span when it all fits.
/// `cuts` must be sorted by offset. Spans are non-empty, contiguous and cover the text exactly.
pub fn plan_spans(len: u64, cuts: &[CutPoint], max_bytes: u64) -> Vec<ChunkSpan> {
    let max_bytes = max_bytes.max(1);
    let mut spans = Vec::new();
    let mut start = 0u64;
    // Index of the first cut point after `start`; cut points are visited once overall.
    let mut i = 0usize;
    while len - start > max_bytes {
        let limit = start + max_bytes;
        while i < cuts.len() && cuts[i].offset <= start {
            i += 1;
        }
        let mut best: [Option<u64>; 3] = [None; 3];
        let mut j = i;
        while j < cuts.len() && cuts[j].offset <= limit {
            best[cuts[j].kind as usize] = Some(cuts[j].offset);
            j += 1;
        }
        // A section cut that leaves a tiny chunk behind is worse than a paragraph cut near the
        // limit: accept a section cut only if it fills at least a quarter of the budget.
        let quarter = start + max_bytes / 4;
        let end = match best {
            [Some(s), _, _] if s >= quarter => s,
            [_, Some(p), _] => p,
            [Some(s), None, _] => s,
            [None, None, Some(l)] => l,
            [None, None, None] => limit,
        };
        spans.push(ChunkSpan { start, end });
        start = end;
    }
    if start < len || spans.is_empty() {
        spans.push(ChunkSpan { start, end: len });
    }
    spans
}

/// The budget in bytes of one chunk for a token budget.
pub fn chunk_bytes_for_tokens(max_chunk_tokens: u64) -> u64 {
    max_chunk_tokens.saturating_mul(CHARS_PER_TOKEN)
}

/// Most chunks one paper is cut into. Every chunk is a reference in the plan, a summary in the
/// code request and a line in the results record; this bound keeps each of those payloads far
/// under Temporal's 256 KB, whatever the paper's length.
pub const MAX_CHUNKS: u64 = 256;

/// The chunk budget actually used for a text of `len` bytes: the requested one, raised when the
/// text would otherwise need more than [`MAX_CHUNKS`] chunks.
pub fn effective_chunk_bytes(len: u64, requested: u64) -> u64 {
    requested.max(len.div_ceil(MAX_CHUNKS)).max(1)
}

/// Cut points of `text`, sorted: every section start, every paragraph break and every line start
/// that is not inside a code fence, a display-math block (`$$ … $$`) or a Markdown table. A block
/// longer than a chunk is still cut (at the budget) rather than sent whole.
pub fn cut_points(text: &str, sections: &[Section]) -> Vec<CutPoint> {
    let mut cuts: Vec<CutPoint> = Vec::new();
    let section_starts: std::collections::HashSet<u64> =
        sections.iter().map(|s| s.offset).collect();
    let mut offset = 0usize;
    let mut in_fence = false;
    let mut in_math = false;
    let mut previous_blank = false;
    let mut previous_table_row = false;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let trimmed = line.trim();
        let table_row = trimmed.starts_with('|');
        let protected = in_fence || in_math || (table_row && previous_table_row);
        if start > 0 && !protected {
            let kind = if section_starts.contains(&(start as u64)) {
                CutKind::Section
            } else if previous_blank {
                CutKind::Paragraph
            } else {
                CutKind::Line
            };
            cuts.push(CutPoint {
                offset: start as u64,
                kind,
            });
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
        } else if !in_fence
            && trimmed.starts_with("$$")
            && !(trimmed.len() > 2 && trimmed.ends_with("$$"))
        {
            in_math = !in_math;
        }
        previous_blank = trimmed.is_empty();
        previous_table_row = table_row;
    }
    cuts
}

/// A chunk's byte range and the sections it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedChunk {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// Titles of the sections starting in it, or the section it continues.
    pub section_titles: Vec<String>,
}

/// Plans chunks of at most `max_bytes` (on char boundaries), each with its section titles.
pub fn plan(text: &str, sections: &[Section], max_bytes: u64) -> Vec<PlannedChunk> {
    let cuts = cut_points(text, sections);
    let mut chunks: Vec<PlannedChunk> = Vec::new();
    let mut start = 0usize;
    let spans = plan_spans(text.len() as u64, &cuts, max_bytes);
    for (k, span) in spans.iter().enumerate() {
        // A hard cut may land inside a multi-byte character: move it back to a boundary.
        let mut end = if k + 1 == spans.len() {
            text.len()
        } else {
            span.end as usize
        };
        while end > start && !text.is_char_boundary(end) {
            end -= 1;
        }
        if end == start && k + 1 != spans.len() {
            continue;
        }
        let mut titles: Vec<String> = sections
            .iter()
            .filter(|s| (s.offset as usize) >= start && (s.offset as usize) < end.max(start + 1))
            .map(|s| s.title.clone())
            .collect();
        if titles.is_empty()
            && let Some(current) = sections.iter().rev().find(|s| (s.offset as usize) < start)
        {
            titles.push(format!("{} (continued)", current.title));
        }
        chunks.push(PlannedChunk {
            start,
            end,
            section_titles: titles,
        });
        start = end;
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(offset: u64, kind: CutKind) -> CutPoint {
        CutPoint { offset, kind }
    }

    fn assert_cover(spans: &[ChunkSpan], len: u64) {
        assert_eq!(spans.first().unwrap().start, 0);
        assert_eq!(spans.last().unwrap().end, len);
        for w in spans.windows(2) {
            assert_eq!(w[0].end, w[1].start);
        }
        if len > 0 {
            assert!(spans.iter().all(|s| s.end > s.start), "{spans:?}");
        }
    }

    #[test]
    fn one_chunk_when_it_fits() {
        let spans = plan_spans(100, &[cut(50, CutKind::Section)], 100);
        assert_eq!(spans, vec![ChunkSpan { start: 0, end: 100 }]);
    }

    #[test]
    fn empty_text_is_one_empty_chunk() {
        assert_eq!(plan_spans(0, &[], 10), vec![ChunkSpan { start: 0, end: 0 }]);
    }

    #[test]
    fn prefers_section_over_paragraph() {
        let cuts = [
            cut(40, CutKind::Section),
            cut(90, CutKind::Paragraph),
            cut(95, CutKind::Line),
            cut(150, CutKind::Section),
        ];
        let spans = plan_spans(200, &cuts, 100);
        assert_cover(&spans, 200);
        assert_eq!(spans[0].end, 40);
        assert!(spans.iter().all(|s| s.end - s.start <= 100));
    }

    #[test]
    fn tiny_section_cut_loses_to_paragraph_near_limit() {
        let cuts = [cut(10, CutKind::Section), cut(90, CutKind::Paragraph)];
        let spans = plan_spans(150, &cuts, 100);
        assert_eq!(spans[0].end, 90);
    }

    #[test]
    fn budget_grows_for_very_long_texts() {
        assert_eq!(effective_chunk_bytes(10_000, 4_000), 4_000);
        let len = 20_000_000;
        let bytes = effective_chunk_bytes(len, 4_000);
        assert!(len.div_ceil(bytes) <= MAX_CHUNKS);
        assert!(plan_spans(len, &[], bytes).len() as u64 <= MAX_CHUNKS);
    }

    #[test]
    fn hard_cut_without_cut_points() {
        let spans = plan_spans(250, &[], 100);
        assert_eq!(
            spans,
            vec![
                ChunkSpan { start: 0, end: 100 },
                ChunkSpan {
                    start: 100,
                    end: 200
                },
                ChunkSpan {
                    start: 200,
                    end: 250
                }
            ]
        );
    }

    use crate::extract::{Format, extract};

    fn papers_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/papers")
    }

    /// On every real paper we can read as text: chunks are non-empty, contiguous, cover the text
    /// exactly once, respect the budget, and mostly start at a section when sections exist.
    #[test]
    fn plans_real_papers() {
        let dir = papers_dir();
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("../shared/papers is beside the checkout") {
            let path = entry.unwrap().path();
            let name = path.to_string_lossy().to_string();
            let Some(format) = Format::from_path(&name) else {
                continue;
            };
            if format == Format::Pdf || name.ends_with("README.md") {
                continue;
            }
            let e = extract(&std::fs::read(&path).unwrap(), format).unwrap();
            let max = 8_000u64;
            let chunks = plan(&e.text, &e.sections, max);
            assert!(chunks.len() > 1, "{name} fits one chunk of {max}?");
            let mut joined = String::new();
            for c in &chunks {
                assert!(c.end > c.start, "{name}: empty chunk");
                assert!((c.end - c.start) as u64 <= max, "{name}: chunk over budget");
                joined.push_str(&e.text[c.start..c.end]);
            }
            assert_eq!(joined, e.text, "{name}: text not covered exactly once");
            let at_section = chunks[1..]
                .iter()
                .filter(|c| e.sections.iter().any(|s| s.offset as usize == c.start))
                .count();
            assert!(
                e.sections.len() >= 5,
                "{name}: only {} sections found",
                e.sections.len()
            );
            assert!(at_section >= 1, "{name}: no chunk starts at a section");
            seen += 1;
        }
        assert!(seen >= 8, "read {seen} papers");
    }

    #[test]
    fn no_cuts_inside_code_math_or_tables() {
        let text = "intro line\n\n```python\ncode 1\n\ncode 2\n```\n\n$$\na = b\n\nc = d\n$$\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nend\n";
        let cuts = cut_points(text, &[]);
        let inside = |start: &str, end: &str| {
            let a = text.find(start).unwrap();
            let b = text[a + 1..].find(end).unwrap() + a + 1;
            (a as u64 + 1, b as u64)
        };
        for (lo, hi) in [
            inside("```python", "```\n\n$$"),
            inside("$$\na", "$$\n\n|"),
            inside("| a |", "\n\nend"),
        ] {
            assert!(
                cuts.iter().all(|c| c.offset < lo || c.offset > hi),
                "{cuts:?} cuts inside {lo}..{hi}"
            );
        }
        // Before and after the blocks, cuts are allowed.
        assert!(
            cuts.iter()
                .any(|c| c.offset == text.find("```python").unwrap() as u64)
        );
        assert!(
            cuts.iter()
                .any(|c| c.offset == text.find("end").unwrap() as u64)
        );
    }

    #[test]
    fn multibyte_text_without_cut_points() {
        let text = "é".repeat(100); // 200 bytes, no newline
        let chunks = plan(&text, &[], 33);
        let joined: String = chunks.iter().map(|c| &text[c.start..c.end]).collect();
        assert_eq!(joined, text);
    }
}
