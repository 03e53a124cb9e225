//! Pure decision functions: the workflow asks, these answer. No I/O, no clocks, so they are unit
//! tested directly and are deterministic on replay.

use crate::names::activity;
use crate::types::{CheckReport, Classification, ReviewRound};

/// The bounds a `PaperToCode` input must keep: whoever can start a workflow may send anything,
/// and a worker must not loop, overflow or wait without end because of it.
pub const INPUT_BOUNDS: &[(&str, u64)] = &[
    ("parallel_chunks", 256),
    ("review_rounds", 10),
    ("max_repairs", 10),
    ("max_chunk_tokens", 1_000_000),
    ("heartbeat_timeout_secs", 3_600),
    ("exec_timeout_secs", 86_400),
    ("executor_wait_secs", 7 * 86_400),
    ("approval_timeout_secs", 30 * 86_400),
];

/// What is wrong with a `PaperToCode` input's numbers, if anything: the field, its value and
/// its bound, in words for the failure.
pub fn input_out_of_bounds(input: &crate::types::PaperToCodeInput) -> Option<String> {
    let values = [
        input.parallel_chunks.map(u64::from),
        input.review_rounds.map(u64::from),
        input.max_repairs.map(u64::from),
        input.max_chunk_tokens,
        input.heartbeat_timeout_secs,
        input.exec_timeout_secs,
        input.executor_wait_secs,
        input.approval_timeout_secs,
    ];
    for ((name, max), value) in INPUT_BOUNDS.iter().zip(values) {
        if let Some(v) = value
            && v > *max
        {
            return Some(format!("{name} is {v}, over its bound of {max}"));
        }
    }
    if let Some(r) = input.min_success_ratio
        && !(0.0..=1.0).contains(&r)
    {
        return Some(format!("min_success_ratio is {r}, outside 0..=1"));
    }
    let unknown = input.unknown_roles();
    if !unknown.is_empty() {
        let roles: Vec<&str> = crate::types::ModelRole::ALL
            .iter()
            .map(|r| r.as_str())
            .collect();
        return Some(format!(
            "models names unknown roles {unknown:?}; the roles are {}",
            roles.join(", ")
        ));
    }
    // Bounded like every other input: a role's model id is a short name.
    if let Some((role, model)) = input.models.iter().find(|(_, m)| m.len() > 200) {
        return Some(format!(
            "models.{role} is {} characters long, over its bound of 200",
            model.len()
        ));
    }
    None
}

/// Whether enough chunks were summarised to go on: at least `min_ratio` of `total`, and always
/// at least one.
pub fn enough_chunks(ok: u32, total: u32, min_ratio: f64) -> bool {
    ok > 0 && (ok as f64) >= min_ratio * total as f64
}

/// What the review loop does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewStep {
    /// Review the code (round number from 1).
    Review {
        /// The round to run.
        round: u32,
    },
    /// Stop: the code is clean or the rounds are used up.
    Stop {
        /// Whether blocking findings remain.
        blocking_left: bool,
    },
}

/// Decide the next review step from the rounds so far and the latest static check. A round is
/// always run at least once when `max_rounds > 0` (the model may see what static checks miss);
/// later rounds run only while the previous round left blocking findings.
pub fn next_review_step(
    history: &[ReviewRound],
    latest_check: &CheckReport,
    max_rounds: u32,
) -> ReviewStep {
    let done = history.len() as u32;
    let last_blocking = history.last().map(|r| {
        r.check.is_blocking()
            || r.review
                .as_ref()
                .is_some_and(|rv| rv.findings.iter().any(|f| f.is_blocking()))
    });
    let fixed_since = history.last().is_some_and(|r| r.fixed.is_some());
    match last_blocking {
        None if max_rounds > 0 => ReviewStep::Review { round: 1 },
        None => ReviewStep::Stop {
            blocking_left: latest_check.is_blocking(),
        },
        Some(true) if fixed_since && done < max_rounds => ReviewStep::Review { round: done + 1 },
        Some(_) => ReviewStep::Stop {
            blocking_left: latest_check.is_blocking(),
        },
    }
}

/// What follows a run of the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepairStep {
    /// It ran cleanly.
    Done,
    /// Diagnose and fix, then run again.
    Repair,
    /// Stop: a system issue (no code fix helps) or the repairs are used up.
    Stop,
}

/// Decide after run `repairs_done + 1` ended with `classification`. A system issue (the
/// executor lacks a module) stops at once, without asking a model; code errors, resource limits
/// (hyperparameters) and sandbox violations get up to `max_repairs` repairs.
pub fn next_repair_step(
    classification: Classification,
    repairs_done: u32,
    max_repairs: u32,
) -> RepairStep {
    match classification {
        Classification::Ok => RepairStep::Done,
        Classification::Environment => RepairStep::Stop,
        _ if repairs_done >= max_repairs => RepairStep::Stop,
        _ => RepairStep::Repair,
    }
}

