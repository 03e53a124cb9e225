//! Configuration: defaults → `annapurna.toml` (or the file named by `--config` /
//! `ANNAPURNA_CONFIG`) → `ANNAPURNA_*` environment variables, where `__` separates sections and `_`
//! stands for `-` (`ANNAPURNA_STORAGE__BLOBS`, `ANNAPURNA_MODELS__SUMMARY_MODEL`). The Temporal
//! connection is not here: it follows Temporal's own conventions (`TEMPORAL_ADDRESS`,
//! `TEMPORAL_NAMESPACE`, `temporal.toml` profiles). AWS credentials are never here either: the
//! standard AWS chain provides them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use activities::ratelimit::ModelLimit;
use activities::settings::Settings;
use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Everything configurable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct Config {
    /// Where papers, blobs and results live.
    pub storage: Storage,
    /// The Bedrock connection.
    pub bedrock: Bedrock,
    /// Models and budgets of the activities.
    pub models: Settings,
    /// Model providers by name (`[providers.<name>]`): `bedrock` (Converse, connection in
    /// `[bedrock]`), `openai` (Chat Completions at OpenAI, key in `OPENAI_API_KEY`) and `local`
    /// (an OpenAI-compatible server on this machine) are built in; a model id `name/model`
    /// goes to provider `name`.
    pub providers: std::collections::BTreeMap<String, activities::clients::openai::ProviderConfig>,
    /// Worker concurrency and shutdown.
    pub worker: WorkerConfig,
    /// Logs and traces.
    pub telemetry: Telemetry,
    /// The embedded stack of `annapurna dev`.
    pub dev: Dev,
    /// Isolation and limits of generated code.
    pub sandbox: activities::sandbox::SandboxConfig,
    /// Paper feeds (arXiv, OpenReview) and PDF downloads.
    pub sources: activities::feeds::SourceConfig,
    /// Notifications: a Slack thread per paper (`[notify.slack]`; off by default).
    pub notify: activities::notify::NotifyConfig,
}

/// Storage locations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct Storage {
    /// Blob store: a directory, or `s3://bucket/prefix`.
    pub blobs: String,
    /// Results: a directory, or `s3://bucket/prefix`; a run writes `<paper-id>/<run-id>/`.
    pub results: String,
    /// The SQLite paper store.
    pub papers: PathBuf,
    /// Which paper store: `sqlite` (the file above) or `opensearch` (`[storage.opensearch]`).
    pub paper_store: PaperStoreKind,
    /// The OpenSearch paper store.
    pub opensearch: activities::clients::papers::OpenSearchConfig,
}

/// The paper store's backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PaperStoreKind {
    /// The embedded SQLite file (`storage.papers`).
    #[default]
    Sqlite,
    /// An OpenSearch cluster (`storage.opensearch`).
    Opensearch,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            storage: Storage::default(),
            bedrock: Bedrock::default(),
            models: Settings::default(),
            providers: activities::clients::openai::default_providers(),
            worker: WorkerConfig::default(),
            telemetry: Telemetry::default(),
            dev: Dev::default(),
            sandbox: Default::default(),
            sources: Default::default(),
            notify: Default::default(),
        }
    }
}

impl Default for Storage {
    fn default() -> Self {
        Self {
            blobs: ".annapurna/blobs".into(),
            results: "results".into(),
            papers: ".annapurna/papers.db".into(),
            paper_store: PaperStoreKind::Sqlite,
            opensearch: Default::default(),
        }
    }
}

/// When to use the Bedrock stand-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StandinMode {
    /// `annapurna dev` uses it when no AWS credentials are configured; `annapurna worker` never.
    Auto,
    /// Always (tests, demos).
    Always,
    /// Never.
    Never,
}

/// The Bedrock connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct Bedrock {
    /// AWS region; when empty, `AWS_REGION` / `AWS_DEFAULT_REGION`, else `us-east-1`.
    pub region: String,
    /// Endpoint override (a VPC endpoint, or the stand-in's URL). Empty: the region's endpoint.
    pub endpoint_url: String,
    /// Whether the endpoint is the Bedrock stand-in (its answers are then marked as such).
    pub standin: StandinMode,
    /// Seconds a model call may take before it counts as failed.
    pub timeout_secs: u64,
}

