//! OpenAI-compatible model calls: `POST {base_url}/chat/completions`, against OpenAI (the GPT-5
//! family) or a local server that speaks the same API (vLLM, Ollama, llama.cpp's server, LM
//! Studio), or the stand-in. [`OpenAiLlm`] implements the same [`LlmClient`] contract as
//! Bedrock's client and classifies failures the same way: throttling and transport are
//! retryable with the provider's delay, a cut-off answer is `truncated` (the gateway continues
//! it), usage is reported with cache reads apart.
//!
//! Why reqwest and serde types rather than the async-openai crate: its errors (0.43) keep the
//! HTTP status but drop the response headers, and the throttling classification needs them
//! (`Retry-After`, `x-ratelimit-reset-requests`, `x-ratelimit-reset-tokens`); local servers also
//! differ on the wire in ways its typed request does not let us choose per provider (`max_tokens`
//! versus `max_completion_tokens`, no system role, no temperature for GPT-5). The wire format
//! used here is small: the request and response types below are all of it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clients::llm::{LlmClient, LlmError, LlmRequest, LlmResponse, Role, STANDIN_MARKER};

/// Which wire protocol a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// AWS Bedrock's Converse API (the AWS SDK, `[bedrock]` configures the connection).
    #[default]
    Bedrock,
    /// OpenAI's Chat Completions API.
    Openai,
}

/// One model provider's configuration (`[providers.<name>]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct ProviderConfig {
    /// `bedrock` or `openai`.
    pub kind: ProviderKind,
    /// The API's base URL, up to and including `/v1` (`https://api.openai.com/v1`,
    /// `http://localhost:8000/v1` for vLLM, `http://localhost:11434/v1` for Ollama).
    pub base_url: String,
    /// The NAME of the environment variable holding the API key (the key itself is never in a
    /// file); empty: the server needs no key (most local servers).
    pub api_key_env: String,
    /// Seconds a model call may take before it counts as failed (and is retried).
    pub timeout_secs: u64,
    /// Further HTTP headers on every request (an organisation or project id, a proxy's routing).
    pub extra_headers: BTreeMap<String, String>,
    /// Whether the models take a `system` message; when false the system prompt is sent as the
    /// first user message (some local chat templates reject the system role).
    pub system_role: bool,
    /// The request field that bounds the answer: `max_completion_tokens` (OpenAI today) or
    /// `max_tokens` (vLLM, Ollama, llama.cpp, LM Studio).
    pub max_tokens_field: String,
    /// Whether to send the sampling temperature (the GPT-5 models accept only their default).
    pub send_temperature: bool,
    /// Whether a workflow input may name a model of this provider that the catalogue does not
    /// know (cost and quota then unknown, with a warning): right for a local server.
    pub any_model: bool,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        Self {
            kind: ProviderKind::Openai,
            base_url: String::new(),
            api_key_env: String::new(),
            timeout_secs: 300,
            extra_headers: BTreeMap::new(),
            system_role: true,
            max_tokens_field: "max_tokens".into(),
            send_temperature: true,
            any_model: false,
        }
    }
}

impl ProviderConfig {
    /// Bedrock (its connection is `[bedrock]`).
    pub fn bedrock() -> Self {
        Self {
            kind: ProviderKind::Bedrock,
            ..Self::default()
        }
    }

    /// OpenAI's own API: the key in `OPENAI_API_KEY`.
    pub fn openai() -> Self {
        Self {
            base_url: "https://api.openai.com/v1".into(),
            api_key_env: "OPENAI_API_KEY".into(),
            max_tokens_field: "max_completion_tokens".into(),
            send_temperature: false,
            ..Self::default()
        }
    }

    /// A local OpenAI-compatible server (vLLM's default port); no key, any model.
    pub fn local() -> Self {
        Self {
            base_url: "http://127.0.0.1:8000/v1".into(),
            timeout_secs: 600,
            any_model: true,
            ..Self::default()
        }
    }
}

/// The built-in providers: `bedrock`, `openai` and `local`.
pub fn default_providers() -> BTreeMap<String, ProviderConfig> {
    BTreeMap::from([
        ("bedrock".to_owned(), ProviderConfig::bedrock()),
        ("openai".to_owned(), ProviderConfig::openai()),
        ("local".to_owned(), ProviderConfig::local()),
    ])
}

/// The client of one OpenAI-compatible provider.
pub struct OpenAiLlm {
    name: String,
    config: ProviderConfig,
    http: reqwest::Client,
    /// The key, read from the environment once; `Err(variable)` when it was named but not set.
    key: Result<Option<String>, String>,
    standin: bool,
}

