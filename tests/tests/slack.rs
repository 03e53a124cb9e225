//! Slack threads per paper, against a local server that speaks the three Web API methods used
//! (`chat.postMessage`, `conversations.replies`, `conversations.history`) and records every call:
//! a paper's thread holds its start, its stages and its result once each, even when Slack loses
//! responses (the retried post finds its own message by its metadata key) and the worker is
//! killed mid-paper; with Slack down the paper still succeeds.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use annapurna_tests::{Stack, paper_input, papers_dir, wait_progress, wait_result};
use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use workflows::names::paper_workflow_id;
use workflows::types::PaperToCodeInput;

#[derive(Default)]
struct Slack {
    /// Every message kept, in order: (thread_ts or "", ts, text, metadata key).
    messages: Mutex<Vec<(String, String, String, String)>>,
    /// Every `chat.postMessage` call.
    posts: AtomicU32,
    /// Every lookup call.
    lookups: AtomicU32,
    /// Answer every n-th post with HTTP 500 after keeping the message (a lost response).
    lose_every: u32,
    /// Answer everything with HTTP 503.
    down: bool,
    /// The bearer tokens seen.
    tokens: Mutex<Vec<String>>,
}

type Shared = State<Arc<Slack>>;

fn token_of(headers: &axum::http::HeaderMap) -> String {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn post_message(
    State(s): Shared,
    headers: axum::http::HeaderMap,
    Json(body): Json<Value>,
) -> (axum::http::StatusCode, Json<Value>) {
    s.tokens.lock().unwrap().push(token_of(&headers));
    let n = s.posts.fetch_add(1, Ordering::SeqCst) + 1;
    if s.down {
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ok": false})),
        );
    }
    let ts = format!("1700000000.{n:06}");
    s.messages.lock().unwrap().push((
        body["thread_ts"].as_str().unwrap_or("").to_owned(),
        ts.clone(),
        body["text"].as_str().unwrap_or("").to_owned(),
        body["metadata"]["event_payload"]["key"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
    ));
    if s.lose_every > 0 && n % s.lose_every == 0 {
        return (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"ok": false, "error": "internal_error"})),
        );
    }
    (
        axum::http::StatusCode::OK,
        Json(json!({"ok": true, "channel": "C0PAPERS", "ts": ts})),
    )
}

fn listed(s: &Slack, keep: impl Fn(&(String, String, String, String)) -> bool) -> Json<Value> {
    let messages: Vec<Value> = s
        .messages
        .lock()
        .unwrap()
        .iter()
        .filter(|m| keep(m))
        .map(|(_, ts, text, key)| {
            json!({"ts": ts, "text": text,
                   "metadata": {"event_type": "annapurna_event", "event_payload": {"key": key}}})
        })
        .collect();
    Json(json!({"ok": true, "messages": messages}))
}

async fn replies(
    State(s): Shared,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Json<Value> {
    s.lookups.fetch_add(1, Ordering::SeqCst);
    let parent = q.get("ts").cloned().unwrap_or_default();
    listed(&s, |(thread, ts, _, _)| *thread == parent || *ts == parent)
}

async fn history(State(s): Shared) -> Json<Value> {
    s.lookups.fetch_add(1, Ordering::SeqCst);
    listed(&s, |(thread, _, _, _)| thread.is_empty())
}

async fn start_slack(slack: Slack) -> (String, Arc<Slack>) {
    let shared = Arc::new(slack);
    let app = Router::new()
        .route("/api/chat.postMessage", post(post_message))
        .route("/api/conversations.replies", get(replies))
        .route("/api/conversations.history", get(history))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, shared)
}

