//! The OpenAI-compatible provider. First its client against a small local server, one test per
//! failure mode (throttling with the provider's delay, server errors, a timeout, a cut-off
//! answer, a body that is not a chat completion, a missing key); then real stacks (Temporal,
//! the stand-in speaking both protocols, `annapurna worker`): a paper whose summaries go to
//! Bedrock and whose code goes to the OpenAI path, started with the plain Temporal CLI, with its
//! cost per role and provider and the prompt cache at work; and a throttling storm on the
//! OpenAI path.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use activities::clients::llm::{LlmClient, LlmError, LlmRequest, LlmResponse};
use activities::clients::openai::{OpenAiLlm, ProviderConfig};
use annapurna_tests::{Stack, papers_dir, py_compiles, read_json};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use workflows::PaperToCode;
use workflows::names::paper_workflow_id;

/// What the local server answers, given the request's headers and body.
type Handler = Arc<dyn Fn(&HeaderMap, &Value) -> Response + Send + Sync>;

/// A local OpenAI-compatible server answering every `POST /v1/chat/completions` with `handler`
/// (after `delay`); its base URL and the count of requests it received.
async fn server(delay: Duration, handler: Handler) -> (String, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let handler = handler.clone();
            let seen = seen.clone();
            async move {
                seen.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                handler(&headers, &body)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1"), count)
}

/// A provider at `base_url` with no key and `timeout_secs`.
fn client(base_url: &str, timeout_secs: u64) -> OpenAiLlm {
    let config = ProviderConfig {
        base_url: base_url.to_owned(),
        timeout_secs,
        ..ProviderConfig::local()
    };
    OpenAiLlm::new("local", config, false).unwrap()
}

fn request() -> LlmRequest {
    LlmRequest::single(
        "deepseek-coder-6.7b-instruct".into(),
        (
            "annapurna-task: generate-code\nWrite code.".into(),
            "Paper: X".into(),
        ),
        500,
        0.0,
    )
}

fn completion(text: &str, finish: &str, prompt: u64, cached: u64, completion: u64) -> Response {
    axum::Json(json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "deepseek-coder-6.7b-instruct",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                  "prompt_tokens_details": {"cached_tokens": cached}},
    }))
    .into_response()
}

fn error(status: StatusCode, code: &str, headers: &[(&'static str, &'static str)]) -> Response {
    let mut response = (
        status,
        axum::Json(json!({"error": {"message": format!("{code} from the test server"), "type": "error", "code": code}})),
    )
        .into_response();
    for (k, v) in headers {
        response.headers_mut().insert(*k, v.parse().unwrap());
    }
    response
}

async fn ask(llm: &OpenAiLlm) -> Result<LlmResponse, LlmError> {
    llm.converse(&request()).await
}