impl Default for Bedrock {
    fn default() -> Self {
        Self {
            region: String::new(),
            endpoint_url: String::new(),
            standin: StandinMode::Auto,
            timeout_secs: 300,
        }
    }
}

/// Worker concurrency and shutdown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct WorkerConfig {
    /// Activities at once on the `annapurna` queue.
    pub max_concurrent_activities: usize,
    /// Activity slots on the `annapurna-llm` queue. 0 (the default): a ceiling that does not
    /// bind, [`LLM_SLOTS_FLOOR`] or a minute of the configured quotas' requests if more, so that
    /// the quota (the rate limiter, where waiting calls take turns by paper) is the bound, not
    /// a slot count: by Little's law 16 slots of ~10 s summaries would serve only 1.6 requests/s.
    pub max_concurrent_llm_activities: usize,
    /// Server-side limit on `annapurna-llm` activity dispatches per second across all workers.
    /// 0 (the default): the configured quotas' requests per minute (`models.limits`), summed,
    /// per second; none when no quota is configured. Negative: none.
    pub llm_activities_per_second: f64,
    /// On SIGTERM, how long in-flight activities get to finish before they are cancelled.
    pub graceful_shutdown_secs: u64,
    /// How long a workflow task waits on a (possibly dead) worker's sticky queue before any
    /// worker may take it.
    pub sticky_timeout_secs: u64,
    /// Code runs at once on an executor (`annapurna worker --exec …`).
    pub max_concurrent_executions: usize,
    /// Directories under which a workflow's `source` may name a paper file (canonical paths, no
    /// symbolic links below them). Empty: `source` inputs are refused, and papers are added with
    /// `annapurna paper add` / `annapurna run FILE`. `annapurna dev` adds its working directory.
    pub source_roots: Vec<std::path::PathBuf>,
    /// How long `annapurna run` lets a paper's code wait for an executor of its target before the
    /// paper fails with `NoExecutor` (the workflow input `executor_wait_secs`).
    pub executor_wait_secs: u64,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            max_concurrent_activities: 16,
            max_concurrent_llm_activities: 0,
            llm_activities_per_second: 0.0,
            graceful_shutdown_secs: 30,
            sticky_timeout_secs: 10,
            max_concurrent_executions: 4,
            executor_wait_secs: 1800,
            source_roots: Vec::new(),
        }
    }
}

/// The smallest default ceiling of `annapurna-llm` slots: every chunk of a paper at the most
/// (256), twice over, so the chunks of papers started later reach the limiter's round-robin.
pub const LLM_SLOTS_FLOOR: usize = 512;

impl WorkerConfig {
    /// Activity slots of the `annapurna-llm` worker: as configured, or the non-binding default.
    pub fn llm_slots(&self, limits: &BTreeMap<String, ModelLimit>) -> usize {
        if self.max_concurrent_llm_activities > 0 {
            return self.max_concurrent_llm_activities;
        }
        let per_minute: u64 = limits.values().map(|l| u64::from(l.rpm)).sum();
        LLM_SLOTS_FLOOR.max(per_minute as usize)
    }

    /// The `annapurna-llm` task queue's server-side dispatch rate: as configured, or the
    /// configured quotas' requests per second.
    pub fn llm_rate(&self, limits: &BTreeMap<String, ModelLimit>) -> Option<f64> {
        if self.llm_activities_per_second != 0.0 {
            return Some(self.llm_activities_per_second).filter(|r| *r > 0.0);
        }
        let per_minute: u64 = limits.values().map(|l| u64::from(l.rpm)).sum();
        (per_minute > 0).then(|| per_minute as f64 / 60.0)
    }
}

/// Logs and traces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case", default)]
pub struct Telemetry {
    /// OTLP/gRPC endpoint for traces (e.g. `http://localhost:4317`); empty: no export.
    pub otlp_endpoint: String,
    /// Log lines as JSON instead of text.
    pub json_logs: bool,
    /// Where the worker serves Prometheus metrics at `/metrics` (e.g. `127.0.0.1:9464`), its own
    /// and the Temporal SDK's; empty: no endpoint. With `otlp-endpoint`, metrics also go there.
    pub prometheus_listen: String,
}

