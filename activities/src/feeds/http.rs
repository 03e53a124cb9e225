//! HTTP shared by the feeds: polite paging, per-host pacing across the whole process (governor),
//! pages read with the configured user agent and timeout, and PDF download under a size and time
//! limit with a check that what came is a PDF.

#[allow(unused_imports)]
use super::*;

/// Pages through a feed: `page(offset, ask)` fetches one page and returns its entries and the
/// total the API reports. Stops at `max_results` entries, at an empty page, at the total, or
/// (without a total) at a short page; pauses `interval-ms` between two requests.
///
/// With `search`, only entries that match it are kept and count towards `max_results`; pages
/// are then always asked for whole, since how many of a page will match is not known.
pub(crate) async fn paged<F, Fut>(
    cfg: &SourceConfig,
    max_results: u32,
    search: Option<&SearchTerm>,
    mut page: F,
) -> Result<Vec<FeedEntry>, SourceError>
where
    F: FnMut(u64, usize) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<FeedEntry>, Option<u64>), SourceError>>,
{
    let wanted = usize::try_from(max_results).unwrap_or(usize::MAX);
    let page_size = usize::try_from(cfg.page_size.max(1)).unwrap_or(100);
    let mut entries: Vec<FeedEntry> = Vec::new();
    let mut offset: u64 = 0;
    while entries.len() < wanted {
        let ask = match search {
            Some(_) => page_size,
            None => page_size.min(wanted - entries.len()),
        };
        let (page_entries, total) = page(offset, ask).await?;
        if page_entries.is_empty() {
            break;
        }
        let received = page_entries.len();
        offset += received as u64;
        let room = wanted - entries.len();
        entries.extend(
            page_entries
                .into_iter()
                .filter(|e| search.is_none_or(|term| term.matches(e)))
                .take(room),
        );
        match total {
            Some(total) if offset >= total => break,
            // Without a total, a short page is the last one.
            None if received < ask => break,
            _ => {}
        }
    }
    Ok(entries)
}

// ---------------------------------------------------------------------------------------------
// OpenReview
// ---------------------------------------------------------------------------------------------

pub(crate) type Pacer = governor::DefaultDirectRateLimiter;
/// One pacer per (host:port, interval).
pub(crate) type Pacers =
    std::sync::Mutex<std::collections::HashMap<(String, u64), std::sync::Arc<Pacer>>>;

/// Waits for this process's turn to ask `url`'s host: one request per `interval-ms` per host,
/// whichever activity or feed asks (governor, one pacer per host and interval).
pub(crate) async fn pace(cfg: &SourceConfig, url: &str) {
    static PACERS: std::sync::LazyLock<Pacers> = std::sync::LazyLock::new(Default::default);
    let Some(period) = std::num::NonZeroU64::new(cfg.interval_ms) else {
        return;
    };
    let host = url::Url::parse(url)
        .ok()
        .map(|u| {
            format!(
                "{}:{}",
                u.host_str().unwrap_or(""),
                u.port_or_known_default().unwrap_or(0)
            )
        })
        .unwrap_or_default();
    let pacer = {
        let mut pacers = PACERS.lock().unwrap_or_else(|p| p.into_inner());
        pacers
            .entry((host, period.get()))
            .or_insert_with(|| {
                let quota = governor::Quota::with_period(Duration::from_millis(period.get()))
                    .expect("a non-zero period");
                std::sync::Arc::new(governor::RateLimiter::direct(quota))
            })
            .clone()
    };
    pacer.until_ready().await;
}

/// One feed response, whatever its status.
pub(crate) struct Page {
    pub(crate) url: String,
    pub(crate) status: u16,
    pub(crate) body: String,
}

impl Page {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub(crate) fn into_http_error(self) -> SourceError {
        SourceError::Http {
            status: self.status,
            body_start: Some(body_start(&self.body)),
            url: self.url,
        }
    }
}

pub(crate) fn user_agent(cfg: &SourceConfig) -> Result<HeaderValue, SourceError> {
    HeaderValue::from_str(&cfg.user_agent).map_err(|_| {
        SourceError::BadQuery(format!(
            "sources.user-agent `{}` is not a valid header value: use printable ASCII, such as \
             \"annapurna/0.1 (mailto:you@example.org)\"",
            cfg.user_agent
        ))
    })
}

