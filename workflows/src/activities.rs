//! Activity definitions: names and types only. The implementations live in the `activities`
//! crate (`#[activity(definition = …)]`), so this crate never links anything that does I/O.
//!
//! Three groups, one per task queue, with the same names as in the `activities` crate:
//! `LocalActivities` on `annapurna` (local work), `LlmActivities` on `annapurna-llm` (model calls,
//! rate limited), `ExecActivities` on `annapurna-exec-<target>` (sandboxed runs).

#![allow(unused_variables, clippy::unimplemented)]

use crate::types::*;
use temporalio_common::ActivityError;
use temporalio_macros::activity_definitions;

/// Activities on the `annapurna` task queue.
pub struct LocalActivities;

#[activity_definitions]
impl LocalActivities {
    /// Resolve a paper id or add a source; returns the stored paper.
    #[activity(name = "LoadPaper")]
    pub fn load_paper(input: LoadPaperInput) -> Result<PaperRef, ActivityError> {
        unimplemented!()
    }

    /// Cut the paper into chunks at section boundaries and store them.
    #[activity(name = "PlanChunks")]
    pub fn plan_chunks(input: PlanChunksInput) -> Result<ChunkPlan, ActivityError> {
        unimplemented!()
    }

    /// Static checks of the code.
    #[activity(name = "CheckCode")]
    pub fn check_code(input: CheckCodeInput) -> Result<CheckReport, ActivityError> {
        unimplemented!()
    }

    /// Choose the papers of a batch.
    #[activity(name = "SelectPapers")]
    pub fn select_papers(input: SelectPapersInput) -> Result<Vec<String>, ActivityError> {
        unimplemented!()
    }

    /// Write the chunk prompts of a batch's papers to S3 and create one batch inference job.
    #[activity(name = "SubmitBatchInference")]
    pub fn submit_batch_inference(
        input: SubmitBatchInferenceInput,
    ) -> Result<SubmittedBatch, ActivityError> {
        unimplemented!()
    }

    /// How a batch inference job stands.
    #[activity(name = "CheckBatchInference")]
    pub fn check_batch_inference(input: BatchJobRef) -> Result<BatchJobStatus, ActivityError> {
        unimplemented!()
    }

    /// A finished job's summaries, stored per chunk and listed per paper.
    #[activity(name = "CollectBatchInference")]
    pub fn collect_batch_inference(
        input: BatchJobRef,
    ) -> Result<Vec<PresummarizedPaper>, ActivityError> {
        unimplemented!()
    }

    /// A paper's summaries made beforehand.
    #[activity(name = "ReadBatchSummaries")]
    pub fn read_batch_summaries(input: BlobRef) -> Result<Vec<PresummarizedChunk>, ActivityError> {
        unimplemented!()
    }

    /// Stop a batch inference job whose batch was cancelled.
    #[activity(name = "StopBatchInference")]
    pub fn stop_batch_inference(input: BatchJobRef) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Read a feed (arXiv, OpenReview); each entry stored as a blob.
    #[activity(name = "FetchFeed")]
    pub fn fetch_feed(input: FetchFeedInput) -> Result<Vec<FeedItemRef>, ActivityError> {
        unimplemented!()
    }

    /// Download a feed entry's PDF (kept as it came) and store the paper as `ingested`.
    #[activity(name = "DownloadPaper")]
    pub fn download_paper(input: DownloadPaperInput) -> Result<DownloadedPaper, ActivityError> {
        unimplemented!()
    }

    /// Set an ingested paper's stage from the judge's verdict: `indexed` or `rejected`.
    /// Post a paper's event to its Slack thread (nothing when Slack is not configured).
    #[activity(name = "NotifySlack")]
    pub fn notify_slack(input: NotifySlackInput) -> Result<NotifySlackOutput, ActivityError> {
        unimplemented!()
    }

    #[activity(name = "RecordJudgement")]
    pub fn record_judgement(input: RecordJudgementInput) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Parse a stored task folder of the benchmark format; the program of its reference run.
    #[activity(name = "PrepareEvalTask")]
    pub fn prepare_eval_task(input: PrepareEvalTaskInput) -> Result<EvalTask, ActivityError> {
        unimplemented!()
    }

    /// Write an evaluation suite's scores to `results/eval/<suite-run>/`; returns the directory.
    #[activity(name = "RecordEval")]
    pub fn record_eval(input: RecordEvalInput) -> Result<String, ActivityError> {
        unimplemented!()
    }

    /// Apply a user's edits (a JSON merge patch from the `approve_plan` signal) to the plan.
    #[activity(name = "ApplyPlanEdits")]
    pub fn apply_plan_edits(input: ApplyPlanEditsInput) -> Result<RepoPlanRef, ActivityError> {
        unimplemented!()
    }

    /// The files, `config.yaml`, `requirements.txt` and `README.md` as one repository bundle.
    #[activity(name = "AssembleRepository")]
    pub fn assemble_repository(
        input: AssembleRepositoryInput,
    ) -> Result<RepositoryRef, ActivityError> {
        unimplemented!()
    }

    /// Write a search's trials, `best.json` and curve under `<paper>/<run>/search/`.
    #[activity(name = "RecordSearch")]
    pub fn record_search(input: RecordSearchInput) -> Result<String, ActivityError> {
        unimplemented!()
    }

