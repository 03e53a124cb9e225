//! Names that are a contract: they appear in the Web UI, in `temporal` CLI commands that users
//! type, and in recorded histories. Changing one breaks replay of running workflows and every
//! script that starts work, so they are pinned here once and never derived from Rust type names.

/// Workflow type of the per-paper pipeline.
pub const PAPER_TO_CODE: &str = "PaperToCode";

/// Workflow type of a batch of papers.
pub const PAPER_BATCH: &str = "PaperBatch";

/// Workflow type of feed ingestion.
pub const INGEST_PAPERS: &str = "IngestPapers";

/// Workflow type of an evaluation suite (the benchmark format of ResearchCodeBench).
pub const EVALUATE_SUITE: &str = "EvaluateSuite";

/// Workflow type of filling a user's file from a stored paper (`annapurna complete`).
pub const COMPLETE_CODE: &str = "CompleteCode";

/// Workflow type of a hyperparameter search (a child of `PaperToCode`).
pub const SEARCH_HYPERPARAMETERS: &str = "SearchHyperparameters";

/// Task queue of the workflows and the cheap, local activities.
pub const TASK_QUEUE: &str = "annapurna";
/// Task queue of every activity that calls a model; its server-side rate limit is the
/// cross-worker bound on model calls.
pub const LLM_TASK_QUEUE: &str = "annapurna-llm";

/// The task queue of executors for `target` (`annapurna-exec-cpu`, `-cuda`, `-trainium`): code
/// runs only on hosts of that kind.
pub fn exec_task_queue(target: &str) -> String {
    format!("annapurna-exec-{target}")
}

/// The sources whose feed requests and downloads run on a task queue of their own.
pub const FETCH_SOURCES: [&str; 3] = ["arxiv", "openreview", "mlsys"];

/// The task queue of `source`'s feed requests and PDF downloads (`annapurna-fetch-arxiv`, …): its
/// server-side rate limit keeps every ingesting worker together within the source host's pace.
/// `None` for a source without one (its work stays on [`TASK_QUEUE`]).
pub fn fetch_task_queue(source: &str) -> Option<String> {
    FETCH_SOURCES
        .contains(&source)
        .then(|| format!("annapurna-fetch-{source}"))
}

/// Activity names, verb + object.
pub mod activity {
    /// Resolve a paper id or source into a stored paper.
    pub const LOAD_PAPER: &str = "LoadPaper";
    /// Cut the paper into chunks at section boundaries.
    pub const PLAN_CHUNKS: &str = "PlanChunks";
    /// Choose the dataset the code trains on.
    pub const RECOMMEND_DATASET: &str = "RecommendDataset";
    /// Summarise one chunk with the fast model.
    pub const SUMMARIZE_CHUNK: &str = "SummarizeChunk";
    /// Write the PyTorch code from the summaries with the strong model.
    pub const GENERATE_CODE: &str = "GenerateCode";
    /// Plan the repository (components, files, interfaces, config) with the strong model.
    pub const PLAN_REPOSITORY: &str = "PlanRepository";
    /// Apply a user's edits (given with the `approve_plan` signal) to the plan.
    pub const APPLY_PLAN_EDITS: &str = "ApplyPlanEdits";
    /// The stored papers closest to a paper, and what they suggest (input `related_work`).
    pub const FIND_RELATED_WORK: &str = "FindRelatedWork";
    /// Write one file of the planned repository, grounded in the paper's passages.
    pub const GENERATE_FILE: &str = "GenerateFile";
    /// Put the files, `config.yaml`, `requirements.txt` and `README.md` together as one bundle.
    pub const ASSEMBLE_REPOSITORY: &str = "AssembleRepository";
    /// Static checks of the code.
    pub const CHECK_CODE: &str = "CheckCode";
    /// Model review of the code.
    pub const REVIEW_CODE: &str = "ReviewCode";
    /// Model fix of the code from the findings.
    pub const FIX_CODE: &str = "FixCode";
    /// Run the code in the sandbox on the target.
    pub const EXECUTE_CODE: &str = "ExecuteCode";
    /// The next hyperparameters of a search, from the optimiser (on the target's executors,
    /// where the execution venv with Optuna is).
    pub const SUGGEST_TRIALS: &str = "SuggestTrials";
    /// Write a search's trials, best trial and curve.
    pub const RECORD_SEARCH: &str = "RecordSearch";
    /// Waits for an executor of the target.
    pub const PROBE_EXECUTOR: &str = "ProbeExecutor";
    /// Say why a run failed and what kind of fix it needs.
    pub const DIAGNOSE_FAILURE: &str = "DiagnoseFailure";
    /// Choose the papers of a batch from the paper store.
    pub const SELECT_PAPERS: &str = "SelectPapers";
    /// Write a batch's chunk prompts to S3 as JSONL and create one Bedrock batch inference job.
    pub const SUBMIT_BATCH_INFERENCE: &str = "SubmitBatchInference";
    /// Ask Bedrock how a batch inference job stands (`GetModelInvocationJob`).
    pub const CHECK_BATCH_INFERENCE: &str = "CheckBatchInference";
    /// Read a finished job's output from S3 and store each chunk's summary.
    pub const COLLECT_BATCH_INFERENCE: &str = "CollectBatchInference";
    /// Read a paper's summaries made by a batch inference job.
    pub const READ_BATCH_SUMMARIES: &str = "ReadBatchSummaries";
    /// Stop a batch inference job (its batch was cancelled).
    pub const STOP_BATCH_INFERENCE: &str = "StopBatchInference";
    /// Read a feed (arXiv, OpenReview).
    pub const FETCH_FEED: &str = "FetchFeed";
    /// Download a feed entry's PDF and store the paper.
    pub const DOWNLOAD_PAPER: &str = "DownloadPaper";
    /// Relevance and novelty against the profile.
    pub const JUDGE_PAPER: &str = "JudgePaper";
    /// Index or reject a judged paper.
    pub const RECORD_JUDGEMENT: &str = "RecordJudgement";
    /// Post an event to a paper's Slack thread.
    pub const NOTIFY_SLACK: &str = "NotifySlack";
    /// Write results and the paper's status.
    pub const RECORD_RESULTS: &str = "RecordResults";
    /// Parse a stored benchmark task folder.
    pub const PREPARE_EVAL_TASK: &str = "PrepareEvalTask";
    /// Fill one masked snippet of a benchmark task.
    pub const ANSWER_SNIPPET: &str = "AnswerSnippet";
    /// Write an evaluation suite's scores.
    pub const RECORD_EVAL: &str = "RecordEval";
}

