//! The activities of the `annapurna` task queue: papers, chunks, checks, feeds, results.
//!
//! Each activity is a plain `async fn` in its own file, returning [`Classified`]; the methods
//! here are one-line delegates that the Temporal worker registers (`#[activities]`).

pub mod check_code;
pub mod download_paper;
pub mod fetch_feed;
pub mod load_paper;
pub mod plan_chunks;
pub mod record_judgement;
pub mod record_results;
pub mod select_papers;

use std::sync::Arc;

use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use workflows::activities::defs;
use workflows::types::*;

use crate::deps::Deps;
use crate::heartbeat::heartbeating;

/// Activities on the `annapurna` task queue.
pub struct LocalActivities {
    deps: Arc<Deps>,
}

impl LocalActivities {
    /// Activities over these dependencies.
    pub fn new(deps: Arc<Deps>) -> Self {
        Self { deps }
    }
}

#[activities]
impl LocalActivities {
    /// LoadPaper: the stored paper for an id, or a source added (idempotently) to the store.
    #[activity(definition = defs::LoadPaper)]
    pub async fn load_paper(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: LoadPaperInput,
    ) -> Result<PaperRef, ActivityError> {
        heartbeating(&ctx, load_paper::load_paper(&self.deps, &ctx, input)).await
    }

    /// PlanChunks: cut at section boundaries within the budget; write each chunk as a blob.
    #[activity(definition = defs::PlanChunks)]
    pub async fn plan_chunks(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: PlanChunksInput,
    ) -> Result<ChunkPlan, ActivityError> {
        heartbeating(&ctx, plan_chunks::plan_chunks(&self.deps, &ctx, input)).await
    }

    /// CheckCode: Python's own parser, plus the run-contract checks.
    #[activity(definition = defs::CheckCode)]
    pub async fn check_code(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: CheckCodeInput,
    ) -> Result<CheckReport, ActivityError> {
        heartbeating(&ctx, check_code::check_code(&self.deps, &ctx, input)).await
    }

    /// SelectPapers: a batch's papers from the paper store.
    #[activity(definition = defs::SelectPapers)]
    pub async fn select_papers(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: SelectPapersInput,
    ) -> Result<Vec<String>, ActivityError> {
        select_papers::select_papers(&self.deps, &ctx, input)
            .await
            .map_err(ActivityError::from)
    }

    /// FetchFeed: the feed's entries, each stored as a blob (malformed ones too, with their
    /// problem, so that the report can name them).
    #[activity(definition = defs::FetchFeed)]
    pub async fn fetch_feed(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: FetchFeedInput,
    ) -> Result<Vec<FeedItemRef>, ActivityError> {
        heartbeating(&ctx, fetch_feed::fetch_feed(&self.deps, &ctx, input)).await
    }

    /// DownloadPaper: the entry's PDF within the size and time limits; the paper stored as
    /// `ingested` with the feed's title and abstract. A PDF that cannot be read is kept under
    /// `raw/` and the entry fails with the reason; nothing else is written for it.
    #[activity(definition = defs::DownloadPaper)]
    pub async fn download_paper(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: DownloadPaperInput,
    ) -> Result<DownloadedPaper, ActivityError> {
        heartbeating(
            &ctx,
            download_paper::download_paper(&self.deps, &ctx, input),
        )
        .await
    }

    /// RecordJudgement: `indexed` when the judge passed the paper (or there was no judge),
    /// `rejected` otherwise; a paper past ingestion (already run) keeps its stage.
    #[activity(definition = defs::RecordJudgement)]
    pub async fn record_judgement(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: RecordJudgementInput,
    ) -> Result<(), ActivityError> {
        record_judgement::record_judgement(&self.deps, &ctx, input)
            .await
            .map_err(ActivityError::from)
    }

    /// RecordResults: the results directory and the paper's status.
    #[activity(definition = defs::RecordResults)]
    pub async fn record_results(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: RecordResultsInput,
    ) -> Result<ResultsRef, ActivityError> {
        heartbeating(
            &ctx,
            record_results::record_results(&self.deps, &ctx, input),
        )
        .await
    }
}
