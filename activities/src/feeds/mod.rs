//! Paper feeds, one file per source, and the HTTP they share.
//!
//! - [`arxiv`]: the arXiv API ([`arxiv_search_query`], [`parse_arxiv_atom`], [`fetch_arxiv`]).
//! - [`openreview`]: the OpenReview API v2 ([`openreview_venue_id`], [`parse_openreview_notes`],
//!   [`fetch_openreview`]).
//! - [`mlsys`]: the MLSys proceedings' HTML pages ([`mlsys_year_url`], [`parse_mlsys_year`],
//!   [`parse_mlsys_abstract`], [`fetch_mlsys`]), read with the forgiving tokenizer of [`html`].
//! - [`search`]: a search term ([`SearchTerm`]) matched on titles and abstracts.
//! - [`http`]: polite paging and per-host pacing across the process, and [`download_pdf`] under
//!   a size and time limit.
//! - Here: [`SourceConfig`], [`SourceError`], [`http_client`], and [`fetch`], which dispatches
//!   on a [`FeedQuery`].
//!
//! A feed is only refused as a whole when its document cannot be read at all
//! ([`SourceError::BadFeed`]); an unusable entry (no id, no title, no PDF link) is kept as a
//! [`FeedEntry`] whose `problem` says why, so that reports can show it.
//!
//! Every source asks clients to be polite: two requests to one host are separated by
//! [`SourceConfig::interval_ms`] (arXiv asks for one request every 3 seconds).

use std::borrow::Cow;
use std::time::Duration;

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};
use reqwest::header::{CONTENT_TYPE, HeaderValue, USER_AGENT};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use workflows::types::{FeedEntry, FeedQuery};

pub mod arxiv;
pub(crate) mod html;
pub mod http;
pub mod links;
pub mod mlsys;
pub mod openreview;
pub mod search;
#[cfg(test)]
pub(crate) mod test_support;

pub use arxiv::*;
pub use http::*;
pub use mlsys::*;
pub use openreview::*;
pub use search::*;

/// How many characters of an error response body are kept in [`SourceError::Http`].
pub(crate) const BODY_START_CHARS: usize = 300;

/// How many bytes of a PDF response are looked at before deciding whether it is a PDF.
pub(crate) const PDF_SNIFF_BYTES: usize = 256;

/// The first submission day arXiv has (used when a date range only gives its end).
pub(crate) const ARXIV_FIRST_DAY: &str = "19910801";

/// A far-away last day (used when a date range only gives its start).
pub(crate) const ARXIV_LAST_DAY: &str = "29991231";

/// Where the feeds are and how politely and patiently to talk to them (`[sources]` settings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct SourceConfig {
    /// The arXiv API query endpoint.
    pub arxiv_url: String,
    /// The OpenReview API v2 base URL (also the base of relative PDF paths).
    pub openreview_url: String,
    /// The MLSys proceedings site (year pages at `/paper_files/paper/<year>`).
    pub mlsys_url: String,
    /// Entries asked for per request.
    pub page_size: u32,
    /// Milliseconds between two requests (feed pages and PDFs) to one host, across this process.
    pub interval_ms: u64,
    /// The `User-Agent` sent with every request.
    pub user_agent: String,
    /// The limit for one feed request (connect, send, read), in seconds.
    pub request_timeout_secs: u64,
    /// The largest PDF accepted, in bytes.
    pub pdf_max_bytes: u64,
    /// The limit for a whole PDF download, in seconds.
    pub pdf_timeout_secs: u64,
    /// The largest feed response read, in bytes.
    pub feed_max_bytes: u64,
    /// Hosts (and their subdomains) that links found in each source's feed may point at
    /// ([`links`]); a link with the exact origin of the source's configured endpoint is allowed too.
    pub link_hosts: std::collections::BTreeMap<String, Vec<String>>,
    /// Lets links use plain `http` (for tests against local servers; never in production).
    pub allow_http_links: bool,
}

