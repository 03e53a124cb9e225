//! `PaperToCode`'s input, output and progress, and the inputs and outputs of its activities up
//! to review (load, chunks, summaries, dataset, code, checks, review, results).

#[allow(unused_imports)]
use super::*;
use serde::{Deserialize, Serialize};

/// What a user passes to `PaperToCode`. Only one of `paper_id` or `source` is needed; every other
/// field has a default, so `{"paper_id": "…"}` is a complete input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, remote = "Self")]
pub struct PaperToCodeInput {
    /// Set when the JSON given was not this input: what is wrong and where; the workflow then
    /// fails at once with `InvalidInput` (see `lenient.rs`). Never serialized.
    #[serde(skip)]
    pub invalid_input: Option<String>,
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
    /// A model per role, overriding `summary_model` / `code_model` and the worker's defaults:
    /// role (`summary`, `dataset`, `code`, `review`, `fix`, `diagnose`) → `provider/model`
    /// (`{"code": "openai/gpt-5"}`); a bare model id is Bedrock's.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub models: std::collections::BTreeMap<String, String>,
    /// Largest chunk, in estimated tokens; the worker's default when absent.
    pub max_chunk_tokens: Option<u64>,
    /// How many chunk summaries run at once (lanes). Default: all of them, the worker's rate
    /// limiter being the bound (4 in runs started before that patch).
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
    /// Chunk summaries made beforehand: a JSON blob of `PresummarizedChunk`s, which `PaperBatch`
    /// sets from its Bedrock batch inference job (`llm_mode: "batch"`). The map phase uses those
    /// whose chunk (index and text) is in the paper's plan and summarises the rest on demand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summaries: Option<BlobRef>,
    /// Plan a repository (files, `config.yaml`, entry point `train.py`) and write it file by
    /// file (default true); `false` writes one `code.py` as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<bool>,
    /// Wait in stage `awaiting-approval` for the `approve_plan` signal (optionally with edits)
    /// or `reject_plan` before writing the files. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approve_plan: Option<bool>,
    /// Before planning, find the stored papers closest to this one (full-text search on its
    /// method's terms) and have the summary model say what they suggest for the architecture and
    /// hyperparameters; the plan takes it in. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related_work: Option<bool>,
    /// How long the plan waits for approval before the paper fails with
    /// `PlanApprovalTimedOut`, seconds. Default 86400.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_timeout_secs: Option<u64>,
    /// Tune the hyperparameters after the code ran: `{"trials": 6, "parallel": 2, "metric":
    /// "val_accuracy", "direction": "maximize", "seed": 0}` (each optional), a
    /// `SearchHyperparameters` child over the training contract.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchSpec>,
    /// The model-size budget, MB at 32 bits per parameter: a trial over it is a hyperparameter
    /// fix (its size-like hyperparameters halved). Without `search`, one trial of the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_model_mb: Option<f64>,
    /// The parameter budget, as `max_model_mb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_params: Option<u64>,
}

impl PaperToCodeInput {
    /// Whether the reduce side plans a repository (default) rather than writing one file.
    pub fn planned_repository(&self) -> bool {
        self.repository.unwrap_or(true)
    }

    /// The model this input names for `role`: `models[role]`, else `summary_model` or
    /// `code_model`; `None` for the worker's configured one.
    pub fn model_for(&self, role: ModelRole) -> Option<String> {
        self.models.get(role.as_str()).cloned().or_else(|| {
            if role.uses_summary_model() {
                self.summary_model.clone()
            } else {
                self.code_model.clone()
            }
        })
    }

    /// Keys of `models` that name no role, sorted.
    pub fn unknown_roles(&self) -> Vec<String> {
        self.models
            .keys()
            .filter(|k| ModelRole::parse(k).is_none())
            .cloned()
            .collect()
    }

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
    /// Model usage and cost per role (`summary`, `code`, `review`, …), cached answers at $0.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub by_role: std::collections::BTreeMap<String, LlmUsage>,
}

/// Input of `LoadPaper`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadPaperInput {
    /// A stored paper's id.
    pub paper_id: Option<String>,
    /// Or a source to add.
    pub source: Option<String>,
}