impl OpenAiLlm {
    /// The client of provider `name`; the key is read now from `config.api_key_env`. `standin`
    /// says the endpoint is the stand-in (its answers are then marked as such).
    pub fn new(name: &str, config: ProviderConfig, standin: bool) -> Result<Self, LlmError> {
        let key = if config.api_key_env.is_empty() {
            Ok(None)
        } else {
            match std::env::var(&config.api_key_env) {
                Ok(k) if !k.trim().is_empty() => Ok(Some(k.trim().to_owned())),
                _ => Err(config.api_key_env.clone()),
            }
        };
        let mut headers = reqwest::header::HeaderMap::new();
        for (k, v) in &config.extra_headers {
            let header = reqwest::header::HeaderName::from_bytes(k.as_bytes());
            let value = reqwest::header::HeaderValue::from_str(v);
            match (header, value) {
                (Ok(n), Ok(v)) => {
                    headers.insert(n, v);
                }
                _ => {
                    return Err(LlmError::Rejected {
                        model: format!("{name}/*"),
                        code: "InvalidHeader".into(),
                        message: format!(
                            "providers.{name}.extra-headers has an invalid header {k:?}"
                        ),
                    });
                }
            }
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs.max(1)))
            .connect_timeout(Duration::from_secs(10))
            .default_headers(headers)
            .build()
            .map_err(|e| LlmError::Transport {
                model: format!("{name}/*"),
                source: Box::new(e),
            })?;
        Ok(Self {
            name: name.to_owned(),
            config,
            http,
            key,
            standin,
        })
    }

    fn endpoint(&self) -> String {
        format!(
            "{}/chat/completions",
            self.config.base_url.trim_end_matches('/')
        )
    }

    /// The request body, as this provider wants it.
    pub fn body(&self, request: &LlmRequest) -> Value {
        let mut messages = Vec::with_capacity(request.messages.len() + 1);
        let mut turns = request.messages.iter().peekable();
        if !request.system.is_empty() {
            if self.config.system_role {
                messages.push(json!({"role": "system", "content": request.system}));
            } else if let Some((Role::User, first)) = turns.peek() {
                // No system role: the instructions open the first user turn.
                messages.push(
                    json!({"role": "user", "content": format!("{}\n\n{first}", request.system)}),
                );
                turns.next();
            } else {
                messages.push(json!({"role": "user", "content": request.system}));
            }
        }
        for (role, text) in turns {
            let role = match role {
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            messages.push(json!({"role": role, "content": text}));
        }
        let mut body = json!({
            "model": request.model,
            "messages": messages,
        });
        body[self.config.max_tokens_field.as_str()] = json!(request.max_tokens);
        if self.config.send_temperature {
            body["temperature"] = json!(request.temperature);
        }
        body
    }
}

/// A Chat Completions answer: only what is read.
#[derive(Debug, Deserialize)]
struct Completion {
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    message: AnswerMessage,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct AnswerMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
}

#[derive(Debug, Default, Deserialize)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

/// A Go-style duration as OpenAI's `x-ratelimit-reset-*` headers write it (`1s`, `6m0s`,
/// `20ms`, `1.5s`); `None` when it is not one.
pub fn parse_reset(value: &str) -> Option<Duration> {
    let mut total = 0.0f64;
    let mut rest = value.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" | "" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += number * scale;
        rest = &rest[unit_len..];
    }
    // Digits enough to overflow an f64 are no duration a provider means.
    total
        .is_finite()
        .then(|| Duration::from_secs_f64(total.min(MAX_RETRY_AFTER_SECS)))
}

/// The longest delay a provider's header is taken at: a day (a bad or hostile value must not
/// park a call for years, nor overflow a `Duration`).
const MAX_RETRY_AFTER_SECS: f64 = 86_400.0;

/// The provider's delay on a throttled answer: `Retry-After` (seconds, or an HTTP date as some
/// proxies send it) or `retry-after-ms` first, else the reset of the exhausted `x-ratelimit-*`
/// budget (the later of the two when the headers do not say which is exhausted).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    retry_after_at(headers, std::time::SystemTime::now())
}

