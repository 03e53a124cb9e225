//! The OpenReview API v2: venue ids for ICLR, ICML and NeurIPS by year, one `/notes` response read,
//! and paging through the accepted papers of a venue (a search term matched here, as they are
//! read).

#[allow(unused_imports)]
use super::*;

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
    plausible_year("OpenReview", year)?;
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

pub(crate) fn parse_openreview_at(
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
pub(crate) fn content_value<'a>(content: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    let field = content?.get(key)?;
    match field {
        Value::Object(map) => map.get("value"),
        other => Some(other),
    }
}

pub(crate) fn content_str(content: Option<&Value>, key: &str) -> Option<String> {
    content_value(content, key)
        .and_then(Value::as_str)
        .map(collapse)
        .filter(|s| !s.is_empty())
}

pub(crate) fn content_list(content: Option<&Value>, key: &str) -> Vec<String> {
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

pub(crate) fn epoch_millis(value: Option<&Value>) -> Option<i64> {
    let value = value?;
    value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.is_finite() && f.abs() < 1e17)
            .map(|f| f as i64)
    })
}

pub(crate) fn openreview_entry(index: usize, note: &Value, base_url: &str) -> FeedEntry {
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

pub(crate) fn absolute_url(base_url: &str, path: &str) -> String {
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
pub(crate) fn rfc3339_from_millis(millis: i64) -> String {
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
///
/// With `search`, only notes whose title or abstract has the term count ([`SearchTerm::matches`]):
/// the venue's notes are read page after page and filtered here, because the API's `/notes`
/// has no filter on title or abstract (its full-text search is not a documented part of API v2),
/// so a search term costs as many pages as it takes to find `max_results` matches, or the
/// whole venue.
pub async fn fetch_openreview(
    http: &reqwest::Client,
    cfg: &SourceConfig,
    venue: &str,
    year: u32,
    search: Option<&str>,
    max_results: u32,
) -> Result<Vec<FeedEntry>, SourceError> {
    let venue_id = openreview_venue_id(venue, year)?;
    let search = SearchTerm::parse(search)?;
    let notes_url = format!("{}/notes", cfg.openreview_url.trim_end_matches('/'));
    paged(cfg, max_results, search.as_ref(), |offset, ask| {
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
        let _turn = together().await;
        // Port 9 (discard) is not listening: a request would be a Transport error.
        let cfg = test_config("http://127.0.0.1:9");
        let query = FeedQuery::OpenReview {
            venue: "CVPR".to_owned(),
            year: 2024,
            max_results: 10,
            search: None,
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

    /// A `/notes` server of [`PAGED_TOTAL`] notes, with the requests it had.
    async fn notes_server() -> (SourceConfig, Log) {
        let log: Log = Arc::default();
        let app = Router::new()
            .route("/notes", get(notes_page))
            .with_state(log.clone());
        (test_config(&serve(app).await), log)
    }

    #[tokio::test]
    async fn fetch_openreview_matches_the_search_term_on_every_note() {
        let _turn = together().await;
        let (cfg, log) = notes_server().await;
        let search = |term: &str| FeedQuery::OpenReview {
            venue: "ICLR".to_owned(),
            year: 2025,
            max_results: 1,
            search: Some(term.to_owned()),
        };
        let http = http_client(&cfg);
        let entries = fetch(&http, &cfg, &search("PAPER 4"))
            .await
            .expect("fetches");
        let ids: Vec<&str> = entries.iter().map(|e| e.source_id.as_str()).collect();
        assert_eq!(ids, ["note4"]);
        // Whole pages are read until max_results notes match (here: the venue's last page).
        assert_eq!(asked(&log, ["offset", "limit"]), [["0", "3"], ["3", "3"]]);

        // No note matches: the whole venue is read, nothing is kept.
        let entries = fetch(&http, &cfg, &search("diffusion"))
            .await
            .expect("fetches");
        assert!(entries.is_empty(), "{entries:?}");
        assert_eq!(seen(&log).len(), 4);
    }

    #[tokio::test]
    async fn fetch_openreview_pages_politely() {
        let _turn = alone().await;
        let (cfg, log) = notes_server().await;
        let base = cfg.openreview_url.clone();
        let query = FeedQuery::OpenReview {
            venue: "iclr".to_owned(),
            year: 2024,
            max_results: 50,
            search: None,
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
        assert_paced(requests[0].at, requests[1].at, 1, &cfg);
    }
}
