//! What the activities need to know from configuration.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ratelimit::ModelLimit;

/// Where `scripts/setup.sh` caches what it installs: `$XDG_CACHE_HOME/annapurna`, else
/// `~/.cache/annapurna` (the tools venv, the execution venv, the datasets).
pub fn cache_dir() -> std::path::PathBuf {
    std::env::var("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache")
        })
        .join("annapurna")
}

/// A tool by name: on PATH, else in the set-up script's tools venv; `None` when in neither.
pub fn find_tool(name: &str) -> Option<std::path::PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|c| c.is_file())
    });
    on_path.or_else(|| Some(cache_dir().join("venv/bin").join(name)).filter(|c| c.is_file()))
}

pub use crate::catalogue::Price;
use crate::catalogue::{self, ModelInfo};
use crate::failure::Classified;
use workflows::types::ModelRole;

/// The summary and judge model by default: Claude Haiku 4.5 through the US inference profile
/// (the default region is us-east-1; [`Settings::for_region`] picks the region's geography).
pub const DEFAULT_SUMMARY_MODEL: &str = "us.anthropic.claude-haiku-4-5-20251001-v1:0";
/// The code, review, fix and diagnosis model by default: Claude Sonnet 4.6 through the US
/// inference profile.
pub const DEFAULT_CODE_MODEL: &str = "us.anthropic.claude-sonnet-4-6";

/// Model and check settings of the activities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct Settings {
    /// Model id (or inference-profile id) for chunk summaries.
    pub summary_model: String,
    /// Model id (or inference-profile id) for code, review and fixes.
    pub code_model: String,
    /// A model per role (`[models.roles] code = "openai/gpt-5-mini"`): role (`summary`,
    /// `dataset`, `code`, `review`, `fix`, `diagnose`, `judge`) → `provider/model`, a bare id
    /// being Bedrock's. A role not listed uses `summary-model` (summary, dataset, judge) or
    /// `code-model` (the others).
    pub roles: BTreeMap<String, String>,
    /// Largest chunk, in estimated tokens, when the workflow input does not say.
    pub max_chunk_tokens: u64,
    /// Context window of the summary model, in tokens: a chunk, its prompt and the reserved
    /// output must fit in it, whatever `max-chunk-tokens` says.
    pub summary_context_tokens: u64,
    /// Output budget of one summary, in tokens.
    pub summary_max_tokens: u32,
    /// Appendix text summarised per paper, estimated tokens: appendices come after the main
    /// text and only as much of them as fits (0: none). References, acknowledgements and
    /// checklists are never summarised.
    pub appendix_budget_tokens: u64,
    /// Output budget of one code answer, in tokens (continued when reached).
    pub code_max_tokens: u32,
    /// How many continuation requests a truncated code answer may get.
    pub max_continuations: u32,
    /// Python interpreter used for static checks.
    pub python: String,
    /// ruff, for undefined names (scripts/setup.sh installs it in the venv).
    pub ruff: String,
    /// The datasets generated code may train on (the execution hosts pre-stage them).
    pub datasets: Vec<String>,
    /// Per-model quotas this worker keeps to (`[models.limits."model-id"] rpm = …, tpm = …`).
    pub limits: BTreeMap<String, ModelLimit>,
    /// Send a late model call again (a hedge): at the end of a backlog (calls waited for the
    /// quota within the last minute, none waits now), a call to a model with a quota that runs
    /// past the time 95% of its recent answers took goes out a second time and the first answer
    /// is taken. Both are paid (the one left is counted at the answer's cost); the last answers
    /// of a map no longer wait on the provider's slow tail.
    pub hedge: bool,
    /// Negotiated prices that replace the catalogue's, US dollars per million tokens
    /// (`[models.prices."model-id"] input = …, output = …`); an inference-profile id such as
    /// `us.anthropic.…` uses the price of the model id it contains.
    pub prices: BTreeMap<String, Price>,
    /// The model catalogue (`[models.catalogue."model-id"]` adds or corrects entries; see
    /// [`catalogue`]).
    pub catalogue: BTreeMap<String, ModelInfo>,
    /// The judge of ingested papers (`[models.judge]`).
    pub judge: JudgeSettings,
    /// Bedrock batch inference for batches with `llm_mode: "batch"` (`[models.batch]`).
    pub batch: BatchSettings,
    /// A folder of the user's own example code (`.py` files): the repository planner and the
    /// file writer get the few files that best match each file they plan or write, beside the
    /// accepted repositories of earlier papers. Empty: none.
    pub code_examples: String,
    /// The AWS region the models are called in (from `[bedrock] region`, set when the
    /// configuration is loaded): names the inference profile to use instead of a refused id.
    #[serde(skip)]
    pub region: String,
    /// Providers whose models need no catalogue entry (`any-model = true`, local servers by
    /// default; set when the configuration is loaded).
    #[serde(skip)]
    pub any_model_providers: Vec<String>,
}

