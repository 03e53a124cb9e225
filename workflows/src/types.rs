//! Inputs and outputs of the workflows and activities. Every one of them carries references to
//! blobs (`BlobRef`), never paper, chunk or code text, so that payloads stay small whatever the
//! size of the paper (claim check).

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

/// What a user passes to `PaperToCode`. Only one of `paper_id` or `source` is needed; every other
/// field has a default, so `{"paper_id": "…"}` is a complete input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct PaperToCodeInput {
    /// Id of a paper already in the paper store (`annapurna paper add` prints it).
    pub paper_id: Option<String>,
    /// A path or `file://` URI of a .pdf/.tex/.md/.txt paper, added to the store if new.
    pub source: Option<String>,
    /// Where the code will run: `cpu`, `cuda` or `trainium`. Default `cpu`.
    pub target: Option<String>,
    /// Model for chunk summaries; the worker's configured default when absent.
    pub summary_model: Option<String>,
    /// Model for code generation, review and fixes; the worker's default when absent.
    pub code_model: Option<String>,
    /// Largest chunk, in estimated tokens; the worker's default when absent.
    pub max_chunk_tokens: Option<u64>,
    /// How many chunk summaries run at once (lanes). Default 4.
    pub parallel_chunks: Option<u32>,
    /// Review/fix rounds at most. Default 3.
    pub review_rounds: Option<u32>,
    /// Share of chunks that must be summarised for the paper to go on. Default 0.5.
    pub min_success_ratio: Option<f64>,
    /// Seconds an activity may go without a heartbeat before its task moves to another worker
    /// (how fast work lost with a dead worker is retried). Default 15.
    pub heartbeat_timeout_secs: Option<u64>,
    /// Run the code in the sandbox on an executor of the target (`annapurna-exec-<target>`).
    /// Default true.
    pub execute: Option<bool>,
    /// Diagnose-and-fix rounds after a failed run at most. Default 2.
    pub max_repairs: Option<u32>,
    /// Wall-clock limit of one run, seconds. Default 900.
    pub exec_timeout_secs: Option<u64>,
    /// How long the code may wait for an executor of the target to take it before the paper
    /// fails with `NoExecutor`, seconds. Default 1800 (`annapurna run` fills in
    /// `worker.executor-wait-secs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor_wait_secs: Option<u64>,
}

impl PaperToCodeInput {
    /// The target, defaulted.
    pub fn target(&self) -> String {
        self.target.clone().unwrap_or_else(|| "cpu".to_owned())
    }
    /// The number of summary lanes, defaulted and at least one.
    pub fn lanes(&self) -> u32 {
        self.parallel_chunks.unwrap_or(4).max(1)
    }
    /// The number of review rounds, defaulted.
    pub fn review_rounds(&self) -> u32 {
        self.review_rounds.unwrap_or(3)
    }
    /// Whether to execute the code, defaulted.
    pub fn execute(&self) -> bool {
        self.execute.unwrap_or(true)
    }
    /// The repair rounds, defaulted.
    pub fn max_repairs(&self) -> u32 {
        self.max_repairs.unwrap_or(2)
    }
    /// How long to wait for an executor, defaulted and at least one second.
    pub fn executor_wait(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.executor_wait_secs.unwrap_or(1800).max(1))
    }
    /// The run's wall-clock limit, defaulted.
    pub fn exec_timeout_secs(&self) -> u64 {
        self.exec_timeout_secs.unwrap_or(900).max(1)
    }
    /// The heartbeat timeout, defaulted and at least one second.
    pub fn heartbeat_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.heartbeat_timeout_secs.unwrap_or(15).max(1))
    }
    /// The share of chunks that must succeed, defaulted and clamped to [0, 1].
    pub fn min_success_ratio(&self) -> f64 {
        self.min_success_ratio.unwrap_or(0.5).clamp(0.0, 1.0)
    }
}

