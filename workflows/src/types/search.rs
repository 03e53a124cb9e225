//! The hyperparameter search: `SearchHyperparameters` (a child of `PaperToCode`), its trials,
//! and the `SuggestTrials` and `RecordSearch` activities.

#[allow(unused_imports)]
use super::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Hyperparameters: name → value (a number, a string, a boolean).
pub type Hyperparameters = BTreeMap<String, serde_json::Value>;

/// Whether a larger or a smaller metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Larger is better (accuracy).
    #[default]
    Maximize,
    /// Smaller is better (loss).
    Minimize,
}

impl Direction {
    /// Optuna's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Maximize => "maximize",
            Direction::Minimize => "minimize",
        }
    }

    /// Whether `a` is better than `b`.
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            Direction::Maximize => a > b,
            Direction::Minimize => a < b,
        }
    }
}

/// What a search does: `{"trials": 6, "parallel": 2, "metric": "val_accuracy", "direction":
/// "maximize", "seed": 0}` (every field optional).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchSpec {
    /// Trials in all (1 to [`SearchSpec::MAX_TRIALS`]).
    pub trials: u32,
    /// Trials at once (1 to [`SearchSpec::MAX_PARALLEL`], at most `trials`).
    pub parallel: u32,
    /// The metric the optimiser follows: a key of the metrics `train_model` returns (the last
    /// value of a list).
    pub metric: String,
    /// Whether larger or smaller is better.
    pub direction: Direction,
    /// The optimiser's seed: the same seed and the same results give the same suggestions.
    pub seed: u64,
}

impl Default for SearchSpec {
    fn default() -> Self {
        Self {
            trials: 6,
            parallel: 2,
            metric: "val_accuracy".into(),
            direction: Direction::Maximize,
            seed: 0,
        }
    }
}

impl SearchSpec {
    /// Most trials in one search (its history stays far below Temporal's limits, so no
    /// continue-as-new is needed).
    pub const MAX_TRIALS: u32 = 100;
    /// Most trials at once.
    pub const MAX_PARALLEL: u32 = 16;

    /// The problem with this spec, naming the field (`search.trials`, …).
    pub fn problem(&self) -> Option<String> {
        if !(1..=Self::MAX_TRIALS).contains(&self.trials) {
            return Some(format!(
                "search.trials must be 1 to {}; got {}",
                Self::MAX_TRIALS,
                self.trials
            ));
        }
        if !(1..=Self::MAX_PARALLEL).contains(&self.parallel) {
            return Some(format!(
                "search.parallel must be 1 to {}; got {}",
                Self::MAX_PARALLEL,
                self.parallel
            ));
        }
        let ok_name = !self.metric.is_empty()
            && self.metric.len() <= 64
            && self
                .metric
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok_name {
            return Some(format!(
                "search.metric must be a metrics key (letters, digits, _; at most 64); got {:?}",
                self.metric.chars().take(80).collect::<String>()
            ));
        }
        None
    }
}

/// Input of `SearchHyperparameters`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct SearchHyperparametersInput {
    /// Set when the JSON given was not this input: what is wrong and where; the workflow then
    /// fails at once with `InvalidInput` (see `lenient.rs`). Never serialized.
    #[serde(skip)]
    pub invalid_input: Option<String>,
    /// The paper's id.
    pub paper_id: String,
    /// Where the search's files go: `<results dir>/search/` (`<paper-id>/<run-id>`).
    pub results_dir: String,
    /// The repository (a `RepoBundle` blob) whose `train.py` follows the training contract;
    /// none: `code` alone, as a one-file repository (no `config.yaml`, so no search space).
    #[serde(default)]
    pub repository: Option<BlobRef>,
    /// Its entry file, for diagnosis.
    pub code: BlobRef,
    /// `cpu`, `cuda` or `trainium`: trials run on `annapurna-exec-<target>`.
    pub target: String,
    /// The search.
    pub search: SearchSpec,
    /// The model-size budget every trial is held to.
    #[serde(default)]
    pub budget: ModelBudget,
    /// Wall-clock limit of one trial, seconds.
    pub timeout_secs: u64,
    /// Heartbeat timeout of a trial, seconds: a killed executor's trial is retried after it.
    pub heartbeat_secs: u64,
}

impl Default for SearchHyperparametersInput {
    fn default() -> Self {
        let none = BlobRef {
            uri: String::new(),
            sha256: String::new(),
            bytes: 0,
        };
        Self {
            invalid_input: None,
            paper_id: String::new(),
            results_dir: String::new(),
            repository: None,
            code: none,
            target: "cpu".into(),
            search: SearchSpec::default(),
            budget: ModelBudget::default(),
            timeout_secs: 900,
            heartbeat_secs: 30,
        }
    }
}

lenient_input!(SearchHyperparametersInput, "SearchHyperparameters");

/// How a trial ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrialStatus {
    /// Trained, within budget, the metric reported.
    Ok,
    /// Failed: told to the optimiser as failed.
    Failed,
}

