//! `SearchHyperparameters` (child of `PaperToCode`, workflow id `<parent id>/search`): tunes the
//! hyperparameters of a repository that follows the training contract.
//!
//! In `parallel` lanes, until `trials` trials have run: `SuggestTrials` (on
//! `annapurna-exec-<target>`, where the execution venv with Optuna is) turns the trials so far
//! into the next suggestion; `ExecuteCode` (same queue) runs the training harness with it; a run
//! over the model-size budget is a hyperparameter fix (the size-like hyperparameters halved, run
//! again, at most [`MAX_SHRINKS`] times); the first code failure of the search (an exception, a
//! broken contract) is a code fix: `FixCode` (`annapurna-llm`) repairs the entry file, which every
//! later trial runs, and the trial runs again; any other failure is recorded and told to the
//! optimiser as failed. Trial 1 runs `config.yaml`'s defaults (the paper's own values) as the baseline.
//! At the end `RecordSearch` (`annapurna`) writes `<paper>/<run>/search/`: a record per trial,
//! `best.json`, the search curve.
//!
//! Durability: a trial is one activity; an executor killed mid-trial makes the trial retry (after
//! the heartbeat timeout) while finished trials are history and never run again. Activity ids:
//! `suggest-<n>`, `trial-<n>`, `trial-<n>-shrink-<k>`, `record-search`. Query: `progress`.

use std::time::Duration;

use temporalio_common::RetryPolicy;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_workflow::{
    ActivityExecutionError, ActivityOptions, WorkflowContext, WorkflowContextView, WorkflowResult,
    join_all,
};

use crate::activities::{ExecActivities, LlmActivities, LocalActivities};
use crate::names::exec_task_queue;
use crate::types::*;

/// Trials and their fixes: 1 s to 10 s between attempts.
const SHORT_RETRY: crate::options::Retry = crate::options::Retry {
    initial: Duration::from_secs(1),
    maximum: Duration::from_secs(10),
    attempts: 1,
};

/// Reruns of one trial with shrunk hyperparameters before it is recorded as over the budget.
pub const MAX_SHRINKS: u32 = 3;

/// The search's state: its input, the trials finished and running, what `progress` shows.
#[workflow]
pub struct SearchHyperparameters {
    input: SearchHyperparametersInput,
    progress: SearchProgress,
    /// Finished trials.
    trials: Vec<TrialRecord>,
    /// Running trials and their hyperparameters (told to the optimiser as running).
    running: std::collections::BTreeMap<u32, Hyperparameters>,
    /// The next trial's number.
    next: u32,
    /// The search space, once `SuggestTrials` has read it.
    space: Vec<SpaceParam>,
    /// The entry file the trials run (FixCode's, once it has repaired it).
    code: BlobRef,
    /// Whether the search's one code fix has been made.
    code_fixed: bool,
}

#[workflow_methods]
impl SearchHyperparameters {
    /// Keeps the input.
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: SearchHyperparametersInput) -> Self {
        Self {
            code: input.code.clone(),
            progress: SearchProgress {
                trials: input.search.trials,
                metric: input.search.metric.clone(),
                ..SearchProgress::default()
            },
            input,
            trials: Vec::new(),
            running: Default::default(),
            next: 1,
            space: Vec::new(),
            code_fixed: false,
        }
    }

    /// Runs the trials in lanes, then records them.
    #[run(name = "SearchHyperparameters")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<SearchOutput> {
        let input = ctx.state(|s| s.input.clone());
        if let Some(problem) = input
            .invalid_input
            .as_ref()
            .or(input.search.problem().as_ref())
        {
            return Err(crate::paper_to_code::invalid_input(problem));
        }
        if Target::parse(&input.target).is_none() {
            return Err(crate::paper_to_code::invalid_input(&format!(
                "target {:?} is not one of cpu, cuda, trainium",
                input.target
            )));
        }
        show_details(ctx);
        let lanes = input.search.parallel.min(input.search.trials).max(1);
        let ctx_ref: &WorkflowContext<Self> = ctx;
        let results = join_all((0..lanes).map(|_| lane(ctx_ref, &input))).await;
        for r in results {
            r?;
        }
        let (mut trials, space) = ctx.state(|s| (s.trials.clone(), s.space.clone()));
        trials.sort_by_key(|t| t.number);
        let (best, best_value) = best_trial(&trials, input.search.direction);
        let curve = search_curve(&trials, input.search.direction);
        let dir = format!("{}/search", input.results_dir);
        ctx.execute_activity(
            LocalActivities::record_search,
            RecordSearchInput {
                dir: dir.clone(),
                search: input.search.clone(),
                budget: input.budget.clone(),
                space,
                trials: trials.clone(),
                best,
                curve: curve.clone(),
            },
            crate::options::activity(
                None,
                "record-search".into(),
                Duration::from_secs(120),
                crate::options::Retry::quick(5),
            ),
        )
        .await?;
        Ok(SearchOutput {
            trials,
            best,
            best_value,
            curve,
            dir,
        })
    }

    /// Trials done, running, failed; the best so far.
    #[query(name = "progress")]
    pub fn progress(&self, _ctx: &WorkflowContextView) -> SearchProgress {
        self.progress.clone()
    }
}

