//! `IngestPapers`: reads feeds (`FetchFeed`: arXiv, OpenReview, MLSys), then for each entry, a few
//! at a time: `DownloadPaper` (the PDF, kept whatever happens next, and the paper stored as
//! `ingested`; both on the source's own `annapurna-fetch-<source>` queue) → `JudgePaper` on `annapurna-llm` (relevance and novelty against the configured
//! profile) → `RecordJudgement` (`indexed` or `rejected`). An entry that fails (malformed, not a
//! PDF, too large, unreadable) is reported with its reason, and so is a feed that cannot be read;
//! the others go on. With `batch` set, a
//! `PaperBatch` over the newly indexed papers starts as a child that outlives the ingestion.

use std::time::Duration;

use temporalio_macros::{workflow, workflow_methods};
use temporalio_workflow::{
    ActivityExecutionError, ActivityOptions, ChildWorkflowOptions, ContinueAsNewOptions,
    ParentClosePolicy, WorkflowContext, WorkflowContextView, WorkflowResult, join_all,
};

use crate::PaperBatch;
use crate::activities::{LlmActivities, LocalActivities};
use crate::names::{LLM_TASK_QUEUE, fetch_task_queue};
use crate::types::*;

/// Entries one run of the ingestion handles before it continues as new, by default.
pub const ENTRIES_PER_RUN: usize = 500;

/// The patch id of feed requests and downloads on their source's own task queue
/// ([`fetch_task_queue`]) instead of `annapurna`; histories recorded before it replay on the old
/// queue.
pub const FETCH_QUEUES_PATCH: &str = "annapurna-fetch-queues";

/// The ingestion's state (its summary is what the `progress` query shows).
#[workflow]
pub struct IngestPapers {
    input: IngestPapersInput,
    summary: IngestSummary,
}

fn options(id: String, start_to_close: Duration, attempts: u32) -> ActivityOptions {
    options_on(None, id, start_to_close, attempts)
}

fn options_on(
    queue: Option<&str>,
    id: String,
    start_to_close: Duration,
    attempts: u32,
) -> ActivityOptions {
    crate::options::activity(
        queue.map(str::to_owned),
        id,
        start_to_close,
        crate::options::Retry::patient(attempts),
    )
}

/// The failure's message as the last attempt gave it (reports keep 500 characters).
fn reason(e: &ActivityExecutionError) -> String {
    crate::paper_to_code::failure_reason(e, 500)
}

#[workflow_methods]
impl IngestPapers {
    /// Keeps the input.
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: IngestPapersInput) -> Self {
        let summary = crate::carry::summary_from(&input.carried, |c| &c.summary);
        Self { input, summary }
    }

    /// Fetches, downloads, judges, indexes; optionally starts a batch.
    #[run(name = "IngestPapers")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<IngestSummary> {
        let input = ctx.state(|s| s.input.clone());
        if let Some(problem) = &input.invalid_input {
            return Err(crate::paper_to_code::invalid_input(problem));
        }
        crate::carry::refuse_injected(ctx, input.carried.is_some(), "IngestPapers")?;
        let per_source = ctx.patched(FETCH_QUEUES_PATCH);
        let (items, mut indexed) = match &input.carried {
            Some(carry) => (carry.remaining.clone(), carry.indexed.clone()),
            None => (fetch_all(ctx, &input, per_source).await, Vec::new()),
        };
        let per_run = input
            .entries_per_run
            .map(|n| n.max(1) as usize)
            .unwrap_or(ENTRIES_PER_RUN);
        let (items, later) = items.split_at(items.len().min(per_run));

        let judge = input.judge.unwrap_or(true);
        let lanes = (input.max_concurrent.unwrap_or(4).max(1) as usize).min(items.len().max(1));
        let lane_futures = (0..lanes).map(|lane| {
            let mine: Vec<(usize, FeedItemRef)> = items
                .iter()
                .cloned()
                .enumerate()
                .skip(lane)
                .step_by(lanes)
                .collect();
            let ctx = &*ctx;
            async move {
                let mut done = Vec::new();
                for (n, item) in mine {
                    done.push(ingest_one(ctx, n, item, judge, per_source).await);
                }
                done
            }
        });
        let mut outcomes: Vec<IngestItem> =
            join_all(lane_futures).await.into_iter().flatten().collect();
        outcomes.sort_by(|a, b| a.key.cmp(&b.key));
        indexed.extend(
            outcomes
                .iter()
                .filter(|o| o.outcome == "indexed")
                .filter_map(|o| o.paper_id.clone()),
        );
        ctx.state_mut(|s| {
            let room = 1_000usize.saturating_sub(s.summary.items.len());
            s.summary.items.extend(outcomes.into_iter().take(room));
        });
        if !later.is_empty() {
            let next = IngestPapersInput {
                carried: Some(IngestCarry {
                    remaining: later.to_vec(),
                    summary: ctx.state(|s| s.summary.clone()),
                    indexed: indexed.clone(),
                }),
                ..input.clone()
            };
            ctx.continue_as_new(next, ContinueAsNewOptions::default())?;
        }

        if let Some(batch) = input.batch.clone()
            && !indexed.is_empty()
        {
            let id = format!("batch/{}", ctx.workflow_id());
            let options = ChildWorkflowOptions::builder()
                .workflow_id(id.clone())
                .parent_close_policy(ParentClosePolicy::Abandon)
                .build();
            let batch = PaperBatchInput {
                paper_ids: indexed,
                max_papers: Some(u32::MAX),
                carried: None,
                ..batch
            };
            match ctx
                .start_child_workflow(PaperBatch::run, batch, options)
                .await
            {
                Ok(_) => ctx.state_mut(|s| s.summary.batch_workflow_id = Some(id)),
                Err(e) => ctx.state_mut(|s| {
                    *s.summary
                        .failed
                        .entry(format!("batch not started: {e}"))
                        .or_default() += 1
                }),
            }
        }
        Ok(ctx.state(|s| s.summary.clone()))
    }

    /// The summary so far.
    #[query(name = "progress")]
    pub fn progress(&self, _ctx: &WorkflowContextView) -> IngestSummary {
        self.summary.clone()
    }
}

