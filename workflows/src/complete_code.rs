//! `CompleteCode` (workflow id `complete/<paper-id>/<ms>`): the blocks of a user's half-written
//! implementation filled from a stored paper, by the same path as a benchmark snippet:
//! `LoadPaper` → `PlanChunks` → `SummarizeChunk` × chunks (cached, shared with every other run
//! of the paper) → `AnswerSnippet` per block (`annapurna-llm`). Nothing is run: the user's
//! own tests decide.

use std::time::Duration;

use temporalio_common::RetryPolicy;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_workflow::{
    ActivityOptions, WorkflowContext, WorkflowContextView, WorkflowResult, join_all,
};

use crate::activities::{LlmActivities, LocalActivities};
use crate::names::LLM_TASK_QUEUE;
use crate::types::*;

/// The run's input.
#[workflow]
pub struct CompleteCode {
    input: CompleteCodeInput,
}

fn options(llm: bool, id: String) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(900))
        .activity_id(id)
        .maybe_task_queue(llm.then(|| LLM_TASK_QUEUE.to_owned()))
        .heartbeat_timeout(Duration::from_secs(30))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_secs(1))
                .maximum_interval(Duration::from_secs(30))
                .maximum_attempts(if llm { 30 } else { 5 })
                .build(),
        )
        .build()
}

#[workflow_methods]
impl CompleteCode {
    /// Keeps the input.
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: CompleteCodeInput) -> Self {
        Self { input }
    }

    /// Summarises the paper (cached) and answers every block.
    #[run(name = "CompleteCode")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<CompleteCodeOutput> {
        let input = ctx.state(|s| s.input.clone());
        let Some(bundle) = input.bundle.clone().filter(|_| !input.blocks.is_empty()) else {
            return Err(crate::paper_to_code::invalid_input(
                "CompleteCode needs the file's bundle and at least one block; `annapurna complete FILE --paper ID` makes them",
            ));
        };
        let paper = ctx
            .execute_activity(
                LocalActivities::load_paper,
                LoadPaperInput {
                    paper_id: Some(input.paper_id.clone()),
                    source: None,
                },
                options(false, "load".into()),
            )
            .await?;
        let plan = ctx
            .execute_activity(
                LocalActivities::plan_chunks,
                PlanChunksInput {
                    paper: paper.clone(),
                    max_chunk_tokens: None,
                    model: input.summary_model.clone(),
                },
                options(false, "chunks".into()),
            )
            .await?;
        let count = plan.chunks.len() as u32;
        let shared = &*ctx;
        let summaries = join_all(plan.chunks.iter().map(|chunk| {
            let paper = &paper;
            let model = input.summary_model.clone();
            async move {
                shared
                    .execute_activity(
                        LlmActivities::summarize_chunk,
                        SummarizeChunkInput {
                            paper_id: paper.paper_id.clone(),
                            title: paper.title.clone(),
                            chunk: chunk.clone(),
                            chunk_count: count,
                            model,
                        },
                        options(true, format!("summary-{}", chunk.index)),
                    )
                    .await
                    .ok()
            }
        }))
        .await;
        let mut out = CompleteCodeOutput {
            paper_id: paper.paper_id.clone(),
            ..Default::default()
        };
        let mut summary_refs = Vec::new();
        for s in summaries.into_iter().flatten() {
            out.input_tokens += s.usage.input_tokens;
            out.output_tokens += s.usage.output_tokens;
            out.cost_microusd += s.usage.cost_microusd;
            out.standin |= s.usage.standin;
            summary_refs.push(s.summary);
        }
        for (n, block) in input.blocks.iter().enumerate() {
            let answer = ctx
                .execute_activity(
                    LlmActivities::answer_snippet,
                    AnswerSnippetInput {
                        suite_run: format!("complete-{}", paper.paper_id),
                        task: "complete".into(),
                        bundle: bundle.clone(),
                        snippet: block.clone(),
                        mode: AnswerMode::Model,
                        summaries: summary_refs.clone(),
                        chunks: plan.chunks.clone(),
                        title: paper.title.clone(),
                        model: input.code_model.clone(),
                    },
                    options(true, format!("answer-{n}")),
                )
                .await?;
            out.input_tokens += answer.usage.input_tokens;
            out.output_tokens += answer.usage.output_tokens;
            out.cost_microusd += answer.usage.cost_microusd;
            out.standin |= answer.usage.standin;
            out.blocks.push(CompletedBlock {
                name: block.name.clone(),
                answer: answer.answer,
            });
        }
        Ok(out)
    }
}