#[tokio::test]
async fn throttling_is_retryable_with_the_providers_delay() {
    // Retry-After in seconds.
    let (url, _) = server(
        Duration::ZERO,
        Arc::new(|_, _| {
            error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_exceeded",
                &[("retry-after", "7")],
            )
        }),
    )
    .await;
    match ask(&client(&url, 10)).await {
        Err(e @ LlmError::Throttled { .. }) => {
            assert!(e.is_retryable());
            assert_eq!(e.type_name(), "ModelThrottled");
            let LlmError::Throttled { retry_after, .. } = e else {
                unreachable!()
            };
            assert_eq!(retry_after, Some(Duration::from_secs(7)));
        }
        other => panic!("expected throttling, got {other:?}"),
    }
    // OpenAI's x-ratelimit headers: the exhausted budget's reset is the delay.
    let (url, _) = server(
        Duration::ZERO,
        Arc::new(|_, _| {
            error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_exceeded",
                &[
                    ("x-ratelimit-remaining-requests", "12"),
                    ("x-ratelimit-reset-requests", "2s"),
                    ("x-ratelimit-remaining-tokens", "0"),
                    ("x-ratelimit-reset-tokens", "1m30s"),
                ],
            )
        }),
    )
    .await;
    match ask(&client(&url, 10)).await {
        Err(LlmError::Throttled { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(90)))
        }
        other => panic!("expected throttling, got {other:?}"),
    }
    // A 429 for an exhausted balance does not pass with time.
    let (url, _) = server(
        Duration::ZERO,
        Arc::new(|_, _| error(StatusCode::TOO_MANY_REQUESTS, "insufficient_quota", &[])),
    )
    .await;
    let e = ask(&client(&url, 10)).await.unwrap_err();
    assert!(
        matches!(e, LlmError::Rejected { ref code, .. } if code == "insufficient_quota"),
        "{e:?}"
    );
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn server_errors_are_retryable() {
    for status in [
        StatusCode::INTERNAL_SERVER_ERROR,
        StatusCode::BAD_GATEWAY,
        StatusCode::GATEWAY_TIMEOUT,
    ] {
        let (url, _) = server(
            Duration::ZERO,
            Arc::new(move |_, _| error(status, "server_error", &[])),
        )
        .await;
        let e = ask(&client(&url, 10)).await.unwrap_err();
        assert!(matches!(e, LlmError::Transport { .. }), "{status}: {e:?}");
        assert!(e.is_retryable());
        assert_eq!(e.type_name(), "ModelUnavailable");
        assert!(e.to_string().contains(status.as_str()), "{e}");
    }
    // A bad request is not.
    let (url, _) = server(
        Duration::ZERO,
        Arc::new(|_, _| error(StatusCode::BAD_REQUEST, "context_length_exceeded", &[])),
    )
    .await;
    let e = ask(&client(&url, 10)).await.unwrap_err();
    assert!(!e.is_retryable(), "{e:?}");
    assert!(e.to_string().contains("context_length_exceeded"), "{e}");
}

