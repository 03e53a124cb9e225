//! Running code on an executor: `ProbeExecutor`, `ExecuteCode`, `DiagnoseFailure`, and the rounds
//! of the repair loop.

#[allow(unused_imports)]
use super::*;
use serde::{Deserialize, Serialize};

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
    /// The Python environment: none for the execution venv, `eval` for the evaluation venv
    /// (`annapurna eval env`) when the executor has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
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
    pub classification: Classification,
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
    /// The paper context to open the prompt with (GenerateCode's), cached by the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<BlobRef>,
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
