//! What the activities need to know from configuration.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ratelimit::ModelLimit;

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
    /// Output budget of one summary, in tokens.
    pub summary_max_tokens: u32,
    /// Output budget of one code answer, in tokens (continued when reached).
    pub code_max_tokens: u32,
    /// How many continuation requests a truncated code answer may get.
    pub max_continuations: u32,
    /// Python interpreter used for static checks.
    pub python: String,
    /// Per-model quotas this worker keeps to (`[models.limits."model-id"] rpm = …, tpm = …`).
    pub limits: BTreeMap<String, ModelLimit>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            summary_model: DEFAULT_SUMMARY_MODEL.into(),
            code_model: DEFAULT_CODE_MODEL.into(),
            max_chunk_tokens: 24_000,
            summary_max_tokens: 1_500,
            code_max_tokens: 8_000,
            max_continuations: 3,
            python: "python3".into(),
            limits: BTreeMap::new(),
        }
    }
}
