//! Pure decision functions: the workflow asks, these answer. No I/O, no clocks, so they are unit
//! tested directly and are deterministic on replay.

use crate::types::{CheckReport, ReviewRound};

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

/// Whether enough chunks were summarised to go on: at least `min_ratio` of `total`, and always
/// at least one.
pub fn enough_chunks(ok: u32, total: u32, min_ratio: f64) -> bool {
    ok > 0 && (ok as f64) >= min_ratio * total as f64
}

/// What the review loop does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewStep {
    /// Review the code (round number from 1).
    Review {
        /// The round to run.
        round: u32,
    },
    /// Stop: the code is clean or the rounds are used up.
    Stop {
        /// Whether blocking findings remain.
        blocking_left: bool,
    },
}

/// Decide the next review step from the rounds so far and the latest static check. A round is
/// always run at least once when `max_rounds > 0` (the model may see what static checks miss);
/// later rounds run only while the previous round left blocking findings.
pub fn next_review_step(
    history: &[ReviewRound],
    latest_check: &CheckReport,
    max_rounds: u32,
) -> ReviewStep {
    let done = history.len() as u32;
    let last_blocking = history.last().map(|r| {
        r.check.is_blocking()
            || r.review
                .as_ref()
                .is_some_and(|rv| rv.findings.iter().any(|f| f.is_blocking()))
    });
    let fixed_since = history.last().is_some_and(|r| r.fixed.is_some());
    match last_blocking {
        None if max_rounds > 0 => ReviewStep::Review { round: 1 },
        None => ReviewStep::Stop {
            blocking_left: latest_check.is_blocking(),
        },
        Some(true) if fixed_since && done < max_rounds => ReviewStep::Review { round: done + 1 },
        Some(_) => ReviewStep::Stop {
            blocking_left: latest_check.is_blocking(),
        },
    }
}

/// What follows a run of the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepairStep {
    /// It ran cleanly.
    Done,
    /// Diagnose and fix, then run again.
    Repair,
    /// Stop: a system issue (no code fix helps) or the repairs are used up.
    Stop,
}

/// Decide after run `repairs_done + 1` ended with `classification`. A system issue (the
/// executor lacks a module) stops at once, without asking a model; code errors, resource limits
/// (hyperparameters) and sandbox violations get up to `max_repairs` repairs.
pub fn next_repair_step(classification: &str, repairs_done: u32, max_repairs: u32) -> RepairStep {
    match classification {
        "ok" => RepairStep::Done,
        "environment" => RepairStep::Stop,
        _ if repairs_done >= max_repairs => RepairStep::Stop,
        _ => RepairStep::Repair,
    }
}

/// Stages of `PaperToCode`, as shown in the `PaperStage` search attribute and the progress query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// LoadPaper.
    Loading,
    /// PlanChunks.
    Planning,
    /// SummarizeChunk × N.
    Summarizing,
    /// GenerateCode.
    Generating,
    /// CheckCode / ReviewCode / FixCode.
    Reviewing,
    /// ProbeExecutor: no executor of the target has taken the code yet.
    WaitingForExecutor,
    /// ExecuteCode / DiagnoseFailure / FixCode.
    Executing,
    /// RecordResults.
    Recording,
    /// Finished.
    Done,
}

impl Stage {
    /// The pinned name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Loading => "loading",
            Stage::Planning => "planning",
            Stage::Summarizing => "summarizing",
            Stage::Generating => "generating",
            Stage::Reviewing => "reviewing",
            Stage::WaitingForExecutor => "waiting-for-executor",
            Stage::Executing => "executing",
            Stage::Recording => "recording",
            Stage::Done => "done",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{BlobRef, CodeRef, Finding, LlmUsage};

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
    fn repair_decisions() {
        assert_eq!(next_repair_step("ok", 0, 2), RepairStep::Done);
        assert_eq!(next_repair_step("code-error", 0, 2), RepairStep::Repair);
        assert_eq!(
            next_repair_step("resource:memory", 1, 2),
            RepairStep::Repair
        );
        assert_eq!(next_repair_step("code-error", 2, 2), RepairStep::Stop);
        assert_eq!(
            next_repair_step("environment", 0, 2),
            RepairStep::Stop,
            "system issues cost no model call"
        );
        assert_eq!(next_repair_step("ok", 2, 2), RepairStep::Done);
    }

    #[test]
    fn partial_success_threshold() {
        assert!(enough_chunks(6, 10, 0.5));
        assert!(enough_chunks(5, 10, 0.5));
        assert!(!enough_chunks(4, 10, 0.5));
        assert!(
            !enough_chunks(0, 0, 0.0),
            "nothing summarised is never enough"
        );
        assert!(enough_chunks(1, 1, 1.0));
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

    fn round(blocking_check: bool, fixed: bool) -> ReviewRound {
        let blob = BlobRef {
            uri: "file:///x".into(),
            sha256: "0".into(),
            bytes: 0,
        };
        let check = CheckReport {
            findings: if blocking_check {
                vec![Finding {
                    rule: "syntax-error".into(),
                    severity: "error".into(),
                    line: 1,
                    message: "x".into(),
                }]
            } else {
                vec![]
            },
        };
        ReviewRound {
            round: 1,
            code: blob.clone(),
            check,
            review: None,
            fixed: fixed.then(|| CodeRef {
                code: blob,
                usage: LlmUsage::default(),
            }),
        }
    }

    #[test]
    fn review_loop_decisions() {
        let clean = CheckReport::default();
        assert_eq!(
            next_review_step(&[], &clean, 1),
            ReviewStep::Review { round: 1 }
        );
        assert_eq!(
            next_review_step(&[], &clean, 0),
            ReviewStep::Stop {
                blocking_left: false
            }
        );
        // Blocking and fixed, rounds left: go again.
        assert_eq!(
            next_review_step(&[round(true, true)], &clean, 3),
            ReviewStep::Review { round: 2 }
        );
        // Rounds used up.
        assert_eq!(
            next_review_step(&[round(true, true)], &clean, 1),
            ReviewStep::Stop {
                blocking_left: false
            }
        );
        // Clean round: stop.
        assert_eq!(
            next_review_step(&[round(false, false)], &clean, 3),
            ReviewStep::Stop {
                blocking_left: false
            }
        );
    }
}
