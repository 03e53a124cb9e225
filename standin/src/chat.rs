//! OpenAI's Chat Completions wire protocol: `POST /v1/chat/completions`, errors as OpenAI writes
//! them (`{"error": {"message", "type", "code"}}`; a throttle with `retry-after-ms` and the
//! `x-ratelimit-*` headers), usage with `prompt_tokens_details.cached_tokens` for a prompt prefix
//! seen before (OpenAI's automatic prefix caching).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::Shared;
use crate::answer::{Asked, CacheAsk, FaultKind, Protocol, Stop};

fn openai_error(status: StatusCode, kind: &str, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": kind, "param": null, "code": code}})),
    )
        .into_response()
}

/// A message's text: a string, or the text parts of an array of parts.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// `POST /v1/chat/completions`.
pub(crate) async fn chat_completions(
    State(shared): State<Arc<Shared>>,
    body: axum::body::Bytes,
) -> Response {
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            shared.count("invalid", "bad-request");
            return openai_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "invalid_json",
                &format!("malformed request body: {e}"),
            );
        }
    };
    let Some(model) = request["model"].as_str().map(str::to_owned) else {
        shared.count("invalid", "bad-request");
        return openai_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "missing_model",
            "you must provide a model parameter",
        );
    };
    let mut system = String::new();
    let mut messages = Vec::new();
    let mut prompt = String::new();
    for m in request["messages"].as_array().into_iter().flatten() {
        let role = m["role"].as_str().unwrap_or("user");
        let text = content_text(&m["content"]);
        prompt.push_str(role);
        prompt.push('\n');
        prompt.push_str(&text);
        prompt.push('\n');
        match role {
            "system" | "developer" => system.push_str(&text),
            "assistant" => messages.push((false, text)),
            _ => messages.push((true, text)),
        }
    }
    let max_tokens = request["max_completion_tokens"]
        .as_u64()
        .or_else(|| request["max_tokens"].as_u64())
        .unwrap_or(1000);
    let asked = Asked {
        protocol: Protocol::ChatCompletions,
        model: model.clone(),
        system,
        messages,
        max_tokens,
        cache: CacheAsk::Automatic(prompt),
    };
    let answered = match shared.answer(asked).await {
        Ok(a) => a,
        Err(fault) => {
            let (status, kind, code) = match fault.kind {
                FaultKind::Throttled => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "requests",
                    "rate_limit_exceeded",
                ),
                FaultKind::Internal => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "server_error",
                ),
                FaultKind::Unavailable => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "server_error",
                    "overloaded",
                ),
                FaultKind::Invalid => (
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "invalid_request",
                ),
                FaultKind::Retired => (
                    StatusCode::NOT_FOUND,
                    "invalid_request_error",
                    "model_not_found",
                ),
            };
            let mut response = openai_error(status, kind, code, &fault.message);
            if let Some(delay) = fault.retry_after {
                let h = response.headers_mut();
                let ms = delay.as_millis().to_string();
                h.insert("retry-after-ms", HeaderValue::from_str(&ms).unwrap());
                h.insert(
                    "x-ratelimit-reset-requests",
                    HeaderValue::from_str(&format!("{ms}ms")).unwrap(),
                );
                h.insert(
                    "x-ratelimit-remaining-requests",
                    HeaderValue::from_static("0"),
                );
            }
            return response;
        }
    };
    let prompt_tokens = answered.input_tokens + answered.cache_read + answered.cache_write;
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-annapurna-standin-model",
        HeaderValue::from_str(&model).unwrap_or(HeaderValue::from_static("?")),
    );
    (
        headers,
        Json(json!({
            "id": format!("chatcmpl-standin-{}", shared.stats.lock().unwrap().requests),
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": answered.text, "refusal": null},
                "finish_reason": match answered.stop { Stop::EndTurn => "stop", Stop::MaxTokens => "length" },
            }],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": answered.output_tokens,
                "total_tokens": prompt_tokens + answered.output_tokens,
                "prompt_tokens_details": {"cached_tokens": answered.cache_read},
            },
        })),
    )
        .into_response()
}