#[tokio::test]
async fn a_timeout_is_retryable() {
    let (url, count) = server(
        Duration::from_secs(30),
        Arc::new(|_, _| completion("late", "stop", 1, 0, 1)),
    )
    .await;
    let e = ask(&client(&url, 1)).await.unwrap_err();
    assert!(matches!(e, LlmError::Transport { .. }), "{e:?}");
    assert!(e.is_retryable());
    let timed_out = std::error::Error::source(&e)
        .and_then(|s| s.downcast_ref::<reqwest::Error>())
        .is_some_and(reqwest::Error::is_timeout);
    assert!(timed_out, "the cause is the timeout: {e:?}");
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

/// `finish_reason: length` marks the answer truncated (the gateway then asks for the rest, as for
/// Bedrock's `max_tokens`: the storm test below sees those continuations through the whole
/// stack); usage counts cached tokens apart from the input.
#[tokio::test]
async fn a_cut_off_answer_is_truncated_and_usage_counts_the_cache() {
    let (url, _) = server(
        Duration::ZERO,
        Arc::new(|_, body| {
            // The continuation request (the answer so far, then "continue") gets the rest.
            let turns = body["messages"].as_array().map_or(0, |m| m.len());
            if turns > 2 {
                assert_eq!(body["messages"][turns - 2]["role"], "assistant");
                completion("second half", "stop", 900, 800, 3)
            } else {
                completion("first half, ", "length", 1_000, 0, 500)
            }
        }),
    )
    .await;
    let llm = client(&url, 10);
    let first = llm.converse(&request()).await.unwrap();
    assert!(first.truncated);
    assert_eq!(first.text, "first half, ");
    assert_eq!((first.input_tokens, first.output_tokens), (1_000, 500));
    let mut more = request();
    more.messages
        .push((activities::clients::llm::Role::Assistant, first.text));
    more.messages.push((
        activities::clients::llm::Role::User,
        activities::prompts::CONTINUE.into(),
    ));
    let rest = llm.converse(&more).await.unwrap();
    assert!(!rest.truncated);
    assert_eq!(rest.text, "second half");
    // 900 prompt tokens of which 800 cached: 100 at the input price, 800 at the cache-read one.
    assert_eq!((rest.input_tokens, rest.cache_read_tokens), (100, 800));
}

#[tokio::test]
async fn a_body_that_is_not_a_chat_completion_fails_for_good() {
    let (url, _) = server(
        Duration::ZERO,
        Arc::new(|_, _| (StatusCode::OK, "<html>a web page, not an API</html>").into_response()),
    )
    .await;
    let e = ask(&client(&url, 10)).await.unwrap_err();
    assert!(matches!(e, LlmError::Malformed { .. }), "{e:?}");
    assert!(!e.is_retryable());
    assert_eq!(e.type_name(), "ModelAnswerMalformed");
    let message = e.to_string();
    assert!(
        message.contains(&format!("{url}/chat/completions")) && message.contains("<html>"),
        "{message}"
    );
    // No choices is malformed too.
    let (url, _) = server(
        Duration::ZERO,
        Arc::new(|_, _| axum::Json(json!({"choices": []})).into_response()),
    )
    .await;
    let e = ask(&client(&url, 10)).await.unwrap_err();
    assert!(matches!(e, LlmError::Malformed { .. }), "{e:?}");
}

#[tokio::test]
async fn a_missing_key_names_its_variable_and_a_present_one_is_sent() {
    let (url, count) = server(
        Duration::ZERO,
        Arc::new(|headers, _| {
            // HOME stands in for a key variable: it is set wherever the tests run.
            let expected = format!("Bearer {}", std::env::var("HOME").unwrap());
            if headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&expected) {
                completion("ok", "stop", 1, 0, 1)
            } else {
                error(StatusCode::UNAUTHORIZED, "invalid_api_key", &[])
            }
        }),
    )
    .await;
    let variable = "ANNAPURNA_TEST_NO_SUCH_KEY_VARIABLE";
    let missing = ProviderConfig {
        base_url: url.clone(),
        api_key_env: variable.into(),
        ..ProviderConfig::openai()
    };
    let e = OpenAiLlm::new("openai", missing, false)
        .unwrap()
        .converse(&request())
        .await
        .unwrap_err();
    assert!(matches!(e, LlmError::MissingApiKey { .. }), "{e:?}");
    assert!(!e.is_retryable());
    assert_eq!(e.type_name(), "MissingApiKey");
    assert!(e.to_string().contains(variable), "{e}");
    assert_eq!(
        count.load(Ordering::SeqCst),
        0,
        "no request without the key"
    );

    let present = ProviderConfig {
        base_url: url,
        api_key_env: "HOME".into(),
        ..ProviderConfig::openai()
    };
    let answer = OpenAiLlm::new("openai", present, false)
        .unwrap()
        .converse(&request())
        .await
        .unwrap();
    assert_eq!(answer.text, "ok");
}

/// The stack's environment for the OpenAI provider: its base URL at the stand-in and a key.
const OPENAI_AT_STANDIN: [(&str, &str); 2] = [
    ("ANNAPURNA_PROVIDERS__OPENAI__BASE_URL", "{standin}/v1"),
    ("OPENAI_API_KEY", "sk-annapurna-test-not-a-key"),
];

/// The `usage` entry of `step` in a metadata.json.
fn step<'a>(metadata: &'a Value, name: &str) -> &'a Value {
    metadata["usage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["step"] == name)
        .map(|u| &u["usage"])
        .unwrap_or_else(|| panic!("no step {name} in {}", metadata["usage"]))
}