/// Failure type names that cross crates: activities raise them, `PaperToCode` decides on them,
/// and the Web UI shows them.
pub mod failure {
    /// The model has reached its end of life.
    pub const MODEL_RETIRED: &str = "ModelRetired";
    /// A bare id of a model that only inference profiles serve on demand.
    pub const MODEL_NEEDS_INFERENCE_PROFILE: &str = "ModelNeedsInferenceProfile";
    /// A model named by a workflow input that is not in the catalogue.
    pub const MODEL_NOT_ALLOWED: &str = "ModelNotAllowed";
    /// No executor of the target took the code in time.
    pub const NO_EXECUTOR: &str = "NoExecutor";
}

/// Query names.
pub mod query {
    /// Stage and counts of a running PaperToCode.
    pub const PROGRESS: &str = "progress";
    /// The repository plan of a PaperToCode (JSON), once planned.
    pub const PLAN: &str = "plan";
}

/// Signal names.
pub mod signal {
    /// Approve a PaperToCode's repository plan (optionally with edits: `{"edits": {…}}`).
    pub const APPROVE_PLAN: &str = "approve_plan";
    /// Reject a PaperToCode's repository plan (`{"reason": "…"}`): the paper fails.
    pub const REJECT_PLAN: &str = "reject_plan";
}

/// Custom search attributes (all Keyword). `annapurna dev` registers them; on a cluster,
/// register them once with `temporal operator search-attribute create`.
pub mod search_attribute {
    /// The paper's id.
    pub const PAPER_ID: &str = "PaperId";
    /// The stage the pipeline is in (see [`crate::Stage`]).
    pub const PAPER_STAGE: &str = "PaperStage";
    /// How the run ended: `succeeded`, `succeeded-with-findings`, `failed`.
    pub const PAPER_OUTCOME: &str = "PaperOutcome";
    /// The dataset the generated code trains on.
    pub const DATASET: &str = "Dataset";
    /// All of them, for registration.
    pub const ALL: [&str; 4] = [PAPER_ID, PAPER_STAGE, PAPER_OUTCOME, DATASET];
}

/// The workflow id of an evaluation suite run: `eval/<suite-run>`.
pub fn eval_workflow_id(suite_run: &str) -> String {
    format!("eval/{suite_run}")
}

/// The workflow id of a paper's run: a business key, so starting the same paper twice while one
/// run is open is refused by the server instead of paying twice.
pub fn paper_workflow_id(paper_id: &str) -> String {
    format!("paper/{paper_id}")
}
