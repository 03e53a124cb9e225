//! Fixtures and local servers shared by the feeds' tests.
#![allow(unused_imports, dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use futures::StreamExt;

use super::*;

pub(crate) const ARXIV_FIXTURE: &str =
    include_str!("../../../tests/fixtures/feeds/arxiv-cs-lg.xml");
pub(crate) const ARXIV_ERROR_FIXTURE: &str =
    include_str!("../../../tests/fixtures/feeds/arxiv-error.xml");
pub(crate) const OPENREVIEW_FIXTURE: &str =
    include_str!("../../../tests/fixtures/feeds/openreview-iclr-2024.json");

pub(crate) fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

pub(crate) async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a local port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

pub(crate) fn test_config(base: &str) -> SourceConfig {
    SourceConfig {
        arxiv_url: format!("{base}/api/query"),
        openreview_url: base.to_owned(),
        mlsys_url: base.to_owned(),
        page_size: 3,
        interval_ms: 50,
        user_agent: "annapurna-test/1".to_owned(),
        request_timeout_secs: 5,
        pdf_max_bytes: 4096,
        pdf_timeout_secs: 5,
        feed_max_bytes: 64 * 1024,
        ..SourceConfig::default()
    }
}

// ---- paging ----

#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) params: HashMap<String, String>,
    pub(crate) at: Instant,
    pub(crate) user_agent: Option<String>,
}

pub(crate) type Log = Arc<Mutex<Vec<Seen>>>;

pub(crate) const PAGED_TOTAL: usize = 5;

pub(crate) fn record(
    log: &Log,
    headers: &HeaderMap,
    params: HashMap<String, String>,
) -> (usize, usize) {
    let start = params
        .get("start")
        .or(params.get("offset"))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let size = params
        .get("max_results")
        .or(params.get("limit"))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    log.lock().expect("log lock").push(Seen {
        params,
        at: Instant::now(),
        user_agent,
    });
    (start, size)
}

pub(crate) async fn arxiv_page(
    State(log): State<Log>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> String {
    let (start, size) = record(&log, &headers, params);
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" \
         xmlns:opensearch=\"http://a9.com/-/spec/opensearch/1.1/\">\n\
         <opensearch:totalResults>{PAGED_TOTAL}</opensearch:totalResults>\n"
    );
    for i in start..(start + size).min(PAGED_TOTAL) {
        xml.push_str(&format!(
            "<entry><id>http://arxiv.org/abs/2611.1000{i}v1</id><title>Paper {i}</title>\
             <link title=\"pdf\" href=\"http://127.0.0.1:9/pdf/2611.1000{i}v1\"/></entry>\n"
        ));
    }
    xml.push_str("</feed>\n");
    xml
}

pub(crate) async fn arxiv_server() -> (String, Log) {
    let log: Log = Arc::default();
    let app = Router::new()
        .route("/api/query", get(arxiv_page))
        .route(
            "/refusing/query",
            get(|| async { (StatusCode::BAD_REQUEST, ARXIV_ERROR_FIXTURE) }),
        )
        .with_state(log.clone());
    (serve(app).await, log)
}

pub(crate) fn seen(log: &Log) -> Vec<Seen> {
    log.lock().expect("log lock").clone()
}

/// The values of two parameters (where a page starts, how many were asked) of each request.
pub(crate) fn asked(log: &Log, keys: [&str; 2]) -> Vec<[String; 2]> {
    seen(log)
        .iter()
        .map(|r| keys.map(|key| r.params.get(key).cloned().unwrap_or_default()))
        .collect()
}

/// Tests that time requests at a server run [`alone`]; tests that build HTTP clients run
/// [`together`], beside each other but never beside those. Building a client takes tens of
/// milliseconds of CPU (the root certificates): on a busy machine with few cores, a neighbour
/// doing it delays one timed request more than the next, and the gap measured shrinks.
static TIMING: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// For a test that times requests: no test that builds HTTP clients runs meanwhile.
pub(crate) async fn alone() -> tokio::sync::RwLockWriteGuard<'static, ()> {
    TIMING.write().await
}

