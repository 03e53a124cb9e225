//! Cutting a paper's text into chunks: cut points come from the text (section starts, paragraph
//! breaks, line starts), the choice among them from the pure planner in
//! [`workflows::decisions::plan_spans`].

use workflows::decisions::{CutKind, CutPoint, plan_spans};
use workflows::types::Section;

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