/// The embedded stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct Dev {
    /// State directory (the Temporal SQLite file lives here).
    pub home: PathBuf,
    /// The `temporal` CLI; when empty, `temporal` on PATH or in the set-up venv.
    pub temporal_bin: String,
    /// Port of the Bedrock stand-in.
    pub standin_port: u16,
}

impl Default for Dev {
    fn default() -> Self {
        Self {
            home: ".annapurna".into(),
            temporal_bin: String::new(),
            standin_port: 8788,
        }
    }
}

impl Config {
    /// Loads the layers; `file` overrides the default `annapurna.toml` (which may be absent).
    pub fn load(file: Option<&Path>) -> anyhow::Result<Config> {
        // Twice: the first pass finds the region, whose geography picks the default models'
        // inference profiles (`eu.…` in eu-west-1); the second has those defaults beneath the
        // file and the environment, so that a model set by the user always wins.
        let first = Self::layered(Config::default(), file)?;
        let defaults = Config {
            models: Settings::for_region(&first.region()),
            ..Config::default()
        };
        let mut config = Self::layered(defaults, file)?;
        config.models.region = config.region();
        config.models.any_model_providers = config
            .providers
            .iter()
            .filter(|(_, p)| p.any_model)
            .map(|(name, _)| name.clone())
            .collect();
        Ok(config)
    }

    fn layered(defaults: Config, file: Option<&Path>) -> anyhow::Result<Config> {
        let mut figment = Figment::from(Serialized::defaults(defaults));
        match file {
            Some(f) => {
                anyhow::ensure!(
                    f.is_file(),
                    "configuration file {} does not exist",
                    f.display()
                );
                figment = figment.merge(Toml::file(f));
            }
            None => figment = figment.merge(Toml::file("annapurna.toml")),
        }
        figment = figment.merge(
            Env::prefixed("ANNAPURNA_")
                .ignore(&["CONFIG"])
                .map(|k| k.as_str().replace("__", ".").replace('_', "-").into()),
        );
        figment
            .extract()
            .context("reading configuration (annapurna.toml and ANNAPURNA_* variables)")
    }

    /// The region, resolved.
    pub fn region(&self) -> String {
        if !self.bedrock.region.is_empty() {
            return self.bedrock.region.clone();
        }
        std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|_| "us-east-1".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail closure returns figment's own error type
    fn layers_defaults_file_env() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.toml");
        std::fs::write(&file, "[storage]\nblobs = \"/from/file\"\nresults = \"/r\"\n[models]\nsummary-model = \"m-file\"\n").unwrap();
        figment::Jail::expect_with(|jail| {
            jail.set_env("ANNAPURNA_STORAGE__RESULTS", "/from/env");
            jail.set_env("ANNAPURNA_MODELS__MAX_CHUNK_TOKENS", "1234");
            let c = Config::load(Some(&file)).unwrap();
            assert_eq!(c.storage.blobs, "/from/file");
            assert_eq!(c.storage.results, "/from/env");
            assert_eq!(c.models.summary_model, "m-file");
            assert_eq!(c.models.max_chunk_tokens, 1234);
            assert_eq!(c.worker, WorkerConfig::default());
            // The default code model follows the region; the file's summary model wins.
            jail.set_env("AWS_REGION", "eu-west-1");
            let c = Config::load(Some(&file)).unwrap();
            assert_eq!(c.models.summary_model, "m-file");
            assert_eq!(c.models.code_model, "eu.anthropic.claude-sonnet-4-6");
            // Providers: the built-in ones, a file or the environment changes one field.
            assert_eq!(c.providers["openai"].api_key_env, "OPENAI_API_KEY");
            jail.set_env(
                "ANNAPURNA_PROVIDERS__OPENAI__BASE_URL",
                "http://127.0.0.1:9/v1",
            );
            jail.set_env("ANNAPURNA_MODELS__ROLES__CODE", "openai/gpt-5-mini");
            let c = Config::load(Some(&file)).unwrap();
            assert_eq!(c.providers["openai"].base_url, "http://127.0.0.1:9/v1");
            assert_eq!(
                c.providers["openai"].max_tokens_field,
                "max_completion_tokens"
            );
            assert_eq!(c.models.roles["code"], "openai/gpt-5-mini");
            assert_eq!(c.models.any_model_providers, vec!["local".to_owned()]);
            Ok(())
        });
        assert!(Config::load(Some(Path::new("/no/such.toml"))).is_err());
    }
}