/// The Web UI's current details: trials done / running and the best so far.
fn show_details(ctx: &WorkflowContext<SearchHyperparameters>) {
    let line = ctx.state(|s| details(&s.progress));
    ctx.set_current_details(line);
}

/// The current details in words.
pub fn details(p: &SearchProgress) -> String {
    let best = match (p.best_trial, p.best_value) {
        (Some(n), Some(v)) => format!(" · best {} = {v:.4} (trial {n})", p.metric),
        _ => String::new(),
    };
    let failed = if p.failed > 0 {
        format!(", {} failed", p.failed)
    } else {
        String::new()
    };
    format!(
        "searching hyperparameters: {} of {} trials done, {} running{failed}{best}",
        p.done, p.trials, p.running
    )
}

/// One lane: takes the next trial number, asks for a suggestion, runs the trial, until all are
/// taken.
async fn lane(
    ctx: &WorkflowContext<SearchHyperparameters>,
    input: &SearchHyperparametersInput,
) -> Result<(), ActivityExecutionError> {
    let queue = exec_task_queue(&input.target);
    loop {
        let number = ctx.state_mut(|s| {
            (s.next <= s.input.search.trials).then(|| {
                s.next += 1;
                s.next - 1
            })
        });
        let Some(number) = number else {
            return Ok(());
        };
        // Trial 1 is the paper's defaults: the baseline every suggestion is compared with.
        let mut suggest_ms = 0;
        let suggested = if number == 1 {
            Hyperparameters::new()
        } else {
            let past = ctx.state(past_trials);
            let answer = ctx
                .execute_activity(
                    ExecActivities::suggest_trials,
                    SuggestTrialsInput {
                        repository: input.repository.clone(),
                        direction: input.search.direction,
                        seed: input.search.seed,
                        first_number: number,
                        count: 1,
                        trials: past,
                    },
                    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(120))
                        .activity_id(format!("suggest-{number}"))
                        .task_queue(queue.clone())
                        .retry_policy(
                            RetryPolicy::builder()
                                .initial_interval(Duration::from_secs(1))
                                .maximum_interval(Duration::from_secs(10))
                                .maximum_attempts(5)
                                .build(),
                        )
                        .build(),
                )
                .await?;
            ctx.state_mut(|s| {
                if s.space.is_empty() {
                    s.space = answer.space.clone();
                }
            });
            suggest_ms = answer.millis;
            answer.suggestions.into_iter().next().unwrap_or_default()
        };
        ctx.state_mut(|s| {
            s.running.insert(number, suggested.clone());
            s.progress.running = s.running.len() as u32;
        });
        show_details(ctx);
        let mut record = run_trial(ctx, input, number, suggested).await?;
        record.suggest_ms = suggest_ms;
        ctx.state_mut(|s| {
            s.running.remove(&number);
            s.progress.running = s.running.len() as u32;
            s.progress.done += 1;
            if record.status == TrialStatus::Failed {
                s.progress.failed += 1;
            }
            if let Some(v) = record.value
                && record.status == TrialStatus::Ok
                && s.progress
                    .best_value
                    .is_none_or(|b| s.input.search.direction.better(v, b))
            {
                s.progress.best_value = Some(v);
                s.progress.best_trial = Some(number);
            }
            s.trials.push(record);
        });
        show_details(ctx);
    }
}

