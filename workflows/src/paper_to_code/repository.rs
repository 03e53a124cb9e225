//! The reduce side as a planned repository: `PlanRepository` → (optional approval: the
//! `approve_plan` / `reject_plan` signals) → `GenerateFile` per file, in waves of files whose
//! dependencies are written (the files of a wave side by side) → `AssembleRepository`; then the
//! review: checks across files, per-file review with fidelity to the plan and the paper's
//! passages, per-file fixes. Every step is an activity with a pinned name and a readable id
//! (`file-model.py`, `review-2-train.py`), so a crash mid-repository resumes at the next
//! unwritten file and nothing written is paid for twice.

use std::time::Duration;

use temporalio_common::error::ApplicationFailure;
use temporalio_workflow::{
    ActivityExecutionError, WorkflowContext, WorkflowResult, WorkflowTermination, join_all,
};

use super::{PaperToCode, add_usage, enter, llm_options, local_options, progress_mut};
use crate::activities::{LlmActivities, LocalActivities};
use crate::decisions::Stage;
use crate::types::*;

/// The patch id of the planned repository (histories of single-file runs replay without it).
pub const REPOSITORY_PATCH: &str = "annapurna-planned-repository";
/// The patch id of the related-work step before planning.
pub const RELATED_WORK_PATCH: &str = "annapurna-related-work";

/// What the user said of the plan, by signal.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanDecision {
    /// Approved, with edits (a JSON merge patch) or none.
    Approve(Option<serde_json::Value>),
    /// Rejected, with the user's reason.
    Reject(String),
}

/// A repository as the workflow holds it: the plan, each file (as last written or fixed) with
/// the passages it was written from, and the assembled bundle.
#[derive(Debug, Clone)]
pub struct Repo {
    /// The plan (edited, when the user edited it).
    pub plan: RepoPlanRef,
    /// The files, in plan order.
    pub files: Vec<FileRef>,
    /// The bundle of the files as they are now.
    pub assembled: RepositoryRef,
    /// The related papers and their advice, when asked for.
    pub related_work: Option<RelatedWorkRef>,
}

impl Repo {
    /// The files as `RepoFile`s, in plan order.
    pub fn repo_files(&self) -> Vec<RepoFile> {
        self.files
            .iter()
            .map(|f| RepoFile {
                path: f.path.clone(),
                code: f.code.clone(),
            })
            .collect()
    }

    /// What a review or fix of `path` sees of the repository.
    pub fn context_for(&self, path: &str) -> RepoFileContext {
        RepoFileContext {
            path: path.to_owned(),
            plan: self.plan.plan.clone(),
            grounding: self
                .files
                .iter()
                .find(|f| f.path == path)
                .map(|f| f.grounding.clone()),
            others: self
                .repo_files()
                .into_iter()
                .filter(|f| f.path != path)
                .collect(),
        }
    }

    /// The code of `path`.
    pub fn code_of(&self, path: &str) -> Option<BlobRef> {
        self.files
            .iter()
            .find(|f| f.path == path)
            .map(|f| f.code.clone())
    }
}

fn failed(type_name: &str, message: String) -> WorkflowTermination {
    WorkflowTermination::failed_application(
        ApplicationFailure::builder(message)
            .type_name(type_name.to_owned())
            .non_retryable(true)
            .build(),
    )
}