/// One trial, as recorded in `search/trials/trial-<n>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    /// Its number, from 1.
    pub number: u32,
    /// The hyperparameters the optimiser suggested.
    pub suggested: Hyperparameters,
    /// The hyperparameters it ran with last (after any shrinking for the budget).
    pub hyperparameters: Hyperparameters,
    /// `ok` or `failed`.
    pub status: TrialStatus,
    /// The search's metric, when it was reported.
    pub value: Option<f64>,
    /// The metrics `train_model` returned (validated by the harness).
    pub metrics: serde_json::Map<String, serde_json::Value>,
    /// How the last run was classified.
    pub classification: Classification,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Wall seconds of its runs (the sandbox's measure), shrink reruns included.
    pub seconds: f64,
    /// Seconds inside `train_model` of the last run (the harness's measure).
    pub train_seconds: f64,
    /// The model's size, when one came back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<ModelSize>,
    /// Runs of this trial (ExecuteCode completions): more than 1 when it was shrunk to fit the
    /// budget.
    pub runs: u32,
    /// The hyperparameter fixes made (each a shrink of the size-like hyperparameters).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fixes: Vec<String>,
    /// Milliseconds the optimiser took to suggest it (0 for trial 1, the defaults).
    #[serde(default)]
    pub suggest_ms: u64,
}

/// What `SearchHyperparameters` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchOutput {
    /// Every trial, by number.
    pub trials: Vec<TrialRecord>,
    /// The best trial's number (none when no trial succeeded).
    pub best: Option<u32>,
    /// Its metric.
    pub best_value: Option<f64>,
    /// Best so far after each trial (by number): the search curve.
    pub curve: Vec<Option<f64>>,
    /// Where the files are (`<paper-id>/<run-id>/search`).
    pub dir: String,
}

/// The `progress` query of `SearchHyperparameters`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SearchProgress {
    /// Trials in all.
    pub trials: u32,
    /// Finished (ok or failed).
    pub done: u32,
    /// Running now.
    pub running: u32,
    /// Finished and failed.
    pub failed: u32,
    /// The metric followed.
    pub metric: String,
    /// The best trial so far.
    pub best_trial: Option<u32>,
    /// Its metric.
    pub best_value: Option<f64>,
}

/// A trial as the optimiser is told it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PastTrial {
    /// Its number.
    pub number: u32,
    /// Its hyperparameters.
    pub hyperparameters: Hyperparameters,
    /// `complete`, `running` or `failed`.
    pub state: String,
    /// The metric, when complete.
    pub value: Option<f64>,
}

/// Input of `SuggestTrials`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuggestTrialsInput {
    /// The repository: its `config.yaml` holds the search space (none: no space).
    #[serde(default)]
    pub repository: Option<BlobRef>,
    /// Whether larger or smaller is better.
    pub direction: Direction,
    /// The search's seed.
    pub seed: u64,
    /// The number of the first trial to suggest (mixed into the sampler's seed, so that two
    /// calls over the same history never draw the same values).
    pub first_number: u32,
    /// How many suggestions.
    pub count: u32,
    /// Every trial so far (finished and running).
    pub trials: Vec<PastTrial>,
}

/// One hyperparameter of the search space, as `config.yaml` declares it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpaceParam {
    /// Its name.
    pub name: String,
    /// `float`, `int` or `categorical`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Lowest value (float and int).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low: Option<f64>,
    /// Highest value (float and int).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high: Option<f64>,
    /// On a log scale.
    #[serde(default)]
    pub log: bool,
    /// The choices (categorical).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<serde_json::Value>,
}

/// What `SuggestTrials` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestions {
    /// The search space.
    pub space: Vec<SpaceParam>,
    /// `count` suggestions.
    pub suggestions: Vec<Hyperparameters>,
    /// Milliseconds the optimiser took (the process, start to end).
    pub millis: u64,
}

/// Input of `RecordSearch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordSearchInput {
    /// Where to write (`<paper-id>/<run-id>/search`).
    pub dir: String,
    /// The search.
    pub search: SearchSpec,
    /// The budget.
    pub budget: ModelBudget,
    /// The search space.
    pub space: Vec<SpaceParam>,
    /// The trials so far.
    pub trials: Vec<TrialRecord>,
    /// The best trial.
    pub best: Option<u32>,
    /// The curve.
    pub curve: Vec<Option<f64>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_names_its_bad_field() {
        assert_eq!(SearchSpec::default().problem(), None);
        let spec: SearchSpec = serde_json::from_str(r#"{"trials": 0}"#).unwrap();
        assert!(spec.problem().unwrap().starts_with("search.trials"));
        let spec: SearchSpec = serde_json::from_str(r#"{"trials": 1000}"#).unwrap();
        assert!(spec.problem().unwrap().starts_with("search.trials"));
        let spec: SearchSpec = serde_json::from_str(r#"{"parallel": 99}"#).unwrap();
        assert!(spec.problem().unwrap().starts_with("search.parallel"));
        let spec: SearchSpec = serde_json::from_str(r#"{"metric": "a b; rm"}"#).unwrap();
        assert!(spec.problem().unwrap().starts_with("search.metric"));
        assert!(serde_json::from_str::<SearchSpec>(r#"{"direction": "up"}"#).is_err());
    }

    #[test]
    fn a_search_input_that_is_not_one_names_the_field() {
        let bad: SearchHyperparametersInput =
            serde_json::from_str(r#"{"paper_id": "p", "search": {"trials": "six"}}"#).unwrap();
        let why = bad.invalid_input.unwrap();
        assert!(why.contains("search.trials"), "{why}");
    }
}