/// The trials so far as the optimiser is told them: finished (complete with the metric, or
/// failed) and running.
fn past_trials(s: &SearchHyperparameters) -> Vec<PastTrial> {
    let mut past: Vec<PastTrial> = s
        .trials
        .iter()
        .map(|t| PastTrial {
            number: t.number,
            hyperparameters: t.hyperparameters.clone(),
            state: match t.status {
                TrialStatus::Ok => "complete".into(),
                TrialStatus::Failed => "failed".into(),
            },
            value: t.value,
        })
        .chain(s.running.iter().map(|(n, hp)| PastTrial {
            number: *n,
            hyperparameters: hp.clone(),
            state: "running".into(),
            value: None,
        }))
        .collect();
    past.sort_by_key(|t| t.number);
    past
}

/// Runs trial `number` with `suggested`; over the budget, again with the size-like
/// hyperparameters halved (a hyperparameter fix), at most [`MAX_SHRINKS`] times.
async fn run_trial(
    ctx: &WorkflowContext<SearchHyperparameters>,
    input: &SearchHyperparametersInput,
    number: u32,
    suggested: Hyperparameters,
) -> Result<TrialRecord, ActivityExecutionError> {
    let mut record = TrialRecord {
        number,
        suggested: suggested.clone(),
        hyperparameters: suggested.clone(),
        status: TrialStatus::Failed,
        value: None,
        metrics: Default::default(),
        classification: Classification::Ok,
        error: None,
        seconds: 0.0,
        train_seconds: 0.0,
        size: None,
        runs: 0,
        fixes: Vec::new(),
        suggest_ms: 0,
    };
    let mut current = suggested;
    loop {
        record.runs += 1;
        let id = if record.runs == 1 {
            format!("trial-{number}")
        } else {
            format!("trial-{number}-shrink-{}", record.runs - 1)
        };
        // A killed executor's trial is retried; the code's own failures come back as a report,
        // not an error, so attempts are only for kills and transport.
        let options = crate::options::heartbeating(
            Some(exec_task_queue(&input.target)),
            id,
            Duration::from_secs(input.timeout_secs.saturating_add(120)),
            Duration::from_secs(input.heartbeat_secs.max(5)),
            SHORT_RETRY.with_attempts(5),
        );
        let report = ctx
            .execute_activity(
                ExecActivities::execute_code,
                ExecuteCodeInput {
                    paper_id: input.paper_id.clone(),
                    code: ctx.state(|s| s.code.clone()),
                    target: input.target.clone(),
                    timeout_secs: input.timeout_secs,
                    attempt: record.runs,
                    environment: None,
                    repository: input.repository.clone(),
                    trial: Some(TrialSpec {
                        number,
                        hyperparameters: current.clone(),
                        budget: input.budget.clone(),
                    }),
                },
                options,
            )
            .await;
        let report = match report {
            Ok(r) => r,
            Err(e @ ActivityExecutionError::Cancelled(_)) => return Err(e),
            // The repository or the executor itself is unusable: every trial would fail alike.
            Err(e) if fails_every_trial(&e) => return Err(e),
            Err(e) => {
                record.error = Some(crate::paper_to_code::failure_reason(&e, 500));
                record.classification = Classification::Environment;
                return Ok(record);
            }
        };
        record.seconds += report.wall_ms as f64 / 1000.0;
        record.classification = report.classification;
        let trial = report.trial.clone().unwrap_or_default();
        if !trial.hyperparameters.is_empty() {
            record.hyperparameters = trial.hyperparameters.clone();
        }
        record.metrics = trial.metrics.clone();
        record.train_seconds = trial.train_seconds;
        record.size = trial.size.clone();
        record.error = trial.error.clone().or_else(|| {
            (report.classification != Classification::Ok)
                .then(|| last_line(&report.stderr_tail).to_owned())
        });
        match report.classification {
            Classification::Ok => {
                record.value = trial.metric(&input.search.metric);
                if record.value.is_some_and(f64::is_finite) {
                    record.status = TrialStatus::Ok;
                } else {
                    record.value = None;
                    record.error = Some(format!(
                        "the metrics have no number {:?}",
                        input.search.metric
                    ));
                }
                return Ok(record);
            }
            Classification::OverBudget if record.runs <= MAX_SHRINKS => {
                let space = ctx.state(|s| s.space.clone());
                match shrink_hyperparameters(&record.hyperparameters, &space) {
                    Some((smaller, what)) => {
                        record
                            .fixes
                            .push(format!("hyperparameters (over the budget): {what}"));
                        current = smaller;
                    }
                    None => return Ok(record),
                }
            }
            Classification::CodeError | Classification::Contract
                if !ctx.state(|s| s.code_fixed) =>
            {
                ctx.state_mut(|s| s.code_fixed = true);
                let said = record.error.clone().unwrap_or_default();
                match fix_code(ctx, input, number, &said, &report.stderr_tail).await? {
                    Some(fixed) => {
                        record.fixes.push(format!(
                            "code (FixCode, the search's one repair): {}",
                            last_line(&said)
                        ));
                        ctx.state_mut(|s| s.code = fixed);
                    }
                    None => return Ok(record),
                }
            }
            _ => return Ok(record),
        }
    }
}