/// For a test that builds HTTP clients: none that times requests runs meanwhile.
pub(crate) async fn together() -> tokio::sync::RwLockReadGuard<'static, ()> {
    TIMING.read().await
}

/// Asserts that two requests reached a server at least `intervals` × `interval-ms` apart. The
/// pacer spaces request starts; arrival times at the server also carry the first request's
/// connection set-up, so they may come up to a few milliseconds closer.
pub(crate) fn assert_paced(earlier: Instant, later: Instant, intervals: u32, cfg: &SourceConfig) {
    let gap = later.duration_since(earlier);
    assert!(
        gap + Duration::from_millis(5) >= Duration::from_millis(cfg.interval_ms) * intervals,
        "{gap:?}"
    );
}

// ---- MLSys ----

/// The MLSys fixture site: a year page and the abstract pages it links to.
pub(crate) const MLSYS_FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/feeds/mlsys-2024"
);

/// The MLSys fixture's ids (abstract-page hashes), in the year page's order (the fifth item has
/// no link).
pub(crate) const MLSYS_IDS: [&str; 5] = [
    "3c9f1e0a7b2d4c8e9f0a1b2c3d4e5f60",
    "7a1b2c3d4e5f60718293a4b5c6d7e8f9",
    "b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5",
    "c4d5e6f708192a3b4c5d6e7f8091a2b3",
    "d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4",
];

/// A file of the MLSys fixture site.
pub(crate) fn mlsys_fixture(path: &str) -> String {
    std::fs::read_to_string(format!("{MLSYS_FIXTURES}/{path}"))
        .unwrap_or_else(|e| panic!("the MLSys fixture {path}: {e}"))
}

/// Paths the MLSys server was asked for, with when.
pub(crate) type PathLog = Arc<Mutex<Vec<(String, Instant)>>>;

/// Serves the fixture site (the real site's absolute links pointed here): year 2024 as written,
/// 2025 with a link off the site, 2026 with an abstract page that answers 503; any other page
/// is a 404.
pub(crate) async fn mlsys_server() -> (String, PathLog) {
    let log: PathLog = Arc::default();
    let base: Arc<std::sync::OnceLock<String>> = Arc::default();
    let (seen, site) = (log.clone(), base.clone());
    let app = Router::new().fallback(move |uri: axum::http::Uri| {
        let (seen, site) = (seen.clone(), site.clone());
        async move {
            let path = uri.path().to_owned();
            seen.lock()
                .expect("log lock")
                .push((path.clone(), Instant::now()));
            let base = site.get().cloned().unwrap_or_default();
            let page = match path.as_str() {
                "/paper_files/paper/2024" => Some(mlsys_fixture("index.html")),
                "/paper_files/paper/2025" => Some(
                    "<ul class=\"paper-list\"><li><a href=\"http://127.0.0.1:9/paper_files/\
                     paper/2025/hash/0ff-Abstract-Conference.html\">Elsewhere</a></li></ul>"
                        .to_owned(),
                ),
                "/paper_files/paper/2026" => Some(
                    "<ul class=\"paper-list\"><li><a href=\"2026/hash/503-Abstract-Conference.html\">\
                     Overloaded</a></li></ul>"
                        .to_owned(),
                ),
                "/paper_files/paper/2026/hash/503-Abstract-Conference.html" => {
                    return (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response();
                }
                other => other
                    .strip_prefix("/paper_files/paper/2024/")
                    .and_then(|file| std::fs::read_to_string(format!("{MLSYS_FIXTURES}/{file}")).ok()),
            };
            match page {
                Some(html) => (
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    html.replace("https://proceedings.mlsys.org", &base),
                )
                    .into_response(),
                None => (StatusCode::NOT_FOUND, "<h1>Not Found</h1>").into_response(),
            }
        }
    });
    let url = serve(app).await;
    base.set(url.clone()).expect("set once");
    (url, log)
}

pub(crate) fn paths(log: &PathLog) -> Vec<String> {
    log.lock()
        .expect("log lock")
        .iter()
        .map(|(path, _)| path.clone())
        .collect()
}
