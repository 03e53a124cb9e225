//! Types every workflow shares: blob references, papers, model usage.

#[allow(unused_imports)]
use super::*;
use serde::{Deserialize, Serialize};

/// A reference to an immutable blob in the blob store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobRef {
    /// Where the blob lives: `file:///…` or `s3://bucket/key`.
    pub uri: String,
    /// Hex SHA-256 of the content; readers verify it.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// A stored paper, by reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaperRef {
    /// Content-derived id (stable: the same file always gets the same id).
    pub paper_id: String,
    /// Title, as found in the paper.
    pub title: String,
    /// The extracted text (UTF-8).
    pub text: BlobRef,
    /// The sections (a JSON array of [`Section`]).
    pub sections: BlobRef,
    /// Number of sections.
    pub section_count: u32,
    /// Characters of extracted text.
    pub characters: u64,
}

/// A section heading found in the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    /// Heading text.
    pub title: String,
    /// 1 for a section, 2 for a subsection, …
    pub level: u8,
    /// Byte offset in the extracted text where the heading's line starts.
    pub offset: u64,
}

/// Token usage and provenance of model calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct LlmUsage {
    /// Model id used: `provider/model`, or a bare id for Bedrock.
    pub model: String,
    /// Input tokens, as the provider reported.
    pub input_tokens: u64,
    /// Output tokens, as the provider reported.
    pub output_tokens: u64,
    /// Model calls made.
    pub calls: u32,
    /// Wall time of the calls in milliseconds.
    pub latency_ms: u64,
    /// True when the answer came from the Bedrock stand-in.
    pub standin: bool,
    /// Continuation requests made because an answer stopped at the token limit.
    #[serde(default)]
    pub continuations: u32,
    /// True when the answer was still cut off after the last continuation allowed.
    #[serde(default)]
    pub truncated: bool,
    /// Estimated cost in micro-dollars (configured prices × tokens, cache reads and writes at
    /// their own prices).
    #[serde(default)]
    pub cost_microusd: u64,
    /// Input tokens read from the provider's prompt cache (not in `input_tokens`).
    #[serde(default)]
    pub cache_read_tokens: u64,
    /// Input tokens written to the provider's prompt cache (not in `input_tokens`).
    #[serde(default)]
    pub cache_write_tokens: u64,
    /// Of `calls`, those answered by a Bedrock batch inference job (billed at the batch price,
    /// half the on-demand one).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub batch_calls: u32,
    /// Of `calls`, those sent a second time because the answer was late (a hedge): the request
    /// left unanswered is in `cost_microusd` at the answer's cost, not in the tokens.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub hedged_calls: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl LlmUsage {
    /// Adds `other`'s calls, tokens and cost to these; the models are listed once each.
    pub fn add(&mut self, other: &LlmUsage) {
        if !other.model.is_empty() && !self.model.split(", ").any(|m| m == other.model) {
            if !self.model.is_empty() {
                self.model.push_str(", ");
            }
            self.model.push_str(&other.model);
        }
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
        self.calls += other.calls;
        self.latency_ms += other.latency_ms;
        self.standin |= other.standin;
        self.continuations += other.continuations;
        self.truncated |= other.truncated;
        self.cost_microusd += other.cost_microusd;
        self.batch_calls += other.batch_calls;
        self.hedged_calls += other.hedged_calls;
    }
}

/// What a model is asked to do; each role maps to a `provider/model` (configuration
/// `[models.roles]`, or a workflow input's `models`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelRole {
    /// Chunk summaries.
    Summary,
    /// The dataset choice.
    Dataset,
    /// Writing the code.
    Code,
    /// Reviewing it.
    Review,
    /// Fixing it (after review or a failed run).
    Fix,
    /// Diagnosing a failed run.
    Diagnose,
    /// Judging ingested papers.
    Judge,
}

impl ModelRole {
    /// Every role.
    pub const ALL: [ModelRole; 7] = [
        ModelRole::Summary,
        ModelRole::Dataset,
        ModelRole::Code,
        ModelRole::Review,
        ModelRole::Fix,
        ModelRole::Diagnose,
        ModelRole::Judge,
    ];

    /// The role's name, as in configuration and workflow inputs.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelRole::Summary => "summary",
            ModelRole::Dataset => "dataset",
            ModelRole::Code => "code",
            ModelRole::Review => "review",
            ModelRole::Fix => "fix",
            ModelRole::Diagnose => "diagnose",
            ModelRole::Judge => "judge",
        }
    }

    /// The role named `name`.
    pub fn parse(name: &str) -> Option<ModelRole> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// Whether the role falls back to the summary model (summary, dataset, judge) rather than
    /// the code model (code, review, fix, diagnose).
    pub fn uses_summary_model(self) -> bool {
        matches!(
            self,
            ModelRole::Summary | ModelRole::Dataset | ModelRole::Judge
        )
    }
}
