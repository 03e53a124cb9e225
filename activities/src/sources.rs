//! Paper sources: the arXiv API and the OpenReview API v2, and PDF download with limits.
//!
//! - arXiv: [`arxiv_search_query`] builds the `search_query` value, [`parse_arxiv_atom`] reads
//!   one Atom response, [`fetch_arxiv`] pages through the API newest first.
//! - OpenReview: [`openreview_venue_id`] maps `ICLR`/`ICML`/`NeurIPS` and a year to a venue id,
//!   [`parse_openreview_notes`] reads one `/notes` response, [`fetch_openreview`] pages through
//!   the accepted papers of a venue.
//! - [`fetch`] dispatches on a [`FeedQuery`]; [`download_pdf`] fetches a PDF under a size and
//!   time limit; [`http_client`] builds the HTTP client they share.
//!
//! A feed is only refused as a whole when its document cannot be read at all
//! ([`SourceError::BadFeed`]); an unusable entry (no id, no title, no PDF link) is kept as a
//! [`FeedEntry`] whose `problem` says why, so that reports can show it.
//!
//! Both APIs ask clients to be polite: two requests of one fetch are separated by
//! [`SourceConfig::interval_ms`] (arXiv asks for one request every 3 seconds).

use std::borrow::Cow;
use std::time::Duration;

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};
use reqwest::header::{CONTENT_TYPE, HeaderValue, USER_AGENT};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use workflows::types::{FeedEntry, FeedQuery};

/// How many characters of an error response body are kept in [`SourceError::Http`].
const BODY_START_CHARS: usize = 300;

/// How many bytes of a PDF response are looked at before deciding whether it is a PDF.
const PDF_SNIFF_BYTES: usize = 256;

/// The first submission day arXiv has (used when a date range only gives its end).
const ARXIV_FIRST_DAY: &str = "19910801";

/// A far-away last day (used when a date range only gives its start).
const ARXIV_LAST_DAY: &str = "29991231";

/// Where the feeds are and how politely and patiently to talk to them (`[sources]` settings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct SourceConfig {
    /// The arXiv API query endpoint.
    pub arxiv_url: String,
    /// The OpenReview API v2 base URL (also the base of relative PDF paths).
    pub openreview_url: String,
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
}

impl Default for SourceConfig {
    fn default() -> Self {
        Self {
            arxiv_url: "https://export.arxiv.org/api/query".to_owned(),
            openreview_url: "https://api2.openreview.net".to_owned(),
            page_size: 100,
            interval_ms: 3000,
            user_agent: "annapurna/0.1 (paper ingestion)".to_owned(),
            request_timeout_secs: 60,
            pdf_max_bytes: 50 * 1024 * 1024,
            pdf_timeout_secs: 120,
        }
    }
}

/// Why a feed could not be fetched or a PDF downloaded.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The server answered with an error status.
    #[error("GET {url} answered HTTP {status} ({hint}); the response began with: {body_start}", hint = http_hint(.status))]
    Http {
        /// The URL asked for.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the response body, whitespace collapsed.
        body_start: String,
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

fn http_hint(status: &u16) -> &'static str {
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
            SourceError::BadFeed { .. } => "BadFeed",
            SourceError::BadQuery(_) => "BadFeedQuery",
        }
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
                *max_results,
            )
            .await
        }
        FeedQuery::OpenReview {
            venue,
            year,
            max_results,
        } => fetch_openreview(http, cfg, venue, *year, *max_results).await,
    }
}

// ---------------------------------------------------------------------------------------------
// arXiv
// ---------------------------------------------------------------------------------------------

/// The arXiv `search_query` value for categories (OR-ed) and an optional inclusive submission
/// date range (`YYYY-MM-DD`), e.g.
/// `(cat:cs.LG OR cat:stat.ML) AND submittedDate:[202611010000 TO 202611222359]`.
///
/// A range with only one end is open on the other side.
pub fn arxiv_search_query(
    categories: &[String],
    from: Option<&str>,
    to: Option<&str>,
) -> Result<String, SourceError> {
    let cats: Vec<&str> = categories
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
        .collect();
    if cats.is_empty() {
        return Err(SourceError::BadQuery(
            "an arXiv feed needs at least one category, such as cs.LG, cs.CL or stat.ML".to_owned(),
        ));
    }
    for cat in &cats {
        if !is_arxiv_category(cat) {
            return Err(SourceError::BadQuery(format!(
                "arXiv category `{cat}` is not valid: expected an archive with an optional subject \
                 class, such as cs.LG, stat.ML or hep-th"
            )));
        }
    }
    let cat_part = match cats.as_slice() {
        [one] => format!("cat:{one}"),
        many => format!(
            "({})",
            many.iter()
                .map(|c| format!("cat:{c}"))
                .collect::<Vec<_>>()
                .join(" OR ")
        ),
    };
    let from = non_empty(from).map(|d| parse_day(d, "from")).transpose()?;
    let to = non_empty(to).map(|d| parse_day(d, "to")).transpose()?;
    if let (Some(f), Some(t)) = (&from, &to)
        && f > t
    {
        return Err(SourceError::BadQuery(format!(
            "the arXiv date range is empty: `from` ({}) is after `to` ({}); dates are YYYY-MM-DD, \
             both inclusive",
            f.iso(),
            t.iso()
        )));
    }
    if from.is_none() && to.is_none() {
        return Ok(cat_part);
    }
    let start = from.map_or_else(|| ARXIV_FIRST_DAY.to_owned(), |d| d.compact());
    let end = to.map_or_else(|| ARXIV_LAST_DAY.to_owned(), |d| d.compact());
    Ok(format!(
        "{cat_part} AND submittedDate:[{start}0000 TO {end}2359]"
    ))
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// `cs.LG`, `stat.ML`, `hep-th`, `q-bio.NC`: letters, digits and dashes, one optional dot.
fn is_arxiv_category(cat: &str) -> bool {
    let mut parts = cat.split('.');
    let archive_ok = parts.next().is_some_and(|archive| {
        archive.starts_with(|c: char| c.is_ascii_alphabetic())
            && archive
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
    });
    let class_ok = match parts.next() {
        None => true,
        Some(class) => {
            !class.is_empty() && class.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        }
    };
    archive_ok && class_ok && parts.next().is_none()
}

/// A calendar day, ordered chronologically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Day {
    year: u32,
    month: u32,
    day: u32,
}

impl Day {
    fn compact(&self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }

    fn iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn parse_day(s: &str, field: &str) -> Result<Day, SourceError> {
    let bad = |why: &str| {
        SourceError::BadQuery(format!(
            "`{field}` date `{s}` is not valid ({why}): expected YYYY-MM-DD, such as 2026-11-01"
        ))
    };
    if s.len() != 10 || !s.is_ascii() {
        return Err(bad("wrong shape"));
    }
    // humantime checks the calendar (month lengths, leap years).
    humantime::parse_rfc3339(&format!("{s}T00:00:00Z")).map_err(|e| bad(&e.to_string()))?;
    let number = |range: std::ops::Range<usize>| s.get(range).and_then(|p| p.parse().ok());
    let (Some(year), Some(month), Some(day)) = (number(0..4), number(5..7), number(8..10)) else {
        return Err(bad("not all digits"));
    };
    Ok(Day { year, month, day })
}

/// Today and the day `days` before it (UTC), as `YYYY-MM-DD`.
fn last_days(days: u32) -> (String, String) {
    let now = std::time::SystemTime::now();
    let from = now - std::time::Duration::from_secs(u64::from(days) * 86_400);
    let day = |t| humantime::format_rfc3339_seconds(t).to_string()[..10].to_owned();
    (day(from), day(now))
}

/// Parses one arXiv API Atom response into entries and `opensearch:totalResults`.
///
/// Unusable entries are kept with `problem` set. A response whose only entry is an arXiv
/// error entry becomes [`SourceError::BadQuery`] with arXiv's message; a document that is not
/// a readable Atom feed becomes [`SourceError::BadFeed`].
pub fn parse_arxiv_atom(xml: &str) -> Result<(Vec<FeedEntry>, Option<u64>), SourceError> {
    parse_arxiv_at(xml, "(arXiv Atom document)")
}

fn parse_arxiv_at(xml: &str, url: &str) -> Result<(Vec<FeedEntry>, Option<u64>), SourceError> {
    let (drafts, total) = read_atom(xml, url)?;
    if let [only] = drafts.as_slice()
        && only.is_error()
    {
        let message = collapse(only.summary.as_deref().unwrap_or(""));
        let message = if message.is_empty() {
            "no reason given".to_owned()
        } else {
            message
        };
        return Err(SourceError::BadQuery(format!(
            "arXiv refused the query: {message}; categories look like cs.LG or stat.ML and dates \
             like 2026-11-01"
        )));
    }
    let entries = drafts.into_iter().map(AtomDraft::into_entry).collect();
    Ok((entries, total))
}

/// What an Atom `<entry>` said, before checking it.
#[derive(Debug, Default)]
struct AtomDraft {
    id: Option<String>,
    title: Option<String>,
    summary: Option<String>,
    published: Option<String>,
    authors: Vec<String>,
    categories: Vec<String>,
    primary_category: Option<String>,
    journal_ref: Option<String>,
    pdf: Option<String>,
}

impl AtomDraft {
    fn is_error(&self) -> bool {
        self.id
            .as_deref()
            .is_some_and(|id| id.contains("arxiv.org/api/errors"))
    }

    fn into_entry(self) -> FeedEntry {
        let mut problems: Vec<String> = Vec::new();
        if self.is_error() {
            problems.push(format!(
                "arXiv reported an error instead of a paper: {}",
                collapse(self.summary.as_deref().unwrap_or(""))
            ));
        }
        let id = self
            .id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty());
        let source_id = match id {
            None => {
                problems
                    .push("the entry has no <id>, so the paper cannot be identified".to_owned());
                String::new()
            }
            Some(id) => match id.split_once("/abs/") {
                Some((_, rest)) if !rest.trim().is_empty() => rest.trim().to_owned(),
                _ => {
                    if !self.is_error() {
                        problems.push(format!(
                            "the entry id `{id}` is not an arXiv abstract URL (…/abs/<id>)"
                        ));
                    }
                    id.to_owned()
                }
            },
        };
        let title = collapse(self.title.as_deref().unwrap_or(""));
        if title.is_empty() {
            problems.push(if self.title.is_none() {
                "the entry has no <title>".to_owned()
            } else {
                "the entry's <title> is empty".to_owned()
            });
        }
        if self.pdf.is_none() {
            problems.push(
                "the entry has no PDF link (<link title=\"pdf\">), so the paper cannot be downloaded"
                    .to_owned(),
            );
        }
        let mut categories: Vec<String> = Vec::new();
        for cat in self.primary_category.into_iter().chain(self.categories) {
            let cat = cat.trim().to_owned();
            if !cat.is_empty() && !categories.contains(&cat) {
                categories.push(cat);
            }
        }
        FeedEntry {
            source: "arxiv".to_owned(),
            source_id,
            title,
            abstract_text: collapse(self.summary.as_deref().unwrap_or("")),
            authors: self.authors,
            categories,
            published: self
                .published
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty()),
            pdf_url: self.pdf,
            venue: self
                .journal_ref
                .map(|j| collapse(&j))
                .filter(|j| !j.is_empty()),
            problem: (!problems.is_empty()).then(|| problems.join("; ")),
        }
    }
}

/// The state of reading an Atom document event by event.
#[derive(Default)]
struct AtomReader {
    /// Local names of the open elements, outermost first.
    stack: Vec<String>,
    /// Text of the innermost element seen so far.
    text: String,
    saw_feed: bool,
    current: Option<AtomDraft>,
    drafts: Vec<AtomDraft>,
    total: Option<u64>,
}

