//! Every side effect of Annapurna: the activity implementations and the clients they use.
//!
//! Layout:
//! - [`local`], [`llm`], [`exec`]: the activities, one file each, grouped by task queue
//!   (`LocalActivities` on `annapurna`, `LlmActivities` on `annapurna-llm`, `ExecActivities` on
//!   `annapurna-exec-<target>`), the same group names as in `workflows::activities`
//! - [`deps`]: what the activities share; [`gateway`]: the one place where model calls meet the
//!   answer cache, the catalogue, the rate limiters, usage and cost; [`heartbeat`]: heartbeats and
//!   the one conversion of a typed error into the SDK's `ActivityError`
//! - [`clients`]: `blobs` (object_store), `papers` (SQLite or OpenSearch), `llm` (the model
//!   contract, Bedrock Converse, test double), `openai` (OpenAI-compatible Chat Completions and the
//!   providers' settings), `router` (`provider/model` ids routed to their provider)
//! - [`extract`]: text, title and sections from PDF (in a limited child process), LaTeX,
//!   Markdown and plain text
//! - [`ingest`]: adding a paper to the store, and the allowed roots of a workflow's `source`
//! - [`chunking`]: cut points, chunk ranges and the chunk budget arithmetic
//! - [`prompts`]: the prompts, versioned
//! - [`ratelimit`]: per-model requests/tokens per minute with AIMD on throttling
//! - [`check`]: static checks of generated Python (`checker.py`, ruff)
//! - [`datasets`]: datasets named in papers, and the catalogue
//! - [`results`]: the results directory of a run
//! - [`metrics`]: counters and histograms (Prometheus beside the SDK's, OTLP)
//! - [`sandbox`]: running untrusted code under bubblewrap with limits
//! - [`failure`]: errors → retryable or non-retryable Temporal failures
//! - [`settings`]: models and budgets
//! - [`catalogue`]: what each model costs and allows, inference profiles, retired models
//! - [`eval`]: the ResearchCodeBench task format, task bundles and the test-run program of
//!   `EvaluateSuite`
//! - [`feeds`]: one file per source (arXiv, OpenReview) and their HTTP: pacing, PDF download

pub mod catalogue;
pub mod check;
pub mod check_repo;
pub mod chunking;
pub mod clients;
pub mod datasets;
pub mod deps;
pub mod eval;
pub mod exec;
pub mod extract;
pub mod failure;
pub mod feeds;
pub mod gateway;
mod group;
pub mod heartbeat;
pub mod ingest;
pub mod latex;
pub mod llm;
pub mod local;
pub mod metrics;
pub mod notify;
pub(crate) mod prelude;
pub mod prompts;
pub mod ratelimit;
pub mod repo;
pub mod results;
pub mod sandbox;
pub mod sections;
pub mod settings;

pub use deps::Deps;
pub use exec::ExecActivities;
pub use llm::LlmActivities;
pub use local::LocalActivities;