/// Plans the repository, waits for approval when asked, writes every file and assembles them.
pub async fn write(
    ctx: &WorkflowContext<PaperToCode>,
    input: &PaperToCodeInput,
    paper: &PaperRef,
    chunks: &ChunkPlan,
    summaries: &[SummaryRef],
    dataset: &str,
) -> WorkflowResult<Repo> {
    let target = input.target();
    let heartbeat = input.heartbeat_timeout();
    let related_work = if input.related_work.unwrap_or(false) && ctx.patched(RELATED_WORK_PATCH) {
        let found = ctx
            .execute_activity(
                LlmActivities::find_related_work,
                FindRelatedWorkInput {
                    paper_id: paper.paper_id.clone(),
                    title: paper.title.clone(),
                    sections: chunks
                        .chunks
                        .iter()
                        .flat_map(|c| c.section_titles.iter().cloned())
                        .collect(),
                    summaries: summaries.iter().map(|s| s.summary.clone()).collect(),
                    model: input.model_for(ModelRole::Summary),
                },
                llm_options(ctx, "related-work".into(), heartbeat),
            )
            .await?;
        add_usage(ctx, ModelRole::Summary, &found.usage);
        Some(found)
    } else {
        None
    };
    let mut plan = ctx
        .execute_activity(
            LlmActivities::plan_repository,
            PlanRepositoryInput {
                paper_id: paper.paper_id.clone(),
                title: paper.title.clone(),
                summaries: summaries.iter().map(|s| s.summary.clone()).collect(),
                chunks: chunks.chunks.clone(),
                target: target.clone(),
                dataset: dataset.to_owned(),
                model: input.model_for(ModelRole::Code),
                related_work: related_work.as_ref().and_then(|r| r.advice.clone()),
            },
            llm_options(ctx, "plan-repository".into(), heartbeat),
        )
        .await?;
    add_usage(ctx, ModelRole::Code, &plan.usage);
    ctx.state_mut(|s| s.plan = Some(plan.clone()));

    if input.approve_plan.unwrap_or(false) {
        plan = await_approval(ctx, input, paper, plan).await?;
        enter(ctx, Stage::Generating);
    }

    progress_mut(ctx, |p| p.files_total = plan.files.len() as u32);
    let chunk_texts: Vec<BlobRef> = chunks.chunks.iter().map(|c| c.text.clone()).collect();
    let mut written: Vec<FileRef> = Vec::new();
    for wave in write_waves(&plan.files) {
        let before: Vec<RepoFile> = written
            .iter()
            .map(|f| RepoFile {
                path: f.path.clone(),
                code: f.code.clone(),
            })
            .collect();
        let calls = wave.iter().map(|file| {
            // Each file sees the files it imports, as written.
            let deps: Vec<RepoFile> = before
                .iter()
                .filter(|w| file.depends_on.contains(&w.path))
                .cloned()
                .collect();
            ctx.execute_activity(
                LlmActivities::generate_file,
                GenerateFileInput {
                    paper_id: paper.paper_id.clone(),
                    title: paper.title.clone(),
                    plan: plan.plan.clone(),
                    path: file.path.clone(),
                    written: deps,
                    chunks: chunk_texts.clone(),
                    target: target.clone(),
                    dataset: dataset.to_owned(),
                    model: input.model_for(ModelRole::Code),
                    context: plan.context.clone(),
                },
                llm_options(ctx, format!("file-{}", file.path), heartbeat),
            )
        });
        for result in join_all(calls).await {
            let file = result?;
            add_usage(ctx, ModelRole::Code, &file.usage);
            progress_mut(ctx, |p| p.files_done += 1);
            written.push(file);
        }
    }
    // Plan order, whatever order the waves finished in.
    written.sort_by_key(|f| plan.files.iter().position(|p| p.path == f.path));
    let assembled = assemble(ctx, input, paper, &plan, &written, "assemble".into()).await?;
    Ok(Repo {
        plan,
        files: written,
        assembled,
        related_work,
    })
}

async fn assemble(
    ctx: &WorkflowContext<PaperToCode>,
    input: &PaperToCodeInput,
    paper: &PaperRef,
    plan: &RepoPlanRef,
    files: &[FileRef],
    id: String,
) -> Result<RepositoryRef, ActivityExecutionError> {
    ctx.execute_activity(
        LocalActivities::assemble_repository,
        AssembleRepositoryInput {
            paper_id: paper.paper_id.clone(),
            title: paper.title.clone(),
            plan: plan.clone(),
            files: files
                .iter()
                .map(|f| RepoFile {
                    path: f.path.clone(),
                    code: f.code.clone(),
                })
                .collect(),
        },
        local_options(id, Duration::from_secs(120), input.heartbeat_timeout()),
    )
    .await
}