impl Default for SourceConfig {
    fn default() -> Self {
        Self {
            arxiv_url: "https://export.arxiv.org/api/query".to_owned(),
            openreview_url: "https://api2.openreview.net".to_owned(),
            mlsys_url: "https://proceedings.mlsys.org".to_owned(),
            page_size: 100,
            interval_ms: 3000,
            user_agent: "annapurna/0.1 (paper ingestion)".to_owned(),
            request_timeout_secs: 60,
            pdf_max_bytes: 50 * 1024 * 1024,
            pdf_timeout_secs: 120,
            feed_max_bytes: 16 * 1024 * 1024,
            link_hosts: [
                ("arxiv", &["arxiv.org"][..]),
                ("openreview", &["openreview.net"][..]),
                ("mlsys", &["proceedings.mlsys.org", "mlsys.org"][..]),
            ]
            .into_iter()
            .map(|(source, hosts)| {
                (
                    source.to_owned(),
                    hosts.iter().map(|h| (*h).to_owned()).collect(),
                )
            })
            .collect(),
            allow_http_links: false,
        }
    }
}

/// Why a feed could not be fetched or a PDF downloaded.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The server answered with an error status.
    #[error("GET {url} answered HTTP {status} ({hint}){body}", hint = http_hint(.status), body = body_shown(.body_start))]
    Http {
        /// The URL asked for.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the response body, whitespace collapsed: only for the configured
        /// endpoints; a link's response body is never kept.
        body_start: Option<String>,
    },
    /// A link found in a feed points somewhere it may not ([`links`]); nothing was sent there.
    #[error(
        "the link {url} was not fetched: {reason}; links from feeds must be https on the source's \
         sources.link-hosts and resolve to public addresses"
    )]
    LinkRefused {
        /// The link.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// A feed response is larger than [`SourceConfig::feed_max_bytes`].
    #[error(
        "the feed response from {url} is larger than {limit} bytes; ask for fewer entries per \
         page (sources.page-size) or raise sources.feed-max-bytes"
    )]
    FeedTooLarge {
        /// The URL asked for.
        url: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The server could not be reached, or a feed request got no complete answer in time.
    #[error(
        "could not get an answer from {url}: {reason}; check the network and the configured URL (the request is retried)"
    )]
    Transport {
        /// The URL asked for.
        url: String,
        /// What went wrong (connection refused, DNS, timeout, ...).
        reason: String,
    },
    /// The PDF is larger than [`SourceConfig::pdf_max_bytes`].
    #[error(
        "{url} is larger than the limit of {limit} bytes; raise sources.pdf-max-bytes if this paper is genuine"
    )]
    TooLarge {
        /// The PDF URL.
        url: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The PDF download took longer than [`SourceConfig::pdf_timeout_secs`].
    #[error(
        "downloading {url} took more than {secs} s; retry later or raise sources.pdf-timeout-secs"
    )]
    TimedOut {
        /// The PDF URL.
        url: String,
        /// The limit in seconds.
        secs: u64,
    },
    /// The downloaded body is not a PDF.
    #[error("{url} did not give a PDF: {reason}; check that the link points at the PDF itself")]
    NotPdf {
        /// The PDF URL.
        url: String,
        /// What the body was instead.
        reason: String,
    },
    /// The feed response could not be read at all.
    #[error(
        "the feed response from {url} could not be read: {reason}; the service may have returned an error page or changed its format"
    )]
    BadFeed {
        /// The URL asked for (or a description of the document when parsed offline).
        url: String,
        /// What is wrong with the document.
        reason: String,
    },
    /// The query itself is wrong (unknown venue, bad category or date, query refused by arXiv).
    #[error("{0}")]
    BadQuery(String),
}

pub(crate) fn body_shown(body_start: &Option<String>) -> String {
    match body_start {
        Some(start) => format!("; the response began with: {start}"),
        None => String::new(),
    }
}