/// The search's one code fix: `FixCode` on the entry file with what the run said; the fixed
/// file, or `None` when the fix failed (the trial is then recorded as failed).
async fn fix_code(
    ctx: &WorkflowContext<SearchHyperparameters>,
    input: &SearchHyperparametersInput,
    number: u32,
    said: &str,
    stderr_tail: &str,
) -> Result<Option<BlobRef>, ActivityExecutionError> {
    let code = ctx.state(|s| s.code.clone());
    let message: String = format!("{said}\n{stderr_tail}")
        .chars()
        .take(2_000)
        .collect();
    // Built from JSON so that fields the input gains later keep their defaults.
    let Ok(fix) = serde_json::from_value::<FixCodeInput>(serde_json::json!({
        "paper_id": input.paper_id,
        "code": code,
        "findings": [{
            "rule": "trial-failed",
            "severity": "error",
            "line": 0,
            "message": format!(
                "a hyperparameter-search trial failed; keep the training contract (train_model, load_data, the metrics' keys): {message}"
            ),
        }],
        "target": input.target,
        "model": null,
        "round": 200 + number,
    })) else {
        return Ok(None);
    };
    let options = crate::options::heartbeating(
        Some(crate::names::LLM_TASK_QUEUE.to_owned()),
        format!("fix-trial-{number}"),
        Duration::from_secs(600),
        Duration::from_secs(input.heartbeat_secs.max(5)),
        SHORT_RETRY.with_attempts(10),
    );
    match ctx
        .execute_activity(LlmActivities::fix_code, fix, options)
        .await
    {
        Ok(fixed) => Ok(Some(fixed.code)),
        Err(e @ ActivityExecutionError::Cancelled(_)) => Err(e),
        Err(_) => Ok(None),
    }
}

/// Whether `ExecuteCode` failed for a reason no other trial escapes: a repository that is
/// refused (`InvalidRepository`: a path that climbs out, too many files) or an executor that
/// cannot sandbox (`SandboxUnavailable`).
fn fails_every_trial(e: &ActivityExecutionError) -> bool {
    match e.cause() {
        Some(temporalio_common::error::IncomingError::Application(a)) => a
            .type_name()
            .is_some_and(|t| ["InvalidRepository", "SandboxUnavailable"].contains(&t)),
        _ => false,
    }
}

fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
}

/// Whether a hyperparameter's name says it sets the model's size (width, depth, heads…), not
/// the training (epochs, batch size).
pub fn size_like(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    const SIZE: [&str; 16] = [
        "hidden",
        "width",
        "dim",
        "channel",
        "units",
        "features",
        "filters",
        "embed",
        "heads",
        "layers",
        "depth",
        "neurons",
        "d_model",
        "d_ff",
        "model_size",
        "hidden_size",
    ];
    const NOT: [&str; 7] = [
        "batch", "epoch", "seed", "step", "patience", "warmup", "worker",
    ];
    SIZE.iter().any(|s| n.contains(s)) && !NOT.iter().any(|s| n.contains(s))
}

/// The hyperparameter fix for a model over its budget: every size-like integer hyperparameter
/// halved (not below its search range's low, nor 1); the new set and what changed, or `None`
/// when nothing can shrink.
pub fn shrink_hyperparameters(
    current: &Hyperparameters,
    space: &[SpaceParam],
) -> Option<(Hyperparameters, String)> {
    let mut out = current.clone();
    let mut changed = Vec::new();
    for (name, value) in current {
        let Some(v) = value.as_i64() else { continue };
        if !size_like(name) || v < 2 {
            continue;
        }
        let floor = space
            .iter()
            .find(|p| &p.name == name)
            .and_then(|p| p.low)
            .map(|l| l.ceil() as i64)
            .unwrap_or(1)
            .max(1);
        let smaller = (v / 2).max(floor);
        if smaller < v {
            out.insert(name.clone(), serde_json::Value::from(smaller));
            changed.push(format!("{name} {v} → {smaller}"));
        }
    }
    (!changed.is_empty()).then(|| (out, changed.join(", ")))
}

