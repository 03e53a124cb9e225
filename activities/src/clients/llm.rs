//! Model calls. [`LlmClient`] is the contract; [`BedrockLlm`] is the real client on the AWS SDK's
//! Converse API (against Bedrock, or against the stand-in, which speaks the same wire protocol);
//! [`crate::clients::openai::OpenAiLlm`] speaks OpenAI's Chat Completions; the
//! [`crate::clients::router::Router`] picks one per `provider/model` id; [`ScriptedLlm`] is the
//! test double for unit tests of the activities.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_bedrockruntime::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::operation::converse::ConverseError;
use aws_sdk_bedrockruntime::types::{
    CachePointBlock, CachePointType, ContentBlock, ConversationRole, InferenceConfiguration,
    Message, StopReason, SystemContentBlock,
};

/// The marker every stand-in answer carries, so that whatever it touches can say so.
pub const STANDIN_MARKER: &str = "ANNAPURNA-STANDIN";

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Who said a turn of the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The caller.
    User,
    /// The model (used to continue a truncated answer).
    Assistant,
}

/// One model request.
#[derive(Debug, Clone)]
pub struct LlmRequest {
    /// Model id or inference-profile id.
    pub model: String,
    /// System prompt.
    pub system: String,
    /// The conversation, starting with the user.
    pub messages: Vec<(Role, String)>,
    /// Most tokens to generate.
    pub max_tokens: u32,
    /// Sampling temperature.
    pub temperature: f32,
    /// Bytes of the first user message that are a prefix shared with other requests (the paper
    /// context of code, review, fix and diagnosis prompts): Bedrock gets a `cachePoint` after
    /// them; OpenAI-compatible servers cache a stable prefix on their own. 0: none.
    pub cache_prefix: usize,
}

impl LlmRequest {
    /// A one-turn request: a system prompt and one user message.
    pub fn single(
        model: String,
        (system, user): (String, String),
        max_tokens: u32,
        temperature: f32,
    ) -> Self {
        Self {
            model,
            system,
            messages: vec![(Role::User, user)],
            max_tokens,
            temperature,
            cache_prefix: 0,
        }
    }

    /// The same, with the first `bytes` of the first user message marked as a shared prefix.
    pub fn with_cache_prefix(mut self, bytes: usize) -> Self {
        self.cache_prefix = bytes;
        self
    }
}

/// One model answer.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmResponse {
    /// The answer's text.
    pub text: String,
    /// Input tokens billed at the input price: neither read from nor written to the prompt
    /// cache (Bedrock's `inputTokens`; OpenAI's `prompt_tokens` less `cached_tokens`).
    pub input_tokens: u64,
    /// Output tokens, as reported.
    pub output_tokens: u64,
    /// Input tokens read from the provider's prompt cache (billed at the cache-read price).
    pub cache_read_tokens: u64,
    /// Input tokens written to the provider's prompt cache (billed at the cache-write price).
    pub cache_write_tokens: u64,
    /// True when generation stopped at `max_tokens`.
    pub truncated: bool,
    /// Wall time of the call.
    pub latency: Duration,
    /// True when the stand-in answered.
    pub standin: bool,
}

/// What went wrong with a model call.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// The provider asked us to slow down.
    #[error("model {model} throttled the request")]
    Throttled {
        /// Model id.
        model: String,
        /// The provider's suggested delay, when it gave one.
        retry_after: Option<Duration>,
    },
    /// The request did not get an answer (network, timeout, 5xx).
    #[error("request to model {model} failed: {source}")]
    Transport {
        /// Model id.
        model: String,
        /// Cause.
        #[source]
        source: BoxError,
    },
    /// The request itself is wrong (unknown model, access denied, invalid input): retrying will
    /// not help.
    #[error("model {model} rejected the request ({code}): {message}")]
    Rejected {
        /// Model id.
        model: String,
        /// The provider's error code.
        code: String,
        /// The provider's message.
        message: String,
    },
    /// The model has reached the end of its life: it can no longer be invoked.
    #[error("model {model} is retired: {message}")]
    Retired {
        /// Model id.
        model: String,
        /// The provider's message.
        message: String,
    },
    /// The bare model id of a model that is invocable on demand only through an inference
    /// profile (`us.…`, `eu.…`, `global.…`).
    #[error("model {model} needs an inference profile: {message}")]
    NeedsInferenceProfile {
        /// Model id.
        model: String,
        /// The provider's message.
        message: String,
    },
    /// The model answered with nothing usable.
    #[error("model {model} gave no usable answer: {reason}")]
    Refused {
        /// Model id.
        model: String,
        /// Why.
        reason: String,
    },
    /// The provider's key is not in the environment variable its configuration names.
    #[error(
        "provider {provider} needs an API key in the environment variable {variable}, which is not set (or empty); set it on every worker (providers.{provider}.api-key-env names the variable)"
    )]
    MissingApiKey {
        /// Provider name (`openai`, `local`, …).
        provider: String,
        /// The environment variable that should hold the key.
        variable: String,
    },
    /// The server answered, but not with a chat completion: the base URL most likely points at
    /// something that does not speak the protocol. Retrying will not help.
    #[error(
        "model {model} at {endpoint} answered with a body that is not a chat completion: {reason}"
    )]
    Malformed {
        /// Model id.
        model: String,
        /// The URL asked.
        endpoint: String,
        /// What was wrong with the body.
        reason: String,
    },
    /// The model id names a provider that is not configured.
    #[error(
        "model {model} names provider {provider}, which is not configured; configure [providers.{provider}] or use one of: {known}"
    )]
    UnknownProvider {
        /// The whole model id.
        model: String,
        /// The provider it names.
        provider: String,
        /// The configured providers, comma-separated.
        known: String,
    },
}