pub(crate) fn bad_url(url: &str, e: &reqwest::Error) -> SourceError {
    SourceError::BadQuery(format!(
        "`{url}` is not a usable http(s) URL ({}); check sources.arxiv-url, sources.openreview-url, \
         sources.mlsys-url or the link",
        error_chain(e)
    ))
}

pub(crate) async fn get_page(
    http: &reqwest::Client,
    cfg: &SourceConfig,
    base: &str,
    params: &[(&str, String)],
) -> Result<Page, SourceError> {
    pace(cfg, base).await;
    let request = http
        .get(base)
        .query(params)
        .header(USER_AGENT, user_agent(cfg)?)
        .timeout(Duration::from_secs(cfg.request_timeout_secs.max(1)))
        .build()
        .map_err(|e| bad_url(base, &e))?;
    let url = request.url().to_string();
    let transport = |e: reqwest::Error| {
        let reason = if e.is_timeout() {
            format!(
                "no complete answer within {} s ({})",
                cfg.request_timeout_secs.max(1),
                error_chain(&e)
            )
        } else {
            error_chain(&e)
        };
        SourceError::Transport {
            url: url.clone(),
            reason,
        }
    };
    let mut response = http.execute(request).await.map_err(transport)?;
    let status = response.status().as_u16();
    let limit = cfg.feed_max_bytes;
    let too_large = || SourceError::FeedTooLarge {
        url: url.clone(),
        limit,
    };
    if response.content_length().is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let mut body: Vec<u8> = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    let body = String::from_utf8_lossy(&body).into_owned();
    Ok(Page { url, status, body })
}

/// The start of a response body for error messages: whitespace collapsed, at most
/// [`BODY_START_CHARS`] characters.
pub(crate) fn body_start(body: &str) -> String {
    let collapsed = collapse(body);
    if collapsed.is_empty() {
        return "(an empty body)".to_owned();
    }
    let mut start: String = collapsed.chars().take(BODY_START_CHARS).collect();
    if start.len() < collapsed.len() {
        start.push('…');
    }
    start
}

/// A reqwest error with its causes (`error sending request: connection refused`).
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Downloads a PDF found in `source`'s feed: the link must pass [`links::LinkPolicy`] (and so
/// must every redirect and every address), the whole download within
/// [`SourceConfig::pdf_timeout_secs`], at most [`SourceConfig::pdf_max_bytes`] (refused from
/// `Content-Length` when the server declares more, otherwise as soon as the streamed body passes
/// the limit), and the body must start with `%PDF-`. Nothing of the response body goes into an
/// error.
pub async fn download_pdf(
    cfg: &SourceConfig,
    source: &str,
    url: &str,
) -> Result<Vec<u8>, SourceError> {
    let refused = |reason: String| SourceError::LinkRefused {
        url: url.to_owned(),
        reason,
    };
    let parsed = url::Url::parse(url).map_err(|e| refused(format!("it is not a URL ({e})")))?;
    let policy = super::links::LinkPolicy::for_source(cfg, source);
    policy.check(&parsed).map_err(|r| refused(r.0))?;
    let http = policy.client(cfg).map_err(|e| SourceError::Transport {
        url: url.to_owned(),
        reason: format!("could not configure the link client: {}", error_chain(&e)),
    })?;
    // Downloads keep the same per-host pace as feed requests (outside the time limit).
    pace(cfg, url).await;
    let secs = cfg.pdf_timeout_secs;
    match tokio::time::timeout(Duration::from_secs(secs), download_within(&http, cfg, url)).await {
        Ok(result) => result,
        Err(_) => Err(SourceError::TimedOut {
            url: url.to_owned(),
            secs,
        }),
    }
}

