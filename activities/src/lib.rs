//! Every side effect of Annapurna: the activity implementations and the clients they use.
//!
//! Layout:
//! - [`impls`]: the activities (`PaperWork` on `annapurna`, `LlmWork` on `annapurna-llm`,
//!   `ExecWork` on `annapurna-exec-<target>`)
//! - [`clients`]: `blobs` (object_store), `papers` (SQLite), `llm` (Bedrock Converse + test double)
//! - [`extract`]: text, title and sections from PDF, LaTeX, Markdown and plain text
//! - [`ingest`]: adding a paper to the store (used by `annapurna paper add` and `LoadPaper`)
//! - [`chunking`]: cut points and chunk ranges (the choice is `workflows::decisions::plan_spans`)
//! - [`prompts`]: the prompts, versioned
//! - [`ratelimit`]: per-model requests/tokens per minute with AIMD on throttling
//! - [`check`]: static checks of generated Python (`checker.py`, ruff)
//! - [`datasets`]: datasets named in papers, and the catalogue
//! - [`results`]: the results directory of a run
//! - [`sandbox`]: running untrusted code under bubblewrap with limits
//! - [`failure`]: errors → retryable or non-retryable Temporal failures
//! - [`settings`]: models and budgets
//! - [`catalogue`]: what each model costs and allows, inference profiles, retired models
//! - [`sources`]: arXiv and OpenReview feeds, PDF download

pub mod catalogue;
pub mod check;
pub mod chunking;
pub mod clients;
pub mod datasets;
pub mod extract;
pub mod failure;
pub mod impls;
pub mod ingest;
pub mod prompts;
pub mod ratelimit;
pub mod results;
pub mod sandbox;
pub mod settings;
pub mod sources;

pub use impls::{Deps, ExecWork, LlmWork, PaperWork};
