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
    /// How the map phase asks the summary model: `on-demand` (the default: each chunk a
    /// Converse call as the paper runs) or `batch` (the chunks of all the run's papers as one
    /// Bedrock batch inference job at half the price, the papers going on once it is done;
    /// on-demand again when the job fails or is smaller than `models.batch.min-records`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm_mode: Option<LlmMode>,
    /// With `llm_mode: "batch"`: seconds between checks of the job at first, growing 1.5× a
    /// check up to 600. Default 60; 1 to 3600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_poll_secs: Option<u32>,
}

pinned_enum! {
    /// How a batch's map phase calls the summary model.
    LlmMode {
        /// One Converse call per chunk, as each paper runs.
        OnDemand = "on-demand",
        /// One Bedrock batch inference job for every chunk of the run's papers.
        Batch = "batch",
    }
}

impl PaperBatchInput {
    /// The map phase's mode (default on-demand).
    pub fn llm_mode(&self) -> LlmMode {
        self.llm_mode.unwrap_or(LlmMode::OnDemand)
    }

    /// Seconds before the first check of a batch inference job (default 60).
    pub fn batch_poll_secs(&self) -> u32 {
        self.batch_poll_secs.unwrap_or(60)
    }
}

/// Input of `SubmitBatchInference`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmitBatchInferenceInput {
    /// Names the job and makes its submission idempotent: the batch's workflow id and run id.
    pub batch_key: String,
    /// The papers whose chunks the job summarises.
    pub paper_ids: Vec<String>,
    /// The input every paper runs with (its chunk budget and summary model).
    pub paper: PaperToCodeInput,
}

/// What `SubmitBatchInference` did: a job, or why there is none (the papers then summarise on
/// demand).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SubmittedBatch {
    /// The job, when one was created.
    pub job: Option<BatchJobRef>,
    /// Records (chunks) the papers have.
    pub records: u32,
    /// Why no job was created (below the job minimum, no S3 location, the service refused).
    pub reason: Option<String>,
}

/// A Bedrock batch inference job, by reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchJobRef {
    /// The job's ARN (what `GetModelInvocationJob` takes).
    pub job_arn: String,
    /// The job's name.
    pub job_name: String,
    /// The summary model the job runs.
    pub model: String,
    /// Records in the job.
    pub records: u32,
    /// Which record is which chunk of which paper: a JSON blob.
    pub record_map: BlobRef,
    /// The job's output location (`s3://…/`), under which Bedrock writes `<job id>/…`.
    pub output_uri: String,
}

/// What `CheckBatchInference` saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct BatchJobStatus {
    /// Bedrock's status word (`Submitted`, `InProgress`, `Completed`, `Failed`, …).
    pub status: String,
    /// The service's message, when it gave one.
    pub message: Option<String>,
    /// True once the job will not change any more.
    pub done: bool,
    /// True when it ended with output to read (`Completed`, `PartiallyCompleted`).
    pub has_output: bool,
}

/// One paper's summaries from a batch inference job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PresummarizedPaper {
    /// The paper.
    pub paper_id: String,
    /// A JSON blob of [`PresummarizedChunk`]s (what `PaperToCodeInput::summaries` takes).
    pub summaries: BlobRef,
    /// Chunks summarised.
    pub chunks: u32,
    /// Chunks whose record failed or was cut off (summarised on demand by the paper).
    pub failed: u32,
}

/// One chunk's summary made beforehand: the paper uses it when its own plan has a chunk at that
/// index with that text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PresummarizedChunk {
    /// SHA-256 of the chunk's text.
    pub chunk_sha256: String,
    /// The summary, its usage at the batch price.
    pub summary: SummaryRef,
}

/// The batch inference job of one run of the batch, as the summary reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct BatchInferenceReport {
    /// The job's ARN; empty when none was created.
    pub job_arn: String,
    /// Bedrock's last status word, or `not-submitted`.
    pub status: String,
    /// Records (chunks) of the run's papers.
    pub records: u32,
    /// Chunks summarised by the job.
    pub summarised: u32,
    /// Workflow time from submission to the job's end, ms.
    pub wait_ms: u64,
    /// Checks of the job's status.
    pub checks: u32,
    /// Why the papers summarised on demand instead (all of them, or the chunks the job missed).
    pub fallback: Option<String>,
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
    /// With `llm_mode: "batch"`: each run's batch inference job.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub batch_inference: Vec<BatchInferenceReport>,
}

lenient_input!(PaperBatchInput, "PaperBatch");