/// Bedrock batch inference (`[models.batch]`): where a job's records go and what the account
/// allows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct BatchSettings {
    /// Where the jobs' input and output go, `s3://bucket/prefix`; empty: `storage.blobs` when it
    /// is in S3 (a batch on local blobs summarises on demand).
    pub s3_uri: String,
    /// The IAM service role Bedrock assumes to read the input and write the output (Bedrock
    /// requires one; the stand-in takes any).
    pub role_arn: String,
    /// Fewest records (chunks) a job may have: Bedrock's adjustable quota "Minimum number of
    /// records per batch inference job" (100 by default). A batch with fewer summarises on
    /// demand.
    pub min_records: u32,
    /// Most records a job may have (Bedrock's quota "Records per batch inference job", 50,000
    /// by default). A batch with more summarises on demand: give it fewer `papers_per_run`.
    pub max_records: u32,
    /// Largest input file, bytes (Bedrock's quota "Batch inference input file size", 1 GB by
    /// default). A batch whose records are larger summarises on demand.
    pub max_input_bytes: u64,
    /// Hours a job may run before Bedrock stops it (24 to 168).
    pub timeout_hours: u32,
}

impl Default for BatchSettings {
    fn default() -> Self {
        Self {
            s3_uri: String::new(),
            role_arn: String::new(),
            min_records: 100,
            max_records: 50_000,
            max_input_bytes: 1_000_000_000,
            timeout_hours: 24,
        }
    }
}

/// What the judge looks for, and how good a paper must be to be indexed for generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct JudgeSettings {
    /// The team's interests, in words; the judge scores relevance against it.
    pub profile: String,
    /// Lowest relevance (0–10) that passes.
    pub min_relevance: u8,
    /// Lowest novelty (0–10) that passes.
    pub min_novelty: u8,
    /// The judge's model; empty: the summary model.
    pub model: String,
    /// Characters of the paper's text shown to the judge after the abstract.
    pub excerpt_chars: usize,
}

impl Default for JudgeSettings {
    fn default() -> Self {
        Self {
            profile: "Methods for training and running neural networks that a small team can \
                      implement and run in PyTorch: new architectures, layers, normalisation, \
                      attention, optimisers, training objectives, distillation, efficient \
                      inference. Not surveys, benchmarks or theory without an algorithm."
                .into(),
            min_relevance: 6,
            min_novelty: 5,
            model: String::new(),
            excerpt_chars: 4_000,
        }
    }
}

/// Tokens of a summary prompt beyond the chunk itself (instructions, title, section list).
const PROMPT_OVERHEAD_TOKENS: u64 = 1_000;

impl Settings {
    /// The model of `role` a request names, else the configured one. A model named by a
    /// workflow input must be in the catalogue (built-in or configured), or be served by a
    /// provider with `any-model` (a local server): `Err` names it otherwise.
    pub fn model_for(
        &self,
        role: ModelRole,
        requested: &Option<String>,
    ) -> Result<String, Classified> {
        self.allowed(requested, &self.configured_model(role))
    }

