//! The model catalogue: what Annapurna knows of each model it may call (context window, largest
//! answer, how output tokens count against the tokens-per-minute quota, prices, lifecycle and
//! starting quotas), and how an inference-profile id (`us.anthropic.…`, `global.anthropic.…`)
//! resolves to its model.
//!
//! The built-in entries are Bedrock's figures for the Claude models as of 2026-12, OpenAI's
//! published figures for the GPT-5 family (standard tier; OpenAI has no cache-write surcharge,
//! so a cache write costs the input price) and a local DeepSeek-Coder; a deployment
//! adds or corrects entries under `[models.catalogue."model-id"]` in `annapurna.toml`. A model that
//! is in no entry still works: cost and quota are then unknown, and the worker and
//! `annapurna doctor` say so.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Claude Haiku 4.5: summaries and the judge.
pub const HAIKU_4_5: &str = "anthropic.claude-haiku-4-5-20251001-v1:0";
/// Claude Sonnet 4.6: code, review, fixes and diagnosis.
pub const SONNET_4_6: &str = "anthropic.claude-sonnet-4-6";
/// Claude Sonnet 4.5.
pub const SONNET_4_5: &str = "anthropic.claude-sonnet-4-5-20250929-v1:0";
/// GPT-5 (OpenAI): code at OpenAI.
pub const GPT_5: &str = "gpt-5";
/// GPT-5 mini (OpenAI).
pub const GPT_5_MINI: &str = "gpt-5-mini";
/// GPT-5 nano (OpenAI).
pub const GPT_5_NANO: &str = "gpt-5-nano";
/// DeepSeek-Coder 6.7B Instruct on a local server: a 16K context, no price.
pub const DEEPSEEK_CODER_6_7B: &str = "deepseek-coder-6.7b-instruct";
/// Claude 3 Haiku (retired on Bedrock on 2026-09-10 in most regions).
pub const HAIKU_3: &str = "anthropic.claude-3-haiku-20240307-v1:0";
/// Claude 3.5 Sonnet v2 (retired on Bedrock on 2026-03-01).
pub const SONNET_3_5_V2: &str = "anthropic.claude-3-5-sonnet-20241022-v2:0";

/// Where a model is in its provider's life cycle (Bedrock's `modelLifecycle.status`, with
/// retirement added: Bedrock stops listing a model once it is gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Lifecycle {
    /// Invocable, and the provider's current choice.
    #[default]
    Active,
    /// Still invocable, with a retirement date announced.
    Legacy,
    /// No longer invocable: calls fail.
    Retired,
}

impl Lifecycle {
    /// Bedrock's spelling (`ACTIVE`, `LEGACY`, `EOL`).
    pub fn as_bedrock(self) -> &'static str {
        match self {
            Lifecycle::Active => "ACTIVE",
            Lifecycle::Legacy => "LEGACY",
            Lifecycle::Retired => "EOL",
        }
    }
}

/// What batch inference costs against the on-demand price: Bedrock bills a batch job's tokens
/// at half the on-demand price of the model.
pub const BATCH_PRICE_FACTOR: f64 = 0.5;

/// Prices, US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Price {
    /// Per million input tokens.
    pub input: f64,
    /// Per million output tokens.
    pub output: f64,
    /// Per million tokens written to the prompt cache (0: 1.25 × input).
    #[serde(default)]
    pub cache_write: f64,
    /// Per million tokens read from the prompt cache (0: 0.1 × input).
    #[serde(default)]
    pub cache_read: f64,
}

impl Price {
    /// A price with the usual cache multipliers (write 1.25 ×, read 0.1 × the input price).
    pub const fn with_cache(input: f64, output: f64) -> Self {
        Self {
            input,
            output,
            cache_write: input * 1.25,
            cache_read: input * 0.1,
        }
    }

    /// The cache write and read prices, the usual multipliers of the input price where unset.
    pub fn cache_prices(self) -> (f64, f64) {
        let cache_write = if self.cache_write > 0.0 {
            self.cache_write
        } else {
            self.input * 1.25
        };
        let cache_read = if self.cache_read > 0.0 {
            self.cache_read
        } else {
            self.input * 0.1
        };
        (cache_write, cache_read)
    }

