//! The stand-in's control plane: enough of Bedrock's (`GET /foundation-models/{id}`,
//! `GET /foundation-model-availability/{id}`) and of AWS Service Quotas'
//! (`ListServiceQuotas`, JSON 1.1 over `POST /`) for `annapurna doctor` to run its checks
//! through the real `aws-sdk-bedrock` and `aws-sdk-servicequotas` clients. What it says comes
//! from the built-in model catalogue: retired models are gone (ResourceNotFoundException, as
//! Bedrock stops listing them), the others are ACTIVE or LEGACY and authorised, and the quotas
//! are the catalogue's default ones.

use activities::catalogue::{self, Lifecycle};
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

/// The routes, merged into the stand-in's router.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/foundation-models/{model_id}", get(foundation_model))
        .route(
            "/foundation-model-availability/{model_id}",
            get(availability),
        )
        .route("/", post(service_quotas))
}

fn rest_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-amzn-ErrorType",
        HeaderValue::from_str(error_type).unwrap(),
    );
    (status, headers, Json(json!({ "message": message }))).into_response()
}

/// A catalogue entry for `id`, or the not-found answer Bedrock gives.
fn lookup(id: &str) -> Result<(String, catalogue::ModelInfo), Box<Response>> {
    let (_, model) = catalogue::split_profile(id);
    match catalogue::BUILTIN.get(model) {
        Some(info) if info.lifecycle != Lifecycle::Retired => Ok((model.to_owned(), info.clone())),
        Some(_) => Err(Box::new(rest_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            activities::clients::llm::RETIRED_MESSAGE,
        ))),
        None => Err(Box::new(rest_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!(
                "The model {id} could not be found (Bedrock stand-in: it knows only the built-in catalogue)."
            ),
        ))),
    }
}

async fn foundation_model(Path(id): Path<String>) -> Response {
    let (model, info) = match lookup(&id) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    Json(json!({
        "modelDetails": {
            "modelArn": format!("arn:aws:bedrock:us-east-1::foundation-model/{model}"),
            "modelId": model,
            "modelName": info.quota_name,
            "providerName": "Anthropic",
            "inputModalities": ["TEXT"],
            "outputModalities": ["TEXT"],
            "responseStreamingSupported": true,
            "inferenceTypesSupported": if info.profile_only { json!(["INFERENCE_PROFILE"]) } else { json!(["ON_DEMAND"]) },
            "modelLifecycle": { "status": info.lifecycle.as_bedrock() }
        }
    }))
    .into_response()
}

async fn availability(Path(id): Path<String>) -> Response {
    let (model, _) = match lookup(&id) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    Json(json!({
        "modelId": model,
        "agreementAvailability": { "status": "AVAILABLE" },
        "authorizationStatus": "AUTHORIZED",
        "entitlementAvailability": "AVAILABLE",
        "regionAvailability": "AVAILABLE"
    }))
    .into_response()
}

/// Service Quotas speaks JSON 1.1: the operation is in `X-Amz-Target`.
async fn service_quotas(headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if target != "ServiceQuotasV20190624.ListServiceQuotas" {
        return json11_error(
            "ValidationException",
            &format!("the stand-in does not serve {target:?}"),
        );
    }
    if request["ServiceCode"].as_str() != Some("bedrock") {
        return json11_error(
            "NoSuchResourceException",
            "the stand-in has quotas for bedrock only",
        );
    }
    let mut quotas = Vec::new();
    for (i, (_, info)) in catalogue::BUILTIN
        .iter()
        .filter(|(_, info)| info.lifecycle != Lifecycle::Retired)
        .enumerate()
    {
        let name = &info.quota_name;
        for (j, (what, value)) in [
            ("requests", info.default_rpm as f64),
            ("tokens", info.default_tpm as f64),
        ]
        .into_iter()
        .enumerate()
        {
            for (k, scope) in ["Cross-region", "Global cross-region"]
                .into_iter()
                .enumerate()
            {
                quotas.push(json!({
                    "ServiceCode": "bedrock",
                    "ServiceName": "Amazon Bedrock",
                    "QuotaCode": format!("L-STANDIN{i}{j}{k}"),
                    "QuotaName": format!("{scope} model inference {what} per minute for Anthropic {name}"),
                    "Value": value,
                    "Unit": "None",
                    "Adjustable": true,
                    "GlobalQuota": false
                }));
            }
        }
    }
    let mut response = Json(json!({ "Quotas": quotas })).into_response();
    response.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    response
}

fn json11_error(error_type: &str, message: &str) -> Response {
    let mut response = (
        StatusCode::BAD_REQUEST,
        Json(json!({ "__type": error_type, "message": message })),
    )
        .into_response();
    response.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    response
}