fn read_atom(xml: &str, url: &str) -> Result<(Vec<AtomDraft>, Option<u64>), SourceError> {
    let bad = |reason: String| SourceError::BadFeed {
        url: url.to_owned(),
        reason,
    };
    let mut reader = Reader::from_str(xml);
    let mut state = AtomReader::default();
    loop {
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(e) => {
                return Err(bad(format!(
                    "the XML is not well-formed near byte {}: {e}",
                    reader.error_position()
                )));
            }
        };
        match event {
            Event::Start(start) => {
                state.open(&start).map_err(bad)?;
                state.text.clear();
            }
            Event::Empty(start) => {
                let saved = std::mem::take(&mut state.text);
                state.open(&start).map_err(bad)?;
                state.close();
                state.text = saved;
            }
            Event::End(_) => state.close(),
            Event::Text(text) => {
                let text = text
                    .xml10_content()
                    .map_err(|e| bad(format!("text that is not valid UTF-8: {e}")))?;
                state.text.push_str(&text);
            }
            Event::CData(data) => {
                let data = data
                    .decode()
                    .map_err(|e| bad(format!("CDATA that is not valid UTF-8: {e}")))?;
                state.text.push_str(&data);
            }
            Event::GeneralRef(reference) => {
                match reference.resolve_char_ref() {
                    Ok(Some(c)) => state.text.push(c),
                    Ok(None) => {
                        let name = reference
                            .decode()
                            .map_err(|e| bad(format!("an entity that is not valid UTF-8: {e}")))?;
                        match quick_xml::escape::resolve_predefined_entity(&name) {
                            Some(resolved) => state.text.push_str(resolved),
                            // An undeclared entity: keep it as written rather than lose text.
                            None => {
                                state.text.push('&');
                                state.text.push_str(&name);
                                state.text.push(';');
                            }
                        }
                    }
                    Err(e) => return Err(bad(format!("a bad character reference: {e}"))),
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if let Some(open) = state.stack.last() {
        return Err(bad(format!(
            "the document ends inside <{open}>: the response was cut short"
        )));
    }
    if !state.saw_feed {
        return Err(bad(
            "the document is empty: no Atom <feed> element".to_owned()
        ));
    }
    Ok((state.drafts, state.total))
}

fn local_name(start: &BytesStart<'_>) -> String {
    String::from_utf8_lossy(start.local_name().as_ref()).into_owned()
}

fn attribute(start: &BytesStart<'_>, key: &str) -> Option<String> {
    start
        .attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == key.as_bytes())
        .and_then(|a| {
            a.normalized_value(XmlVersion::Implicit1_0)
                .ok()
                .map(Cow::into_owned)
        })
}

impl AtomReader {
    fn open(&mut self, start: &BytesStart<'_>) -> Result<(), String> {
        let name = local_name(start);
        let parent = self.stack.last().map(String::as_str);
        match (name.as_str(), parent) {
            ("feed", None) => self.saw_feed = true,
            (other, None) => {
                return Err(format!("expected an Atom <feed> document, found <{other}>"));
            }
            ("entry", Some("feed")) => self.current = Some(AtomDraft::default()),
            (child, Some("entry")) => {
                if let Some(draft) = self.current.as_mut() {
                    match child {
                        "link" => {
                            let is_pdf = attribute(start, "title").as_deref() == Some("pdf")
                                || attribute(start, "type").as_deref() == Some("application/pdf");
                            let href = attribute(start, "href")
                                .map(|h| h.trim().to_owned())
                                .filter(|h| !h.is_empty());
                            if is_pdf && draft.pdf.is_none() {
                                draft.pdf = href;
                            }
                        }
                        "category" => {
                            if let Some(term) = attribute(start, "term") {
                                draft.categories.push(term);
                            }
                        }
                        "primary_category" => draft.primary_category = attribute(start, "term"),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        self.stack.push(name);
        Ok(())
    }

    fn close(&mut self) {
        let Some(name) = self.stack.pop() else {
            return;
        };
        let text = std::mem::take(&mut self.text);
        let depth = self.stack.len();
        let parent = self.stack.last().map(String::as_str);
        let grandparent = depth
            .checked_sub(2)
            .and_then(|i| self.stack.get(i))
            .map(String::as_str);
        match (name.as_str(), parent) {
            ("entry", Some("feed")) => {
                if let Some(draft) = self.current.take() {
                    self.drafts.push(draft);
                }
            }
            ("totalResults", Some("feed")) => self.total = text.trim().parse().ok(),
            (field, Some("entry")) => {
                if let Some(draft) = self.current.as_mut() {
                    match field {
                        "id" => draft.id = Some(text),
                        "title" => draft.title = Some(text),
                        "summary" => draft.summary = Some(text),
                        "published" => draft.published = Some(text),
                        "journal_ref" => draft.journal_ref = Some(text),
                        _ => {}
                    }
                }
            }
            ("name", Some("author")) if grandparent == Some("entry") => {
                let author = collapse(&text);
                if let Some(draft) = self.current.as_mut()
                    && !author.is_empty()
                {
                    draft.authors.push(author);
                }
            }
            _ => {}
        }
    }
}

/// Pages through the arXiv API, newest submissions first, until `max_results` entries, an
/// empty page or `opensearch:totalResults`; requests are [`SourceConfig::interval_ms`] apart.
pub async fn fetch_arxiv(
    http: &reqwest::Client,
    cfg: &SourceConfig,
    categories: &[String],
    from: Option<&str>,
    to: Option<&str>,
    max_results: u32,
) -> Result<Vec<FeedEntry>, SourceError> {
    let search_query = arxiv_search_query(categories, from, to)?;
    paged(cfg, max_results, |start, ask| {
        let search_query = search_query.clone();
        async move {
            let params = [
                ("search_query", search_query),
                ("start", start.to_string()),
                ("max_results", ask.to_string()),
                ("sortBy", "submittedDate".to_owned()),
                ("sortOrder", "descending".to_owned()),
            ];
            let page = get_page(http, cfg, &cfg.arxiv_url, &params).await?;
            if !page.is_success() {
                // arXiv answers a malformed query with HTTP 400 and an Atom error entry.
                if (400..500).contains(&page.status)
                    && let Err(refused @ SourceError::BadQuery(_)) =
                        parse_arxiv_at(&page.body, &page.url)
                {
                    return Err(refused);
                }
                return Err(page.into_http_error());
            }
            let (entries, total) = parse_arxiv_at(&page.body, &page.url)?;
            tracing::debug!(url = %page.url, entries = entries.len(), total = ?total, "arXiv page");
            Ok((entries, total))
        }
    })
    .await
}

/// Pages through a feed: `page(offset, ask)` fetches one page and returns its entries and the
/// total the API reports. Stops at `max_results` entries, at an empty page, at the total, or
/// (without a total) at a short page; pauses `interval-ms` between two requests.
async fn paged<F, Fut>(
    cfg: &SourceConfig,
    max_results: u32,
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
        let ask = page_size.min(wanted - entries.len());
        let (page_entries, total) = page(offset, ask).await?;
        if page_entries.is_empty() {
            break;
        }
        let received = page_entries.len();
        offset += received as u64;
        let room = wanted - entries.len();
        entries.extend(page_entries.into_iter().take(room));
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

/// The OpenReview venue id of a conference's accepted papers: `ICLR` → `ICLR.cc/{year}/Conference`,
/// `ICML` → `ICML.cc/{year}/Conference`, `NeurIPS` → `NeurIPS.cc/{year}/Conference`
/// (names are case-insensitive).
pub fn openreview_venue_id(venue: &str, year: u32) -> Result<String, SourceError> {
    let host = match venue.trim().to_ascii_lowercase().as_str() {
        "iclr" => "ICLR.cc",
        "icml" => "ICML.cc",
        "neurips" => "NeurIPS.cc",
        _ => {
            return Err(SourceError::BadQuery(format!(
                "OpenReview venue `{venue}` is not known: use ICLR, ICML or NeurIPS"
            )));
        }
    };
    if !(2000..=2100).contains(&year) {
        return Err(SourceError::BadQuery(format!(
            "OpenReview year {year} is not plausible: give the conference year, such as 2024"
        )));
    }
    Ok(format!("{host}/{year}/Conference"))
}

/// Parses one OpenReview API v2 `/notes` response into entries and its `count`.
///
/// Relative PDF paths are resolved against `base_url`. Unusable notes are kept with `problem`
/// set; a document without a `notes` array becomes [`SourceError::BadFeed`].
pub fn parse_openreview_notes(
    json: &str,
    base_url: &str,
) -> Result<(Vec<FeedEntry>, Option<u64>), SourceError> {
    parse_openreview_at(json, base_url, "(OpenReview notes document)")
}

fn parse_openreview_at(
    json: &str,
    base_url: &str,
    url: &str,
) -> Result<(Vec<FeedEntry>, Option<u64>), SourceError> {
    let bad = |reason: String| SourceError::BadFeed {
        url: url.to_owned(),
        reason,
    };
    let doc: Value =
        serde_json::from_str(json).map_err(|e| bad(format!("the JSON is not valid: {e}")))?;
    let Some(notes) = doc.get("notes").and_then(Value::as_array) else {
        return Err(bad(
            "the JSON has no `notes` array (expected an API v2 /notes response)".to_owned(),
        ));
    };
    let count = doc.get("count").and_then(Value::as_u64);
    let entries = notes
        .iter()
        .enumerate()
        .map(|(i, note)| openreview_entry(i, note, base_url))
        .collect();
    Ok((entries, count))
}

/// A content field: API v2 wraps values as `{"value": …}`; a bare value is accepted too.
fn content_value<'a>(content: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    let field = content?.get(key)?;
    match field {
        Value::Object(map) => map.get("value"),
        other => Some(other),
    }
}

fn content_str(content: Option<&Value>, key: &str) -> Option<String> {
    content_value(content, key)
        .and_then(Value::as_str)
        .map(collapse)
        .filter(|s| !s.is_empty())
}

fn content_list(content: Option<&Value>, key: &str) -> Vec<String> {
    content_value(content, key)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(collapse)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn epoch_millis(value: Option<&Value>) -> Option<i64> {
    let value = value?;
    value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.is_finite() && f.abs() < 1e17)
            .map(|f| f as i64)
    })
}

fn openreview_entry(index: usize, note: &Value, base_url: &str) -> FeedEntry {
    let mut entry = FeedEntry {
        source: "openreview".to_owned(),
        ..FeedEntry::default()
    };
    if !note.is_object() {
        entry.problem = Some(format!("note #{index} is not a JSON object"));
        return entry;
    }
    let mut problems: Vec<String> = Vec::new();
    let content = note.get("content").filter(|c| c.is_object());
    if content.is_none() {
        problems.push("the note has no `content` object".to_owned());
    }
    match note.get("id").and_then(Value::as_str).map(str::trim) {
        Some(id) if !id.is_empty() => entry.source_id = id.to_owned(),
        _ => problems.push("the note has no id, so the paper cannot be identified".to_owned()),
    }
    match content_str(content, "title") {
        Some(title) => entry.title = title,
        None => problems.push("the note has no title".to_owned()),
    }
    entry.abstract_text = content_str(content, "abstract").unwrap_or_default();
    entry.authors = content_list(content, "authors");
    entry.categories = content_list(content, "keywords");
    entry.venue = content_str(content, "venue").or_else(|| content_str(content, "venueid"));
    entry.published = epoch_millis(note.get("pdate"))
        .or_else(|| epoch_millis(note.get("cdate")))
        .map(rfc3339_from_millis);
    match content_value(content, "pdf")
        .and_then(Value::as_str)
        .map(str::trim)
    {
        Some(pdf) if !pdf.is_empty() => entry.pdf_url = Some(absolute_url(base_url, pdf)),
        _ => problems.push(
            "the note has no PDF (content.pdf), so the paper cannot be downloaded".to_owned(),
        ),
    }
    entry.problem = (!problems.is_empty()).then(|| problems.join("; "));
    entry
}

fn absolute_url(base_url: &str, path: &str) -> String {
    if path.starts_with("http://") || path.starts_with("https://") {
        path.to_owned()
    } else {
        format!(
            "{}/{}",
            base_url.trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    }
}

/// Epoch milliseconds as RFC 3339 UTC (`2024-01-16T12:00:00Z`; milliseconds only when not 0);
/// times before 1970 (not a real publication date) become the epoch.
fn rfc3339_from_millis(millis: i64) -> String {
    let millis = u64::try_from(millis).unwrap_or(0);
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(millis);
    if millis % 1000 == 0 {
        humantime::format_rfc3339_seconds(t).to_string()
    } else {
        humantime::format_rfc3339_millis(t).to_string()
    }
}

/// Pages through the accepted papers of an OpenReview venue (`/notes?content.venueid=…`)
/// until `max_results` entries, an empty page or the response's `count`; requests are
/// [`SourceConfig::interval_ms`] apart.
pub async fn fetch_openreview(
    http: &reqwest::Client,
    cfg: &SourceConfig,
    venue: &str,
    year: u32,
    max_results: u32,
) -> Result<Vec<FeedEntry>, SourceError> {
    let venue_id = openreview_venue_id(venue, year)?;
    let notes_url = format!("{}/notes", cfg.openreview_url.trim_end_matches('/'));
    paged(cfg, max_results, |offset, ask| {
        let (venue_id, notes_url) = (venue_id.clone(), notes_url.clone());
        async move {
            let params = [
                ("content.venueid", venue_id),
                ("limit", ask.to_string()),
                ("offset", offset.to_string()),
            ];
            let page = get_page(http, cfg, &notes_url, &params).await?;
            if !page.is_success() {
                return Err(page.into_http_error());
            }
            let (entries, count) = parse_openreview_at(&page.body, &cfg.openreview_url, &page.url)?;
            tracing::debug!(url = %page.url, entries = entries.len(), count = ?count, "OpenReview page");
            Ok((entries, count))
        }
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

type Pacer = governor::DefaultDirectRateLimiter;
/// One pacer per (host:port, interval).
type Pacers = std::sync::Mutex<std::collections::HashMap<(String, u64), std::sync::Arc<Pacer>>>;

/// Waits for this process's turn to ask `url`'s host: one request per `interval-ms` per host,
/// whichever activity or feed asks (governor, one pacer per host and interval).
async fn pace(cfg: &SourceConfig, url: &str) {
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
struct Page {
    url: String,
    status: u16,
    body: String,
}

impl Page {
    fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    fn into_http_error(self) -> SourceError {
        SourceError::Http {
            status: self.status,
            body_start: body_start(&self.body),
            url: self.url,
        }
    }
}

fn user_agent(cfg: &SourceConfig) -> Result<HeaderValue, SourceError> {
    HeaderValue::from_str(&cfg.user_agent).map_err(|_| {
        SourceError::BadQuery(format!(
            "sources.user-agent `{}` is not a valid header value: use printable ASCII, such as \
             \"annapurna/0.1 (mailto:you@example.org)\"",
            cfg.user_agent
        ))
    })
}

fn bad_url(url: &str, e: &reqwest::Error) -> SourceError {
    SourceError::BadQuery(format!(
        "`{url}` is not a usable http(s) URL ({}); check sources.arxiv-url / sources.openreview-url \
         or the link",
        error_chain(e)
    ))
}

async fn get_page(
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
    let response = http.execute(request).await.map_err(transport)?;
    let status = response.status().as_u16();
    let body = response.text().await.map_err(transport)?;
    Ok(Page { url, status, body })
}

/// The start of a response body for error messages: whitespace collapsed, at most
/// [`BODY_START_CHARS`] characters.
fn body_start(body: &str) -> String {
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
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
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

/// Downloads a PDF: the whole download within [`SourceConfig::pdf_timeout_secs`], at most
/// [`SourceConfig::pdf_max_bytes`] (refused from `Content-Length` when the server declares
/// more, otherwise as soon as the streamed body passes the limit), and the body must start
/// with `%PDF-`.
pub async fn download_pdf(
    http: &reqwest::Client,
    cfg: &SourceConfig,
    url: &str,
) -> Result<Vec<u8>, SourceError> {
    // Downloads keep the same per-host pace as feed requests (outside the time limit).
    pace(cfg, url).await;
    let secs = cfg.pdf_timeout_secs;
    match tokio::time::timeout(Duration::from_secs(secs), download_within(http, cfg, url)).await {
        Ok(result) => result,
        Err(_) => Err(SourceError::TimedOut {
            url: url.to_owned(),
            secs,
        }),
    }
}

async fn download_within(
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
        if e.is_timeout() {
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
        let mut head: Vec<u8> = Vec::new();
        while head.len() < 4 * BODY_START_CHARS {
            match response.chunk().await {
                Ok(Some(chunk)) => head.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        return Err(SourceError::Http {
            url: url.to_owned(),
            status: status.as_u16(),
            body_start: body_start(&String::from_utf8_lossy(&head)),
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

fn check_pdf(url: &str, body: &[u8], content_type: Option<&str>) -> Result<(), SourceError> {
    if body.starts_with(b"%PDF-") {
        return Ok(());
    }
    let mut reason = describe_start(body);
    if let Some(content_type) = content_type {
        reason.push_str(&format!(" (Content-Type {content_type})"));
    }
    Err(SourceError::NotPdf {
        url: url.to_owned(),
        reason,
    })
}

/// What a non-PDF body looks like, for the error message.
fn describe_start(body: &[u8]) -> String {
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
    let snippet: String = collapse(trimmed)
        .chars()
        .take(60)
        .flat_map(char::escape_debug)
        .collect();
    format!("it starts with {kind}: `{snippet}`")
}

/// Whitespace runs as single spaces, no leading or trailing whitespace.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
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

    const ARXIV_FIXTURE: &str = include_str!("../../tests/fixtures/feeds/arxiv-cs-lg.xml");
    const ARXIV_ERROR_FIXTURE: &str = include_str!("../../tests/fixtures/feeds/arxiv-error.xml");
    const OPENREVIEW_FIXTURE: &str =
        include_str!("../../tests/fixtures/feeds/openreview-iclr-2024.json");

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    async fn serve(app: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let addr = listener.local_addr().expect("local address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        format!("http://{addr}")
    }

    fn test_config(base: &str) -> SourceConfig {
        SourceConfig {
            arxiv_url: format!("{base}/api/query"),
            openreview_url: base.to_owned(),
            page_size: 3,
            interval_ms: 50,
            user_agent: "annapurna-test/1".to_owned(),
            request_timeout_secs: 5,
            pdf_max_bytes: 4096,
            pdf_timeout_secs: 5,
        }
    }

    // ---- configuration and errors ----

    #[test]
    fn config_defaults_and_kebab_case() {
        let cfg = SourceConfig::default();
        assert_eq!(cfg.arxiv_url, "https://export.arxiv.org/api/query");
        assert_eq!(cfg.openreview_url, "https://api2.openreview.net");
        assert_eq!(cfg.page_size, 100);
        assert_eq!(cfg.interval_ms, 3000);
        assert_eq!(cfg.pdf_max_bytes, 50 * 1024 * 1024);
        assert_eq!(cfg.pdf_timeout_secs, 120);
        assert_eq!(cfg.request_timeout_secs, 60);

        let partial: SourceConfig =
            serde_json::from_str(r#"{"interval-ms": 10, "pdf-max-bytes": 99}"#).expect("parse");
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
            body_start: String::new(),
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

    // ---- arXiv query ----

    #[test]
    fn search_query_with_range() {
        let q = arxiv_search_query(
            &strings(&["cs.LG", "stat.ML"]),
            Some("2026-11-01"),
            Some("2026-11-22"),
        )
        .expect("valid query");
        assert_eq!(
            q,
            "(cat:cs.LG OR cat:stat.ML) AND submittedDate:[202611010000 TO 202611222359]"
        );
    }

    #[test]
    fn search_query_single_category_and_open_ranges() {
        assert_eq!(
            arxiv_search_query(&strings(&["cs.LG"]), None, None).expect("valid"),
            "cat:cs.LG"
        );
        assert_eq!(
            arxiv_search_query(&strings(&[" hep-th "]), Some("2024-02-29"), Some(""))
                .expect("valid"),
            "cat:hep-th AND submittedDate:[202402290000 TO 299912312359]"
        );
        assert_eq!(
            arxiv_search_query(&strings(&["q-bio.NC"]), None, Some("2020-01-31")).expect("valid"),
            "cat:q-bio.NC AND submittedDate:[199108010000 TO 202001312359]"
        );
    }

    #[test]
    fn search_query_rejects_bad_input() {
        let message = |r: Result<String, SourceError>| match r {
            Err(SourceError::BadQuery(m)) => m,
            other => panic!("expected BadQuery, got {other:?}"),
        };
        let empty = message(arxiv_search_query(&[], None, None));
        assert!(empty.contains("at least one category"), "{empty}");
        let blank = message(arxiv_search_query(&strings(&["  "]), None, None));
        assert!(blank.contains("cs.LG"), "{blank}");
        let injected = message(arxiv_search_query(
            &strings(&["cs.LG) OR (all:x"]),
            None,
            None,
        ));
        assert!(injected.contains("not valid"), "{injected}");
        for bad in [
            "2026-13-01",
            "2026-02-30",
            "2023-02-29",
            "26-11-01",
            "2026/11/01",
            "2026-1a-01",
        ] {
            let m = message(arxiv_search_query(&strings(&["cs.LG"]), Some(bad), None));
            assert!(m.contains("YYYY-MM-DD"), "{bad}: {m}");
            assert!(m.contains(bad), "{bad}: {m}");
        }
        let reversed = message(arxiv_search_query(
            &strings(&["cs.LG"]),
            Some("2026-11-22"),
            Some("2026-11-01"),
        ));
        assert!(reversed.contains("after"), "{reversed}");
    }

    // ---- arXiv parsing ----

    #[test]
    fn parses_arxiv_fixture() {
        let (entries, total) = parse_arxiv_atom(ARXIV_FIXTURE).expect("fixture parses");
        assert_eq!(total, Some(213));
        assert_eq!(entries.len(), 5);
        let ids: Vec<&str> = entries.iter().map(|e| e.source_id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "2611.04821v1",
                "2611.05177v2",
                "2611.06002v1",
                "2611.06340v1",
                "2611.07115v3"
            ]
        );
        assert!(entries.iter().all(|e| e.source == "arxiv"));

        let first = &entries[0];
        assert_eq!(
            first.title,
            "Sparse Mixture-of-Experts Routing with Learned Capacity Budgets"
        );
        assert!(
            first
                .abstract_text
                .starts_with("Mixture-of-experts layers route")
        );
        assert!(!first.abstract_text.contains('\n'));
        assert!(!first.abstract_text.contains("  "));
        assert_eq!(
            first.authors,
            strings(&["Mira Okonkwo", "Tomasz Wiśniewski"])
        );
        assert_eq!(first.categories, strings(&["cs.LG", "cs.CL"]));
        assert_eq!(first.published.as_deref(), Some("2026-11-21T18:02:11Z"));
        assert_eq!(
            first.pdf_url.as_deref(),
            Some("http://127.0.0.1:9/pdf/2611.04821v1")
        );
        assert_eq!(first.venue, None);
        assert_eq!(first.problem, None);

        let second = &entries[1];
        assert_eq!(
            second.title,
            "Calibration & Robustness of Contrastive Pretraining for Tabular Data under Distribution Shift"
        );
        assert!(second.abstract_text.contains("<without>"));
        assert_eq!(second.authors.len(), 3);
        // The primary category comes first, without duplicates.
        assert_eq!(second.categories, strings(&["cs.LG", "stat.ML"]));
        assert_eq!(
            second.venue.as_deref(),
            Some("Transactions on Machine Learning Research, November 2026")
        );
        assert_eq!(second.problem, None);

        let no_pdf = &entries[2];
        assert_eq!(no_pdf.pdf_url, None);
        assert_eq!(
            no_pdf.title,
            "Gradient Noise Scale as a Predictor of Grokking in Small Transformers"
        );
        let problem = no_pdf.problem.as_deref().expect("no PDF is a problem");
        assert!(problem.contains("no PDF link"), "{problem}");

        let untitled = &entries[3];
        assert_eq!(untitled.title, "");
        assert!(untitled.pdf_url.is_some());
        let problem = untitled
            .problem
            .as_deref()
            .expect("empty title is a problem");
        assert!(problem.contains("<title> is empty"), "{problem}");
        assert!(!problem.contains("PDF"), "{problem}");

        assert!(entries[4].abstract_text.contains(r"$r \in \{4, 16, 64\}$"));
        assert_eq!(entries[4].problem, None);
    }

    #[test]
    fn arxiv_entry_without_id_is_kept_with_a_problem() {
        let xml = r#"<feed xmlns="http://www.w3.org/2005/Atom">
            <entry><title>Orphan</title><link title="pdf" href="http://127.0.0.1:9/pdf/x"/></entry>
            <entry><id>http://arxiv.org/abs/2611.00001v1</id><title>Fine</title>
              <link title="pdf" href="http://127.0.0.1:9/pdf/2611.00001v1"/></entry>
        </feed>"#;
        let (entries, total) = parse_arxiv_atom(xml).expect("parses");
        assert_eq!(total, None);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].source_id, "");
        assert_eq!(entries[0].title, "Orphan");
        let problem = entries[0].problem.as_deref().expect("problem");
        assert!(problem.contains("no <id>"), "{problem}");
        assert_eq!(entries[1].problem, None);
    }

    #[test]
    fn arxiv_error_entry_is_a_bad_query() {
        match parse_arxiv_atom(ARXIV_ERROR_FIXTURE) {
            Err(SourceError::BadQuery(message)) => {
                assert!(
                    message.contains("unterminated date range in submittedDate"),
                    "{message}"
                );
            }
            other => panic!("expected BadQuery, got {other:?}"),
        }
    }

    #[test]
    fn unreadable_documents_are_bad_feeds() {
        for doc in [
            "",
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
            "<feed><entry><id>x</id></feed>",
            "<feed><entry><id>http://arxiv.org/abs/1</id>",
            "not xml at all",
        ] {
            match parse_arxiv_atom(doc) {
                Err(SourceError::BadFeed { reason, .. }) => assert!(!reason.is_empty()),
                other => panic!("{doc:?}: expected BadFeed, got {other:?}"),
            }
        }
    }

    // ---- OpenReview parsing ----

    #[test]
    fn venue_ids() {
        assert_eq!(
            openreview_venue_id("ICLR", 2024).expect("known"),
            "ICLR.cc/2024/Conference"
        );
        assert_eq!(
            openreview_venue_id("icml", 2025).expect("known"),
            "ICML.cc/2025/Conference"
        );
        assert_eq!(
            openreview_venue_id("neurips", 2023).expect("known"),
            "NeurIPS.cc/2023/Conference"
        );
        match openreview_venue_id("AAAI", 2024) {
            Err(SourceError::BadQuery(m)) => {
                assert!(m.contains("AAAI"), "{m}");
                assert!(m.contains("ICLR, ICML or NeurIPS"), "{m}");
            }
            other => panic!("expected BadQuery, got {other:?}"),
        }
        assert!(matches!(
            openreview_venue_id("ICLR", 24),
            Err(SourceError::BadQuery(_))
        ));
    }

    #[tokio::test]
    async fn unknown_venue_fails_before_any_request() {
        // Port 9 (discard) is not listening: a request would be a Transport error.
        let cfg = test_config("http://127.0.0.1:9");
        let query = FeedQuery::OpenReview {
            venue: "CVPR".to_owned(),
            year: 2024,
            max_results: 10,
        };
        match fetch(&http_client(&cfg), &cfg, &query).await {
            Err(e @ SourceError::BadQuery(_)) => assert_eq!(e.type_name(), "BadFeedQuery"),
            other => panic!("expected BadQuery, got {other:?}"),
        }
    }

    #[test]
    fn parses_openreview_fixture() {
        let (entries, count) =
            parse_openreview_notes(OPENREVIEW_FIXTURE, "http://127.0.0.1:9/").expect("parses");
        assert_eq!(count, Some(2260));
        assert_eq!(entries.len(), 4);
        assert!(entries.iter().all(|e| e.source == "openreview"));
        let ids: Vec<&str> = entries.iter().map(|e| e.source_id.as_str()).collect();
        assert_eq!(
            ids,
            ["kX3vR9pQ2m", "Tq7LmW4sZe", "Bn5cYd8fHw", "Vr2eGk6nPa"]
        );

        let first = &entries[0];
        assert_eq!(
            first.title,
            "Diffusion Policies with Trust-Region Guidance for Offline Reinforcement Learning"
        );
        assert!(!first.abstract_text.contains('\n'));
        assert_eq!(
            first.authors,
            strings(&["Sofia Marchetti", "Daniel Oyelaran", "Yuki Tanabe"])
        );
        assert_eq!(
            first.categories,
            strings(&[
                "offline reinforcement learning",
                "diffusion models",
                "trust region"
            ])
        );
        assert_eq!(
            first.pdf_url.as_deref(),
            Some("http://127.0.0.1:9/pdf/3f1c9a07be52d4e8c61a0b9f77e2d5c4a1b8e6f0.pdf")
        );
        assert_eq!(first.venue.as_deref(), Some("ICLR 2024 poster"));
        assert_eq!(first.published.as_deref(), Some("2024-01-16T12:00:00Z"));
        assert_eq!(first.problem, None);

        let second = &entries[1];
        assert_eq!(
            second.title,
            "Token Merging Revisited: Attention-Aware Merging for Vision Transformers"
        );
        // An absolute PDF URL is kept; without pdate, cdate gives the time.
        assert_eq!(
            second.pdf_url.as_deref(),
            Some("http://127.0.0.1:9/pdf/Tq7LmW4sZe")
        );
        assert_eq!(second.published.as_deref(), Some("2023-09-22T22:00:00Z"));
        assert_eq!(second.problem, None);

        let no_pdf = &entries[2];
        assert_eq!(no_pdf.pdf_url, None);
        assert_eq!(no_pdf.authors, strings(&["Emeka Nwosu"]));
        let problem = no_pdf.problem.as_deref().expect("no PDF is a problem");
        assert!(problem.contains("no PDF"), "{problem}");

        assert_eq!(entries[3].authors.len(), 4);
        assert_eq!(entries[3].problem, None);
    }

    #[test]
    fn malformed_notes_are_kept_with_problems() {
        let json = r#"{"notes": [
            42,
            {"content": {"title": {"value": "No id here"}, "pdf": {"value": "/pdf/a.pdf"}}},
            {"id": "abc", "content": {"title": {"value": "   "}, "pdf": {"value": "/pdf/b.pdf"}}}
        ]}"#;
        let (entries, count) =
            parse_openreview_notes(json, "https://api2.openreview.net").expect("parses");
        assert_eq!(count, None);
        assert_eq!(entries.len(), 3);
        assert!(
            entries[0]
                .problem
                .as_deref()
                .is_some_and(|p| p.contains("not a JSON object"))
        );
        assert!(
            entries[1]
                .problem
                .as_deref()
                .is_some_and(|p| p.contains("no id"))
        );
        assert_eq!(entries[1].title, "No id here");
        assert_eq!(
            entries[1].pdf_url.as_deref(),
            Some("https://api2.openreview.net/pdf/a.pdf")
        );
        assert!(
            entries[2]
                .problem
                .as_deref()
                .is_some_and(|p| p.contains("no title"))
        );

        for doc in [
            "",
            "[]",
            r#"{"name": "NotFoundError", "message": "nope"}"#,
            "{notes",
        ] {
            assert!(
                matches!(
                    parse_openreview_notes(doc, "http://x"),
                    Err(SourceError::BadFeed { .. })
                ),
                "{doc}"
            );
        }
    }

    #[test]
    fn epoch_millis_to_rfc3339() {
        assert_eq!(rfc3339_from_millis(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_from_millis(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(
            rfc3339_from_millis(1_705_406_400_000),
            "2024-01-16T12:00:00Z"
        );
        assert_eq!(
            rfc3339_from_millis(1_705_406_400_250),
            "2024-01-16T12:00:00.250Z"
        );
        assert_eq!(rfc3339_from_millis(-86_400_000), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339_from_millis(4_102_444_800_000),
            "2100-01-01T00:00:00Z"
        );
    }

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
        let base = pdf_server().await;
        let cfg = test_config(&base);
        let http = http_client(&cfg);

        let good = download_pdf(&http, &cfg, &format!("{base}/good.pdf"))
            .await
            .expect("a good PDF downloads");
        assert_eq!(good.len(), 3000);
        assert!(good.starts_with(b"%PDF-"));

        let url = format!("{base}/big-declared.pdf");
        match download_pdf(&http, &cfg, &url).await {
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
        match download_pdf(&http, &cfg, &format!("{base}/big-stalled.pdf")).await {
            Err(SourceError::TooLarge { limit, .. }) => assert_eq!(limit, 4096),
            other => panic!("expected TooLarge, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(3));

        // No Content-Length and an endless body: only counting while streaming can stop it.
        match download_pdf(&http, &cfg, &format!("{base}/big-streamed.pdf")).await {
            Err(SourceError::TooLarge { limit, .. }) => assert_eq!(limit, 4096),
            other => panic!("expected TooLarge, got {other:?}"),
        }

        match download_pdf(&http, &cfg, &format!("{base}/landing")).await {
            Err(e @ SourceError::NotPdf { .. }) => {
                let SourceError::NotPdf { reason, .. } = &e else {
                    unreachable!()
                };
                assert!(reason.contains("HTML page"), "{reason}");
                assert!(reason.contains("text/html"), "{reason}");
                assert!(reason.contains("<!DOCTYPE html>"), "{reason}");
                assert!(!e.is_retryable());
            }
            other => panic!("expected NotPdf, got {other:?}"),
        }

        match download_pdf(&http, &cfg, &format!("{base}/busy.pdf")).await {
            Err(e @ SourceError::Http { status: 503, .. }) => {
                assert!(e.is_retryable());
                assert!(e.to_string().contains("overloaded, come back later"));
            }
            other => panic!("expected HTTP 503, got {other:?}"),
        }

        match download_pdf(&http, &cfg, &format!("{base}/missing.pdf")).await {
            Err(e @ SourceError::Http { status: 404, .. }) => assert!(!e.is_retryable()),
            other => panic!("expected HTTP 404, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn download_pdf_times_out() {
        let base = pdf_server().await;
        let cfg = SourceConfig {
            pdf_timeout_secs: 1,
            ..test_config(&base)
        };
        let started = Instant::now();
        let url = format!("{base}/slow.pdf");
        match download_pdf(&http_client(&cfg), &cfg, &url).await {
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

    // ---- paging ----

    #[derive(Debug, Clone)]
    struct Seen {
        params: HashMap<String, String>,
        at: Instant,
        user_agent: Option<String>,
    }

    type Log = Arc<Mutex<Vec<Seen>>>;

    const PAGED_TOTAL: usize = 5;

    fn record(log: &Log, headers: &HeaderMap, params: HashMap<String, String>) -> (usize, usize) {
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

    async fn arxiv_page(
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

    async fn arxiv_server() -> (String, Log) {
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

    fn seen(log: &Log) -> Vec<Seen> {
        log.lock().expect("log lock").clone()
    }

    #[tokio::test]
    async fn fetch_arxiv_pages_politely() {
        let (base, log) = arxiv_server().await;
        let cfg = test_config(&base);
        let http = http_client(&cfg);
        let query = FeedQuery::Arxiv {
            categories: strings(&["cs.LG", "stat.ML"]),
            from: Some("2026-11-01".to_owned()),
            to: Some("2026-11-22".to_owned()),
            days: None,
            max_results: 10,
        };
        let entries = fetch(&http, &cfg, &query).await.expect("two pages");
        let ids: Vec<&str> = entries.iter().map(|e| e.source_id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "2611.10000v1",
                "2611.10001v1",
                "2611.10002v1",
                "2611.10003v1",
                "2611.10004v1"
            ]
        );
        assert!(entries.iter().all(|e| e.problem.is_none()));

        let requests = seen(&log);
        // totalResults (5) is reached after the second page: no third request.
        assert_eq!(requests.len(), 2);
        let starts: Vec<&str> = requests
            .iter()
            .map(|r| r.params["start"].as_str())
            .collect();
        assert_eq!(starts, ["0", "3"]);
        assert!(requests.iter().all(|r| r.params["max_results"] == "3"));
        assert!(
            requests
                .iter()
                .all(|r| r.params["sortBy"] == "submittedDate")
        );
        assert!(
            requests
                .iter()
                .all(|r| r.params["sortOrder"] == "descending")
        );
        assert_eq!(
            requests[0].params["search_query"],
            "(cat:cs.LG OR cat:stat.ML) AND submittedDate:[202611010000 TO 202611222359]"
        );
        assert!(
            requests
                .iter()
                .all(|r| r.user_agent.as_deref() == Some("annapurna-test/1"))
        );
        let gap = requests[1].at.duration_since(requests[0].at);
        // The pacer spaces request starts; arrival times at the server also carry the first
        // request's connection set-up, so they may come up to a few milliseconds closer.
        assert!(
            gap + Duration::from_millis(5) >= Duration::from_millis(cfg.interval_ms),
            "{gap:?}"
        );
    }

    #[tokio::test]
    async fn fetch_arxiv_stops_at_max_results() {
        let (base, log) = arxiv_server().await;
        let cfg = test_config(&base);
        let entries = fetch_arxiv(
            &http_client(&cfg),
            &cfg,
            &strings(&["cs.LG"]),
            None,
            None,
            4,
        )
        .await
        .expect("fetches");
        assert_eq!(entries.len(), 4);
        let requests = seen(&log);
        let asked: Vec<(&str, &str)> = requests
            .iter()
            .map(|r| (r.params["start"].as_str(), r.params["max_results"].as_str()))
            .collect();
        assert_eq!(asked, [("0", "3"), ("3", "1")]);
    }

    #[tokio::test]
    async fn fetch_arxiv_reports_a_refused_query() {
        let (base, _log) = arxiv_server().await;
        let cfg = SourceConfig {
            arxiv_url: format!("{base}/refusing/query"),
            ..test_config(&base)
        };
        match fetch_arxiv(
            &http_client(&cfg),
            &cfg,
            &strings(&["cs.LG"]),
            None,
            None,
            5,
        )
        .await
        {
            Err(SourceError::BadQuery(m)) => assert!(m.contains("unterminated date range"), "{m}"),
            other => panic!("expected BadQuery, got {other:?}"),
        }
    }

    async fn notes_page(
        State(log): State<Log>,
        headers: HeaderMap,
        Query(params): Query<HashMap<String, String>>,
    ) -> axum::Json<Value> {
        let (offset, limit) = record(&log, &headers, params);
        let notes: Vec<Value> = (offset..(offset + limit).min(PAGED_TOTAL))
            .map(|i| {
                serde_json::json!({
                    "id": format!("note{i}"),
                    "pdate": 1_705_406_400_000_i64,
                    "content": {
                        "title": {"value": format!("Accepted paper {i}")},
                        "pdf": {"value": format!("/pdf/{i}.pdf")}
                    }
                })
            })
            .collect();
        axum::Json(serde_json::json!({"notes": notes, "count": PAGED_TOTAL}))
    }

    #[tokio::test]
    async fn fetch_openreview_pages_politely() {
        let log: Log = Arc::default();
        let app = Router::new()
            .route("/notes", get(notes_page))
            .with_state(log.clone());
        let base = serve(app).await;
        let cfg = test_config(&base);
        let query = FeedQuery::OpenReview {
            venue: "iclr".to_owned(),
            year: 2024,
            max_results: 50,
        };
        let entries = fetch(&http_client(&cfg), &cfg, &query)
            .await
            .expect("fetches");
        assert_eq!(entries.len(), PAGED_TOTAL);
        assert_eq!(entries[4].source_id, "note4");
        assert_eq!(
            entries[4].pdf_url.as_deref(),
            Some(format!("{base}/pdf/4.pdf").as_str())
        );
        let requests = seen(&log);
        assert_eq!(requests.len(), 2);
        assert!(
            requests
                .iter()
                .all(|r| r.params["content.venueid"] == "ICLR.cc/2024/Conference")
        );
        let offsets: Vec<&str> = requests
            .iter()
            .map(|r| r.params["offset"].as_str())
            .collect();
        assert_eq!(offsets, ["0", "3"]);
        let gap = requests[1].at.duration_since(requests[0].at);
        // The pacer spaces request starts; arrival times at the server also carry the first
        // request's connection set-up, so they may come up to a few milliseconds closer.
        assert!(
            gap + Duration::from_millis(5) >= Duration::from_millis(cfg.interval_ms),
            "{gap:?}"
        );
    }
}