pub(crate) fn http_hint(status: &u16) -> &'static str {
    match *status {
        429 => "rate limited: raise sources.interval-ms; the request is retried later",
        408 => "the server timed out waiting; the request is retried",
        500..=599 => "the service is failing or overloaded; the request is retried later",
        404 => "not found: check the id or the configured URL",
        401 | 403 => "access refused: the document may not be public",
        400..=499 => "the request was refused: check the query",
        _ => "unexpected status",
    }
}

impl SourceError {
    /// Whether trying again later may succeed: server errors (5xx), rate limiting (429),
    /// request timeouts (408), transport errors and download timeouts.
    pub fn is_retryable(&self) -> bool {
        match self {
            SourceError::Http { status, .. } => {
                *status == 429 || *status == 408 || (500..=599).contains(status)
            }
            SourceError::Transport { .. } | SourceError::TimedOut { .. } => true,
            SourceError::TooLarge { .. }
            | SourceError::LinkRefused { .. }
            | SourceError::FeedTooLarge { .. }
            | SourceError::NotPdf { .. }
            | SourceError::BadFeed { .. }
            | SourceError::BadQuery(_) => false,
        }
    }

    /// The failure type name shown in the Temporal UI.
    pub fn type_name(&self) -> &'static str {
        match self {
            SourceError::Http { .. } => "SourceHttpError",
            SourceError::Transport { .. } => "SourceUnreachable",
            SourceError::TooLarge { .. } => "PdfTooLarge",
            SourceError::TimedOut { .. } => "PdfDownloadTimeout",
            SourceError::NotPdf { .. } => "NotAPdf",
            SourceError::LinkRefused { .. } => "LinkNotAllowed",
            SourceError::FeedTooLarge { .. } => "FeedTooLarge",
            SourceError::BadFeed { .. } => "BadFeed",
            SourceError::BadQuery(_) => "BadFeedQuery",
        }
    }
}

/// Refuses a year no conference has (`24` for 2024): [`SourceError::BadQuery`] naming `source`.
pub(crate) fn plausible_year(source: &str, year: u32) -> Result<(), SourceError> {
    if (2000..=2100).contains(&year) {
        Ok(())
    } else {
        Err(SourceError::BadQuery(format!(
            "{source} year {year} is not plausible: give the conference year, such as 2024"
        )))
    }
}

/// The HTTP client for feeds and PDFs: the configured user agent, a connect timeout and a
/// per-request timeout of [`SourceConfig::request_timeout_secs`] (PDF downloads set their own).
pub fn http_client(cfg: &SourceConfig) -> reqwest::Client {
    let request_secs = cfg.request_timeout_secs.max(1);
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(request_secs.min(30)))
        .timeout(Duration::from_secs(request_secs));
    match HeaderValue::from_str(&cfg.user_agent) {
        Ok(agent) => builder = builder.user_agent(agent),
        Err(_) => tracing::warn!(
            user_agent = %cfg.user_agent,
            "sources.user-agent is not a valid header value; using the default"
        ),
    }
    match builder.build() {
        Ok(client) => client,
        Err(e) => {
            tracing::warn!(error = %error_chain(&e), "could not configure the HTTP client; using defaults");
            reqwest::Client::new()
        }
    }
}

/// Fetches the entries a [`FeedQuery`] describes.
pub async fn fetch(
    http: &reqwest::Client,
    cfg: &SourceConfig,
    query: &FeedQuery,
) -> Result<Vec<FeedEntry>, SourceError> {
    match query {
        FeedQuery::Arxiv {
            categories,
            from,
            to,
            days,
            max_results,
            search,
        } => {
            let (from, to) = match days {
                Some(d) => {
                    let (f, t) = last_days(*d);
                    (Some(f), Some(t))
                }
                None => (from.clone(), to.clone()),
            };
            fetch_arxiv(
                http,
                cfg,
                categories,
                from.as_deref(),
                to.as_deref(),
                search.as_deref(),
                *max_results,
            )
            .await
        }
        FeedQuery::OpenReview {
            venue,
            year,
            max_results,
            search,
        } => fetch_openreview(http, cfg, venue, *year, search.as_deref(), *max_results).await,
        FeedQuery::Mlsys {
            year,
            search,
            max_results,
        } => fetch_mlsys(http, cfg, *year, search.as_deref(), *max_results).await,
    }
}

