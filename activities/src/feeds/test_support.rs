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
