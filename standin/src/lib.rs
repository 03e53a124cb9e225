//! The Bedrock stand-in: an HTTP server that answers `POST /model/{modelId}/converse` in Bedrock's
//! Converse wire format, so the real AWS SDK client is what runs when no AWS account is at hand.
//! Its answers are templates chosen by the `annapurna-task:` line of the system prompt, not
//! generation, and every one carries the `ANNAPURNA-STANDIN` marker so that whatever it touches
//! says so. It can throttle (HTTP 429 with `x-amzn-ErrorType: ThrottlingException`, as Bedrock
//! does) and counts requests by kind and outcome at `GET /_standin/stats`.
//!
//! - here: the server, the Converse route, quotas with Bedrock's accounting, faults
//! - [`templates`]: the template answers, one per [`Task`]
//! - [`control`]: Bedrock's control plane and Service Quotas, for `annapurna doctor`

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use activities::clients::blobs::sha256_hex;
use activities::clients::llm::STANDIN_MARKER;
use activities::prompts::Task;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Value, json};

pub mod control;
pub mod templates;

use templates::{fenced, field, judgement, summary, template_code};

/// How the stand-in behaves. Faults are deterministic (spread evenly over requests, or chosen by
/// chunk), so a test or benchmark sees the same storm every time.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct StandinOptions {
    /// Fixed milliseconds every answer takes.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Further milliseconds per output token.
    #[arg(long, default_value_t = 0.0)]
    pub latency_per_token_ms: f64,
    /// Requests per minute per model (0: no quota). Over quota: ThrottlingException.
    #[arg(long, default_value_t = 0)]
    pub rpm: u32,
    /// Tokens (input + requested max output) per minute per model (0: no quota).
    #[arg(long, default_value_t = 0)]
    pub tpm: u32,
    /// Seconds of quota a model may use at once (the bucket's depth).
    #[arg(long, default_value_t = 5.0)]
    pub quota_burst_secs: f64,
    /// Percentage of requests answered with a throttling error.
    #[arg(long, default_value_t = 0)]
    pub throttle_percent: u32,
    /// Percentage of requests answered with a 500 InternalServerException.
    #[arg(long, default_value_t = 0)]
    pub error_percent: u32,
    /// Percentage of requests that hang for `--timeout-secs` before any answer.
    #[arg(long, default_value_t = 0)]
    pub timeout_percent: u32,
    /// How long a hanging request hangs.
    #[arg(long, default_value_t = 600)]
    pub timeout_secs: u64,
    /// Percentage of answers cut at half with stopReason max_tokens (a continuation gets the rest).
    #[arg(long, default_value_t = 0)]
    pub truncate_percent: u32,
    /// Percentage of chunks whose summary requests always fail with ValidationException.
    #[arg(long, default_value_t = 0)]
    pub fail_chunks_percent: u32,
    /// Generated code has a syntax error until a fix request (to exercise the review loop).
    #[arg(long)]
    pub broken_code: bool,
    /// Defects in generated code until a fix request, comma-separated: `missing-import` (no
    /// `import json`), `missing-mark-step` (no `xm.mark_step()` on Trainium), `runtime-error`
    /// (raises when run, which only execution finds), `missing-module` (imports einops, which
    /// the executors lack: a system issue).
    #[arg(long, value_delimiter = ',')]
    pub defects: Vec<String>,
}

/// Request counts, as served at `/_standin/stats`.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Stats {
    /// All requests.
    pub requests: u64,
    /// By request kind (`summarize-chunk`, `generate-code`, …).
    pub by_kind: BTreeMap<String, u64>,
    /// By outcome (`ok`, `throttled`, `over-quota`, `error`, `timeout`, `truncated`,
    /// `failed-chunk`, `bad-request`).
    pub by_outcome: BTreeMap<String, u64>,
    /// Summary requests per chunk, counted on arrival (first 16 hex of the SHA-256 of the
    /// request's text).
    pub summaries_by_chunk: BTreeMap<String, u64>,
    /// Quota tokens used per model, as Bedrock settles them: input + output × burndown.
    pub quota_tokens_by_model: BTreeMap<String, u64>,
}

struct Shared {
    options: StandinOptions,
    stats: Mutex<Stats>,
    /// Per-model quota buckets: (requests left, tokens left, last refill).
    buckets: Mutex<BTreeMap<String, (f64, f64, Instant)>>,
}