/// What `PaperToCode` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaperToCodeOutput {
    /// The paper's id.
    pub paper_id: String,
    /// `succeeded` or `succeeded-with-findings` (blocking findings left after the last round).
    pub outcome: String,
    /// Directory (URI) holding this run's results.
    pub results: String,
    /// The final code.
    pub code: BlobRef,
    /// Number of chunks summarised.
    pub chunks: u32,
    /// Chunks whose summary failed (the paper went on without them).
    #[serde(default)]
    pub failed_chunks: u32,
    /// The dataset the code trains on.
    #[serde(default)]
    pub dataset: String,
    /// How the last run of the code ended (`ok`, `code-error`, `resource:memory`, …); empty
    /// when the code was not executed.
    #[serde(default)]
    pub execution: String,
    /// Tokens in and out across all model calls.
    pub input_tokens: u64,
    /// Tokens out across all model calls.
    pub output_tokens: u64,
    /// True when any model answer came from the Bedrock stand-in (templates, not generation).
    pub standin: bool,
    /// Estimated cost of the model calls, micro-dollars.
    #[serde(default)]
    pub cost_microusd: u64,
}

/// Input of `LoadPaper`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadPaperInput {
    /// A stored paper's id.
    pub paper_id: Option<String>,
    /// Or a source to add.
    pub source: Option<String>,
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

/// Input of `PlanChunks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanChunksInput {
    /// The paper.
    pub paper: PaperRef,
    /// Largest chunk in estimated tokens; `None` for the worker's default.
    pub max_chunk_tokens: Option<u64>,
}

/// One chunk of a paper, by reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkRef {
    /// Position in the paper, from 0.
    pub index: u32,
    /// The chunk's text.
    pub text: BlobRef,
    /// Titles of the sections the chunk covers (the first few, shortened).
    pub section_titles: Vec<String>,
    /// Characters in the chunk.
    pub characters: u64,
}

/// What `PlanChunks` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkPlan {
    /// The chunks in paper order.
    pub chunks: Vec<ChunkRef>,
    /// The budget the plan was made for, in estimated tokens.
    pub max_chunk_tokens: u64,
}

/// Token usage and provenance of model calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct LlmUsage {
    /// Model id used.
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
    /// Estimated cost in micro-dollars (configured prices × tokens).
    #[serde(default)]
    pub cost_microusd: u64,
}

/// Input of `SummarizeChunk`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummarizeChunkInput {
    /// The paper's id.
    pub paper_id: String,
    /// The paper's title, for context.
    pub title: String,
    /// The chunk.
    pub chunk: ChunkRef,
    /// How many chunks the paper has.
    pub chunk_count: u32,
    /// Model; `None` for the worker's default.
    pub model: Option<String>,
}

/// A chunk whose summary failed for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkFailure {
    /// Index of the chunk.
    pub index: u32,
    /// Why, as the last attempt reported it.
    pub reason: String,
}

/// A chunk's summary, by reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryRef {
    /// Index of the chunk summarised.
    pub index: u32,
    /// The attempt that succeeded (1 for the first).
    #[serde(default)]
    pub attempt: u32,
    /// The summary text.
    pub summary: BlobRef,
    /// What it cost.
    pub usage: LlmUsage,
}

/// Input of `RecommendDataset`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecommendDatasetInput {
    /// The paper.
    pub paper: PaperRef,
    /// Model for the question when patterns do not settle it; `None` for the worker's default.
    pub model: Option<String>,
}

/// A dataset the paper mentions, and how often.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetMention {
    /// The dataset's name as papers write it.
    pub name: String,
    /// Its id in the catalogue, when the catalogue has it.
    pub catalogue_id: Option<String>,
    /// Mentions in the paper.
    pub count: u32,
}

/// What `RecommendDataset` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetChoice {
    /// A catalogue id (`cifar10`, …, `synthetic`).
    pub dataset: String,
    /// `pattern` (named in the paper), `model` (chosen by the model) or `fallback`.
    pub source: String,
    /// Why.
    pub reasons: Vec<String>,
    /// Datasets the paper mentions, most mentioned first (at most 10).
    pub mentions: Vec<DatasetMention>,
    /// What asking the model cost (zero when patterns decided).
    pub usage: LlmUsage,
}