    fn scaled(self, factor: f64) -> Self {
        let (cache_write, cache_read) = self.cache_prices();
        Self {
            input: self.input * factor,
            output: self.output * factor,
            cache_write: cache_write * factor,
            cache_read: cache_read * factor,
        }
    }
}

/// One model's entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ModelInfo {
    /// Context window, tokens.
    pub context_tokens: u64,
    /// Largest answer, tokens.
    pub max_output_tokens: u64,
    /// How many quota tokens one output token costs (5 for Claude 3.7 and later on Bedrock,
    /// 1 before).
    pub burndown: u32,
    /// On-demand price of the global inference profile (or the bare id where there is none);
    /// regional profiles (`us.`, `eu.`, `apac.` …) cost 10% more.
    pub price: Price,
    /// Requests per minute to assume when the account's quota cannot be read.
    pub default_rpm: u32,
    /// Tokens per minute to assume when the account's quota cannot be read.
    pub default_tpm: u64,
    /// Life cycle.
    #[serde(default)]
    pub lifecycle: Lifecycle,
    /// The model to move to when this one is legacy or retired.
    #[serde(default)]
    pub replacement: Option<String>,
    /// Invocable on demand only through an inference profile: a bare id is refused.
    #[serde(default)]
    pub profile_only: bool,
    /// Words of the model's name as AWS Service Quotas spells it ("Claude Haiku 4.5"), to find
    /// its quotas.
    #[serde(default)]
    pub quota_name: String,
}

/// The built-in entries, built once (the stand-in consults them on every request).
pub static BUILTIN: std::sync::LazyLock<BTreeMap<String, ModelInfo>> =
    std::sync::LazyLock::new(builtin);

/// The built-in entries.
pub fn builtin() -> BTreeMap<String, ModelInfo> {
    let claude4 = |price: Price, rpm: u32, tpm: u64, quota_name: &str| ModelInfo {
        context_tokens: 200_000,
        max_output_tokens: 64_000,
        burndown: 5,
        price,
        default_rpm: rpm,
        default_tpm: tpm,
        lifecycle: Lifecycle::Active,
        replacement: None,
        profile_only: true,
        quota_name: quota_name.into(),
    };
    let retired = |price: Price, replacement: &str, quota_name: &str| ModelInfo {
        context_tokens: 200_000,
        max_output_tokens: 8_192,
        burndown: 1,
        price,
        default_rpm: 0,
        default_tpm: 0,
        lifecycle: Lifecycle::Retired,
        replacement: Some(replacement.into()),
        profile_only: false,
        quota_name: quota_name.into(),
    };
    // OpenAI: 400K context, 128K output, cached input at a tenth of the input price; quotas of a
    // usage tier 1 account. Output tokens count once against the tokens-per-minute quota.
    let gpt5 = |input: f64, output: f64, tpm: u64| ModelInfo {
        context_tokens: 400_000,
        max_output_tokens: 128_000,
        burndown: 1,
        price: Price {
            input,
            output,
            cache_write: input,
            cache_read: input * 0.1,
        },
        default_rpm: 500,
        default_tpm: tpm,
        lifecycle: Lifecycle::Active,
        replacement: None,
        profile_only: false,
        quota_name: String::new(),
    };
    BTreeMap::from([
        (GPT_5.into(), gpt5(1.25, 10.0, 500_000)),
        (GPT_5_MINI.into(), gpt5(0.25, 2.0, 500_000)),
        (GPT_5_NANO.into(), gpt5(0.05, 0.40, 200_000)),
        (
            DEEPSEEK_CODER_6_7B.into(),
            ModelInfo {
                context_tokens: 16_384,
                max_output_tokens: 4_096,
                burndown: 1,
                // Your own GPU: no per-token price.
                price: Price {
                    input: 0.0,
                    output: 0.0,
                    cache_write: 0.0,
                    cache_read: 0.0,
                },
                default_rpm: 0,
                default_tpm: 0,
                lifecycle: Lifecycle::Active,
                replacement: None,
                profile_only: false,
                quota_name: String::new(),
            },
        ),
        (
            HAIKU_4_5.into(),
            claude4(
                Price::with_cache(1.0, 5.0),
                250,
                1_000_000,
                "Claude Haiku 4.5",
            ),
        ),
        (
            SONNET_4_6.into(),
            claude4(
                Price::with_cache(3.0, 15.0),
                200,
                500_000,
                "Claude Sonnet 4.6",
            ),
        ),
        (
            SONNET_4_5.into(),
            claude4(
                Price::with_cache(3.0, 15.0),
                200,
                500_000,
                "Claude Sonnet 4.5",
            ),
        ),
        (
            HAIKU_3.into(),
            retired(Price::with_cache(0.25, 1.25), HAIKU_4_5, "Claude 3 Haiku"),
        ),
        (
            SONNET_3_5_V2.into(),
            retired(
                Price::with_cache(3.0, 15.0),
                SONNET_4_6,
                "Claude 3.5 Sonnet V2",
            ),
        ),
    ])
}

