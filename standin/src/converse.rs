//! Bedrock's Converse wire protocol: `POST /model/{modelId}/converse`, errors with Bedrock's
//! `x-amzn-ErrorType` header (the AWS SDK classifies by it), usage with the prompt cache's
//! `cacheReadInputTokens` / `cacheWriteInputTokens` when the request has a `cachePoint`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::Shared;
use crate::answer::{Asked, CacheAsk, FaultKind, Protocol, Stop};

fn bedrock_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-amzn-ErrorType",
        HeaderValue::from_str(error_type).unwrap(),
    );
    (status, headers, Json(json!({ "message": message }))).into_response()
}

/// The text of content blocks, joined as the client split them.
fn text_of(blocks: &Value) -> String {
    blocks
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join("")
        })
        .unwrap_or_default()
}

/// The text of the blocks before the first `cachePoint`, when there is one.
fn before_cache_point(blocks: &Value) -> Option<String> {
    let blocks = blocks.as_array()?;
    let point = blocks.iter().position(|b| b.get("cachePoint").is_some())?;
    Some(
        blocks[..point]
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect(),
    )
}

/// `POST /model/{model_id}/converse`.
pub(crate) async fn converse(
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
    let messages: Vec<(bool, String)> = request["messages"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| (m["role"] != "assistant", text_of(&m["content"])))
                .collect()
        })
        .unwrap_or_default();
    // The cache entry is everything before the cache point: the system prompt (whole, or up to
    // its own cache point), then the first turn's blocks before its cache point.
    let cache = match (
        before_cache_point(&request["system"]),
        request["messages"][0]["content"].clone(),
    ) {
        (Some(system_prefix), _) => CacheAsk::Point(system_prefix),
        (None, first) => match before_cache_point(&first) {
            Some(prefix) => CacheAsk::Point(format!("{system}{prefix}")),
            None => CacheAsk::None,
        },
    };
    let asked = Asked {
        protocol: Protocol::Converse,
        model: model_id.clone(),
        system,
        messages,
        max_tokens: request["inferenceConfig"]["maxTokens"]
            .as_u64()
            .unwrap_or(1000),
        cache,
    };
    let answered = match shared.answer(asked).await {
        Ok(a) => a,
        Err(fault) => {
            let (status, kind) = match fault.kind {
                FaultKind::Throttled => (StatusCode::TOO_MANY_REQUESTS, "ThrottlingException"),
                FaultKind::Internal => {
                    (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerException")
                }
                FaultKind::Unavailable => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ServiceUnavailableException",
                ),
                FaultKind::Invalid => (StatusCode::BAD_REQUEST, "ValidationException"),
                FaultKind::Retired => (StatusCode::NOT_FOUND, "ResourceNotFoundException"),
            };
            return bedrock_error(status, kind, &fault.message);
        }
    };
    let mut usage = json!({
        "inputTokens": answered.input_tokens,
        "outputTokens": answered.output_tokens,
        "totalTokens": answered.input_tokens + answered.output_tokens
            + answered.cache_read + answered.cache_write,
    });
    if answered.cache_read + answered.cache_write > 0 {
        usage["cacheReadInputTokens"] = json!(answered.cache_read);
        usage["cacheWriteInputTokens"] = json!(answered.cache_write);
    }
    let mut response = Json(json!({
        "output": { "message": { "role": "assistant", "content": [ { "text": answered.text } ] } },
        "stopReason": match answered.stop { Stop::EndTurn => "end_turn", Stop::MaxTokens => "max_tokens" },
        "usage": usage,
        "metrics": { "latencyMs": answered.latency_ms }
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
