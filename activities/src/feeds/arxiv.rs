//! The arXiv API: the `search_query` value, one Atom response read, and paging newest first.

#[allow(unused_imports)]
use super::*;

/// The arXiv `search_query` value for categories (OR-ed) and an optional inclusive submission
/// date range (`YYYY-MM-DD`), e.g.
/// `(cat:cs.LG OR cat:stat.ML) AND submittedDate:[202611010000 TO 202611222359]`.
///
/// A range with only one end is open on the other side. A search term is added by
/// [`fetch_arxiv`] ([`SearchTerm::arxiv_clause`]).
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

pub(crate) fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// `cs.LG`, `stat.ML`, `hep-th`, `q-bio.NC`: letters, digits and dashes, one optional dot.
pub(crate) fn is_arxiv_category(cat: &str) -> bool {
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
pub(crate) struct Day {
    pub(crate) year: u32,
    pub(crate) month: u32,
    pub(crate) day: u32,
}

impl Day {
    pub(crate) fn compact(&self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }

    pub(crate) fn iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

pub(crate) fn parse_day(s: &str, field: &str) -> Result<Day, SourceError> {
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
pub(crate) fn last_days(days: u32) -> (String, String) {
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

pub(crate) fn parse_arxiv_at(
    xml: &str,
    url: &str,
) -> Result<(Vec<FeedEntry>, Option<u64>), SourceError> {
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
pub(crate) struct AtomDraft {
    pub(crate) id: Option<String>,
    pub(crate) title: Option<String>,
    pub(crate) summary: Option<String>,
    published: Option<String>,
    pub(crate) authors: Vec<String>,
    pub(crate) categories: Vec<String>,
    pub(crate) primary_category: Option<String>,
    pub(crate) journal_ref: Option<String>,
    pub(crate) pdf: Option<String>,
}

impl AtomDraft {
    pub(crate) fn is_error(&self) -> bool {
        self.id
            .as_deref()
            .is_some_and(|id| id.contains("arxiv.org/api/errors"))
    }

    pub(crate) fn into_entry(self) -> FeedEntry {
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
pub(crate) struct AtomReader {
    /// Local names of the open elements, outermost first.
    pub(crate) stack: Vec<String>,
    /// Text of the innermost element seen so far.
    pub(crate) text: String,
    pub(crate) saw_feed: bool,
    pub(crate) current: Option<AtomDraft>,
    pub(crate) drafts: Vec<AtomDraft>,
    pub(crate) total: Option<u64>,
}

pub(crate) fn read_atom(
    xml: &str,
    url: &str,
) -> Result<(Vec<AtomDraft>, Option<u64>), SourceError> {
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

pub(crate) fn local_name(start: &BytesStart<'_>) -> String {
    String::from_utf8_lossy(start.local_name().as_ref()).into_owned()
}

pub(crate) fn attribute(start: &BytesStart<'_>, key: &str) -> Option<String> {
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
    pub(crate) fn open(&mut self, start: &BytesStart<'_>) -> Result<(), String> {
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

    pub(crate) fn close(&mut self) {
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
/// A `search` term is arXiv's own search: `AND (ti:"term" OR abs:"term")` ends the query.
pub async fn fetch_arxiv(
    http: &reqwest::Client,
    cfg: &SourceConfig,
    categories: &[String],
    from: Option<&str>,
    to: Option<&str>,
    search: Option<&str>,
    max_results: u32,
) -> Result<Vec<FeedEntry>, SourceError> {
    let mut search_query = arxiv_search_query(categories, from, to)?;
    if let Some(term) = SearchTerm::parse(search)? {
        search_query = format!("{search_query} AND {}", term.arxiv_clause());
    }
    // arXiv searched already: every entry it gives counts.
    paged(cfg, max_results, None, |start, ask| {
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

    #[tokio::test]
    async fn fetch_arxiv_pages_politely() {
        let _turn = alone().await;
        let (base, log) = arxiv_server().await;
        let cfg = test_config(&base);
        let http = http_client(&cfg);
        let query = FeedQuery::Arxiv {
            categories: strings(&["cs.LG", "stat.ML"]),
            from: Some("2026-11-01".to_owned()),
            to: Some("2026-11-22".to_owned()),
            days: None,
            max_results: 10,
            search: None,
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
        assert_paced(requests[0].at, requests[1].at, 1, &cfg);
    }

    #[tokio::test]
    async fn fetch_arxiv_stops_at_max_results() {
        let _turn = together().await;
        let (base, log) = arxiv_server().await;
        let cfg = test_config(&base);
        let entries = fetch_arxiv(
            &http_client(&cfg),
            &cfg,
            &strings(&["cs.LG"]),
            None,
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
    async fn fetch_arxiv_asks_arxiv_to_search_titles_and_abstracts() {
        let _turn = together().await;
        let (base, log) = arxiv_server().await;
        let cfg = test_config(&base);
        let http = http_client(&cfg);
        let cats = strings(&["cs.LG"]);
        let entries = fetch_arxiv(&http, &cfg, &cats, None, None, Some(" LLM "), 2)
            .await
            .expect("fetches");
        // arXiv did the searching: what it answers is kept as it is.
        assert_eq!(entries.len(), 2);
        let requests = seen(&log);
        assert_eq!(
            requests[0].params["search_query"],
            "cat:cs.LG AND (ti:\"LLM\" OR abs:\"LLM\")"
        );
        assert_eq!(requests[0].params["max_results"], "2");
        match fetch_arxiv(&http, &cfg, &cats, None, None, Some("x\" OR all:\"y"), 2).await {
            Err(SourceError::BadQuery(m)) => assert!(m.contains("plain words"), "{m}"),
            other => panic!("expected BadQuery, got {other:?}"),
        }
        assert_eq!(seen(&log).len(), 1, "a refused term sends nothing");
    }

    #[tokio::test]
    async fn fetch_arxiv_reports_a_refused_query() {
        let _turn = together().await;
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
            None,
            5,
        )
        .await
        {
            Err(SourceError::BadQuery(m)) => assert!(m.contains("unterminated date range"), "{m}"),
            other => panic!("expected BadQuery, got {other:?}"),
        }
    }
}
