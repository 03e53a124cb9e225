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
    /// A multi-file repository (a JSON [`RepoBundle`]): every file is written into the work
    /// directory and `entry` runs there; `code` is then the entry file as it is to run (when it
    /// differs from the bundle's, a repair of the entry, it replaces that file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<BlobRef>,
    /// Run the training contract through the executor's harness instead of the entry point:
    /// with these hyperparameters and this budget (see [`TrialSpec`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial: Option<TrialSpec>,
}

/// A generated repository as it travels (one blob of JSON): files by relative path, and the
/// entry point to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoBundle {
    /// The file to run, e.g. `train.py`; one of `files`.
    pub entry: String,
    /// Relative path (forward slashes) → content.
    pub files: std::collections::BTreeMap<String, String>,
}

impl RepoBundle {
    /// Most files in a repository.
    pub const MAX_FILES: usize = 64;
    /// Largest file, bytes.
    pub const MAX_FILE_BYTES: usize = 1 << 20;

    /// A repository of one file, which is its entry point.
    pub fn single(entry: &str, code: String) -> RepoBundle {
        RepoBundle {
            entry: entry.to_owned(),
            files: [(entry.to_owned(), code)].into_iter().collect(),
        }
    }

    /// Refuses what cannot be written safely into a work directory: too many or too large
    /// files, paths that are absolute, climb out (`..`), use backslashes or hidden components,
    /// or land in `output/` (the run's artifacts); an entry that is not one of the files or
    /// not a `.py` file. The message names the bad path.
    pub fn validate(&self) -> Result<(), String> {
        if self.files.is_empty() {
            return Err("the repository has no files".into());
        }
        if self.files.len() > Self::MAX_FILES {
            return Err(format!(
                "the repository has {} files; at most {} are allowed",
                self.files.len(),
                Self::MAX_FILES
            ));
        }
        for (path, text) in &self.files {
            check_repo_path(path)?;
            if text.len() > Self::MAX_FILE_BYTES {
                return Err(format!(
                    "file {path:?} is {} bytes; at most {} are allowed",
                    text.len(),
                    Self::MAX_FILE_BYTES
                ));
            }
        }
        // A file and a directory of the same name cannot both be written.
        for path in self.files.keys() {
            let mut prefix = String::new();
            for part in path.split('/') {
                if !prefix.is_empty() && self.files.contains_key(&prefix) {
                    return Err(format!("file {prefix:?} is also a directory of {path:?}"));
                }
                if !prefix.is_empty() {
                    prefix.push('/');
                }
                prefix.push_str(part);
            }
        }
        if !self.files.contains_key(&self.entry) {
            return Err(format!(
                "the entry point {:?} is not one of the repository's files",
                self.entry
            ));
        }
        if !self.entry.ends_with(".py") {
            return Err(format!(
                "the entry point {:?} is not a .py file",
                self.entry
            ));
        }
        Ok(())
    }
}

/// Whether `path` may be a repository file's path: relative, forward slashes, at most 200
/// characters, each component a plain name (no `.`/`..`, not hidden, no control characters),
/// not under `output/`.
pub fn check_repo_path(path: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("file path {path:?} {why}"));
    if path.is_empty() || path.len() > 200 {
        return bad("must have 1 to 200 characters");
    }
    if path.starts_with('/') || path.contains('\\') {
        return bad("must be relative, with forward slashes");
    }
    if path.chars().any(|c| c.is_control()) {
        return bad("holds a control character");
    }
    for part in path.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return bad("has an empty, `.` or `..` component");
        }
        if part.starts_with('.') {
            return bad("has a hidden component");
        }
    }
    if path == "output" || path.starts_with("output/") {
        return bad("is under output/, where the run's artifacts go");
    }
    Ok(())
}

/// A run of the training contract (the executor's harness): which trial, its hyperparameters
/// (over `config.yaml`'s defaults) and the model-size budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TrialSpec {
    /// The trial's number, from 1 (0: the contract run of the execution stage).
    pub number: u32,
    /// Name → value, over `config.yaml`'s `hyperparameters`.
    #[serde(default)]
    pub hyperparameters: std::collections::BTreeMap<String, serde_json::Value>,
    /// The model-size budget.
    #[serde(default)]
    pub budget: ModelBudget,
}

/// How large the trained model may be. The harness counts parameters and the storage size at
/// 8, 16 and 32 bits; the budget holds at `bits`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ModelBudget {
    /// Largest storage size, MB (10^6 bytes), at `bits` per parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_model_mb: Option<f64>,
    /// Most parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_params: Option<u64>,
    /// The width the size counts at: 8, 16 or 32 (none: 32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bits: Option<u8>,
    /// Apply post-training quantisation to `bits` (dynamic int8 for 8, half precision for 16)
    /// before measuring and reporting.
    #[serde(default)]
    pub quantize: bool,
}

