//! The model stand-in: an HTTP server that answers, on one port, Bedrock's Converse
//! (`POST /model/{modelId}/converse`) and OpenAI's Chat Completions (`POST /v1/chat/completions`)
//! in their own wire formats, so the real clients (the AWS SDK's, and Annapurna's
//! OpenAI-compatible one) are what run when no account is at hand. Its answers are templates
//! chosen by the `annapurna-task:` line of the system prompt, not generation, and every one
//! carries the `ANNAPURNA-STANDIN` marker so that whatever it touches says so. It can throttle
//! (HTTP 429 as each provider writes it), fail and hang on purpose, reports prompt-cache usage for
//! prefixes it has seen, and counts requests by protocol, kind and outcome at
//! `GET /_standin/stats`.
//!
//! - here: the server, its options and statistics, quotas with Bedrock's accounting
//! - [`answer`]: one request's answer, whichever protocol: refusals, faults, templates, cache
//! - [`converse`], [`chat`]: the two wire protocols
//! - [`templates`]: the template answers, one per [`activities::prompts::Task`]
//! - [`world`]: Bedrock's latency model and summary lengths
//! - [`control`]: Bedrock's control plane and Service Quotas, for `annapurna doctor`
//! - [`batch`]: Bedrock's batch inference jobs over an S3-compatible store

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

pub mod answer;
pub mod batch;
pub mod chat;
pub mod control;
pub mod converse;
pub mod repo_templates;
pub mod templates;
pub mod world;

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
    /// Bedrock's latency: time to first token, then Haiku 4.5's tokens per second, lognormal
    /// spread and a 1% tail at 5× (see [`world`]); replaces `--latency-ms`.
    #[arg(long)]
    pub bedrock_latency: bool,
    /// Summary answers of a length drawn from this range of tokens, e.g. `600-1500`.
    #[arg(long)]
    pub summary_tokens: Option<String>,
    /// Requests per minute per model (0: no quota). Over quota: ThrottlingException.
    #[arg(long, default_value_t = 0)]
    pub rpm: u32,
    /// Tokens per minute per model (0: no quota), with Bedrock's accounting: input + max_tokens
    /// reserved at the start, settled at input + cache write + output × burndown at the end.
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
    /// Batch inference jobs.
    #[command(flatten)]
    pub batch: batch::BatchOptions,
}

/// Request counts, as served at `/_standin/stats`.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Stats {
    /// All requests.
    pub requests: u64,
    /// By wire protocol (`converse`, `chat-completions`).
    pub requests_by_protocol: BTreeMap<String, u64>,
    /// By request kind (`summarize-chunk`, `generate-code`, …).
    pub by_kind: BTreeMap<String, u64>,
    /// By outcome (`ok`, `throttled`, `over-quota`, `error`, `timeout`, `truncated`,
    /// `failed-chunk`, `bad-request`, `abandoned`).
    pub by_outcome: BTreeMap<String, u64>,
    /// Requests whose client went away before the answer (a hedged call's second request, a
    /// worker stopped), by request kind.
    #[serde(default)]
    pub abandoned_by_kind: BTreeMap<String, u64>,
    /// Summary requests per chunk, counted on arrival (first 16 hex of the SHA-256 of the
    /// request's text).
    pub summaries_by_chunk: BTreeMap<String, u64>,
    /// GenerateFile requests per repository path (`Write the file: …`), counted on arrival.
    #[serde(default)]
    pub files_by_path: BTreeMap<String, u64>,
    /// Quota tokens used per model, as Bedrock settles them: input + output × burndown.
    pub quota_tokens_by_model: BTreeMap<String, u64>,
    /// Input tokens answered from the prompt cache (a prefix seen before).
    pub cache_read_tokens: u64,
    /// Input tokens written to the prompt cache (a new Converse cache point).
    pub cache_write_tokens: u64,
    /// Milliseconds each answered summary took (the latency model), in answer order.
    pub summary_latency_ms: Vec<u64>,
}

pub(crate) struct Shared {
    options: StandinOptions,
    stats: Mutex<Stats>,
    /// Per-model quota buckets: (requests left, tokens left, last refill).
    buckets: Mutex<BTreeMap<String, (f64, f64, Instant)>>,
    /// Hashes of the prompt prefixes seen (per model): the prompt cache.
    cache: Mutex<std::collections::HashSet<u64>>,
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
        cache: Mutex::new(Default::default()),
    });
    let app = Router::new()
        .route("/model/{model_id}/converse", post(converse::converse))
        .route("/v1/chat/completions", post(chat::chat_completions))
        .route("/_standin/stats", get(stats))
        .merge(crate::control::routes())
        .merge(crate::batch::routes(&shared.options.batch))
        .route("/_standin/health", get(|| async { "ok" }))
        .with_state(shared);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("the stand-in cannot listen on {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the stand-in stopped");
        }
    });
    Ok((bound, task))
}

async fn stats(State(shared): State<Arc<Shared>>) -> Json<Stats> {
    Json(shared.stats.lock().unwrap().clone())
}