/// Waits in stage `awaiting-approval` for `approve_plan` (its edits applied and checked; edits
/// that break the plan are refused and the wait goes on) or `reject_plan`, at most
/// `approval_timeout_secs`.
async fn await_approval(
    ctx: &WorkflowContext<PaperToCode>,
    input: &PaperToCodeInput,
    paper: &PaperRef,
    plan: RepoPlanRef,
) -> WorkflowResult<RepoPlanRef> {
    enter(ctx, Stage::AwaitingApproval);
    let timeout = Duration::from_secs(input.approval_timeout_secs.unwrap_or(86_400).max(1));
    let mut attempt = 0u32;
    loop {
        let decided = temporalio_workflow::select! {
            _ = ctx.timer(timeout) => None,
            _ = ctx.wait_condition(|s: &PaperToCode| s.plan_decision.is_some()) => {
                ctx.state_mut(|s| s.plan_decision.take())
            }
        };
        match decided {
            None => {
                return Err(failed(
                    "PlanApprovalTimedOut",
                    format!(
                        "the plan waited {} s for approve_plan or reject_plan (approval_timeout_secs)",
                        timeout.as_secs()
                    ),
                ));
            }
            Some(PlanDecision::Reject(reason)) => {
                return Err(failed(
                    "PlanRejected",
                    format!(
                        "the plan was rejected: {}",
                        if reason.is_empty() {
                            "no reason given"
                        } else {
                            &reason
                        }
                    ),
                ));
            }
            Some(PlanDecision::Approve(None)) => return Ok(plan),
            Some(PlanDecision::Approve(Some(edits))) => {
                attempt += 1;
                let edited = ctx
                    .execute_activity(
                        LocalActivities::apply_plan_edits,
                        ApplyPlanEditsInput {
                            paper_id: paper.paper_id.clone(),
                            plan: plan.clone(),
                            edits,
                        },
                        local_options(
                            format!("edit-plan-{attempt}"),
                            Duration::from_secs(60),
                            input.heartbeat_timeout(),
                        ),
                    )
                    .await;
                match edited {
                    Ok(edited) => {
                        ctx.state_mut(|s| {
                            s.plan = Some(edited.clone());
                            s.progress.plan_problem = String::new();
                        });
                        return Ok(edited);
                    }
                    // Edits that break the plan: said in the progress query; the plan waits on.
                    Err(e @ ActivityExecutionError::Cancelled(_)) => return Err(e.into()),
                    Err(e) => {
                        let reason = super::failure_reason(&e, 500);
                        progress_mut(ctx, |p| p.plan_problem = reason);
                    }
                }
            }
        }
    }
}