impl ModelBudget {
    /// Whether any limit is set.
    pub fn is_set(&self) -> bool {
        self.max_model_mb.is_some() || self.max_params.is_some()
    }
}

/// The model's size, as the harness counted it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ModelSize {
    /// Parameters.
    pub params: u64,
    /// Storage at 8 bits per parameter, MB.
    pub mb_8: f64,
    /// At 16 bits, MB.
    pub mb_16: f64,
    /// At 32 bits, MB.
    pub mb_32: f64,
}

/// What the harness reported of a contract run (`output/trial.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TrialReport {
    /// `ok`, `contract` (the contract was broken: `error` says how) or `over-budget`.
    pub status: String,
    /// What went wrong, when something did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The hyperparameters the model was trained with (defaults and the trial's).
    #[serde(default)]
    pub hyperparameters: std::collections::BTreeMap<String, serde_json::Value>,
    /// The metrics `train_model` returned, validated (lists cut to their last 1,000 entries).
    #[serde(default)]
    pub metrics: serde_json::Map<String, serde_json::Value>,
    /// Seconds inside `train_model`.
    #[serde(default)]
    pub train_seconds: f64,
    /// Seconds of loading the data.
    #[serde(default)]
    pub data_seconds: f64,
    /// Seconds of the harness, from start to report.
    #[serde(default)]
    pub wall_seconds: f64,
    /// Peak resident memory of the process, MB.
    #[serde(default)]
    pub peak_memory_mb: f64,
    /// The model's size, when a model came back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<ModelSize>,
    /// The width the model was quantised to after training, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantized_bits: Option<u8>,
}

impl TrialReport {
    /// A number from the metrics: the value itself, or the last of a list.
    pub fn metric(&self, name: &str) -> Option<f64> {
        match self.metrics.get(name)? {
            serde_json::Value::Array(v) => v.last()?.as_f64(),
            v => v.as_f64(),
        }
    }
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
    /// What the harness reported, for a contract run (`ExecuteCodeInput.trial`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial: Option<TrialReport>,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(files: &[(&str, &str)], entry: &str) -> RepoBundle {
        RepoBundle {
            entry: entry.into(),
            files: files
                .iter()
                .map(|(p, t)| (p.to_string(), t.to_string()))
                .collect(),
        }
    }

    #[test]
    fn a_repository_is_validated_and_the_bad_path_named() {
        let ok = bundle(
            &[
                ("train.py", "import model"),
                ("pkg/model.py", ""),
                ("config.yaml", ""),
            ],
            "train.py",
        );
        assert_eq!(ok.validate(), Ok(()));
        for bad in [
            "../x.py",
            "/abs.py",
            "a//b.py",
            "a/./b.py",
            ".git/x",
            "output/x.py",
            "a\\b.py",
        ] {
            let err = bundle(&[("train.py", ""), (bad, "")], "train.py")
                .validate()
                .unwrap_err();
            assert!(err.contains(&format!("{bad:?}")), "{bad}: {err}");
        }
        let err = bundle(&[("train.py", "")], "main.py")
            .validate()
            .unwrap_err();
        assert!(err.contains("\"main.py\""), "{err}");
        let err = bundle(&[("a", ""), ("a/b.py", "")], "a/b.py")
            .validate()
            .unwrap_err();
        assert!(err.contains("also a directory"), "{err}");
        let big = "x".repeat(RepoBundle::MAX_FILE_BYTES + 1);
        let err = bundle(&[("train.py", &big)], "train.py")
            .validate()
            .unwrap_err();
        assert!(err.contains("\"train.py\""), "{err}");
        let many: Vec<(String, String)> = (0..=RepoBundle::MAX_FILES)
            .map(|i| (format!("m{i}.py"), String::new()))
            .collect();
        let mut too_many = bundle(&[], "m0.py");
        too_many.files = many.into_iter().collect();
        assert!(too_many.validate().unwrap_err().contains("at most 64"));
    }

    #[test]
    fn a_metric_is_the_value_or_the_last_of_its_list() {
        let report: TrialReport = serde_json::from_str(
            r#"{"status": "ok", "metrics": {"val_accuracy": [0.5, 0.75], "loss": 0.25}}"#,
        )
        .unwrap();
        assert_eq!(report.metric("val_accuracy"), Some(0.75));
        assert_eq!(report.metric("loss"), Some(0.25));
        assert_eq!(report.metric("missing"), None);
    }
}