/// Input of `PlanChunks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanChunksInput {
    /// The paper.
    pub paper: PaperRef,
    /// Largest chunk in estimated tokens; `None` for the worker's default.
    pub max_chunk_tokens: Option<u64>,
    /// The summary model the input names (its context bounds the chunks); `None` for the
    /// worker's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
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
    /// What part of the paper it is (`main`, `related-work` or `appendix`).
    #[serde(default)]
    pub kind: SectionKind,
}

/// What `PlanChunks` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkPlan {
    /// The chunks: the main text in paper order, then the appendices that fit their budget.
    pub chunks: Vec<ChunkRef>,
    /// The budget the plan was made for, in estimated tokens.
    pub max_chunk_tokens: u64,
    /// Parts of the paper not summarised, and why.
    #[serde(default)]
    pub skipped: Vec<SkippedPart>,
}

/// A part of a paper that `PlanChunks` left out of the summaries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedPart {
    /// Its heading.
    pub title: String,
    /// Its kind.
    pub kind: SectionKind,
    /// Characters left out.
    pub characters: u64,
    /// Why (`references are not summarised`, `over the appendix budget of N tokens`).
    pub reason: String,
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
    /// The paper context the code was written from (GenerateCode's): review, fix and diagnosis
    /// prompts open with it, so that the providers' prompt caches serve it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<BlobRef>,
}

/// One finding of a static check or review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable rule id, e.g. `syntax-error`.
    pub rule: String,
    /// `error` blocks; `warning` and `info` do not.
    pub severity: Severity,
    /// 1-based line, 0 when not tied to a line.
    pub line: u32,
    /// What is wrong and what to do.
    pub message: String,
    /// The repository file it is in; empty for single-file code.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file: String,
}

impl Finding {
    /// Whether this finding must be fixed before the code is accepted.
    pub fn is_blocking(&self) -> bool {
        self.severity == Severity::Error
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
    /// A planned repository (a `RepoBundle` blob): every file is checked, and the repository as
    /// a whole (imports between files, the run contract); `code` is then its entry point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<BlobRef>,
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
    /// The paper context to open the prompt with (GenerateCode's), cached by the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<BlobRef>,
    /// When the code is one file of a planned repository: which, the plan and the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<RepoFileContext>,
}

/// A file of a planned repository, for its review or fix: the plan, the paper's passages it was
/// written from, and the other files (their interfaces go into the prompt).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepoFileContext {
    /// The file's path.
    pub path: String,
    /// The plan.
    pub plan: BlobRef,
    /// The paper's passages the file was written from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grounding: Option<BlobRef>,
    /// The repository's other files.
    #[serde(default)]
    pub others: Vec<RepoFile>,
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
    /// The paper context to open the prompt with (GenerateCode's), cached by the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<BlobRef>,
    /// When the code is one file of a planned repository: which, the plan and the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<RepoFileContext>,
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
    /// The repository file reviewed; empty for single-file code.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file: String,
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
    /// The planned repository, when one was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<RepositoryRecord>,
}

/// What RecordResults keeps of a planned repository.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepositoryRecord {
    /// The final bundle.
    pub bundle: BlobRef,
    /// The plan.
    pub plan: BlobRef,
    /// Each file's passages of the paper (its grounding), by path.
    pub grounding: Vec<RepoFile>,
    /// What writing it cost, by step: `PlanRepository`, then `GenerateFile <path>` per file.
    #[serde(default)]
    pub usage: Vec<(String, LlmUsage)>,
    /// The related papers found and what they suggest, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related_work: Option<RelatedWorkRef>,
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
    /// Model usage and cost per role (`summary`, `code`, `review`, …), cached answers at $0.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub by_role: std::collections::BTreeMap<String, LlmUsage>,
    /// Files of the planned repository.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub files_total: u32,
    /// Files written so far.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub files_done: u32,
    /// Why the last `approve_plan` edits were refused (the plan still waits).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub plan_problem: String,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

lenient_input!(PaperToCodeInput, "PaperToCode");