pub(crate) async fn download_within(
    http: &reqwest::Client,
    cfg: &SourceConfig,
    url: &str,
) -> Result<Vec<u8>, SourceError> {
    let secs = cfg.pdf_timeout_secs;
    let limit = cfg.pdf_max_bytes;
    // The client's per-request timeout is for feeds; the outer timeout governs here, this
    // one only has to be later than it.
    let request = http
        .get(url)
        .header(USER_AGENT, user_agent(cfg)?)
        .timeout(Duration::from_secs(secs.saturating_add(5)))
        .build()
        .map_err(|e| bad_url(url, &e))?;
    let failed = |e: reqwest::Error| {
        if let Some(refused) = super::links::refusal_in(&e) {
            SourceError::LinkRefused {
                url: url.to_owned(),
                reason: refused.0,
            }
        } else if e.is_timeout() {
            SourceError::TimedOut {
                url: url.to_owned(),
                secs,
            }
        } else {
            SourceError::Transport {
                url: url.to_owned(),
                reason: error_chain(&e),
            }
        }
    };
    let mut response = http.execute(request).await.map_err(failed)?;
    let status = response.status();
    if !status.is_success() {
        return Err(SourceError::Http {
            url: url.to_owned(),
            status: status.as_u16(),
            body_start: None,
        });
    }
    let too_large = || SourceError::TooLarge {
        url: url.to_owned(),
        limit,
    };
    if response.content_length().is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let capacity = response
        .content_length()
        .unwrap_or(0)
        .min(limit)
        .min(8 * 1024 * 1024);
    let mut body: Vec<u8> = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    let mut sniffed = false;
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
        if !sniffed && body.len() >= PDF_SNIFF_BYTES {
            sniffed = true;
            check_pdf(url, &body, content_type.as_deref())?;
        }
    }
    if !sniffed {
        check_pdf(url, &body, content_type.as_deref())?;
    }
    Ok(body)
}

pub(crate) fn check_pdf(
    url: &str,
    body: &[u8],
    content_type: Option<&str>,
) -> Result<(), SourceError> {
    if body.starts_with(b"%PDF-") {
        return Ok(());
    }
    let mut reason = describe_start(body);
    if let Some(content_type) = content_type {
        let shown: String = content_type
            .chars()
            .take(60)
            .flat_map(char::escape_debug)
            .collect();
        reason.push_str(&format!(" (Content-Type {shown})"));
    }
    Err(SourceError::NotPdf {
        url: url.to_owned(),
        reason,
    })
}

/// What a non-PDF body looks like, for the error message.
pub(crate) fn describe_start(body: &[u8]) -> String {
    if body.is_empty() {
        return "the body is empty".to_owned();
    }
    let head = String::from_utf8_lossy(&body[..body.len().min(PDF_SNIFF_BYTES)]);
    let trimmed = head.trim_start_matches('\u{feff}').trim_start();
    let lower = trimmed.to_ascii_lowercase();
    let kind = if lower.starts_with("<!doctype html") || lower.contains("<html") {
        "an HTML page (probably a landing, login or error page rather than the PDF)"
    } else if lower.starts_with('<') {
        "an XML or markup document"
    } else if lower.starts_with('{') || lower.starts_with('[') {
        "a JSON document"
    } else {
        "data that is not a PDF"
    };
    // What the body says is not kept: the link is not trusted, and the error goes to history.
    format!("it starts with {kind}")
}

/// Whitespace runs as single spaces, no leading or trailing whitespace.
pub(crate) fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
#[allow(unused_imports)]
mod tests {
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
    use crate::feeds::test_support::*;

    // ---- PDF download ----

    const PDF_START: &[u8] =
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n";

    fn pdf_body(len: usize) -> Vec<u8> {
        let mut body = PDF_START.to_vec();
        body.resize(len, b' ');
        body
    }

    /// An endless streamed body (no Content-Length) that starts like a PDF.
    fn endless_pdf() -> Body {
        let start =
            futures::stream::once(async { Ok::<_, Infallible>(Bytes::from_static(PDF_START)) });
        let filler =
            futures::stream::repeat_with(|| Ok::<_, Infallible>(Bytes::from(vec![b'0'; 1024])));
        Body::from_stream(start.chain(filler))
    }

    /// Declares a huge Content-Length, then sends the start of a PDF and stalls.
    fn declared_huge_then_stall() -> Response {
        let start =
            futures::stream::once(async { Ok::<_, Infallible>(Bytes::from_static(PDF_START)) });
        let body = Body::from_stream(start.chain(futures::stream::pending()));
        let mut response = body.into_response();
        response.headers_mut().insert(
            header::CONTENT_LENGTH,
            HeaderValue::from_static("1000000000"),
        );
        response
    }

