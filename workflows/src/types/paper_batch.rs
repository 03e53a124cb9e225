//! `PaperBatch`: selection, carry across continue-as-new, summary.

#[allow(unused_imports)]
use super::*;
use serde::{Deserialize, Serialize};

/// What a user passes to `PaperBatch`: a selection (any of the fields; ids first) and how many
/// papers run at once. `{"paper_ids": ["a", "b"], "max_concurrent": 2}` is a complete input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, remote = "Self")]
pub struct PaperBatchInput {
    /// Set when the JSON given was not this input: what is wrong and where; the workflow then
    /// fails at once with `InvalidInput` (see `lenient.rs`). Never serialized.
    #[serde(skip)]
    pub invalid_input: Option<String>,
    /// Explicit paper ids.
    pub paper_ids: Vec<String>,
    /// Papers added in the last N days.
    pub recent_days: Option<u32>,
    /// N papers at random.
    pub random: Option<u32>,
    /// A text query (SQLite full-text search over titles and sections).
    pub query: Option<String>,
    /// Papers whose title contains this (case-insensitive).
    pub title: Option<String>,
    /// At most this many papers. Default 100.
    pub max_papers: Option<u32>,
    /// Papers at once. Default 4.
    pub max_concurrent: Option<u32>,
    /// The input every paper runs with (its `paper_id` is set per paper).
    pub paper: Option<PaperToCodeInput>,
    /// Papers one run handles before it continues as new. Default 500.
    pub papers_per_run: Option<u32>,
    /// Set by continue-as-new: papers still to run and the summary so far.
    pub carried: Option<BatchCarry>,
}

/// What a batch carries into its next run (continue-as-new).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct BatchCarry {
    /// Papers not run yet.
    pub remaining: Vec<String>,
    /// The summary so far.
    pub summary: BatchSummary,
}

/// Input of `SelectPapers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectPapersInput {
    /// The batch's selection.
    pub selection: PaperBatchInput,
}

/// The outcome of one paper in a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchItem {
    /// The paper.
    pub paper_id: String,
    /// Its outcome, or `failed: <reason>`.
    pub outcome: String,
}

/// What `PaperBatch` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct BatchSummary {
    /// Papers selected.
    pub selected: u32,
    /// Papers whose workflow completed (any outcome).
    pub completed: u32,
    /// Papers whose workflow failed, by reason.
    pub failed: std::collections::BTreeMap<String, u32>,
    /// Tokens in, over the completed papers.
    pub input_tokens: u64,
    /// Tokens out.
    pub output_tokens: u64,
    /// Estimated cost of the model calls, micro-dollars.
    #[serde(default)]
    pub cost_microusd: u64,
    /// Model usage and cost per role over the completed papers.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub by_role: std::collections::BTreeMap<String, LlmUsage>,
    /// True when any paper's model answers came from the Bedrock stand-in (templates).
    #[serde(default)]
    pub standin: bool,
    /// Runs of the batch workflow (1 + continue-as-new count).
    #[serde(default)]
    pub runs: u32,
    /// Workflow time of the batch, ms (across continue-as-new runs).
    pub elapsed_ms: u64,
    /// Per paper (the first 1,000).
    pub items: Vec<BatchItem>,
}

lenient_input!(PaperBatchInput, "PaperBatch");