/// Input of `GenerateCode`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateCodeInput {
    /// The paper's id.
    pub paper_id: String,
    /// The paper's title.
    pub title: String,
    /// Chunk summaries in paper order.
    pub summaries: Vec<BlobRef>,
    /// `cpu`, `cuda` or `trainium`.
    pub target: String,
    /// Model; `None` for the worker's default.
    pub model: Option<String>,
    /// The dataset to train on (a catalogue id).
    #[serde(default)]
    pub dataset: Option<String>,
}

/// Code, by reference, with what it cost to produce.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeRef {
    /// The Python source.
    pub code: BlobRef,
    /// What it cost.
    pub usage: LlmUsage,
}

/// One finding of a static check or review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable rule id, e.g. `syntax-error`.
    pub rule: String,
    /// `error` blocks; `warning` and `info` do not.
    pub severity: String,
    /// 1-based line, 0 when not tied to a line.
    pub line: u32,
    /// What is wrong and what to do.
    pub message: String,
}

impl Finding {
    /// Whether this finding must be fixed before the code is accepted.
    pub fn is_blocking(&self) -> bool {
        self.severity == "error"
    }
}

/// Input of `CheckCode`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckCodeInput {
    /// The paper's id.
    pub paper_id: String,
    /// The code to check.
    pub code: BlobRef,
    /// `cpu`, `cuda` or `trainium`.
    pub target: String,
    /// The dataset the code must train on (or the synthetic fallback); none: not checked.
    #[serde(default)]
    pub dataset: Option<String>,
}

/// What `CheckCode` returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CheckReport {
    /// Findings, most severe first (at most 100 kept).
    pub findings: Vec<Finding>,
}

impl CheckReport {
    /// Whether any finding blocks.
    pub fn is_blocking(&self) -> bool {
        self.findings.iter().any(Finding::is_blocking)
    }
}

/// Input of `ReviewCode`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewCodeInput {
    /// The paper's id.
    pub paper_id: String,
    /// The paper's title.
    pub title: String,
    /// The code to review.
    pub code: BlobRef,
    /// The static findings, for the reviewer to confirm or add to.
    pub check: CheckReport,
    /// `cpu`, `cuda` or `trainium`.
    pub target: String,
    /// Model; `None` for the worker's default.
    pub model: Option<String>,
    /// Round number, from 1.
    pub round: u32,
}

/// What `ReviewCode` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewRef {
    /// The whole review, as JSON.
    pub review: BlobRef,
    /// The reviewer's findings.
    pub findings: Vec<Finding>,
    /// What it cost.
    pub usage: LlmUsage,
}

/// Input of `FixCode`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixCodeInput {
    /// The paper's id.
    pub paper_id: String,
    /// The code to fix.
    pub code: BlobRef,
    /// Findings to fix (static and review).
    pub findings: Vec<Finding>,
    /// `cpu`, `cuda` or `trainium`.
    pub target: String,
    /// Model; `None` for the worker's default.
    pub model: Option<String>,
    /// Round number, from 1.
    pub round: u32,
}

/// One review round as it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewRound {
    /// Round number, from 1.
    pub round: u32,
    /// Code reviewed in this round.
    pub code: BlobRef,
    /// Static findings on it.
    pub check: CheckReport,
    /// The model's review.
    pub review: Option<ReviewRef>,
    /// The fixed code, when a fix was made.
    pub fixed: Option<CodeRef>,
}

/// When a stage started and ended, in milliseconds since the Unix epoch of workflow time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageTiming {
    /// The stage.
    pub stage: String,
    /// Start, workflow time.
    pub started_ms: u64,
    /// End, workflow time.
    pub ended_ms: u64,
}

/// Input of `ProbeExecutor`: which target's executor is wanted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeExecutorInput {
    /// `cpu`, `cuda` or `trainium`.
    pub target: String,
}