impl LlmError {
    /// Whether the same request may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            LlmError::Throttled { .. } | LlmError::Transport { .. }
        )
    }
    /// A type name that shows in the Web UI.
    pub fn type_name(&self) -> &'static str {
        match self {
            LlmError::Throttled { .. } => "ModelThrottled",
            LlmError::Transport { .. } => "ModelUnavailable",
            LlmError::Rejected { .. } => "ModelRejectedRequest",
            LlmError::Retired { .. } => workflows::names::failure::MODEL_RETIRED,
            LlmError::NeedsInferenceProfile { .. } => {
                workflows::names::failure::MODEL_NEEDS_INFERENCE_PROFILE
            }
            LlmError::Refused { .. } => "ModelRefused",
            LlmError::MissingApiKey { .. } => "MissingApiKey",
            LlmError::Malformed { .. } => "ModelAnswerMalformed",
            LlmError::UnknownProvider { .. } => "ModelProviderUnknown",
        }
    }
}

/// A model provider.
#[async_trait]
pub trait LlmClient: Send + Sync {
    /// Sends one request and waits for the whole answer.
    async fn converse(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError>;
}

/// The real client: the AWS SDK's Bedrock Runtime Converse API.
pub struct BedrockLlm {
    client: aws_sdk_bedrockruntime::Client,
    standin: bool,
}

impl BedrockLlm {
    /// Wraps a configured SDK client. `standin` says the endpoint is the Bedrock stand-in.
    pub fn new(client: aws_sdk_bedrockruntime::Client, standin: bool) -> Self {
        Self { client, standin }
    }
}

/// Bedrock's words for a model past its end of life (a ResourceNotFoundException).
pub const RETIRED_MESSAGE: &str = "This model version has reached the end of its life. Please refer to the AWS documentation for more details.";
/// Bedrock's words, after "Invocation of model ID {id} ", for a bare id of a model that only
/// inference profiles serve on demand (a ValidationException).
pub const NEEDS_PROFILE_MESSAGE: &str = "with on-demand throughput isn’t supported. Retry your request with the ID or ARN of an inference profile that contains this model.";

/// Sorts a refusal that names the model itself (retired, profile-only) from other refusals.
pub fn classify_rejection(model: &str, code: String, message: String) -> LlmError {
    let model = model.to_owned();
    let lower = message.to_lowercase();
    if lower.contains("end of its life") || lower.contains("end-of-life") {
        LlmError::Retired { model, message }
    } else if lower.contains("on-demand throughput is") && lower.contains("supported") {
        LlmError::NeedsInferenceProfile { model, message }
    } else {
        LlmError::Rejected {
            model,
            code,
            message,
        }
    }
}

fn classify(model: &str, err: SdkError<ConverseError>) -> LlmError {
    let retry_after = err
        .raw_response()
        .and_then(|r| r.headers().get("retry-after"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(Duration::from_secs_f64);
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().unwrap_or("Unknown").to_owned();
            let message = e.message().unwrap_or("").to_owned();
            match e {
                ConverseError::ThrottlingException(_)
                | ConverseError::ServiceUnavailableException(_) => LlmError::Throttled {
                    model: model.to_owned(),
                    retry_after,
                },
                ConverseError::InternalServerException(_)
                | ConverseError::ModelTimeoutException(_)
                | ConverseError::ModelNotReadyException(_) => LlmError::Transport {
                    model: model.to_owned(),
                    source: format!("{code}: {message}").into(),
                },
                ConverseError::ModelErrorException(_) => LlmError::Refused {
                    model: model.to_owned(),
                    reason: format!("{code}: {message}"),
                },
                _ if code == "ThrottlingException" => LlmError::Throttled {
                    model: model.to_owned(),
                    retry_after,
                },
                _ => classify_rejection(model, code, message),
            }
        }
        other => LlmError::Transport {
            model: model.to_owned(),
            source: Box::new(other),
        },
    }
}

#[async_trait]
impl LlmClient for BedrockLlm {
    async fn converse(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        let model = request.model.as_str();
        let mut messages = Vec::with_capacity(request.messages.len());
        for (i, (role, text)) in request.messages.iter().enumerate() {
            let role = match role {
                Role::User => ConversationRole::User,
                Role::Assistant => ConversationRole::Assistant,
            };
            // The shared prefix, then a cache point, then the rest: later requests with the
            // same prefix read it from Bedrock's prompt cache.
            let split = (i == 0 && request.cache_prefix > 0)
                .then(|| text.split_at_checked(request.cache_prefix))
                .flatten();
            let content = match split {
                Some((prefix, rest)) => {
                    let mut blocks = vec![
                        ContentBlock::Text(prefix.to_owned()),
                        ContentBlock::CachePoint(
                            CachePointBlock::builder()
                                .r#type(CachePointType::Default)
                                .build()
                                .expect("a cache point has its type"),
                        ),
                    ];
                    // Bedrock refuses an empty text block.
                    if !rest.is_empty() {
                        blocks.push(ContentBlock::Text(rest.to_owned()));
                    }
                    blocks
                }
                None => vec![ContentBlock::Text(text.clone())],
            };
            let message = Message::builder()
                .role(role)
                .set_content(Some(content))
                .build()
                .map_err(|e| LlmError::Rejected {
                    model: model.to_owned(),
                    code: "InvalidRequest".into(),
                    message: e.to_string(),
                })?;
            messages.push(message);
        }
        let started = Instant::now();
        let out = self
            .client
            .converse()
            .model_id(model)
            .system(SystemContentBlock::Text(request.system.clone()))
            .set_messages(Some(messages))
            .inference_config(
                InferenceConfiguration::builder()
                    .max_tokens(request.max_tokens as i32)
                    .temperature(request.temperature)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| classify(model, e))?;
        let latency = started.elapsed();
        let text: String = out
            .output()
            .and_then(|o| o.as_message().ok())
            .map(|m| {
                m.content()
                    .iter()
                    .filter_map(|c| c.as_text().ok().cloned())
                    .collect::<Vec<_>>()
                    .join("")
            })
            .unwrap_or_default();
        let (input_tokens, output_tokens, cache_read_tokens, cache_write_tokens) = out
            .usage()
            .map(|u| {
                (
                    u.input_tokens().max(0) as u64,
                    u.output_tokens().max(0) as u64,
                    u.cache_read_input_tokens().unwrap_or(0).max(0) as u64,
                    u.cache_write_input_tokens().unwrap_or(0).max(0) as u64,
                )
            })
            .unwrap_or((0, 0, 0, 0));
        let truncated = matches!(out.stop_reason(), StopReason::MaxTokens);
        if text.trim().is_empty() && !truncated {
            return Err(LlmError::Refused {
                model: model.to_owned(),
                reason: format!("empty answer (stop reason {})", out.stop_reason().as_str()),
            });
        }
        Ok(LlmResponse {
            standin: self.standin || text.contains(STANDIN_MARKER),
            text,
            input_tokens,
            output_tokens,
            cache_read_tokens,
            cache_write_tokens,
            truncated,
            latency,
        })
    }
}

/// How the test double answers a request.
#[cfg(any(test, feature = "test-util"))]
type Script = Box<dyn Fn(&LlmRequest) -> Result<String, LlmError> + Send + Sync>;

/// Test double: answers from a closure, counting calls.
#[cfg(any(test, feature = "test-util"))]
pub struct ScriptedLlm {
    answer: Script,
    calls: std::sync::atomic::AtomicUsize,
}

#[cfg(any(test, feature = "test-util"))]
impl ScriptedLlm {
    /// A double that answers every request with `answer(request)`.
    pub fn new(
        answer: impl Fn(&LlmRequest) -> Result<String, LlmError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            answer: Box::new(answer),
            calls: Default::default(),
        }
    }
    /// Calls so far.
    pub fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[cfg(any(test, feature = "test-util"))]
#[async_trait]
impl LlmClient for ScriptedLlm {
    async fn converse(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let text = (self.answer)(request)?;
        Ok(LlmResponse {
            input_tokens: request
                .messages
                .iter()
                .map(|(_, t)| t.len() as u64 / 4)
                .sum(),
            output_tokens: text.len() as u64 / 4,
            cache_read_tokens: 0,
            cache_write_tokens: 0,
            standin: false,
            truncated: false,
            latency: Duration::ZERO,
            text,
        })
    }
}