// ---------------------------------------------------------------------------------------------
// arXiv
// ---------------------------------------------------------------------------------------------

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

    // ---- configuration and errors ----

    #[test]
    fn config_defaults_and_kebab_case() {
        let cfg = SourceConfig::default();
        assert_eq!(cfg.arxiv_url, "https://export.arxiv.org/api/query");
        assert_eq!(cfg.openreview_url, "https://api2.openreview.net");
        assert_eq!(cfg.mlsys_url, "https://proceedings.mlsys.org");
        assert_eq!(
            cfg.link_hosts["mlsys"],
            ["proceedings.mlsys.org", "mlsys.org"]
        );
        assert_eq!(cfg.page_size, 100);
        assert_eq!(cfg.interval_ms, 3000);
        assert_eq!(cfg.pdf_max_bytes, 50 * 1024 * 1024);
        assert_eq!(cfg.pdf_timeout_secs, 120);
        assert_eq!(cfg.request_timeout_secs, 60);

        let partial: SourceConfig = serde_json::from_str(
            r#"{"interval-ms": 10, "pdf-max-bytes": 99, "mlsys-url": "http://127.0.0.1:9"}"#,
        )
        .expect("parse");
        assert_eq!(partial.mlsys_url, "http://127.0.0.1:9");
        assert_eq!(partial.interval_ms, 10);
        assert_eq!(partial.pdf_max_bytes, 99);
        assert_eq!(partial.page_size, 100);
        assert_eq!(partial.user_agent, "annapurna/0.1 (paper ingestion)");
    }

    #[test]
    fn errors_classify_and_name() {
        let http = |status| SourceError::Http {
            url: "http://x/".into(),
            status,
            body_start: None,
        };
        assert!(http(503).is_retryable());
        assert!(http(500).is_retryable());
        assert!(http(429).is_retryable());
        assert!(!http(404).is_retryable());
        assert!(!http(400).is_retryable());
        assert_eq!(http(503).type_name(), "SourceHttpError");
        let transport = SourceError::Transport {
            url: "http://x/".into(),
            reason: "connection refused".into(),
        };
        assert!(transport.is_retryable());
        let timed_out = SourceError::TimedOut {
            url: "http://x/a.pdf".into(),
            secs: 3,
        };
        assert!(timed_out.is_retryable());
        assert_eq!(timed_out.type_name(), "PdfDownloadTimeout");
        let too_large = SourceError::TooLarge {
            url: "http://x/a.pdf".into(),
            limit: 10,
        };
        assert!(!too_large.is_retryable());
        assert_eq!(too_large.type_name(), "PdfTooLarge");
        assert!(too_large.to_string().contains("http://x/a.pdf"));
        assert!(too_large.to_string().contains("pdf-max-bytes"));
        let not_pdf = SourceError::NotPdf {
            url: "u".into(),
            reason: "r".into(),
        };
        assert!(!not_pdf.is_retryable());
        assert_eq!(not_pdf.type_name(), "NotAPdf");
        let bad_feed = SourceError::BadFeed {
            url: "u".into(),
            reason: "r".into(),
        };
        assert!(!bad_feed.is_retryable());
        assert_eq!(bad_feed.type_name(), "BadFeed");
        let bad_query = SourceError::BadQuery("q".into());
        assert!(!bad_query.is_retryable());
        assert_eq!(bad_query.type_name(), "BadFeedQuery");
        assert!(http(429).to_string().contains("interval-ms"));
    }
}
