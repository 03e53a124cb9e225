//! Deterministic orchestration for Annapurna. Nothing in this crate does I/O, reads a clock or
//! draws a random number; it depends only on the Temporal workflow crates and serde.
//!
//! Layout:
//! - [`names`]: pinned names (workflow types, activities, task queues, search attributes, queries)
//! - [`types`]: workflow and activity inputs/outputs; blobs travel as [`types::BlobRef`]
//! - [`activities`]: activity *definitions* (the implementations are in the `activities` crate)
//! - [`decisions`]: pure decision functions (chunk spans, review-loop steps, stages)
//! - [`paper_to_code`]: the `PaperToCode` workflow
//! - [`paper_batch`]: the `PaperBatch` workflow (child `PaperToCode`s)
//! - [`complete_code`]: the `CompleteCode` workflow (a user's tagged or TODO blocks filled from
//!   a stored paper, by `EvaluateSuite`'s `AnswerSnippet`)
//! - [`evaluate_suite`]: the `EvaluateSuite` workflow (benchmark tasks → answers → sandboxed
//!   tests → scores); [`eval_score`]: its pure decisions and the scores
//! - [`ingest_papers`]: the `IngestPapers` workflow (feeds → PDFs → judge → index)
//! - [`search_hyperparameters`]: the `SearchHyperparameters` workflow (trials of the training
//!   contract in lanes, suggestions from `SuggestTrials`, the budget's hyperparameter fix)

pub mod activities;
pub mod carry;
pub mod complete_code;
pub mod decisions;
pub mod details;
pub mod eval_score;
pub mod evaluate_suite;
pub mod ingest_papers;
pub mod names;
mod options;
pub mod paper_batch;
pub mod paper_to_code;
pub mod search_hyperparameters;
pub mod types;

pub use complete_code::CompleteCode;
pub use decisions::Stage;
pub use evaluate_suite::EvaluateSuite;
pub use ingest_papers::IngestPapers;
pub use paper_batch::PaperBatch;
pub use paper_to_code::PaperToCode;
pub use search_hyperparameters::SearchHyperparameters;