/// The geography prefixes of Bedrock's cross-region inference profiles.
const PROFILE_PREFIXES: &[&str] = &["global", "us-gov", "us", "eu", "apac", "jp", "au", "ca"];

/// A model id split into its inference-profile prefix (if any) and the model id.
pub fn split_profile(id: &str) -> (Option<&str>, &str) {
    // An ARN names the profile or model after its last '/'.
    let id = id.rsplit('/').next().unwrap_or(id);
    for prefix in PROFILE_PREFIXES {
        if let Some(rest) = id.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) {
            return (Some(prefix), rest);
        }
    }
    (None, id)
}

/// The inference-profile geography that serves `region` (`us-east-1` → `us`,
/// `eu-west-1` → `eu`, `ap-southeast-2` → `apac`); `global` where none fits.
pub fn geography(region: &str) -> &'static str {
    match region.split('-').next().unwrap_or("") {
        _ if region.starts_with("us-gov") => "us-gov",
        "us" => "us",
        "eu" => "eu",
        "ap" => "apac",
        _ => "global",
    }
}

/// `model` as the inference profile of `region`'s geography.
pub fn profile_for(region: &str, model: &str) -> String {
    format!("{}.{}", geography(region), split_profile(model).1)
}

/// What the catalogue says of one model id, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved<'a> {
    /// The model id without the profile prefix.
    pub model: &'a str,
    /// The profile prefix, when the id is an inference profile.
    pub profile: Option<&'a str>,
    /// The entry.
    pub info: &'a ModelInfo,
}

impl Resolved<'_> {
    /// The price of this id: regional profiles cost 10% more than the global one.
    pub fn price(&self) -> Price {
        let factor = match self.profile {
            Some(p) if p != "global" => 1.1,
            _ => 1.0,
        };
        self.info.price.scaled(factor)
    }
}

/// Looks `id` (a model id, an inference-profile id or an ARN of either) up in `catalogue`.
pub fn resolve<'a>(
    catalogue: &'a BTreeMap<String, ModelInfo>,
    id: &'a str,
) -> Option<Resolved<'a>> {
    let (profile, model) = split_profile(id);
    catalogue.get(model).map(|info| Resolved {
        model,
        profile,
        info,
    })
}

/// What to use instead of a retired model: its replacement as the region's profile, when the
/// catalogue knows one.
pub fn instead_of_retired(
    catalogue: &BTreeMap<String, ModelInfo>,
    id: &str,
    region: &str,
) -> String {
    resolve(catalogue, id)
        .and_then(|r| r.info.replacement.as_deref())
        .map(|m| format!("use {} instead", profile_for(region, m)))
        .unwrap_or_else(|| "choose an active model (annapurna doctor checks each role's)".into())
}

/// What to use instead of a bare id of a profile-only model: the region's profile, or the global
/// one.
pub fn instead_of_bare_id(id: &str, region: &str) -> String {
    format!(
        "use {} (or global.{})",
        profile_for(region, id),
        split_profile(id).1
    )
}

/// Where a refused model is configured, for every message that names one.
pub const WHERE_MODELS_ARE_SET: &str =
    "models.summary-model / models.code-model, or the workflow input";

