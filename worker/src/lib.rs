//! The `annapurna` library: everything the binary and the benchmarks share. The binary
//! (`main.rs`) only parses arguments and calls one of these.
//!
//! - [`config`]: defaults → annapurna.toml → ANNAPURNA_* variables
//! - [`telemetry`]: tracing (RUST_LOG) and the optional OTLP exporter
//! - [`metrics`]: the Prometheus endpoint, OTLP metrics, the interceptors that count
//! - [`wiring`]: Temporal client, Bedrock client, activity dependencies, the workers
//! - [`dev`]: the embedded stack (`annapurna dev`)
//! - [`doctor`]: `annapurna doctor`, the readiness checks
//! - one file per subcommand: [`worker_cmd`] (`worker`), [`run_cmd`] (`run`), [`papers_cmd`]
//!   (`paper …`), [`ingest_cmd`] (`ingest`, `schedule …`), [`check_cmd`] (`check`),
//!   [`exec_cmd`] (`exec`), [`eval_cmd`] (`eval`, `eval compare`), [`complete_cmd`] (`complete`), [`replay`] (`replay`, `history export`), [`rerun`] (`rerun`)
//! - [`report`]: `annapurna report`, statistics as an HTML page with charts or JSON
//! - [`history_json`]: the Temporal CLI's JSON histories, read
//!
//! The Bedrock stand-in is the `standin` crate; the benchmarks are the `bench` crate.

pub mod check_cmd;
pub mod complete_cmd;
pub mod config;
pub mod dev;
pub mod doctor;
pub mod eval_cmd;
pub mod eval_env_cmd;
pub mod exec_cmd;
pub mod history_json;
pub mod ingest_cmd;
pub mod judge_cmd;
pub mod metrics;
pub mod papers_cmd;
pub mod plan_cmd;
pub mod replay;
pub mod report;
pub mod rerun;
pub mod run_cmd;
pub mod telemetry;
pub mod wiring;
pub mod worker_cmd;