/// Starts the stand-in on `addr`; returns the bound address and the server task.
pub async fn start(
    addr: SocketAddr,
    options: StandinOptions,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let shared = Arc::new(Shared {
        options,
        stats: Mutex::new(Stats::default()),
        buckets: Mutex::new(BTreeMap::new()),
    });
    let app = Router::new()
        .route("/model/{model_id}/converse", post(converse))
        .route("/_standin/stats", get(stats))
        .merge(crate::control::routes())
        .route("/_standin/health", get(|| async { "ok" }))
        .with_state(shared);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("the Bedrock stand-in cannot listen on {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the Bedrock stand-in stopped");
        }
    });
    Ok((bound, task))
}

async fn stats(State(shared): State<Arc<Shared>>) -> Json<Stats> {
    Json(shared.stats.lock().unwrap().clone())
}

fn bedrock_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-amzn-ErrorType",
        HeaderValue::from_str(error_type).unwrap(),
    );
    (status, headers, Json(json!({ "message": message }))).into_response()
}

fn text_of(blocks: &Value) -> String {
    blocks
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

async fn converse(
    State(shared): State<Arc<Shared>>,
    Path(model_id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            shared.count("invalid", "bad-request");
            return bedrock_error(
                StatusCode::BAD_REQUEST,
                "ValidationException",
                &format!("malformed request body: {e}"),
            );
        }
    };
    let system = text_of(&request["system"]);
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    let Some(first_user) = messages.first().map(|m| text_of(&m["content"])) else {
        shared.count("invalid", "bad-request");
        return bedrock_error(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            "messages must not be empty",
        );
    };
    let last_user = messages
        .last()
        .map(|m| text_of(&m["content"]))
        .unwrap_or_default();
    let kind = Task::of_system_prompt(&system);
    let task = kind.map(Task::as_str).unwrap_or("unknown").to_owned();

    let n = {
        let mut s = shared.stats.lock().unwrap();
        s.requests += 1;
        s.requests
    };
    let o = &shared.options;
    let max_tokens = request["inferenceConfig"]["maxTokens"]
        .as_u64()
        .unwrap_or(1000);
    let input_tokens = (system.len()
        + messages
            .iter()
            .map(|m| text_of(&m["content"]).len())
            .sum::<usize>())
        / 4;
    // Bedrock refuses a retired model and a bare id of a profile-only model before anything
    // else, with its own error types and words.
    let known = activities::catalogue::resolve(&activities::catalogue::BUILTIN, &model_id);
    if let Some(r) = &known {
        if r.info.lifecycle == activities::catalogue::Lifecycle::Retired {
            shared.count(&task, "retired-model");
            return bedrock_error(
                StatusCode::NOT_FOUND,
                "ResourceNotFoundException",
                activities::clients::llm::RETIRED_MESSAGE,
            );
        }
        if r.info.profile_only && r.profile.is_none() {
            shared.count(&task, "bad-request");
            return bedrock_error(
                StatusCode::BAD_REQUEST,
                "ValidationException",
                &format!(
                    "Invocation of model ID {model_id} {}",
                    activities::clients::llm::NEEDS_PROFILE_MESSAGE
                ),
            );
        }
    }
    // Bedrock's quota accounting: a request reserves input + max_tokens when it starts and
    // settles at input + output × burndown when it ends (5 for Claude 3.7 and later).
    let burndown = known.as_ref().map(|r| r.info.burndown).unwrap_or(1) as u64;
    let reserved = input_tokens as u64 + max_tokens;
    if !shared.take_quota(&model_id, reserved as f64) {
        shared.count(&task, "over-quota");
        return bedrock_error(
            StatusCode::TOO_MANY_REQUESTS,
            "ThrottlingException",
            "Too many tokens, please wait before trying again.",
        );
    }
    if spread(n, o.throttle_percent) {
        shared.count(&task, "throttled");
        return bedrock_error(
            StatusCode::TOO_MANY_REQUESTS,
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
        );
    }
    if spread(n, o.error_percent) {
        shared.count(&task, "error");
        return bedrock_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerException",
            "The stand-in injected an internal error.",
        );
    }
    if spread(n, o.timeout_percent) {
        shared.count(&task, "timeout");
        tokio::time::sleep(Duration::from_secs(o.timeout_secs)).await;
        return bedrock_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailableException",
            "The stand-in hung on purpose.",
        );
    }
    // A continuation asks for the rest of a truncated answer.
    let continuation = messages.len() > 1 && last_user == activities::prompts::CONTINUE;
    // Counted on arrival, as a provider bills: a request cut off by a dying worker still counts.
    if kind == Some(Task::Summarize) && !continuation {
        let key = sha256_hex(first_user.as_bytes())[..16].to_owned();
        *shared
            .stats
            .lock()
            .unwrap()
            .summaries_by_chunk
            .entry(key)
            .or_default() += 1;
        let part = field(&first_user, "Part ")
            .and_then(|p| {
                p.split_whitespace()
                    .next()
                    .and_then(|i| i.parse::<u64>().ok())
            })
            .unwrap_or(1);
        if spread(part, o.fail_chunks_percent) {
            shared.count(&task, "failed-chunk");
            return bedrock_error(
                StatusCode::BAD_REQUEST,
                "ValidationException",
                &format!("The stand-in refuses part {part} on purpose (fail-chunks-percent)."),
            );
        }
    }
    let answer = match kind {
        Some(Task::Summarize) => summary(&first_user),
        Some(Task::Generate) => {
            let target = field(&first_user, "Target: ").unwrap_or_else(|| "cpu".into());
            let title = field(&first_user, "Paper: ").unwrap_or_default();
            let mut code = template_code(&title, &target, shared.options.broken_code);
            for defect in &shared.options.defects {
                code = match defect.as_str() {
                    "missing-import" => code.replacen("import json\n", "", 1),
                    "missing-mark-step" => code.replacen("        xm.mark_step()\n", "", 1),
                    "missing-module" => code.replacen("import json\n", "import json\nimport einops\n", 1),
                    "runtime-error" => code.replacen(
                        "    loss_fn = nn.BCEWithLogitsLoss()\n",
                        "    loss_fn = nn.BCEWithLogitsLoss()\n    raise RuntimeError(\"stand-in defect: the loss is not set up\")\n",
                        1,
                    ),
                    _ => code,
                };
            }
            fenced(&code)
        }
        Some(Task::Fix) => {
            let target = if first_user.contains("torch_xla") { "trainium" } else { "cpu" };
            fenced(&template_code("(fixed by the stand-in)", target, false))
        }
        Some(Task::Review) => json!({
            "summary": format!("{STANDIN_MARKER}: template review from the Bedrock stand-in; no model read this code."),
            "findings": []
        })
        .to_string(),
        Some(Task::Diagnose) => {
            let last = first_user
                .split("```")
                .nth(1)
                .and_then(|e| e.lines().rev().find(|l| !l.trim().is_empty()))
                .unwrap_or("the run failed")
                .trim()
                .to_owned();
            json!({
                "kind": "code",
                "summary": format!("{STANDIN_MARKER}: template diagnosis from the Bedrock stand-in"),
                "findings": [{"rule": "runtime-error", "severity": "error", "line": 0, "message": last}]
            })
            .to_string()
        }
        Some(Task::Judge) => judgement(&system, &first_user),
        Some(Task::Dataset) => json!({
            "dataset": "synthetic",
            "reasons": [format!("{STANDIN_MARKER}: template answer from the Bedrock stand-in")]
        })
        .to_string(),
        _ => format!("{STANDIN_MARKER}: the stand-in has no template for this request."),
    };
    // Truncate a steady share of first answers; a continuation gets the second half.
    let half = answer
        .char_indices()
        .nth(answer.chars().count() / 2)
        .map(|(i, _)| i)
        .unwrap_or(0);
    let (answer, stop_reason) = if continuation {
        (answer[half..].to_owned(), "end_turn")
    } else if spread(n, o.truncate_percent) {
        shared.count(&task, "truncated");
        (answer[..half].to_owned(), "max_tokens")
    } else {
        (answer, "end_turn")
    };
    let output_tokens = answer.len() / 4 + 1;
    let latency = o.latency_ms as f64 + o.latency_per_token_ms * output_tokens as f64;
    if latency > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(latency / 1000.0)).await;
    }
    let settled = input_tokens as u64 + output_tokens as u64 * burndown;
    shared.settle_quota(&model_id, reserved as f64 - settled as f64);
    *shared
        .stats
        .lock()
        .unwrap()
        .quota_tokens_by_model
        .entry(model_id.clone())
        .or_default() += settled;
    shared.count(&task, "ok");
    let mut response = Json(json!({
        "output": { "message": { "role": "assistant", "content": [ { "text": answer } ] } },
        "stopReason": stop_reason,
        "usage": {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens
        },
        "metrics": { "latencyMs": latency as u64 }
    }))
    .into_response();
    // Which model was asked for, for anyone reading the traffic.
    if let Ok(v) = HeaderValue::from_str(&model_id) {
        response
            .headers_mut()
            .insert("x-annapurna-standin-model", v);
    }
    response
}