async fn stack_with_slack(standin_args: &[&str], api: &str) -> Stack {
    Stack::start_with_env(
        standin_args,
        &[
            ("ANNAPURNA_NOTIFY__SLACK__TOKEN_ENV", "PAPERS_SLACK_TOKEN"),
            ("PAPERS_SLACK_TOKEN", "xoxb-test-token"),
            ("ANNAPURNA_NOTIFY__SLACK__CHANNEL", "#papers"),
            ("ANNAPURNA_NOTIFY__SLACK__API_URL", api),
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_papers_thread_holds_each_event_once_through_lost_responses_and_a_killed_worker() {
    // Every third post's response is lost after Slack kept the message.
    let (api, slack) = start_slack(Slack {
        lose_every: 3,
        ..Slack::default()
    })
    .await;
    let mut stack = stack_with_slack(&["--latency-ms", "700"], &api).await;
    let id = stack.add_paper(&papers_dir().join("schedule-free.tex"));
    let input = PaperToCodeInput {
        max_chunk_tokens: Some(2_000),
        parallel_chunks: Some(2),
        execute: Some(false),
        ..paper_input(&id)
    };
    let workflow_id = paper_workflow_id(&id);
    let handle = stack.start_paper(&workflow_id, input).await.unwrap();
    wait_progress(&handle, 120, "summaries never got going", |p| {
        p.chunks_done >= 1
    })
    .await;
    stack.kill_worker();
    stack.start_worker();
    let out = wait_result(&handle, 300).await;
    assert_eq!(out.outcome, "succeeded");
    stack.record_history(&workflow_id, "slack-thread.json");

    let messages = slack.messages.lock().unwrap().clone();
    let summary: Vec<String> = messages
        .iter()
        .map(|(thread, _, text, key)| format!("{thread:>18} {key}: {text}"))
        .collect();
    let summary = summary.join("\n");
    eprintln!("the thread:\n{summary}");
    // One parent: the paper's title, its target.
    let parents: Vec<_> = messages.iter().filter(|m| m.0.is_empty()).collect();
    assert_eq!(parents.len(), 1, "{summary}");
    let title = stack.show_paper(&id)["paper"]["title"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(parents[0].2.contains(&title), "{summary}");
    assert!(parents[0].2.contains("started → cpu"), "{summary}");
    // Every reply is in its thread, and each event was posted once.
    let parent_ts = parents[0].1.clone();
    assert!(
        messages.iter().all(|m| m.0.is_empty() || m.0 == parent_ts),
        "{summary}"
    );
    let mut keys: Vec<&str> = messages.iter().map(|m| m.3.as_str()).collect();
    keys.sort();
    let before = keys.len();
    keys.dedup();
    assert_eq!(keys.len(), before, "an event posted twice:\n{summary}");
    // The stages it went through, then the result with its cost and the Web UI link.
    for stage in ["summarizing", "generating", "reviewing"] {
        assert!(
            messages
                .iter()
                .any(|m| m.3.ends_with(&format!("-{stage}")) && m.2.starts_with("→ ")),
            "{stage} in\n{summary}"
        );
    }
    let last = messages.last().unwrap();
    assert!(last.2.contains("succeeded"), "{summary}");
    assert!(last.2.contains("/workflows/paper%2F"), "{summary}");
    assert!(last.2.contains("stand-in"), "{summary}");
    // Lost responses were retried and found by their key, not posted again.
    assert!(
        slack.lookups.load(Ordering::SeqCst) >= 1,
        "a retried post looks for its message first:\n{summary}"
    );
    assert!(
        slack
            .tokens
            .lock()
            .unwrap()
            .iter()
            .all(|t| t == "Bearer xoxb-test-token")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_slack_down_the_paper_still_succeeds() {
    let (api, slack) = start_slack(Slack {
        down: true,
        ..Slack::default()
    })
    .await;
    let stack = stack_with_slack(&[], &api).await;
    let id = stack.add_example();
    let input = PaperToCodeInput {
        execute: Some(false),
        ..paper_input(&id)
    };
    let out = stack
        .run_paper(&paper_workflow_id(&id), input)
        .await
        .unwrap();
    assert_eq!(out.outcome, "succeeded");
    // The parent was tried (three attempts), then the thread was given up.
    assert_eq!(slack.posts.load(Ordering::SeqCst), 3);
    assert!(slack.messages.lock().unwrap().is_empty());
}

/// A batch posts its summary as a message of its own, beside one thread per paper.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_posts_its_summary_beside_each_papers_thread() {
    let (api, slack) = start_slack(Slack::default()).await;
    let stack = stack_with_slack(&[], &api).await;
    let ids: Vec<String> = ["dyt.tex", "minp.tex"]
        .iter()
        .map(|p| stack.add_paper(&papers_dir().join(p)))
        .collect();
    let input = format!(
        "{{\"paper_ids\": [\"{}\", \"{}\"], \"max_concurrent\": 2, \"paper\": {{\"execute\": false}}}}",
        ids[0], ids[1]
    );
    stack.start_with_cli("PaperBatch", "batch/slack", &input);
    let summary: workflows::types::BatchSummary = stack
        .result::<workflows::PaperBatch>("batch/slack", 300)
        .await;
    assert_eq!(summary.completed, 2, "{summary:?}");
    let messages = slack.messages.lock().unwrap().clone();
    let parents: Vec<&str> = messages
        .iter()
        .filter(|m| m.0.is_empty())
        .map(|m| m.2.as_str())
        .collect();
    // Two papers' parents and the batch's summary.
    assert_eq!(parents.len(), 3, "{parents:#?}");
    let batch = parents
        .iter()
        .find(|t| t.contains("batch `batch/slack`"))
        .unwrap_or_else(|| panic!("no batch summary in {parents:#?}"));
    assert!(
        batch.contains("2 selected, 2 completed, 0 failed"),
        "{batch}"
    );
    assert!(batch.contains("stand-in"), "{batch}");
}
