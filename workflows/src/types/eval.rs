//! `EvaluateSuite`: tasks of the ResearchCodeBench format, one answer and one sandboxed test run
//! per snippet, and the scores.

#[allow(unused_imports)]
use super::*;
use serde::{Deserialize, Serialize};

pinned_enum! {
    /// Where a snippet's answer comes from.
    AnswerMode {
        /// The code model, from the paper's summaries, the paper's matching passages and the rest
        /// of the file.
        Model = "model",
        /// The original snippet put back: the harness's own test (must score 1.0).
        Oracle = "oracle",
        /// The TODO left in place (must score near 0).
        Empty = "empty",
    }
}

pinned_enum! {
    /// Whether a task counts in the score.
    TaskStatus {
        /// Its reference passes its test: its snippets are scored.
        Scored = "scored",
        /// Its own reference fails, its imports are missing here, or the folder does not parse:
        /// not scored, never counted as a failure of the model.
        Broken = "broken",
    }
}

/// A task folder as the command line stored it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalTaskSource {
    /// The task's name (its folder's).
    pub name: String,
    /// The folder's files as one blob (a JSON bundle).
    pub bundle: BlobRef,
}

/// Input of `EvaluateSuite`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct EvaluateSuiteInput {
    /// The suite run's name: results go to `results/eval/<suite_run>/`.
    pub suite_run: String,
    /// The tasks.
    pub tasks: Vec<EvalTaskSource>,
    /// Where answers come from; `None` for the model.
    pub mode: Option<AnswerMode>,
    /// The code model; `None` for the worker's default.
    pub code_model: Option<String>,
    /// The summary model; `None` for the worker's default.
    pub summary_model: Option<String>,
    /// The executor target of the test runs; `None` for `cpu`.
    pub target: Option<String>,
    /// Snippets answered and tested at once (lanes); `None` for 4.
    pub max_concurrent: Option<u32>,
    /// Snippets one run of the workflow handles before it continues as new; `None` for 100.
    pub snippets_per_run: Option<u32>,
    /// The state a suite passes to itself when it continues as new (refused from a caller).
    pub carried: Option<EvalCarry>,
}

impl EvaluateSuiteInput {
    /// The answer mode.
    pub fn mode(&self) -> AnswerMode {
        self.mode.unwrap_or(AnswerMode::Model)
    }
}

/// One snippet of a task: a challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvalSnippet {
    /// The file, relative to the task folder.
    pub file: String,
    /// The tag's name.
    pub name: String,
    /// Lines of code (its weight).
    pub lines: u32,
    /// How many snippets enclose it.
    pub depth: u32,
}

/// What `PrepareEvalTask` made of a task folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalTask {
    /// The task's name.
    pub name: String,
    /// The folder's bundle.
    pub bundle: BlobRef,
    /// The program that runs the test on an unchanged copy (the reference in place).
    pub reference_program: BlobRef,
    /// The test's timeout, seconds.
    pub timeout_secs: u64,
    /// The snippets; empty when the folder does not parse.
    pub snippets: Vec<EvalSnippet>,
    /// Why the folder cannot be evaluated (a tag error naming file and line), when it cannot.
    pub problem: Option<String>,
    /// The stored paper (model mode only).
    pub paper: Option<PaperRef>,
}

/// Input of `PrepareEvalTask`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrepareEvalTaskInput {
    /// The suite run.
    pub suite_run: String,
    /// The task.
    pub task: EvalTaskSource,
    /// Store the paper in the paper store (the model needs it; oracle and empty runs do not).
    pub store_paper: bool,
}

/// Input of `AnswerSnippet`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerSnippetInput {
    /// The suite run.
    pub suite_run: String,
    /// The task's name.
    pub task: String,
    /// The task folder's bundle.
    pub bundle: BlobRef,
    /// The test entry point's timeout is the task's; this is only for the label.
    pub snippet: EvalSnippet,
    /// Where the answer comes from.
    pub mode: AnswerMode,
    /// The paper's chunk summaries, in paper order (model mode).
    #[serde(default)]
    pub summaries: Vec<BlobRef>,
    /// The paper's chunks (model mode: the passages whose words best match the code around the
    /// snippet go to the model).
    #[serde(default)]
    pub chunks: Vec<ChunkRef>,
    /// The paper's title.
    #[serde(default)]
    pub title: String,
    /// The code model; `None` for the worker's default.
    pub model: Option<String>,
}

/// What `AnswerSnippet` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnippetAnswer {
    /// The answer (the snippet's lines).
    pub answer: BlobRef,
    /// The program that runs the task's test on a copy of the folder with the answer in place.
    pub program: BlobRef,
    /// What the model call cost (nothing for oracle and empty answers).
    pub usage: LlmUsage,
}

/// One snippet's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnippetResult {
    /// The task.
    pub task: String,
    /// The file.
    pub file: String,
    /// The snippet's name.
    pub name: String,
    /// Its weight, lines of code.
    pub lines: u32,
    /// The test passed.
    pub passed: bool,
    /// `ok`, `test-failed`, `import-error`, `syntax-error`, `resource:time`, …, or
    /// `not-run: <why>`.
    pub reason: String,
    /// The last line of the test's stderr, when it failed.
    #[serde(default)]
    pub detail: String,
    /// The test ran without an import or syntax error.
    pub executable: bool,
    /// Tokens in.
    pub input_tokens: u64,
    /// Tokens out.
    pub output_tokens: u64,
    /// Estimated cost, micro-dollars.
    pub cost_microusd: u64,
    /// Seconds to answer and test it (model latency plus the run's wall time).
    pub seconds: f64,
    /// The answer came from the Bedrock stand-in (a template, not a model).
    pub standin: bool,
}