/// The repository file a Python traceback points at last (the innermost frame in one of
/// `paths`), if any: the file a repair should change.
pub fn blamed_file(stderr: &str, paths: &[String]) -> Option<String> {
    let mut blamed = None;
    for line in stderr.lines() {
        let Some(rest) = line.trim_start().strip_prefix("File \"") else {
            continue;
        };
        let Some((file, _)) = rest.split_once('"') else {
            continue;
        };
        if let Some(p) = paths
            .iter()
            .find(|p| file == p.as_str() || file.ends_with(&format!("/{p}")))
        {
            blamed = Some(p.clone());
        }
    }
    blamed
}

/// Stages of `PaperToCode`, as shown in the `PaperStage` search attribute and the progress query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// LoadPaper.
    Loading,
    /// PlanChunks.
    Planning,
    /// SummarizeChunk × N.
    Summarizing,
    /// GenerateCode.
    Generating,
    /// The repository plan waits for `approve_plan` / `reject_plan` (input `approve_plan`).
    AwaitingApproval,
    /// CheckCode / ReviewCode / FixCode.
    Reviewing,
    /// ProbeExecutor: no executor of the target has taken the code yet.
    WaitingForExecutor,
    /// ExecuteCode / DiagnoseFailure / FixCode.
    Executing,
    /// RecordResults.
    Recording,
    /// Finished.
    Done,
}

impl Stage {
    /// Every stage, in the order a paper goes through them: the one list of stages.
    pub const ALL: [Stage; 10] = [
        Stage::Loading,
        Stage::Planning,
        Stage::Summarizing,
        Stage::Generating,
        Stage::AwaitingApproval,
        Stage::Reviewing,
        Stage::WaitingForExecutor,
        Stage::Executing,
        Stage::Recording,
        Stage::Done,
    ];

    /// The stage with this pinned name.
    pub fn parse(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The activity that opens the stage (what `annapurna rerun --from STAGE` resets to).
    pub fn first_activity(self) -> Option<&'static str> {
        Some(match self {
            Stage::Loading => activity::LOAD_PAPER,
            Stage::Planning => activity::PLAN_CHUNKS,
            Stage::Summarizing => activity::SUMMARIZE_CHUNK,
            Stage::Generating => activity::GENERATE_CODE,
            // Waiting on signals opens with no activity: a rerun starts from `generating`.
            Stage::AwaitingApproval => return None,
            Stage::Reviewing => activity::CHECK_CODE,
            Stage::WaitingForExecutor => activity::PROBE_EXECUTOR,
            Stage::Executing => activity::EXECUTE_CODE,
            Stage::Recording => activity::RECORD_RESULTS,
            Stage::Done => return None,
        })
    }

    /// Whether an activity named `name` opens the stage: its first activity, or for
    /// `generating` also `PlanRepository` (the planned repository's first step).
    pub fn opened_by(self, name: &str) -> bool {
        self.first_activity() == Some(name)
            || (self == Stage::Generating && name == activity::PLAN_REPOSITORY)
    }

    /// The pinned name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Loading => "loading",
            Stage::Planning => "planning",
            Stage::Summarizing => "summarizing",
            Stage::Generating => "generating",
            Stage::AwaitingApproval => "awaiting-approval",
            Stage::Reviewing => "reviewing",
            Stage::WaitingForExecutor => "waiting-for-executor",
            Stage::Executing => "executing",
            Stage::Recording => "recording",
            Stage::Done => "done",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{BlobRef, CodeRef, Finding, LlmUsage};

    #[test]
    fn the_innermost_repository_frame_is_blamed() {
        let paths = vec!["train.py".to_owned(), "model.py".to_owned()];
        let tb = "Traceback (most recent call last):\n  File \"/work/train.py\", line 40, in <module>\n    main()\n  File \"/work/model.py\", line 12, in forward\n    x = self.f(x)\n  File \"/venv/lib/python3.11/site-packages/torch/nn/modules/module.py\", line 1, in _call\nRuntimeError: shapes";
        assert_eq!(blamed_file(tb, &paths).as_deref(), Some("model.py"));
        assert_eq!(blamed_file("Killed", &paths), None);
        assert_eq!(
            blamed_file("  File \"/x/mymodel.py\", line 1", &paths),
            None,
            "a file merely ending in a path's name is not that file"
        );
    }