/// Why a model id will not work, from the catalogue alone (no call made): retired, or a bare id of
/// a model that is invocable only through an inference profile. `(failure type, message)`; the
/// message names the model and what to use instead.
pub fn unusable(
    catalogue: &BTreeMap<String, ModelInfo>,
    id: &str,
    region: &str,
) -> Option<(&'static str, String)> {
    use workflows::names::failure;
    let r = resolve(catalogue, id)?;
    if r.info.lifecycle == Lifecycle::Retired {
        return Some((
            failure::MODEL_RETIRED,
            format!(
                "model {id} is retired and can no longer be invoked; {} ({WHERE_MODELS_ARE_SET})",
                instead_of_retired(catalogue, id, region)
            ),
        ));
    }
    if r.info.profile_only && r.profile.is_none() {
        return Some((
            failure::MODEL_NEEDS_INFERENCE_PROFILE,
            format!(
                "model {id} is invocable on demand only through an inference profile; {} ({WHERE_MODELS_ARE_SET})",
                instead_of_bare_id(id, region)
            ),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_resolve_to_their_model() {
        let c = builtin();
        let r = resolve(&c, "us.anthropic.claude-haiku-4-5-20251001-v1:0").unwrap();
        assert_eq!(r.model, HAIKU_4_5);
        assert_eq!(r.profile, Some("us"));
        assert_eq!(r.info.burndown, 5);
        let arn = "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-sonnet-4-6";
        assert_eq!(resolve(&c, arn).unwrap().model, SONNET_4_6);
        assert!(resolve(&c, "meta.llama3-8b-instruct-v1:0").is_none());
        assert_eq!(resolve(&c, HAIKU_3).unwrap().info.burndown, 1);
    }

    #[test]
    fn regional_profiles_cost_ten_percent_more() {
        let c = builtin();
        let global = resolve(&c, "global.anthropic.claude-haiku-4-5-20251001-v1:0").unwrap();
        assert_eq!(global.price().input, 1.0);
        assert_eq!(global.price().output, 5.0);
        assert!((global.price().cache_write - 1.25).abs() < 1e-9);
        assert!((global.price().cache_read - 0.1).abs() < 1e-9);
        let us = resolve(&c, "us.anthropic.claude-haiku-4-5-20251001-v1:0").unwrap();
        assert!((us.price().input - 1.1).abs() < 1e-9);
        assert!((us.price().output - 5.5).abs() < 1e-9);
    }

    #[test]
    fn geography_follows_the_region() {
        assert_eq!(
            profile_for("us-east-1", SONNET_4_6),
            "us.anthropic.claude-sonnet-4-6"
        );
        assert_eq!(
            profile_for("eu-central-1", HAIKU_4_5),
            format!("eu.{HAIKU_4_5}")
        );
        assert_eq!(
            profile_for("ap-northeast-1", HAIKU_4_5),
            format!("apac.{HAIKU_4_5}")
        );
        assert_eq!(
            profile_for("sa-east-1", HAIKU_4_5),
            format!("global.{HAIKU_4_5}")
        );
        assert_eq!(
            profile_for("us-gov-west-1", HAIKU_4_5),
            format!("us-gov.{HAIKU_4_5}")
        );
    }

    #[test]
    fn retired_and_bare_profile_only_ids_are_named_with_the_fix() {
        let c = builtin();
        let (kind, msg) = unusable(&c, HAIKU_3, "eu-west-1").unwrap();
        assert_eq!(kind, "ModelRetired");
        assert!(
            msg.contains(HAIKU_3) && msg.contains(&format!("eu.{HAIKU_4_5}")),
            "{msg}"
        );
        let (kind, msg) = unusable(&c, SONNET_4_6, "us-west-2").unwrap();
        assert_eq!(kind, "ModelNeedsInferenceProfile");
        assert!(msg.contains("us.anthropic.claude-sonnet-4-6"), "{msg}");
        assert!(unusable(&c, &format!("us.{SONNET_4_6}"), "us-west-2").is_none());
        assert!(unusable(&c, "some.unknown-model", "us-west-2").is_none());
    }
}