/// The best successful trial and its metric (the lowest number among equals).
pub fn best_trial(trials: &[TrialRecord], direction: Direction) -> (Option<u32>, Option<f64>) {
    let mut best: Option<(u32, f64)> = None;
    let mut sorted: Vec<&TrialRecord> = trials.iter().collect();
    sorted.sort_by_key(|t| t.number);
    for t in sorted {
        if t.status != TrialStatus::Ok {
            continue;
        }
        let Some(v) = t.value else { continue };
        if best.is_none_or(|(_, b)| direction.better(v, b)) {
            best = Some((t.number, v));
        }
    }
    (best.map(|b| b.0), best.map(|b| b.1))
}

/// Best so far after each trial, in trial order (none until a trial succeeds).
pub fn search_curve(trials: &[TrialRecord], direction: Direction) -> Vec<Option<f64>> {
    let mut sorted: Vec<&TrialRecord> = trials.iter().collect();
    sorted.sort_by_key(|t| t.number);
    let mut best: Option<f64> = None;
    sorted
        .iter()
        .map(|t| {
            if t.status == TrialStatus::Ok
                && let Some(v) = t.value
                && best.is_none_or(|b| direction.better(v, b))
            {
                best = Some(v);
            }
            best
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(pairs: &[(&str, serde_json::Value)]) -> Hyperparameters {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn shrinking_halves_the_size_like_integers_only() {
        let current = hp(&[
            ("hidden", 64.into()),
            ("num_layers", 3.into()),
            ("epochs", 10.into()),
            ("batch_size", 64.into()),
            ("lr", 0.1.into()),
            ("embed_dim", 5.into()),
        ]);
        let space = vec![SpaceParam {
            name: "embed_dim".into(),
            kind: "int".into(),
            low: Some(4.0),
            high: Some(16.0),
            log: false,
            choices: vec![],
        }];
        let (smaller, what) = shrink_hyperparameters(&current, &space).unwrap();
        assert_eq!(smaller["hidden"], 32);
        assert_eq!(smaller["num_layers"], 1);
        assert_eq!(smaller["embed_dim"], 4, "not below the range's low");
        assert_eq!(smaller["epochs"], 10);
        assert_eq!(smaller["batch_size"], 64);
        assert!(what.contains("hidden 64 → 32"), "{what}");
        let floor = hp(&[("hidden", 1.into()), ("epochs", 5.into())]);
        assert_eq!(shrink_hyperparameters(&floor, &[]), None);
    }

    fn trial(number: u32, value: Option<f64>, ok: bool) -> TrialRecord {
        TrialRecord {
            number,
            suggested: Hyperparameters::new(),
            hyperparameters: Hyperparameters::new(),
            status: if ok {
                TrialStatus::Ok
            } else {
                TrialStatus::Failed
            },
            value,
            metrics: Default::default(),
            classification: Classification::Ok,
            error: None,
            seconds: 0.0,
            train_seconds: 0.0,
            size: None,
            runs: 1,
            fixes: vec![],
            suggest_ms: 0,
        }
    }

    #[test]
    fn the_best_and_the_curve_follow_the_direction() {
        let trials = vec![
            trial(2, Some(0.7), true),
            trial(1, Some(0.5), true),
            trial(3, Some(0.99), false),
            trial(4, Some(0.6), true),
        ];
        assert_eq!(
            best_trial(&trials, Direction::Maximize),
            (Some(2), Some(0.7))
        );
        assert_eq!(
            best_trial(&trials, Direction::Minimize),
            (Some(1), Some(0.5))
        );
        assert_eq!(
            search_curve(&trials, Direction::Maximize),
            vec![Some(0.5), Some(0.7), Some(0.7), Some(0.7)]
        );
        assert_eq!(best_trial(&[], Direction::Maximize), (None, None));
    }

    #[test]
    fn details_say_done_running_and_best() {
        let p = SearchProgress {
            trials: 6,
            done: 2,
            running: 2,
            failed: 1,
            metric: "val_accuracy".into(),
            best_trial: Some(2),
            best_value: Some(0.9),
        };
        assert_eq!(
            details(&p),
            "searching hyperparameters: 2 of 6 trials done, 2 running, 1 failed · best val_accuracy = 0.9000 (trial 2)"
        );
    }
}