    #[test]
    fn models_per_role_override_the_old_fields_and_unknown_roles_are_refused() {
        use crate::types::{ModelRole, PaperToCodeInput};
        let input: PaperToCodeInput = serde_json::from_str(
            r#"{"paper_id": "p", "summary_model": "s", "code_model": "c", "models": {"review": "openai/gpt-5-mini"}}"#,
        )
        .unwrap();
        assert_eq!(input.model_for(ModelRole::Summary).as_deref(), Some("s"));
        assert_eq!(input.model_for(ModelRole::Dataset).as_deref(), Some("s"));
        assert_eq!(input.model_for(ModelRole::Code).as_deref(), Some("c"));
        assert_eq!(
            input.model_for(ModelRole::Review).as_deref(),
            Some("openai/gpt-5-mini")
        );
        assert_eq!(input_out_of_bounds(&input), None);
        // An input of before there were roles reads, and writes back, as it was.
        let old: PaperToCodeInput = serde_json::from_str(r#"{"paper_id": "p"}"#).unwrap();
        assert_eq!(old.model_for(ModelRole::Code), None);
        assert!(!serde_json::to_string(&old).unwrap().contains("models"));
        let typo: PaperToCodeInput =
            serde_json::from_str(r#"{"paper_id": "p", "models": {"coder": "openai/gpt-5"}}"#)
                .unwrap();
        let problem = input_out_of_bounds(&typo).unwrap();
        assert!(
            problem.contains("coder") && problem.contains("diagnose"),
            "{problem}"
        );
    }

    #[test]
    fn inputs_are_bounded() {
        use crate::types::PaperToCodeInput;
        assert_eq!(input_out_of_bounds(&PaperToCodeInput::default()), None);
        let huge = PaperToCodeInput {
            exec_timeout_secs: Some(u64::MAX),
            ..Default::default()
        };
        assert!(
            input_out_of_bounds(&huge)
                .unwrap()
                .contains("exec_timeout_secs")
        );
        let rounds = PaperToCodeInput {
            review_rounds: Some(1_000_000),
            ..Default::default()
        };
        assert!(
            input_out_of_bounds(&rounds)
                .unwrap()
                .contains("review_rounds")
        );
        let ratio = PaperToCodeInput {
            min_success_ratio: Some(f64::NAN),
            ..Default::default()
        };
        assert!(input_out_of_bounds(&ratio).is_some());
    }

    #[test]
    fn repair_decisions() {
        assert_eq!(next_repair_step(Classification::Ok, 0, 2), RepairStep::Done);
        assert_eq!(
            next_repair_step(Classification::CodeError, 0, 2),
            RepairStep::Repair
        );
        assert_eq!(
            next_repair_step(Classification::ResourceMemory, 1, 2),
            RepairStep::Repair
        );
        assert_eq!(
            next_repair_step(Classification::CodeError, 2, 2),
            RepairStep::Stop
        );
        assert_eq!(
            next_repair_step(Classification::Environment, 0, 2),
            RepairStep::Stop,
            "system issues cost no model call"
        );
        assert_eq!(next_repair_step(Classification::Ok, 2, 2), RepairStep::Done);
    }

    #[test]
    fn partial_success_threshold() {
        assert!(enough_chunks(6, 10, 0.5));
        assert!(enough_chunks(5, 10, 0.5));
        assert!(!enough_chunks(4, 10, 0.5));
        assert!(
            !enough_chunks(0, 0, 0.0),
            "nothing summarised is never enough"
        );
        assert!(enough_chunks(1, 1, 1.0));
    }

    fn round(blocking_check: bool, fixed: bool) -> ReviewRound {
        let blob = BlobRef {
            uri: "file:///x".into(),
            sha256: "0".into(),
            bytes: 0,
        };
        let check = CheckReport {
            findings: if blocking_check {
                vec![Finding {
                    rule: "syntax-error".into(),
                    severity: crate::types::Severity::Error,
                    line: 1,
                    message: "x".into(),
                    file: String::new(),
                }]
            } else {
                vec![]
            },
        };
        ReviewRound {
            file: String::new(),
            round: 1,
            code: blob.clone(),
            check,
            review: None,
            fixed: fixed.then(|| CodeRef {
                code: blob,
                usage: LlmUsage::default(),
                context: None,
            }),
        }
    }

    #[test]
    fn review_loop_decisions() {
        let clean = CheckReport::default();
        assert_eq!(
            next_review_step(&[], &clean, 1),
            ReviewStep::Review { round: 1 }
        );
        assert_eq!(
            next_review_step(&[], &clean, 0),
            ReviewStep::Stop {
                blocking_left: false
            }
        );
        // Blocking and fixed, rounds left: go again.
        assert_eq!(
            next_review_step(&[round(true, true)], &clean, 3),
            ReviewStep::Review { round: 2 }
        );
        // Rounds used up.
        assert_eq!(
            next_review_step(&[round(true, true)], &clean, 1),
            ReviewStep::Stop {
                blocking_left: false
            }
        );
        // Clean round: stop.
        assert_eq!(
            next_review_step(&[round(false, false)], &clean, 3),
            ReviewStep::Stop {
                blocking_left: false
            }
        );
    }
}