/// The repository's review: checks across files; each file reviewed (round 1: every file;
/// later rounds: the files fixed since or with blocking findings) with its static findings, the
/// plan and its passages; a file with blocking findings fixed; the bundle assembled and checked
/// again after fixes. Stops when a round fixes nothing or after `review_rounds`.
pub async fn review(
    ctx: &WorkflowContext<PaperToCode>,
    input: &PaperToCodeInput,
    paper: &PaperRef,
    repo: &mut Repo,
    dataset: &str,
) -> Result<(CheckReport, Vec<ReviewRound>), ActivityExecutionError> {
    let target = input.target();
    let heartbeat = input.heartbeat_timeout();
    let mut rounds: Vec<ReviewRound> = Vec::new();
    let mut latest = check(ctx, input, paper, repo, dataset, "check-1".into()).await?;
    let mut to_review: Vec<String> = repo.files.iter().map(|f| f.path.clone()).collect();
    for round in 1..=input.review_rounds() {
        if to_review.is_empty() {
            break;
        }
        progress_mut(ctx, |p| p.review_round = round);
        let reviews = to_review.iter().map(|path| {
            let file_check = CheckReport {
                findings: latest
                    .findings
                    .iter()
                    .filter(|f| &f.file == path)
                    .cloned()
                    .collect(),
            };
            let code = repo.code_of(path).expect("a planned file");
            let context = repo.context_for(path);
            let (paper_id, title, target) =
                (paper.paper_id.clone(), paper.title.clone(), target.clone());
            let plan_context = repo.plan.context.clone();
            async move {
                let review = ctx
                    .execute_activity(
                        LlmActivities::review_code,
                        ReviewCodeInput {
                            paper_id: paper_id.clone(),
                            title,
                            code: code.clone(),
                            check: file_check.clone(),
                            target: target.clone(),
                            model: input.model_for(ModelRole::Review),
                            round,
                            context: plan_context.clone(),
                            repository: Some(context.clone()),
                        },
                        llm_options(ctx, format!("review-{round}-{path}"), heartbeat),
                    )
                    .await?;
                add_usage(ctx, ModelRole::Review, &review.usage);
                let mut findings = file_check.findings.clone();
                findings.extend(review.findings.iter().cloned());
                let fixed = if findings.iter().any(Finding::is_blocking) {
                    let fixed = ctx
                        .execute_activity(
                            LlmActivities::fix_code,
                            FixCodeInput {
                                paper_id,
                                code: code.clone(),
                                findings,
                                target,
                                model: input.model_for(ModelRole::Fix),
                                round,
                                context: plan_context,
                                repository: Some(context),
                            },
                            llm_options(ctx, format!("fix-{round}-{path}"), heartbeat),
                        )
                        .await?;
                    add_usage(ctx, ModelRole::Fix, &fixed.usage);
                    Some(fixed)
                } else {
                    None
                };
                Ok::<_, ActivityExecutionError>((
                    path.clone(),
                    ReviewRound {
                        file: path.clone(),
                        round,
                        code,
                        check: file_check,
                        review: Some(review),
                        fixed,
                    },
                ))
            }
        });
        let mut fixed_paths = Vec::new();
        for result in join_all(reviews).await {
            let (path, done) = result?;
            if let Some(fixed) = &done.fixed {
                if let Some(f) = repo.files.iter_mut().find(|f| f.path == path) {
                    f.code = fixed.code.clone();
                }
                fixed_paths.push(path);
            }
            rounds.push(done);
        }
        if fixed_paths.is_empty() {
            break;
        }
        repo.assembled = assemble(
            ctx,
            input,
            paper,
            &repo.plan,
            &repo.files,
            format!("assemble-{round}"),
        )
        .await?;
        latest = check(
            ctx,
            input,
            paper,
            repo,
            dataset,
            format!("check-{}", round + 1),
        )
        .await?;
        // Next: the files fixed (is the fix right?) and any file the checks still block.
        to_review = repo
            .files
            .iter()
            .map(|f| f.path.clone())
            .filter(|p| {
                fixed_paths.contains(p)
                    || latest
                        .findings
                        .iter()
                        .any(|f| &f.file == p && f.is_blocking())
            })
            .collect();
    }
    Ok((latest, rounds))
}

/// CheckCode over the assembled repository.
pub async fn check(
    ctx: &WorkflowContext<PaperToCode>,
    input: &PaperToCodeInput,
    paper: &PaperRef,
    repo: &Repo,
    dataset: &str,
    id: String,
) -> Result<CheckReport, ActivityExecutionError> {
    ctx.execute_activity(
        LocalActivities::check_code,
        CheckCodeInput {
            paper_id: paper.paper_id.clone(),
            code: repo.assembled.entry_code.clone(),
            target: input.target(),
            dataset: Some(dataset.to_owned()),
            repository: Some(repo.assembled.bundle.clone()),
        },
        local_options(id, Duration::from_secs(300), input.heartbeat_timeout()),
    )
    .await
}

/// After a failed run: puts the fixed file (the one the error pointed at) in the repository,
/// then assembles and checks it again.
#[allow(clippy::too_many_arguments)]
pub async fn repair(
    ctx: &WorkflowContext<PaperToCode>,
    input: &PaperToCodeInput,
    paper: &PaperRef,
    repo: &mut Repo,
    path: &str,
    fixed: &CodeRef,
    attempt: u32,
    dataset: &str,
) -> Result<CheckReport, ActivityExecutionError> {
    if let Some(f) = repo.files.iter_mut().find(|f| f.path == path) {
        f.code = fixed.code.clone();
    }
    repo.assembled = assemble(
        ctx,
        input,
        paper,
        &repo.plan,
        &repo.files,
        format!("reassemble-{attempt}"),
    )
    .await?;
    check(
        ctx,
        input,
        paper,
        repo,
        dataset,
        format!("recheck-{attempt}"),
    )
    .await
}