/// What the executor that took a `ProbeExecutor` says of itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutorInfo {
    /// Its host name.
    pub host: String,
    /// The target it serves.
    pub target: String,
}

/// Input of `ExecuteCode`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecuteCodeInput {
    /// The paper's id.
    pub paper_id: String,
    /// The code to run.
    pub code: BlobRef,
    /// `cpu`, `cuda` or `trainium`.
    pub target: String,
    /// Wall-clock limit, seconds.
    pub timeout_secs: u64,
    /// Which run of this paper's code (from 1).
    pub attempt: u32,
}

/// A file the code left in `output/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactRef {
    /// File name.
    pub name: String,
    /// The file.
    pub blob: BlobRef,
}

/// What a run of the code did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionReport {
    /// Exit status, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
    /// `timeout` or `disk` when the sandbox killed it.
    pub killed: Option<String>,
    /// Wall time, ms.
    pub wall_ms: u64,
    /// CPU time, ms.
    pub cpu_ms: u64,
    /// Peak resident memory, KiB.
    pub peak_rss_kib: u64,
    /// The `METRICS:` lines (the last 50).
    pub metrics: Vec<serde_json::Value>,
    /// The whole (capped) stdout.
    pub stdout: BlobRef,
    /// The whole (capped) stderr.
    pub stderr: BlobRef,
    /// The end of stderr, for the diagnosis.
    pub stderr_tail: String,
    /// Files from `output/`.
    pub artifacts: Vec<ArtifactRef>,
    /// `ok`, `code-error`, `resource:time|cpu|memory|processes|disk`, `environment`,
    /// `sandbox-violation`.
    pub classification: String,
    /// `bubblewrap`, or `none` when the run was not isolated.
    pub sandbox: String,
}

/// Input of `DiagnoseFailure`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnoseFailureInput {
    /// The paper's id.
    pub paper_id: String,
    /// The code that failed.
    pub code: BlobRef,
    /// How it failed.
    pub report: ExecutionReport,
    /// `cpu`, `cuda` or `trainium`.
    pub target: String,
    /// Model; `None` for the worker's default.
    pub model: Option<String>,
}

/// What `DiagnoseFailure` found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// `code`, `hyperparameters` or `system` (not fixable in the code).
    pub kind: String,
    /// One paragraph.
    pub summary: String,
    /// What to fix.
    pub findings: Vec<Finding>,
    /// What it cost.
    pub usage: LlmUsage,
}

/// One run of the code and what followed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRound {
    /// Run number, from 1.
    pub attempt: u32,
    /// The code run.
    pub code: BlobRef,
    /// What happened.
    pub report: ExecutionReport,
    /// The diagnosis, when the run failed and was diagnosed.
    pub diagnosis: Option<Diagnosis>,
    /// The fixed code, when a fix was made.
    pub fixed: Option<CodeRef>,
}

/// Input of `RecordResults`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordResultsInput {
    /// The paper.
    pub paper: PaperRef,
    /// The workflow id.
    pub workflow_id: String,
    /// The workflow run id, which names the results directory.
    pub run_id: String,
    /// `cpu`, `cuda` or `trainium`.
    pub target: String,
    /// Chunk summaries in order.
    pub summaries: Vec<SummaryRef>,
    /// Chunks whose summary failed.
    #[serde(default)]
    pub failed_chunks: Vec<ChunkFailure>,
    /// The dataset chosen.
    #[serde(default)]
    pub dataset: Option<DatasetChoice>,
    /// Code as first generated.
    pub generated: CodeRef,
    /// Final code.
    pub code: BlobRef,
    /// Static findings on the final code.
    pub final_check: CheckReport,
    /// Review rounds.
    pub rounds: Vec<ReviewRound>,
    /// Runs of the code and their repairs.
    #[serde(default)]
    pub executions: Vec<ExecutionRound>,
    /// Stage timings.
    pub timings: Vec<StageTiming>,
    /// `succeeded` or `succeeded-with-findings`.
    pub outcome: String,
}

