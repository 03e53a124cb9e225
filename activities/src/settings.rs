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

/// Claude 3 Haiku on Bedrock.
pub const DEFAULT_SUMMARY_MODEL: &str = "anthropic.claude-3-haiku-20240307-v1:0";
/// Claude 3.5 Sonnet v2 on Bedrock.
pub const DEFAULT_CODE_MODEL: &str = "anthropic.claude-3-5-sonnet-20241022-v2:0";

/// Model and check settings of the activities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct Settings {
    /// Model id (or inference-profile id) for chunk summaries.
    pub summary_model: String,
    /// Model id (or inference-profile id) for code, review and fixes.
    pub code_model: String,
    /// Largest chunk, in estimated tokens, when the workflow input does not say.
    pub max_chunk_tokens: u64,
    /// Context window of the summary model, in tokens: a chunk, its prompt and the reserved
    /// output must fit in it, whatever `max-chunk-tokens` says.
    pub summary_context_tokens: u64,
    /// Output budget of one summary, in tokens.
    pub summary_max_tokens: u32,
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
    /// Prices for the cost estimate, US dollars per million tokens
    /// (`[models.prices."model-id"] input = …, output = …`); an inference-profile id such as
    /// `us.anthropic.…` uses the price of the model id it contains.
    pub prices: BTreeMap<String, Price>,
    /// The judge of ingested papers (`[models.judge]`).
    pub judge: JudgeSettings,
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

/// A model's on-demand price, US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Price {
    /// Per million input tokens.
    pub input: f64,
    /// Per million output tokens.
    pub output: f64,
}

/// Tokens of a summary prompt beyond the chunk itself (instructions, title, section list).
const PROMPT_OVERHEAD_TOKENS: u64 = 1_000;

impl Settings {
    /// The code model a request names, else the configured one.
    pub fn code_model_or(&self, requested: &Option<String>) -> String {
        requested.clone().unwrap_or_else(|| self.code_model.clone())
    }

    /// The summary model a request names, else the configured one.
    pub fn summary_model_or(&self, requested: &Option<String>) -> String {
        requested
            .clone()
            .unwrap_or_else(|| self.summary_model.clone())
    }

    /// The chunk budget in tokens: the requested one, but never more than the summary model's
    /// context leaves after the prompt and the reserved output.
    pub fn chunk_tokens(&self, requested: Option<u64>) -> u64 {
        let room = self
            .summary_context_tokens
            .saturating_sub(self.summary_max_tokens as u64 + PROMPT_OVERHEAD_TOKENS);
        requested
            .unwrap_or(self.max_chunk_tokens)
            .min(room)
            .max(100)
    }

    /// Estimated cost in micro-dollars of a call to `model`; 0 for a model without a price.
    pub fn cost_microusd(&self, model: &str, input_tokens: u64, output_tokens: u64) -> u64 {
        let price = self.prices.get(model).or_else(|| {
            self.prices
                .iter()
                .find(|(id, _)| model.contains(id.as_str()))
                .map(|(_, p)| p)
        });
        price
            .map(|p| {
                (input_tokens as f64 * p.input + output_tokens as f64 * p.output).round() as u64
            })
            .unwrap_or(0)
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
            code_max_tokens: 8_000,
            max_continuations: 3,
            python: "python3".into(),
            ruff: "ruff".into(),
            datasets: crate::datasets::DEFAULT_CATALOGUE
                .iter()
                .map(|s| s.to_string())
                .collect(),
            limits: BTreeMap::new(),
            // Bedrock on-demand list prices when this was written; override in annapurna.toml.
            prices: BTreeMap::from([
                (
                    DEFAULT_SUMMARY_MODEL.to_owned(),
                    Price {
                        input: 0.25,
                        output: 1.25,
                    },
                ),
                (
                    DEFAULT_CODE_MODEL.to_owned(),
                    Price {
                        input: 3.0,
                        output: 15.0,
                    },
                ),
            ]),
            judge: JudgeSettings::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_budget_fits_the_context() {
        let mut s = Settings::default();
        assert_eq!(s.chunk_tokens(None), 24_000);
        assert_eq!(s.chunk_tokens(Some(500_000)), 200_000 - 1_500 - 1_000);
        s.summary_context_tokens = 8_000;
        assert_eq!(s.chunk_tokens(None), 8_000 - 1_500 - 1_000);
    }

    #[test]
    fn cost_by_model_and_inference_profile() {
        let s = Settings::default();
        // 1 M input + 1 M output tokens of Haiku: $0.25 + $1.25.
        assert_eq!(
            s.cost_microusd(DEFAULT_SUMMARY_MODEL, 1_000_000, 1_000_000),
            1_500_000
        );
        let profile = format!("us.{DEFAULT_CODE_MODEL}");
        assert_eq!(s.cost_microusd(&profile, 1_000, 0), 3_000);
        assert_eq!(s.cost_microusd("unknown", 1_000, 1_000), 0);
    }
}