    async fn pdf_server() -> String {
        let app = Router::new()
            .route(
                "/good.pdf",
                get(|| async { ([(header::CONTENT_TYPE, "application/pdf")], pdf_body(3000)) }),
            )
            .route("/big-declared.pdf", get(|| async { pdf_body(5000) }))
            .route("/big-stalled.pdf", get(|| async { declared_huge_then_stall() }))
            .route("/big-streamed.pdf", get(|| async { endless_pdf() }))
            .route(
                "/landing",
                get(|| async {
                    (
                        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                        "<!DOCTYPE html>\n<html><head><title>Sign in to continue</title></head><body>Please log in</body></html>",
                    )
                }),
            )
            .route(
                "/busy.pdf",
                get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "overloaded, come back later") }),
            )
            .route(
                "/missing.pdf",
                get(|| async { (StatusCode::NOT_FOUND, "no such paper") }),
            )
            .route(
                "/slow.pdf",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    pdf_body(1000)
                }),
            );
        serve(app).await
    }

    #[tokio::test]
    async fn download_pdf_against_a_local_server() {
        let _turn = together().await;
        let base = pdf_server().await;
        let cfg = test_config(&base);

        let good = download_pdf(&cfg, "arxiv", &format!("{base}/good.pdf"))
            .await
            .expect("a good PDF downloads");
        assert_eq!(good.len(), 3000);
        assert!(good.starts_with(b"%PDF-"));

        let url = format!("{base}/big-declared.pdf");
        match download_pdf(&cfg, "arxiv", &url).await {
            Err(e @ SourceError::TooLarge { .. }) => {
                assert!(!e.is_retryable());
                assert!(e.to_string().contains(&url));
                assert!(e.to_string().contains("4096"));
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }

        // Refused from the Content-Length alone: the body never finishes, so reading it
        // would end in a timeout instead.
        let started = Instant::now();
        match download_pdf(&cfg, "arxiv", &format!("{base}/big-stalled.pdf")).await {
            Err(SourceError::TooLarge { limit, .. }) => assert_eq!(limit, 4096),
            other => panic!("expected TooLarge, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(3));

        // No Content-Length and an endless body: only counting while streaming can stop it.
        match download_pdf(&cfg, "arxiv", &format!("{base}/big-streamed.pdf")).await {
            Err(SourceError::TooLarge { limit, .. }) => assert_eq!(limit, 4096),
            other => panic!("expected TooLarge, got {other:?}"),
        }

        match download_pdf(&cfg, "arxiv", &format!("{base}/landing")).await {
            Err(e @ SourceError::NotPdf { .. }) => {
                let SourceError::NotPdf { reason, .. } = &e else {
                    unreachable!()
                };
                assert!(reason.contains("HTML page"), "{reason}");
                assert!(reason.contains("text/html"), "{reason}");
                // Nothing the page says reaches the error (it goes to history).
                assert!(!reason.contains("Sign in"), "{reason}");
                assert!(!e.is_retryable());
            }
            other => panic!("expected NotPdf, got {other:?}"),
        }

        match download_pdf(&cfg, "arxiv", &format!("{base}/busy.pdf")).await {
            Err(e @ SourceError::Http { status: 503, .. }) => {
                assert!(e.is_retryable());
                assert!(!e.to_string().contains("come back later"), "{e}");
            }
            other => panic!("expected HTTP 503, got {other:?}"),
        }

        match download_pdf(&cfg, "arxiv", &format!("{base}/missing.pdf")).await {
            Err(e @ SourceError::Http { status: 404, .. }) => assert!(!e.is_retryable()),
            other => panic!("expected HTTP 404, got {other:?}"),
        }
    }

    /// A server that counts every request it gets, whatever the path.
    async fn counting_server() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        let app = Router::new().fallback(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                ([(header::CONTENT_TYPE, "application/pdf")], pdf_body(2000))
            }
        });
        (serve(app).await, hits)
    }

    #[tokio::test]
    async fn links_that_leave_the_allowed_hosts_are_never_fetched() {
        let _turn = together().await;
        let (target, hits) = counting_server().await;
        let target_port = url::Url::parse(&target).unwrap().port().unwrap();
        let redirect_to = format!("{target}/stolen.pdf");
        let app = Router::new()
            .route("/good.pdf", get(|| async { pdf_body(2000) }))
            .route(
                "/moved.pdf",
                get(move || {
                    let to = redirect_to.clone();
                    async move { (StatusCode::FOUND, [(header::LOCATION, to)]) }
                }),
            );
        let base = serve(app).await;
        let cfg = test_config(&base);

        // The endpoint's own origin is trusted.
        assert!(
            download_pdf(&cfg, "arxiv", &format!("{base}/good.pdf"))
                .await
                .is_ok()
        );

        let links = [
            // Another port on the same loopback host: another origin, not on the list.
            format!("{target}/x.pdf"),
            // The cloud metadata service.
            "http://169.254.169.254/latest/meta-data/iam/security-credentials/".to_owned(),
            format!("https://127.0.0.1:{target_port}/x.pdf"),
            "file:///etc/passwd".to_owned(),
            // A redirect from the trusted origin to one that is not.
            format!("{base}/moved.pdf"),
        ];
        for link in &links {
            match download_pdf(&cfg, "arxiv", link).await {
                Err(e @ SourceError::LinkRefused { .. }) => {
                    assert!(!e.is_retryable());
                    assert_eq!(e.type_name(), "LinkNotAllowed");
                }
                other => panic!("{link}: expected LinkRefused, got {other:?}"),
            }
        }

        // A host on the allow-list that resolves to a private address is refused after DNS.
        let mut listed = test_config(&base);
        listed.allow_http_links = true;
        listed
            .link_hosts
            .insert("arxiv".into(), vec!["localhost".into()]);
        match download_pdf(
            &listed,
            "arxiv",
            &format!("http://localhost:{target_port}/x.pdf"),
        )
        .await
        {
            Err(SourceError::LinkRefused { reason, .. }) => {
                assert!(reason.contains("not a public address"), "{reason}")
            }
            other => panic!("expected LinkRefused after DNS, got {other:?}"),
        }
        assert_eq!(
            hits.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "no request may reach a refused address"
        );
    }

    #[tokio::test]
    async fn feed_bodies_are_size_capped() {
        let _turn = together().await;
        let app = Router::new().route("/api/query", get(|| async { endless_pdf() }));
        let base = serve(app).await;
        let cfg = test_config(&base);
        match get_page(&http_client(&cfg), &cfg, &cfg.arxiv_url, &[]).await {
            Err(e @ SourceError::FeedTooLarge { .. }) => {
                assert!(!e.is_retryable());
                assert!(e.to_string().contains("feed-max-bytes"), "{e}");
            }
            Err(other) => panic!("expected FeedTooLarge, got {other:?}"),
            Ok(page) => panic!(
                "expected FeedTooLarge, got a page of {} bytes",
                page.body.len()
            ),
        }
    }

    #[tokio::test]
    async fn download_pdf_times_out() {
        let _turn = together().await;
        let base = pdf_server().await;
        let cfg = SourceConfig {
            pdf_timeout_secs: 1,
            ..test_config(&base)
        };
        let started = Instant::now();
        let url = format!("{base}/slow.pdf");
        match download_pdf(&cfg, "arxiv", &url).await {
            Err(e @ SourceError::TimedOut { secs: 1, .. }) => {
                assert!(e.is_retryable());
                assert!(e.to_string().contains(&url));
            }
            other => panic!("expected TimedOut, got {other:?}"),
        }
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    }

    #[tokio::test]
    async fn unreachable_server_is_a_retryable_transport_error() {
        let _turn = together().await;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let cfg = test_config(&format!("http://{addr}"));
        let result = fetch_arxiv(
            &http_client(&cfg),
            &cfg,
            &strings(&["cs.LG"]),
            None,
            None,
            None,
            5,
        )
        .await;
        match result {
            Err(e @ SourceError::Transport { .. }) => {
                assert!(e.is_retryable());
                assert!(e.to_string().contains(&addr.to_string()));
            }
            other => panic!("expected Transport, got {other:?}"),
        }
    }
}