/// What `RecordResults` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultsRef {
    /// The results directory (URI).
    pub dir: String,
    /// Files written, relative to `dir`.
    pub files: Vec<String>,
}

/// Answer of the `progress` query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Progress {
    /// Current stage (see [`crate::Stage`]).
    pub stage: String,
    /// Chunks planned.
    pub chunks_total: u32,
    /// Chunks summarised.
    pub chunks_done: u32,
    /// Chunks whose summary failed for good.
    #[serde(default)]
    pub chunks_failed: u32,
    /// Current review round (0 before review).
    pub review_round: u32,
    /// Current run of the code (0 before execution).
    #[serde(default)]
    pub execution_attempt: u32,
    /// Review rounds allowed.
    pub review_rounds: u32,
    /// Tokens in so far.
    pub input_tokens: u64,
    /// Tokens out so far.
    pub output_tokens: u64,
    /// Estimated cost so far, micro-dollars.
    #[serde(default)]
    pub cost_microusd: u64,
    /// In stage `waiting-for-executor`: the task queue no executor has taken the code from yet.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub waiting_on_queue: String,
}

/// What a user passes to `PaperBatch`: a selection (any of the fields; ids first) and how many
/// papers run at once. `{"paper_ids": ["a", "b"], "max_concurrent": 2}` is a complete input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct PaperBatchInput {
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

/// Where `IngestPapers` looks for papers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum FeedQuery {
    /// The arXiv API (Atom): categories (OR-ed), an optional submission date range
    /// (`YYYY-MM-DD`, inclusive), newest first.
    Arxiv {
        /// Categories such as `cs.LG`.
        categories: Vec<String>,
        /// First submission day.
        #[serde(default)]
        from: Option<String>,
        /// Last submission day.
        #[serde(default)]
        to: Option<String>,
        /// Instead of `from`/`to`: the last N days up to the fetch (what a daily schedule wants).
        #[serde(default)]
        days: Option<u32>,
        /// At most this many entries.
        #[serde(default = "default_feed_max")]
        max_results: u32,
    },
    /// The OpenReview API v2: the accepted papers of a venue and year.
    OpenReview {
        /// `ICLR`, `ICML` or `NeurIPS`.
        venue: String,
        /// The conference year.
        year: u32,
        /// At most this many entries.
        #[serde(default = "default_feed_max")]
        max_results: u32,
    },
}

fn default_feed_max() -> u32 {
    50
}

/// One paper announced by a feed, as the feed described it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct FeedEntry {
    /// `arxiv` or `openreview`.
    pub source: String,
    /// The source's id (`2411.01234v1`, an OpenReview note id); empty when the entry had none.
    pub source_id: String,
    /// Title, whitespace collapsed.
    pub title: String,
    /// Abstract, whitespace collapsed.
    pub abstract_text: String,
    /// Author names.
    pub authors: Vec<String>,
    /// Categories or keywords.
    pub categories: Vec<String>,
    /// Publication (or submission) time, RFC 3339, when the feed gave one.
    pub published: Option<String>,
    /// Where the PDF is.
    pub pdf_url: Option<String>,
    /// Venue line (`ICLR 2024 poster`) or the arXiv journal reference.
    pub venue: Option<String>,
    /// Set when the entry is unusable (no id, no title, no PDF link): why, for the report.
    pub problem: Option<String>,
}

/// An entry of a fetched feed, its details in a blob.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedItemRef {
    /// `arxiv:<id>` or `openreview:<id>` (or `<source>:entry-<n>` for an entry without an id).
    pub key: String,
    /// The title, at most 200 characters (for progress and reports).
    pub title: String,
    /// The whole [`FeedEntry`] as JSON.
    pub entry: BlobRef,
    /// Set when the entry is unusable: why.
    pub problem: Option<String>,
}