/// [`retry_after`] as of `now` (an HTTP date is a moment, the delay is until then).
fn retry_after_at(
    headers: &reqwest::header::HeaderMap,
    now: std::time::SystemTime,
) -> Option<Duration> {
    let get = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    let finite = |x: &f64| x.is_finite();
    if let Some(ms) =
        get("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok().filter(finite))
    {
        return Some(Duration::from_secs_f64(
            ms.clamp(0.0, MAX_RETRY_AFTER_SECS) / 1000.0,
        ));
    }
    if let Some(value) = get("retry-after") {
        if let Some(s) = value.trim().parse::<f64>().ok().filter(finite) {
            return Some(Duration::from_secs_f64(s.clamp(0.0, MAX_RETRY_AFTER_SECS)));
        }
        if let Ok(at) = httpdate::parse_http_date(value.trim()) {
            let wait = at.duration_since(now).unwrap_or(Duration::ZERO);
            return Some(wait.min(Duration::from_secs_f64(MAX_RETRY_AFTER_SECS)));
        }
    }
    let reset = |which: &str| get(&format!("x-ratelimit-reset-{which}")).and_then(parse_reset);
    let exhausted = |which: &str| {
        get(&format!("x-ratelimit-remaining-{which}")).is_some_and(|v| v.trim() == "0")
    };
    let mut candidates: Vec<Duration> = ["requests", "tokens"]
        .into_iter()
        .filter(|w| exhausted(w))
        .filter_map(reset)
        .collect();
    if candidates.is_empty() {
        candidates = ["requests", "tokens"]
            .into_iter()
            .filter_map(reset)
            .collect();
    }
    candidates.into_iter().max()
}

/// The error body's code and message: OpenAI's `{"error": {"message", "type", "code"}}`, or the
/// `{"error": "…"}` of some local servers, or the raw text.
fn error_detail(body: &str) -> (String, String) {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let error = parsed.as_ref().map(|v| &v["error"]);
    match error {
        Some(Value::Object(e)) => {
            let code = e
                .get("code")
                .and_then(Value::as_str)
                .or_else(|| e.get("type").and_then(Value::as_str))
                .unwrap_or("unknown")
                .to_owned();
            let message = e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            (code, message)
        }
        Some(Value::String(m)) => ("error".to_owned(), m.clone()),
        _ => (
            "unknown".to_owned(),
            body.chars().take(500).collect::<String>(),
        ),
    }
}

impl OpenAiLlm {
    /// A failed HTTP status as an [`LlmError`].
    fn classify(
        &self,
        model: &str,
        status: reqwest::StatusCode,
        headers: &reqwest::header::HeaderMap,
        body: &str,
    ) -> LlmError {
        let (code, message) = error_detail(body);
        let model = model.to_owned();
        match status.as_u16() {
            // OpenAI answers 429 both for "slow down" and for an exhausted balance; only the first
            // passes with time.
            429 if code == "insufficient_quota" => LlmError::Rejected {
                model,
                code,
                message,
            },
            429 | 503 => LlmError::Throttled {
                model,
                retry_after: retry_after(headers),
            },
            408 | 409 | 500..=599 => LlmError::Transport {
                model,
                source: format!("HTTP {status} from {}: {code}: {message}", self.endpoint()).into(),
            },
            401 | 403 => LlmError::Rejected {
                model,
                code,
                message: format!(
                    "{message} (check the key in {})",
                    if self.config.api_key_env.is_empty() {
                        format!("providers.{}.api-key-env", self.name)
                    } else {
                        self.config.api_key_env.clone()
                    }
                ),
            },
            _ => LlmError::Rejected {
                model,
                code,
                message,
            },
        }
    }
}

#[async_trait]
impl LlmClient for OpenAiLlm {
    async fn converse(&self, request: &LlmRequest) -> Result<LlmResponse, LlmError> {
        let shown = format!("{}/{}", self.name, request.model);
        let key = self
            .key
            .as_ref()
            .map_err(|variable| LlmError::MissingApiKey {
                provider: self.name.clone(),
                variable: variable.clone(),
            })?;
        let endpoint = self.endpoint();
        let mut call = self.http.post(&endpoint).json(&self.body(request));
        if let Some(key) = key {
            call = call.bearer_auth(key);
        }
        let started = Instant::now();
        let response = call.send().await.map_err(|e| LlmError::Transport {
            model: shown.clone(),
            source: Box::new(e),
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.map_err(|e| LlmError::Transport {
            model: shown.clone(),
            source: Box::new(e),
        })?;
        let latency = started.elapsed();
        if !status.is_success() {
            return Err(self.classify(&shown, status, &headers, &body));
        }
        let malformed = |reason: String| LlmError::Malformed {
            model: shown.clone(),
            endpoint: endpoint.clone(),
            reason,
        };
        let completion: Completion = serde_json::from_str(&body).map_err(|e| {
            malformed(format!(
                "{e}; the body began: {}",
                body.chars().take(200).collect::<String>()
            ))
        })?;
        let choice = completion
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| malformed("no choices".into()))?;
        let finish = choice.finish_reason.unwrap_or_default();
        let text = choice.message.content.unwrap_or_default();
        let truncated = finish == "length";
        if finish == "content_filter" || (text.trim().is_empty() && !truncated) {
            return Err(LlmError::Refused {
                model: shown,
                reason: match choice.message.refusal {
                    Some(r) => format!("refusal: {r}"),
                    None => format!("empty answer (finish reason {finish:?})"),
                },
            });
        }
        let usage = completion.usage.unwrap_or_default();
        // OpenAI counts cached tokens inside prompt_tokens; they are billed at the cache-read
        // price, so they are taken out of the input tokens here (as Bedrock reports them).
        let cached = usage
            .prompt_tokens_details
            .and_then(|d| d.cached_tokens)
            .unwrap_or(0)
            .min(usage.prompt_tokens);
        Ok(LlmResponse {
            standin: self.standin || text.contains(STANDIN_MARKER),
            text,
            input_tokens: usage.prompt_tokens - cached,
            output_tokens: usage.completion_tokens,
            cache_read_tokens: cached,
            cache_write_tokens: 0,
            truncated,
            latency,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_headers_parse_as_go_durations() {
        assert_eq!(parse_reset("1s"), Some(Duration::from_secs(1)));
        assert_eq!(parse_reset("6m0s"), Some(Duration::from_secs(360)));
        assert_eq!(parse_reset("20ms"), Some(Duration::from_millis(20)));
        assert_eq!(parse_reset("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_reset("1h2m3s"), Some(Duration::from_secs(3723)));
        assert_eq!(parse_reset("soon"), None);
        // Bounded to a day; digits past what an f64 holds are not a duration.
        assert_eq!(parse_reset("9000000h"), Some(Duration::from_secs(86_400)));
        assert_eq!(parse_reset(&format!("1{}s", "0".repeat(400))), None);
        assert_eq!(parse_reset(""), None);
    }

    #[test]
    fn retry_after_as_an_http_date_is_the_time_until_then() {
        let now = httpdate::parse_http_date("Sun, 06 Dec 2026 00:00:00 GMT").unwrap();
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            "retry-after",
            "Sun, 06 Dec 2026 00:00:42 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after_at(&h, now), Some(Duration::from_secs(42)));
        // A moment already past: try again now.
        h.insert(
            "retry-after",
            "Sat, 05 Dec 2026 23:59:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after_at(&h, now), Some(Duration::ZERO));
        // Neither seconds nor a date: the x-ratelimit reset, if any.
        h.insert("retry-after", "later".parse().unwrap());
        h.insert("x-ratelimit-reset-tokens", "3s".parse().unwrap());
        assert_eq!(retry_after_at(&h, now), Some(Duration::from_secs(3)));
        // A hostile server's delay is bounded (a day), and not a number is not one.
        h.insert("retry-after", "1e300".parse().unwrap());
        assert_eq!(
            retry_after_at(&h, now),
            Some(Duration::from_secs_f64(MAX_RETRY_AFTER_SECS))
        );
        h.insert("retry-after", "NaN".parse().unwrap());
        assert_eq!(retry_after_at(&h, now), Some(Duration::from_secs(3)));
    }

    #[test]
    fn the_exhausted_budget_gives_the_delay() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("x-ratelimit-reset-requests", "2s".parse().unwrap());
        h.insert("x-ratelimit-reset-tokens", "40s".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(40)));
        h.insert("x-ratelimit-remaining-requests", "0".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
    }

    #[test]
    fn without_a_system_role_the_instructions_open_the_first_user_turn() {
        let config = ProviderConfig {
            system_role: false,
            max_tokens_field: "max_completion_tokens".into(),
            send_temperature: false,
            ..ProviderConfig::local()
        };
        let llm = OpenAiLlm::new("local", config, false).unwrap();
        let request = LlmRequest::single(
            "deepseek-coder-6.7b-instruct".into(),
            ("Be brief.".into(), "Hello".into()),
            100,
            0.0,
        );
        let body = llm.body(&request);
        assert_eq!(body["messages"].as_array().unwrap().len(), 1);
        assert_eq!(body["messages"][0]["role"], "user");
        assert_eq!(body["messages"][0]["content"], "Be brief.\n\nHello");
        assert_eq!(body["max_completion_tokens"], 100);
        assert!(body.get("max_tokens").is_none() && body.get("temperature").is_none());
        let with_role = OpenAiLlm::new("local", ProviderConfig::local(), false).unwrap();
        let body = with_role.body(&request);
        assert_eq!(body["messages"][0]["role"], "system");
        assert_eq!(body["max_tokens"], 100);
        assert_eq!(body["temperature"], 0.0);
    }
}
