//! The activities of the `annapurna` task queue: papers, chunks, checks, feeds, results.
//!
//! Each activity is a plain `async fn` in its own file, returning [`Classified`]; the methods
//! here are one-line delegates that the Temporal worker registers (`#[activities]`).

pub mod apply_plan_edits;
pub mod assemble_repository;
pub mod check_batch_inference;
pub mod check_code;
pub mod collect_batch_inference;
pub mod download_paper;
pub mod fetch_feed;
pub mod load_paper;
pub mod plan_chunks;
pub mod prepare_eval_task;
pub mod read_batch_summaries;
pub mod record_eval;
pub mod record_judgement;
pub mod record_results;
pub mod record_search;
pub mod select_papers;
pub mod stop_batch_inference;
pub mod submit_batch_inference;

use crate::notify;
use workflows::types::*;

crate::group::activity_group! {
    /// Activities on the `annapurna` task queue.
    LocalActivities {}
    /// LoadPaper: the stored paper for an id, or a source added (idempotently) to the store.
    LoadPaper => heartbeating load_paper::load_paper(LoadPaperInput) -> PaperRef;
    /// PlanChunks: cut at section boundaries within the budget; write each chunk as a blob.
    PlanChunks => heartbeating plan_chunks::plan_chunks(PlanChunksInput) -> ChunkPlan;
    /// CheckCode: Python's own parser, plus the run-contract checks.
    CheckCode => heartbeating check_code::check_code(CheckCodeInput) -> CheckReport;
    /// SelectPapers: a batch's papers from the paper store.
    SelectPapers => plain select_papers::select_papers(SelectPapersInput) -> Vec<String>;
    /// SubmitBatchInference: every chunk of the batch's papers as a JSONL record in S3 and one
    /// Bedrock batch inference job over them, or why there is none.
    SubmitBatchInference => heartbeating submit_batch_inference::submit_batch_inference(SubmitBatchInferenceInput) -> SubmittedBatch;
    /// CheckBatchInference: the job's status (`GetModelInvocationJob`).
    CheckBatchInference => plain check_batch_inference::check_batch_inference(BatchJobRef) -> BatchJobStatus;
    /// CollectBatchInference: the finished job's answers stored as chunk summaries, listed per
    /// paper.
    CollectBatchInference => heartbeating collect_batch_inference::collect_batch_inference(BatchJobRef) -> Vec<PresummarizedPaper>;
    /// ReadBatchSummaries: a paper's summaries from its batch's job.
    ReadBatchSummaries => plain read_batch_summaries::read_batch_summaries(BlobRef) -> Vec<PresummarizedChunk>;
    /// StopBatchInference: `StopModelInvocationJob` for a job whose batch was cancelled.
    StopBatchInference => plain stop_batch_inference::stop_batch_inference(BatchJobRef) -> ();
    /// FetchFeed: the feed's entries, each stored as a blob (malformed ones too, with their
    /// problem, so that the report can name them).
    FetchFeed => heartbeating fetch_feed::fetch_feed(FetchFeedInput) -> Vec<FeedItemRef>;
    /// DownloadPaper: the entry's PDF within the size and time limits; the paper stored as
    /// `ingested` with the feed's title and abstract. A PDF that cannot be read is kept under
    /// `raw/` and the entry fails with the reason; nothing else is written for it.
    DownloadPaper => heartbeating download_paper::download_paper(DownloadPaperInput) -> DownloadedPaper;
    /// RecordJudgement: `indexed` when the judge passed the paper (or there was no judge),
    /// `rejected` otherwise; a paper past ingestion (already run) keeps its stage.
    RecordJudgement => plain record_judgement::record_judgement(RecordJudgementInput) -> ();
    /// PrepareEvalTask: a stored benchmark task folder parsed (tags, yaml), the program of its
    /// reference run, and (for the model) its paper stored; a folder that does not parse comes
    /// back with its problem.
    PrepareEvalTask => heartbeating prepare_eval_task::prepare_eval_task(PrepareEvalTaskInput) -> EvalTask;
    /// RecordEval: an evaluation suite's scores in `results/eval/<suite-run>/`.
    RecordEval => plain record_eval::record_eval(RecordEvalInput) -> String;
    /// NotifySlack: a paper's event in its Slack thread (nothing when Slack is off).
    NotifySlack => plain notify::notify_slack(NotifySlackInput) -> NotifySlackOutput;
    /// ApplyPlanEdits: a user's edits to the plan (a JSON merge patch), checked like a plan.
    ApplyPlanEdits => plain apply_plan_edits::apply_plan_edits(ApplyPlanEditsInput) -> RepoPlanRef;
    /// AssembleRepository: the files with `config.yaml`, `requirements.txt` and `README.md`
    /// rendered from the plan, as one bundle.
    AssembleRepository => plain assemble_repository::assemble_repository(AssembleRepositoryInput) -> RepositoryRef;
    /// RecordResults: the results directory and the paper's status.
    RecordResults => heartbeating record_results::record_results(RecordResultsInput) -> ResultsRef;
    /// RecordSearch: a search's trials, `best.json` and curve under `<paper>/<run>/search/`.
    RecordSearch => plain record_search::record_search(RecordSearchInput) -> String;
}