/// The judge's verdict on a paper: relevance and novelty against the configured profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Judgement {
    /// True when both scores reach the profile's thresholds: the paper is indexed for generation.
    pub pass: bool,
    /// How relevant to the profile, 0–10.
    pub relevance: u8,
    /// How novel, 0–10.
    pub novelty: u8,
    /// The model's reasons.
    pub reasons: Vec<String>,
    /// The model that judged.
    pub model: String,
    /// Short hash of the profile and thresholds judged against.
    pub profile: String,
    /// True when the answer came from the Bedrock stand-in (a template, not a judgement).
    #[serde(default)]
    pub standin: bool,
    /// Tokens and cost of the call (zero when served from the answer cache).
    #[serde(default)]
    pub usage: LlmUsage,
}

/// What a user passes to `IngestPapers`: feeds to read, and what to do with what they bring.
/// `{"feeds": [{"kind": "arxiv", "categories": ["cs.LG"], "days": 1}]}` is a complete input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct IngestPapersInput {
    /// The feeds.
    pub feeds: Vec<FeedQuery>,
    /// Ask the judge about new papers (default true); without it every new paper is indexed.
    pub judge: Option<bool>,
    /// Papers downloaded and judged at once. Default 4.
    pub max_concurrent: Option<u32>,
    /// When set, a `PaperBatch` (this input, with `paper_ids` set to the newly indexed papers) is
    /// started as a child that outlives the ingestion.
    pub batch: Option<PaperBatchInput>,
    /// Entries one run handles before it continues as new. Default 500.
    pub entries_per_run: Option<u32>,
    /// Set by continue-as-new: entries still to ingest, the summary and the papers indexed so far.
    pub carried: Option<IngestCarry>,
}

/// What an ingestion carries into its next run (continue-as-new).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct IngestCarry {
    /// Entries not ingested yet.
    pub remaining: Vec<FeedItemRef>,
    /// The summary so far.
    pub summary: IngestSummary,
    /// Papers indexed so far (for the batch).
    pub indexed: Vec<String>,
}

/// Input of `FetchFeed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FetchFeedInput {
    /// The feed.
    pub feed: FeedQuery,
}

/// Input of `DownloadPaper`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DownloadPaperInput {
    /// The feed entry.
    pub item: FeedItemRef,
}

/// What `DownloadPaper` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DownloadedPaper {
    /// The stored paper.
    pub paper: PaperRef,
    /// False when the same PDF was stored before.
    pub new: bool,
    /// Its stage now (`ingested` when new and not judged yet).
    pub stage: String,
}

/// Input of `JudgePaper`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgePaperInput {
    /// The paper.
    pub paper: PaperRef,
    /// Its feed entry (title, abstract, categories).
    pub entry: BlobRef,
}

/// Input of `RecordJudgement`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordJudgementInput {
    /// The paper.
    pub paper_id: String,
    /// The verdict; `None` when ingestion runs without the judge (the paper is indexed).
    pub judgement: Option<Judgement>,
}

/// The outcome of one feed entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestItem {
    /// `arxiv:<id>` or `openreview:<id>`.
    pub key: String,
    /// The stored paper, when it got that far.
    pub paper_id: Option<String>,
    /// `indexed`, `rejected`, `already-stored (<stage>)`, or `failed: <reason>`.
    pub outcome: String,
}

/// What `IngestPapers` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct IngestSummary {
    /// Entries the feeds returned.
    pub entries: u32,
    /// Papers stored for the first time.
    pub new_papers: u32,
    /// Papers the judge passed (or all new ones without the judge).
    pub indexed: u32,
    /// Papers the judge turned down (kept, not selectable).
    pub rejected: u32,
    /// Entries whose PDF was stored before.
    pub already_stored: u32,
    /// Entries that failed, by reason.
    pub failed: std::collections::BTreeMap<String, u32>,
    /// Tokens the judge used.
    pub input_tokens: u64,
    /// Tokens out.
    pub output_tokens: u64,
    /// True when a judgement came from the Bedrock stand-in (a template).
    pub standin: bool,
    /// The batch started for the indexed papers, if any.
    pub batch_workflow_id: Option<String>,
    /// Per entry (the first 1,000).
    pub items: Vec<IngestItem>,
}