/// Whether item `n` (from 1) is among an even `percent` share: it is when the running count of
/// chosen items, `n * percent / 100`, steps up at `n`.
fn spread(n: u64, percent: u32) -> bool {
    let p = percent.min(100) as u64;
    n > 0 && p > 0 && (n * p) / 100 > ((n - 1) * p) / 100
}

impl Shared {
    /// Takes one request and `tokens` from the model's buckets; false when over quota.
    fn take_quota(&self, model: &str, tokens: f64) -> bool {
        let o = &self.options;
        if o.rpm == 0 && o.tpm == 0 {
            return true;
        }
        let (rps, tps) = (o.rpm as f64 / 60.0, o.tpm as f64 / 60.0);
        let depth = o.quota_burst_secs.max(0.1);
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap();
        let b = buckets
            .entry(model.to_owned())
            .or_insert((rps * depth, tps * depth, now));
        let dt = now.duration_since(b.2).as_secs_f64();
        b.0 = (b.0 + dt * rps).min(rps * depth);
        b.1 = (b.1 + dt * tps).min(tps * depth);
        b.2 = now;
        let requests_ok = o.rpm == 0 || b.0 >= 1.0;
        let tokens_ok = o.tpm == 0 || b.1 >= tokens.min(tps * depth);
        if requests_ok && tokens_ok {
            b.0 -= 1.0;
            b.1 -= tokens;
            true
        } else {
            false
        }
    }