/// A task's score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskScore {
    /// The task.
    pub task: String,
    /// `scored` or `broken`.
    pub status: TaskStatus,
    /// Why it is broken (the missing package named), or empty.
    pub reason: String,
    /// pass@1 weighted by lines (0 for a broken task).
    pub score: f64,
    /// pass@1 per snippet.
    pub score_unweighted: f64,
    /// Snippets.
    pub snippets: u32,
    /// Snippets passed.
    pub passed: u32,
    /// Lines of code over its snippets.
    pub lines: u64,
    /// Lines of the snippets that passed.
    pub passed_lines: u64,
    /// Share of its snippets whose test ran without an import or syntax error.
    pub executability: f64,
    /// Estimated cost, USD (the paper's summaries included).
    pub cost_usd: f64,
}

/// The suite's score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SuiteScore {
    /// pass@1 weighted by lines over the scored tasks.
    pub score: f64,
    /// pass@1 per snippet over the scored tasks.
    pub score_unweighted: f64,
    /// Snippets of scored tasks.
    pub snippets: u32,
    /// Snippets passed.
    pub passed: u32,
    /// Share of snippets whose test ran without an import or syntax error.
    pub executability: f64,
    /// Estimated cost, USD.
    pub cost_usd: f64,
    /// Some answer came from the Bedrock stand-in: the score is a template score.
    pub standin: bool,
    /// Per task.
    pub tasks: Vec<TaskScore>,
}

/// A task's reference run and the paper's summaries, as the suite keeps them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalTaskState {
    /// The task.
    pub task: EvalTask,
    /// `scored` or `broken`.
    pub status: TaskStatus,
    /// Why it is broken.
    pub reason: String,
    /// Chunk summaries (model mode).
    #[serde(default)]
    pub summaries: Vec<BlobRef>,
    /// Chunks (model mode).
    #[serde(default)]
    pub chunks: Vec<ChunkRef>,
    /// What summarising its paper cost, micro-dollars.
    #[serde(default)]
    pub summary_cost_microusd: u64,
}

/// What a suite passes to itself when it continues as new.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalCarry {
    /// The tasks, prepared, with their reference verdicts.
    pub tasks: Vec<EvalTaskState>,
    /// Snippets still to do: (task index, snippet index).
    pub remaining: Vec<(u32, u32)>,
    /// Snippets done.
    pub results: Vec<SnippetResult>,
    /// The suite's progress so far.
    pub progress: EvalProgress,
}

/// A running suite's progress (the `progress` query).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct EvalProgress {
    /// `preparing`, `references`, `summarising`, `snippets`, `recording`, `done`.
    pub stage: String,
    /// Tasks.
    pub tasks: u32,
    /// Broken tasks.
    pub broken: u32,
    /// Snippets to answer and test.
    pub snippets_total: u32,
    /// Snippets done.
    pub snippets_done: u32,
    /// Snippets passed.
    pub passed: u32,
    /// Estimated cost so far, micro-dollars.
    pub cost_microusd: u64,
    /// Some answer came from the stand-in.
    pub standin: bool,
}

/// Input of `RecordEval`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordEvalInput {
    /// The suite run.
    pub suite_run: String,
    /// The answer mode.
    pub mode: AnswerMode,
    /// The scores.
    pub score: SuiteScore,
    /// Every snippet.
    pub results: Vec<SnippetResult>,
}

/// What `EvaluateSuite` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluateSuiteOutput {
    /// The suite run.
    pub suite_run: String,
    /// The answer mode.
    pub mode: AnswerMode,
    /// The scores.
    pub score: SuiteScore,
    /// Every snippet.
    pub results: Vec<SnippetResult>,
    /// The results directory (`results/eval/<suite_run>/`).
    pub results_dir: String,
}

/// Input of `CompleteCode`: fill the blocks of a user's file from a stored paper.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CompleteCodeInput {
    /// The stored paper.
    pub paper_id: String,
    /// The file, as a one-file task bundle (its blocks tagged).
    pub bundle: Option<BlobRef>,
    /// The blocks to fill.
    pub blocks: Vec<EvalSnippet>,
    /// The code model; `None` for the worker's default.
    pub code_model: Option<String>,
    /// The summary model; `None` for the worker's default.
    pub summary_model: Option<String>,
}

/// One filled block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletedBlock {
    /// The block's name.
    pub name: String,
    /// The answer (the block's lines, at no particular indentation).
    pub answer: BlobRef,
}

/// What `CompleteCode` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CompleteCodeOutput {
    /// The paper.
    pub paper_id: String,
    /// Every block, in file order.
    pub blocks: Vec<CompletedBlock>,
    /// Tokens in, summaries included.
    pub input_tokens: u64,
    /// Tokens out.
    pub output_tokens: u64,
    /// Estimated cost, micro-dollars.
    pub cost_microusd: u64,
    /// Some answer came from the Bedrock stand-in (a template, not a model).
    pub standin: bool,
}