    /// The configured model of `role`: `[models.roles]`, else the judge's own setting, else
    /// the summary or code model.
    pub fn configured_model(&self, role: ModelRole) -> String {
        if let Some(m) = self.roles.get(role.as_str()) {
            return m.clone();
        }
        match role {
            ModelRole::Judge if !self.judge.model.is_empty() => self.judge.model.clone(),
            r if r.uses_summary_model() => self.summary_model.clone(),
            _ => self.code_model.clone(),
        }
    }

    fn allowed(&self, requested: &Option<String>, configured: &str) -> Result<String, Classified> {
        let open = |m: &str| {
            self.any_model_providers
                .iter()
                .any(|p| p == crate::clients::router::provider_of(m))
        };
        match requested {
            None => Ok(configured.to_owned()),
            Some(m) if self.model_info(m).is_some() => Ok(m.clone()),
            Some(m) if open(m) => {
                tracing::warn!(model = %m, "a model the catalogue does not know: its cost and context are unknown (add it under [models.catalogue])");
                Ok(m.clone())
            }
            Some(m) => Err(crate::failure::permanent(
                workflows::names::failure::MODEL_NOT_ALLOWED,
                format!(
                    "model {:?} from the workflow input is not in the model catalogue; use a catalogued model (annapurna doctor lists the configured ones) or add it under [models.catalogue] in the worker's configuration",
                    m.chars().take(200).collect::<String>()
                ),
            )),
        }
    }

    /// The chunk budget in tokens: the requested one, but never more than the summary model's
    /// context leaves after the prompt and the reserved output. The context is the catalogue's
    /// for `model` (a 16K local model gets small chunks), bounded by `summary-context-tokens`.
    pub fn chunk_tokens(&self, requested: Option<u64>, model: &str) -> u64 {
        let context = self
            .model_info(model)
            .map(|r| r.info.context_tokens)
            .unwrap_or(u64::MAX)
            .min(self.summary_context_tokens);
        let room = context.saturating_sub(self.summary_max_tokens as u64 + PROMPT_OVERHEAD_TOKENS);
        requested
            .unwrap_or(self.max_chunk_tokens)
            .min(room)
            .max(100)
    }

    /// The defaults for `region`: the default models as inference profiles of the region's
    /// geography (`eu.` for eu-west-1, `apac.` for ap-northeast-1, `global.` where none fits).
    pub fn for_region(region: &str) -> Self {
        Self {
            region: region.to_owned(),
            summary_model: catalogue::profile_for(region, DEFAULT_SUMMARY_MODEL),
            code_model: catalogue::profile_for(region, DEFAULT_CODE_MODEL),
            ..Self::default()
        }
    }

    /// Why `model` cannot be called, from the catalogue alone: `(failure type, message)`.
    pub fn unusable(&self, model: &str) -> Option<(&'static str, String)> {
        catalogue::unusable(&self.catalogue, model, &self.region)
    }

    /// What the catalogue knows of `model` (a model id, an inference-profile id or an ARN).
    pub fn model_info<'a>(&'a self, model: &'a str) -> Option<catalogue::Resolved<'a>> {
        catalogue::resolve(&self.catalogue, model)
    }

    /// The price of `model`: a configured price first, else the catalogue's.
    pub fn price(&self, model: &str) -> Option<Price> {
        let configured = self.prices.get(model).or_else(|| {
            self.prices
                .iter()
                .find(|(id, _)| model.contains(id.as_str()))
                .map(|(_, p)| p)
        });
        configured
            .copied()
            .or_else(|| self.model_info(model).map(|r| r.price()))
    }

    /// Estimated cost in micro-dollars of an answer of `model`: input, output, cache reads and
    /// cache writes each at their price; 0 for a model without a price (the worker warns of
    /// such models when it starts).
    pub fn call_cost_microusd(
        &self,
        model: &str,
        answer: &crate::clients::llm::LlmResponse,
    ) -> u64 {
        self.price(model)
            .map(|p| {
                let (write, read) = p.cache_prices();
                (answer.input_tokens as f64 * p.input
                    + answer.output_tokens as f64 * p.output
                    + answer.cache_read_tokens as f64 * read
                    + answer.cache_write_tokens as f64 * write)
                    .round() as u64
            })
            .unwrap_or(0)
    }