/// Every feed's entries, each once (the same paper in two feeds is ingested once). A feed that
/// cannot be read (after its retries) is reported; the others go on.
async fn fetch_all(
    ctx: &WorkflowContext<IngestPapers>,
    input: &IngestPapersInput,
    per_source: bool,
) -> Vec<FeedItemRef> {
    let mut items: Vec<FeedItemRef> = Vec::new();
    for (n, feed) in input.feeds.iter().enumerate() {
        let queue = per_source
            .then(|| fetch_task_queue(feed.source()))
            .flatten();
        match ctx
            .execute_activity(
                LocalActivities::fetch_feed,
                FetchFeedInput { feed: feed.clone() },
                options_on(
                    queue.as_deref(),
                    format!("fetch-{n}"),
                    Duration::from_secs(900),
                    5,
                ),
            )
            .await
        {
            Ok(fetched) => items.extend(fetched),
            Err(e) => ctx.state_mut(|s| {
                *s.summary
                    .failed
                    .entry(format!("feed {n}: {}", reason(&e)))
                    .or_default() += 1
            }),
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    items.retain(|i| seen.insert(i.key.clone()));
    ctx.state_mut(|s| s.summary.entries = items.len() as u32);
    items
}

/// One entry: download, judge, record. Never fails the workflow: a failure is the entry's outcome.
/// With `per_source`, the download runs on the task queue of the source its key names.
async fn ingest_one(
    ctx: &WorkflowContext<IngestPapers>,
    n: usize,
    item: FeedItemRef,
    judge: bool,
    per_source: bool,
) -> IngestItem {
    let fail = |reason: String| {
        ctx.state_mut(|s| *s.summary.failed.entry(reason.clone()).or_default() += 1);
        IngestItem {
            key: item.key.clone(),
            paper_id: None,
            outcome: format!("failed: {reason}"),
        }
    };
    if let Some(problem) = &item.problem {
        return fail(format!("malformed feed entry: {problem}"));
    }
    let queue = per_source
        .then(|| {
            item.key
                .split_once(':')
                .and_then(|(source, _)| fetch_task_queue(source))
        })
        .flatten();
    let downloaded = match ctx
        .execute_activity(
            LocalActivities::download_paper,
            DownloadPaperInput { item: item.clone() },
            options_on(
                queue.as_deref(),
                format!("download-{n}"),
                Duration::from_secs(600),
                4,
            ),
        )
        .await
    {
        Ok(d) => d,
        Err(e) => return fail(reason(&e)),
    };
    let paper_id = downloaded.paper.paper_id.clone();
    if !downloaded.new && downloaded.stage != "ingested" {
        ctx.state_mut(|s| s.summary.already_stored += 1);
        return IngestItem {
            key: item.key,
            paper_id: Some(paper_id),
            outcome: format!("already-stored ({})", downloaded.stage),
        };
    }
    if downloaded.new {
        ctx.state_mut(|s| s.summary.new_papers += 1);
    }
    let judgement = if judge {
        let options = options_on(
            Some(LLM_TASK_QUEUE),
            format!("judge-{n}"),
            Duration::from_secs(600),
            30,
        );
        match ctx
            .execute_activity(
                LlmActivities::judge_paper,
                JudgePaperInput {
                    paper: downloaded.paper.clone(),
                    entry: item.entry.clone(),
                },
                options,
            )
            .await
        {
            Ok(j) => {
                ctx.state_mut(|s| {
                    s.summary.input_tokens += j.usage.input_tokens;
                    s.summary.output_tokens += j.usage.output_tokens;
                    s.summary.standin |= j.standin;
                });
                Some(j)
            }
            Err(e) => {
                let mut out = fail(format!("judge: {}", reason(&e)));
                out.paper_id = Some(paper_id);
                return out;
            }
        }
    } else {
        None
    };
    let pass = judgement.as_ref().is_none_or(|j| j.pass);
    if let Err(e) = ctx
        .execute_activity(
            LocalActivities::record_judgement,
            RecordJudgementInput {
                paper_id: paper_id.clone(),
                judgement,
            },
            options(format!("record-{n}"), Duration::from_secs(120), 10),
        )
        .await
    {
        let mut out = fail(reason(&e));
        out.paper_id = Some(paper_id);
        return out;
    }
    ctx.state_mut(|s| {
        if pass {
            s.summary.indexed += 1
        } else {
            s.summary.rejected += 1
        }
    });
    IngestItem {
        key: item.key,
        paper_id: Some(paper_id),
        outcome: if pass { "indexed" } else { "rejected" }.to_owned(),
    }
}