    /// Gives back (or, when negative, takes more of) the tokens a finished request reserved.
    fn settle_quota(&self, model: &str, refund: f64) {
        let o = &self.options;
        if o.tpm == 0 {
            return;
        }
        let cap = o.tpm as f64 / 60.0 * o.quota_burst_secs.max(0.1);
        if let Some(b) = self.buckets.lock().unwrap().get_mut(model) {
            b.1 = (b.1 + refund).min(cap);
        }
    }

    fn count(&self, task: &str, outcome: &str) {
        let mut s = self.stats.lock().unwrap();
        *s.by_kind.entry(task.to_owned()).or_default() += 1;
        *s.by_outcome.entry(outcome.to_owned()).or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use activities::clients::llm::{LlmClient, LlmError, LlmRequest};

    /// The real AWS SDK client against the stand-in: a template answer with usage, marked as the
    /// stand-in's; and a throttled request recognised as throttling (the SDK needs the
    /// `x-amzn-ErrorType` header for that).
    #[tokio::test]
    async fn aws_sdk_client_gets_answers_and_recognises_throttling() {
        let options = StandinOptions {
            throttle_percent: 50,
            ..Default::default()
        };
        let (addr, _server) = start(([127, 0, 0, 1], 0).into(), options).await.unwrap();
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(format!("http://{addr}"))
            .credentials_provider(aws_credential_types::Credentials::from_keys(
                "ANNAPURNATEST",
                "not-a-secret",
                None,
            ))
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .load()
            .await;
        let llm = activities::clients::llm::BedrockLlm::new(
            aws_sdk_bedrockruntime::Client::new(&sdk),
            true,
        );
        let prompt = activities::prompts::summarize(
            "A Paper",
            0,
            2,
            &["1 Introduction".into()],
            "Some text.",
        );
        let model = activities::settings::DEFAULT_SUMMARY_MODEL.to_owned();
        let request = LlmRequest::single(model, prompt, 200, 0.0);
        // With 50%, requests 2, 4, … are throttled.
        let answer = llm
            .converse(&request)
            .await
            .expect("the first request is answered");
        assert!(answer.standin);
        assert!(
            answer.text.contains(STANDIN_MARKER) && answer.text.contains("A Paper"),
            "{}",
            answer.text
        );
        assert!(answer.input_tokens > 0 && answer.output_tokens > 0);
        match llm.converse(&request).await {
            Err(e @ LlmError::Throttled { .. }) => assert!(e.is_retryable()),
            other => panic!("expected throttling, got {other:?}"),
        }
    }

    #[test]
    fn template_code_compiles_and_broken_does_not() {
        for (target, broken, ok) in [
            ("cpu", false, true),
            ("cuda", false, true),
            ("trainium", false, true),
            ("cpu", true, false),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let f = dir.path().join("t.py");
            std::fs::write(
                &f,
                template_code("A \"quoted\" title\nwith newline", target, broken),
            )
            .unwrap();
            let status = std::process::Command::new("python3")
                .args(["-m", "py_compile"])
                .arg(&f)
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap();
            assert_eq!(status.success(), ok, "{target} broken={broken}");
        }
    }
}