/// A paper whose summaries go to Bedrock (Converse) and whose code goes to the OpenAI path
/// (Chat Completions), started with the plain Temporal CLI: both protocols served, both
/// providers' usage and cost in metadata.json and `annapurna paper show`; the reviews read the
/// paper context from Bedrock's prompt cache after the first wrote it; a rerun is all cached and
/// costs $0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paper_split_across_bedrock_and_openai() {
    let stack = Stack::start_with_env(&["--broken-code"], &OPENAI_AT_STANDIN).await;
    let id = stack.add_example();
    let workflow_id = paper_workflow_id(&id);
    let input = json!({"paper_id": id, "models": {"code": "openai/gpt-5-mini"}});
    stack.start_with_cli("PaperToCode", &workflow_id, &input.to_string());
    let result = stack.result::<PaperToCode>(&workflow_id, 240).await;
    assert_eq!(result.outcome, "succeeded", "{result:?}");
    assert!(result.standin);

    let stats = stack.standin_stats();
    let by_protocol = &stats["requests_by_protocol"];
    assert!(by_protocol["converse"].as_u64() > Some(0), "{stats}");
    assert!(
        by_protocol["chat-completions"].as_u64() > Some(0),
        "{stats}"
    );

    let dir = Stack::path_of(&result.results);
    assert!(py_compiles(&dir.join("code.py")));
    let metadata = read_json(&dir.join("metadata.json"));
    let cost = &metadata["cost"];
    assert_eq!(
        cost["by_role"]["code"]["models"], "openai/gpt-5-mini",
        "{cost}"
    );
    assert_eq!(
        cost["by_role"]["summary"]["models"],
        activities::settings::DEFAULT_SUMMARY_MODEL,
        "{cost}"
    );
    // Review and fix were not routed: the configured code model, on Bedrock.
    assert_eq!(
        cost["by_role"]["review"]["models"],
        activities::settings::DEFAULT_CODE_MODEL,
        "{cost}"
    );
    for provider in ["bedrock", "openai"] {
        let p = &cost["by_provider"][provider];
        assert!(p["calls"].as_u64() > Some(0), "{provider}: {cost}");
        assert!(p["output_tokens"].as_u64() > Some(0), "{provider}: {cost}");
        assert!(p["usd"].as_f64() > Some(0.0), "{provider}: {cost}");
    }
    let roles_usd: f64 = cost["by_role"]
        .as_object()
        .unwrap()
        .values()
        .map(|r| r["usd"].as_f64().unwrap())
        .sum();
    assert!(
        (roles_usd - cost["usd"].as_f64().unwrap()).abs() < 1e-9,
        "{cost}"
    );
    assert_eq!(cost["usd"], metadata["estimated_cost_usd"]);
    // The same figures, from the workflow's result.
    assert_eq!(result.by_role["code"].model, "openai/gpt-5-mini");
    assert!(result.by_role["summary"].cost_microusd > 0);

    // Prompt caching: the first review of round 1 writes the paper context to Bedrock's cache
    // (the plan and the files were written on the OpenAI path, which caches on its own); every
    // other review reads it, round 2's too.
    let reviews: Vec<&serde_json::Value> = metadata["usage"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["step"].as_str().unwrap().starts_with("ReviewCode 1 "))
        .map(|u| &u["usage"])
        .collect();
    assert_eq!(
        reviews.len(),
        3,
        "one review per file: {}",
        metadata["usage"]
    );
    let writes: Vec<u64> = reviews
        .iter()
        .filter_map(|u| u["cache_write_tokens"].as_u64())
        .filter(|w| *w > 0)
        .collect();
    assert_eq!(writes.len(), 1, "written once: {reviews:?}");
    let second = step(&metadata, "ReviewCode 2 train.py");
    assert!(second["cache_read_tokens"].as_u64() > Some(0), "{second}");
    assert_eq!(
        second["cache_read_tokens"].as_u64(),
        Some(writes[0]),
        "the same context"
    );
    assert!(stats["cache_read_tokens"].as_u64() > Some(0), "{stats}");

    // `annapurna paper show` has the cost per role of the run.
    let shown = stack.show_paper(&id);
    let run_cost = &shown["runs"][0]["cost"];
    assert_eq!(
        run_cost["by_role"]["code"]["models"], "openai/gpt-5-mini",
        "{shown}"
    );
    assert_eq!(run_cost["usd"], cost["usd"], "{shown}");

    // A rerun finds every answer in the cache: no model call, $0.
    let requests = stats["requests"].as_u64().unwrap();
    let rerun_id = format!("{workflow_id}/rerun");
    stack.start_with_cli("PaperToCode", &rerun_id, &input.to_string());
    let rerun = stack.result::<PaperToCode>(&rerun_id, 240).await;
    assert_eq!(rerun.outcome, "succeeded");
    assert_eq!(rerun.cost_microusd, 0);
    let metadata = read_json(&Stack::path_of(&rerun.results).join("metadata.json"));
    assert_eq!(metadata["cost"]["usd"], 0.0, "{}", metadata["cost"]);
    for (role, usage) in metadata["cost"]["by_role"].as_object().unwrap() {
        assert_eq!(usage["calls"], 0, "{role}: {usage}");
    }
    assert_eq!(stack.standin_stats()["requests"].as_u64(), Some(requests));
}