    /// Write the results directory and the paper's status.
    #[activity(name = "RecordResults")]
    pub fn record_results(input: RecordResultsInput) -> Result<ResultsRef, ActivityError> {
        unimplemented!()
    }
}

/// Activities on the `annapurna-llm` task queue.
pub struct LlmActivities;

#[activity_definitions]
impl LlmActivities {
    /// Summarise one chunk with the fast model.
    #[activity(name = "SummarizeChunk")]
    pub fn summarize_chunk(input: SummarizeChunkInput) -> Result<SummaryRef, ActivityError> {
        unimplemented!()
    }

    /// Choose the dataset: patterns over the paper first, then the model; within the catalogue.
    #[activity(name = "RecommendDataset")]
    pub fn recommend_dataset(input: RecommendDatasetInput) -> Result<DatasetChoice, ActivityError> {
        unimplemented!()
    }

    /// Write the code from the summaries with the strong model.
    #[activity(name = "GenerateCode")]
    pub fn generate_code(input: GenerateCodeInput) -> Result<CodeRef, ActivityError> {
        unimplemented!()
    }

    /// Review the code; findings in a strict JSON shape.
    #[activity(name = "ReviewCode")]
    pub fn review_code(input: ReviewCodeInput) -> Result<ReviewRef, ActivityError> {
        unimplemented!()
    }

    /// Say why a run failed: a code fix, a hyperparameter fix, or a system issue.
    #[activity(name = "DiagnoseFailure")]
    pub fn diagnose_failure(input: DiagnoseFailureInput) -> Result<Diagnosis, ActivityError> {
        unimplemented!()
    }

    /// Relevance and novelty of a paper against the configured profile.
    #[activity(name = "JudgePaper")]
    pub fn judge_paper(input: JudgePaperInput) -> Result<Judgement, ActivityError> {
        unimplemented!()
    }

    /// Plan the repository: components, files with interfaces, config, entry point.
    #[activity(name = "PlanRepository")]
    pub fn plan_repository(input: PlanRepositoryInput) -> Result<RepoPlanRef, ActivityError> {
        unimplemented!()
    }

    /// The stored papers closest to this one and what they suggest.
    #[activity(name = "FindRelatedWork")]
    pub fn find_related_work(input: FindRelatedWorkInput) -> Result<RelatedWorkRef, ActivityError> {
        unimplemented!()
    }

    /// Write one file of the planned repository, grounded in the paper's passages for it.
    #[activity(name = "GenerateFile")]
    pub fn generate_file(input: GenerateFileInput) -> Result<FileRef, ActivityError> {
        unimplemented!()
    }

    /// Return the whole fixed code.
    #[activity(name = "FixCode")]
    pub fn fix_code(input: FixCodeInput) -> Result<CodeRef, ActivityError> {
        unimplemented!()
    }

    /// Fill one masked snippet (from the model, or the original or the TODO); the program that
    /// tests it on a copy of the task folder.
    #[activity(name = "AnswerSnippet")]
    pub fn answer_snippet(input: AnswerSnippetInput) -> Result<SnippetAnswer, ActivityError> {
        unimplemented!()
    }
}

/// Activities on the `annapurna-exec-<target>` task queues (executor hosts).
pub struct ExecActivities;

#[activity_definitions]
impl ExecActivities {
    /// Run the code in the sandbox.
    #[activity(name = "ExecuteCode")]
    pub fn execute_code(input: ExecuteCodeInput) -> Result<ExecutionReport, ActivityError> {
        unimplemented!()
    }

    /// Answers at once: its start tells the workflow an executor of the target is polling.
    #[activity(name = "ProbeExecutor")]
    pub fn probe_executor(input: ProbeExecutorInput) -> Result<ExecutorInfo, ActivityError> {
        unimplemented!()
    }

    /// The next hyperparameters of a search (Optuna's TPE, rebuilt from the trials so far).
    #[activity(name = "SuggestTrials")]
    pub fn suggest_trials(input: SuggestTrialsInput) -> Result<Suggestions, ActivityError> {
        unimplemented!()
    }
}

/// The generated definition types, for `#[activity(definition = …)]` in the implementations.
pub mod defs {
    pub use super::exec_activities::{ExecuteCode, ProbeExecutor, SuggestTrials};
    pub use super::llm_activities::{
        AnswerSnippet, DiagnoseFailure, FixCode, GenerateCode, JudgePaper, RecommendDataset,
        ReviewCode, SummarizeChunk,
    };
    pub use super::llm_activities::{FindRelatedWork, GenerateFile, PlanRepository};
    pub use super::local_activities::{ApplyPlanEdits, AssembleRepository};
    pub use super::local_activities::{
        CheckBatchInference, CollectBatchInference, ReadBatchSummaries, StopBatchInference,
        SubmitBatchInference,
    };
    pub use super::local_activities::{
        CheckCode, DownloadPaper, FetchFeed, LoadPaper, NotifySlack, PlanChunks, PrepareEvalTask,
        RecordEval, RecordJudgement, RecordResults, RecordSearch, SelectPapers,
    };
}