/// Whether item `n` (from 1) is among an even `percent` share: it is when the running count of
/// chosen items, `n * percent / 100`, steps up at `n`.
pub(crate) fn spread(n: u64, percent: u32) -> bool {
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

    pub(crate) fn count(&self, task: &str, outcome: &str) {
        let mut s = self.stats.lock().unwrap();
        *s.by_kind.entry(task.to_owned()).or_default() += 1;
        *s.by_outcome.entry(outcome.to_owned()).or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::template_code;
    use activities::clients::llm::{LlmClient, LlmError, LlmRequest, STANDIN_MARKER};

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

    /// The OpenAI-compatible client against the stand-in, for a server without a system role (the
    /// instructions open the first user turn, and the stand-in still finds the task there): a
    /// template answer marked as the stand-in's; the same long prompt again reads its prefix from
    /// the cache, in OpenAI's steps; the statistics count the protocol.
    #[tokio::test]
    async fn openai_client_without_a_system_role_gets_templates_and_cache_reads() {
        use activities::clients::openai::{OpenAiLlm, ProviderConfig};
        let (addr, _server) = start(([127, 0, 0, 1], 0).into(), StandinOptions::default())
            .await
            .unwrap();
        let config = ProviderConfig {
            base_url: format!("http://{addr}/v1"),
            system_role: false,
            ..ProviderConfig::local()
        };
        let llm = OpenAiLlm::new("local", config, false).unwrap();
        let code = "x = 1\n".repeat(1_000);
        let prompt = activities::prompts::review("A Paper", "cpu", &code, &[]);
        let request = LlmRequest::single("deepseek-coder-6.7b-instruct".into(), prompt, 500, 0.0);
        let first = llm.converse(&request).await.unwrap();
        assert!(first.standin, "the marker makes the answer the stand-in's");
        assert!(first.text.contains("\"findings\""), "{}", first.text);
        assert_eq!(first.cache_read_tokens, 0);
        let second = llm.converse(&request).await.unwrap();
        assert!(second.cache_read_tokens >= 1024, "{second:?}");
        assert_eq!(second.cache_read_tokens % 128, 0);
        assert_eq!(
            second.input_tokens + second.cache_read_tokens,
            first.input_tokens
        );
        let stats = shared_stats(addr).await;
        assert_eq!(stats["requests_by_protocol"]["chat-completions"], 2);
        assert_eq!(stats["by_kind"]["review-code"], 2, "{stats}");
    }

    /// A request asked twice gets a summary of the same length (drawn from its prompt), and a
    /// request whose client leaves before the answer is counted as abandoned, its quota not
    /// settled.
    #[tokio::test]
    async fn the_same_prompt_runs_as_long_and_a_request_left_is_abandoned() {
        use activities::clients::openai::{OpenAiLlm, ProviderConfig};
        let options = StandinOptions {
            summary_tokens: Some("600-1500".into()),
            latency_per_token_ms: 1.0,
            ..Default::default()
        };
        let (addr, _server) = start(([127, 0, 0, 1], 0).into(), options).await.unwrap();
        let config = ProviderConfig {
            base_url: format!("http://{addr}/v1"),
            ..ProviderConfig::local()
        };
        let llm = OpenAiLlm::new("local", config, false).unwrap();
        let ask = |text: &str| {
            let prompt = activities::prompts::summarize("A Paper", 0, 2, &[], text);
            LlmRequest::single("deepseek-coder-6.7b-instruct".into(), prompt, 2_000, 0.0)
        };
        let (a, b) = (ask("Some text."), ask("Other text, another summary."));
        let first = llm.converse(&a).await.unwrap();
        let again = llm.converse(&a).await.unwrap();
        let other = llm.converse(&b).await.unwrap();
        assert_eq!(first.output_tokens, again.output_tokens);
        assert!((600..=1_501).contains(&first.output_tokens), "{first:?}");
        assert_ne!(
            first.output_tokens, other.output_tokens,
            "another prompt, another draw"
        );
        let settled =
            shared_stats(addr).await["quota_tokens_by_model"]["deepseek-coder-6.7b-instruct"]
                .as_u64()
                .unwrap();
        // ~1 ms per output token: gone after 100 ms.
        let left =
            tokio::time::timeout(std::time::Duration::from_millis(100), llm.converse(&a)).await;
        assert!(
            left.is_err(),
            "the answer takes longer than the client waits"
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let stats = shared_stats(addr).await;
        assert_eq!(stats["abandoned_by_kind"]["summarize-chunk"], 1, "{stats}");
        assert_eq!(stats["by_outcome"]["abandoned"], 1);
        assert_eq!(
            stats["quota_tokens_by_model"]["deepseek-coder-6.7b-instruct"], settled,
            "nothing settles a request left"
        );
    }

    async fn shared_stats(addr: SocketAddr) -> serde_json::Value {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /_standin/stats HTTP/1.0\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        s.read_to_string(&mut response).await.unwrap();
        serde_json::from_str(response.split_once("\r\n\r\n").unwrap().1).unwrap()
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