/// Code, review, fixes and diagnosis on the OpenAI path through a storm: two in five requests
/// throttled (429 with the x-ratelimit headers), a share of answers cut off at the token limit.
/// The paper completes; the cut-off code answers were continued; the review rounds on the OpenAI
/// path read their shared prefix from its (automatic) prompt cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttling_storm_on_the_openai_path_completes() {
    let stack = Stack::start_with_env(
        &[
            "--broken-code",
            "--throttle-percent",
            "40",
            "--truncate-percent",
            "30",
        ],
        &OPENAI_AT_STANDIN,
    )
    .await;
    // A real paper in chunks of 1K tokens: enough summaries that the shared prefix of the review
    // prompts passes the 1,024 tokens OpenAI starts caching at.
    let id = stack.add_paper(&papers_dir().join("attention-is-all-you-need.tex"));
    let workflow_id = paper_workflow_id(&id);
    let openai = "openai/gpt-5-mini";
    let input = json!({
        "paper_id": id,
        "execute": false,
        "max_chunk_tokens": 1000,
        "models": {"code": openai, "review": openai, "fix": openai, "diagnose": openai},
    });
    stack.start_with_cli("PaperToCode", &workflow_id, &input.to_string());
    let result = stack.result::<PaperToCode>(&workflow_id, 280).await;
    assert_eq!(result.outcome, "succeeded", "{result:?}");
    let stats = stack.standin_stats();
    assert!(
        stats["by_outcome"]["throttled"].as_u64() > Some(0),
        "{stats}"
    );
    assert!(
        stats["by_outcome"]["truncated"].as_u64() > Some(0),
        "{stats}"
    );
    assert!(
        stats["requests_by_protocol"]["chat-completions"].as_u64() > Some(2),
        "{stats}"
    );
    let dir = Stack::path_of(&result.results);
    assert!(py_compiles(&dir.join("code.py")));
    let metadata = read_json(&dir.join("metadata.json"));
    let continuations: u64 = metadata["usage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["usage"]["continuations"].as_u64().unwrap_or(0))
        .sum();
    assert!(continuations > 0, "{}", metadata["usage"]);
    let review = &metadata["cost"]["by_role"]["review"];
    assert_eq!(review["models"], openai);
    // OpenAI's automatic caching: a prefix of 1,024 tokens or more, in steps of 128.
    let cached = step(&metadata, "ReviewCode 2 train.py")["cache_read_tokens"]
        .as_u64()
        .unwrap();
    assert!(
        cached >= 1024 && cached.is_multiple_of(128),
        "{}",
        metadata["usage"]
    );
    assert!(review["cache_read_tokens"].as_u64() >= Some(cached));
}