    /// Estimated cost in micro-dollars of `input_tokens` and `output_tokens` of `model`, no cache.
    pub fn cost_microusd(&self, model: &str, input_tokens: u64, output_tokens: u64) -> u64 {
        self.price(model)
            .map(|p| {
                (input_tokens as f64 * p.input + output_tokens as f64 * p.output).round() as u64
            })
            .unwrap_or(0)
    }

    /// The answer budget of a request to `model` whose prompt is about `input_tokens`:
    /// `wanted`, but no more than the model's largest answer, nor than its context leaves after
    /// the prompt (a local server refuses a request that cannot fit); at least 256.
    pub fn fit_max_tokens(&self, model: &str, input_tokens: u64, wanted: u32) -> u32 {
        match self.model_info(model) {
            Some(r) => {
                let room = r.info.context_tokens.saturating_sub(input_tokens);
                (wanted as u64)
                    .min(r.info.max_output_tokens)
                    .min(room)
                    .max(256)
                    .min(wanted as u64) as u32
            }
            None => wanted,
        }
    }

    /// The models of every role, named: `(role, model id)`.
    pub fn roles(&self) -> Vec<(&'static str, String)> {
        ModelRole::ALL
            .into_iter()
            .map(|r| (r.as_str(), self.configured_model(r)))
            .collect()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            summary_model: DEFAULT_SUMMARY_MODEL.into(),
            code_model: DEFAULT_CODE_MODEL.into(),
            max_chunk_tokens: 24_000,
            summary_context_tokens: 200_000,
            summary_max_tokens: 1_500,
            appendix_budget_tokens: 12_000,
            code_max_tokens: 8_000,
            max_continuations: 3,
            python: "python3".into(),
            ruff: "ruff".into(),
            datasets: crate::datasets::DEFAULT_CATALOGUE
                .iter()
                .map(|s| s.to_string())
                .collect(),
            limits: BTreeMap::new(),
            hedge: true,
            prices: BTreeMap::new(),
            catalogue: catalogue::builtin(),
            region: "us-east-1".into(),
            judge: JudgeSettings::default(),
            batch: BatchSettings::default(),
            code_examples: String::new(),
            roles: BTreeMap::new(),
            any_model_providers: vec!["local".into()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_budget_fits_the_context() {
        let mut s = Settings::default();
        let haiku = DEFAULT_SUMMARY_MODEL;
        assert_eq!(s.chunk_tokens(None, haiku), 24_000);
        assert_eq!(
            s.chunk_tokens(Some(500_000), haiku),
            200_000 - 1_500 - 1_000
        );
        // A 16K local model gets chunks that fit its context; an unknown one the configured.
        let local = "local/deepseek-coder-6.7b-instruct";
        assert_eq!(s.chunk_tokens(None, local), 16_384 - 1_500 - 1_000);
        assert_eq!(s.chunk_tokens(None, "local/some-new-model"), 24_000);
        s.summary_context_tokens = 8_000;
        assert_eq!(s.chunk_tokens(None, haiku), 8_000 - 1_500 - 1_000);
    }

    #[test]
    fn roles_route_to_providers_and_inputs_win() {
        let mut s = Settings::default();
        s.roles.insert("review".into(), "openai/gpt-5-mini".into());
        let role = |s: &Settings, r, req: Option<&str>| {
            s.model_for(r, &req.map(str::to_owned))
                .map_err(|e| format!("{e:?}"))
        };
        assert_eq!(
            role(&s, ModelRole::Review, None).unwrap(),
            "openai/gpt-5-mini"
        );
        assert_eq!(role(&s, ModelRole::Fix, None).unwrap(), DEFAULT_CODE_MODEL);
        assert_eq!(
            role(&s, ModelRole::Judge, None).unwrap(),
            DEFAULT_SUMMARY_MODEL
        );
        assert_eq!(
            role(&s, ModelRole::Code, Some("openai/gpt-5")).unwrap(),
            "openai/gpt-5"
        );
        // A local server may serve any model; OpenAI's must be catalogued.
        assert_eq!(
            role(&s, ModelRole::Code, Some("local/qwen2.5-coder-7b")).unwrap(),
            "local/qwen2.5-coder-7b"
        );
        let refused = role(&s, ModelRole::Code, Some("openai/gpt-99")).unwrap_err();
        assert!(refused.contains("ModelNotAllowed"), "{refused}");
        // The answer budget fits the model: 16K context, 4K answers.
        let local = "local/deepseek-coder-6.7b-instruct";
        assert_eq!(s.fit_max_tokens(local, 2_000, 8_000), 4_096);
        assert_eq!(s.fit_max_tokens(local, 14_000, 8_000), 2_384);
        assert_eq!(s.fit_max_tokens("openai/gpt-5-mini", 2_000, 8_000), 8_000);
    }

    #[test]
    fn cache_reads_and_writes_cost_their_prices() {
        let s = Settings::default();
        let answer = crate::clients::llm::LlmResponse {
            text: String::new(),
            input_tokens: 1_000_000,
            output_tokens: 1_000_000,
            cache_read_tokens: 1_000_000,
            cache_write_tokens: 1_000_000,
            truncated: false,
            latency: std::time::Duration::ZERO,
            standin: false,
        };
        // GPT-5 mini: $0.25 in, $2 out, $0.025 cached, writes at the input price.
        assert_eq!(
            s.call_cost_microusd("openai/gpt-5-mini", &answer),
            250_000 + 2_000_000 + 25_000 + 250_000
        );
        // Haiku 4.5 (global): $1 in, $5 out, $0.10 read, $1.25 write.
        assert_eq!(
            s.call_cost_microusd("global.anthropic.claude-haiku-4-5-20251001-v1:0", &answer),
            1_000_000 + 5_000_000 + 100_000 + 1_250_000
        );
    }

    #[test]
    fn cost_by_model_and_inference_profile() {
        let mut s = Settings::default();
        // 1 M input + 1 M output tokens of Haiku 4.5 through the global profile: $1 + $5; the
        // default (US, regional) profile costs 10% more.
        let global = "global.anthropic.claude-haiku-4-5-20251001-v1:0";
        assert_eq!(s.cost_microusd(global, 1_000_000, 1_000_000), 6_000_000);
        assert_eq!(
            s.cost_microusd(DEFAULT_SUMMARY_MODEL, 1_000_000, 1_000_000),
            6_600_000
        );
        assert_eq!(
            s.cost_microusd("global.anthropic.claude-sonnet-4-6", 1_000, 0),
            3_000
        );
        assert_eq!(s.cost_microusd("unknown", 1_000, 1_000), 0);
        // A negotiated price replaces the catalogue's.
        s.prices.insert(
            "anthropic.claude-sonnet-4-6".into(),
            Price {
                input: 2.0,
                output: 10.0,
                cache_write: 0.0,
                cache_read: 0.0,
            },
        );
        assert_eq!(
            s.cost_microusd("us.anthropic.claude-sonnet-4-6", 1_000, 0),
            2_000
        );
    }

    #[test]
    fn default_models_follow_the_region_and_are_in_the_catalogue() {
        let s = Settings::for_region("eu-west-1");
        assert_eq!(
            s.summary_model,
            "eu.anthropic.claude-haiku-4-5-20251001-v1:0"
        );
        assert_eq!(s.code_model, "eu.anthropic.claude-sonnet-4-6");
        for (_, model) in Settings::default().roles() {
            let r = Settings::default()
                .model_info(&model)
                .map(|r| r.info.lifecycle);
            assert_eq!(r, Some(crate::catalogue::Lifecycle::Active), "{model}");
        }
    }
}
