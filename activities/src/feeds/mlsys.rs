//! The MLSys proceedings (`proceedings.mlsys.org`): a year's page lists the papers, each linking
//! to its abstract page, which has the abstract and the link to the PDF.
//!
//! The site has no API, so its pages are read as HTML ([`super::html`]). What is assumed of them
//! comes from the site's public layout (the one papers.nips.cc has too), not from a published
//! format, so the reading is forgiving:
//! - the year page, `{sources.mlsys-url}/paper_files/paper/{year}`, lists the papers as the `<li>`
//!   items of a `<ul class="paper-list">`, each with a link
//!   `…/hash/<hash>-Abstract[-Conference].html` whose text is the title, and the authors,
//!   comma-separated, in an element whose class names authors (`<span class="paper-authors">`)
//!   or in `<i>`. A page without that list gives one entry per abstract link; a page with
//!   neither is [`SourceError::BadFeed`];
//! - an abstract page has `Authors` and `Abstract` headings, each followed by its text, and a
//!   link to `…/file/<hash>-Paper[-Conference].pdf`; `citation_*` `<meta>` tags (title, PDF URL,
//!   authors, abstract) are used first where the page has them.
//!
//! An entry's id is the `<hash>` of its abstract page. Reading a year costs one request for the
//! year page and one per paper read ([`SourceConfig::interval_ms`] apart, like every request
//! to a host), until `max_results` entries (matching the search term, when there is one).

use super::html::{Tag, Token, tokenize};
#[allow(unused_imports)]
use super::*;

/// The page listing the papers of an MLSys year: `{base_url}/paper_files/paper/{year}`.
pub fn mlsys_year_url(base_url: &str, year: u32) -> Result<String, SourceError> {
    plausible_year("MLSys", year)?;
    Ok(format!(
        "{}/paper_files/paper/{year}",
        base_url.trim_end_matches('/')
    ))
}

/// One paper as a year page lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MlsysListing {
    /// The link's text, whitespace collapsed (or the item's text when it has no link).
    pub title: String,
    /// Author names.
    pub authors: Vec<String>,
    /// The abstract page, an absolute URL.
    pub abstract_url: Option<String>,
}

/// What an abstract page says about its paper (`None` or empty where it says nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MlsysAbstractPage {
    /// The title (`citation_title`).
    pub title: Option<String>,
    /// Author names.
    pub authors: Vec<String>,
    /// The abstract, whitespace collapsed.
    pub abstract_text: String,
    /// The PDF, an absolute URL.
    pub pdf_url: Option<String>,
}

/// Reads a year page (at `page_url`, against which its links are resolved) into its listings.
pub fn parse_mlsys_year(html: &str, page_url: &str) -> Result<Vec<MlsysListing>, SourceError> {
    let bad = |reason: String| SourceError::BadFeed {
        url: page_url.to_owned(),
        reason,
    };
    let base = url::Url::parse(page_url)
        .map_err(|e| bad(format!("the page's own address is not a URL ({e})")))?;
    let tokens = tokenize(html);
    let has_list = tokens
        .iter()
        .any(|t| matches!(t, Token::Start(tag) if is_paper_list(tag)));
    let mut reader = YearReader {
        base,
        has_list,
        list_depth: 0,
        current: None,
        capture: None,
        listings: Vec::new(),
    };
    for token in &tokens {
        reader.read(token);
    }
    reader.finish_item();
    if !has_list && reader.listings.is_empty() {
        return Err(bad(
            "it has no list of papers (<ul class=\"paper-list\">) and no links to abstract pages \
             (…-Abstract….html)"
                .to_owned(),
        ));
    }
    Ok(reader.listings)
}

fn is_paper_list(tag: &Tag) -> bool {
    matches!(tag.name.as_str(), "ul" | "ol") && tag.has_class_with("paper-list")
}

/// The path of a link, without its query or fragment.
fn link_path(href: &str) -> &str {
    href.split(['?', '#']).next().unwrap_or("")
}

/// `…/hash/<hash>-Abstract-Conference.html` (or `-Abstract.html`, as older years have it).
fn is_abstract_link(href: &str) -> bool {
    let last = link_path(href).rsplit('/').next().unwrap_or("");
    last.contains("-Abstract") && (last.ends_with(".html") || last.ends_with(".htm"))
}

/// `…/file/<hash>-Paper-Conference.pdf` (or `-Paper.pdf`); not the supplemental material.
fn is_paper_pdf(href: &str) -> bool {
    let last = link_path(href)
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    last.ends_with(".pdf") && last.contains("-paper")
}

/// The paper's id: the `<hash>` of `…/<hash>-Abstract-Conference.html`.
fn mlsys_id(abstract_url: &str) -> String {
    let last = link_path(abstract_url).rsplit('/').next().unwrap_or("");
    let id = match last.find("-Abstract") {
        Some(at) => &last[..at],
        None => last.trim_end_matches(".html").trim_end_matches(".htm"),
    };
    id.to_owned()
}

fn split_authors(text: &str) -> Vec<String> {
    text.split(',')
        .map(collapse)
        .filter(|a| !a.is_empty())
        .collect()
}

fn join(base: &url::Url, href: &str) -> Option<String> {
    base.join(href.trim()).ok().map(String::from)
}

/// What a text run inside a year page's item belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Title,
    Authors,
}

/// The part of an abstract page a text run belongs to (after its heading).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Authors,
    Abstract,
}

/// One item of a year page as it is read.
#[derive(Debug, Default)]
struct ItemDraft {
    title: String,
    authors: String,
    /// Text outside the link and the authors (a title without a link).
    other: String,
    href: Option<String>,
}

/// The state of reading a year page, token by token.
struct YearReader {
    /// The page's address, for its relative links.
    base: url::Url,
    /// Whether the page has the paper list (then links outside it are not papers).
    has_list: bool,
    /// Lists open inside the paper list, itself included (0: outside it).
    list_depth: usize,
    current: Option<ItemDraft>,
    /// The field being read, and the element whose end ends it.
    capture: Option<(Field, String)>,
    listings: Vec<MlsysListing>,
}

impl YearReader {
    fn read(&mut self, token: &Token) {
        match token {
            Token::Start(tag) => self.open(tag),
            Token::End(name) => self.close(name),
            Token::Text(text) => {
                let Some(item) = self.current.as_mut() else {
                    return;
                };
                match &self.capture {
                    Some((Field::Title, _)) => item.title.push_str(text),
                    Some((Field::Authors, _)) => item.authors.push_str(text),
                    None => item.other.push_str(text),
                }
            }
        }
    }

    fn open(&mut self, tag: &Tag) {
        match tag.name.as_str() {
            "ul" | "ol" if self.list_depth > 0 => self.list_depth += 1,
            "ul" | "ol" if is_paper_list(tag) => self.list_depth = 1,
            "li" if self.list_depth == 1 => {
                self.finish_item();
                self.current = Some(ItemDraft::default());
            }
            "a" if self.has_list && self.list_depth == 0 => {}
            "a" => {
                let Some(href) = tag.attr("href").filter(|h| is_abstract_link(h)) else {
                    return;
                };
                if self.current.as_ref().is_none_or(|item| item.href.is_some()) {
                    self.finish_item();
                    self.current = Some(ItemDraft::default());
                }
                if let Some(item) = self.current.as_mut() {
                    item.href = Some(href.to_owned());
                }
                self.capture = Some((Field::Title, "a".to_owned()));
            }
            name => {
                let authors_element = tag.has_class_with("author") || name == "i";
                if authors_element
                    && self.capture.is_none()
                    && self
                        .current
                        .as_ref()
                        .is_some_and(|item| item.authors.is_empty())
                {
                    self.capture = Some((Field::Authors, name.to_owned()));
                }
            }
        }
    }

    fn close(&mut self, name: &str) {
        if self
            .capture
            .as_ref()
            .is_some_and(|(_, element)| element == name)
        {
            self.capture = None;
        }
        match name {
            "ul" | "ol" if self.list_depth > 0 => {
                self.list_depth -= 1;
                if self.list_depth == 0 {
                    self.finish_item();
                }
            }
            "li" if self.list_depth == 1 => self.finish_item(),
            _ => {}
        }
    }

    fn finish_item(&mut self) {
        self.capture = None;
        let Some(item) = self.current.take() else {
            return;
        };
        let abstract_url = item.href.as_deref().and_then(|h| join(&self.base, h));
        let title = match item.href {
            Some(_) => collapse(&item.title),
            None => collapse(&item.other),
        };
        if abstract_url.is_none() && title.is_empty() {
            return;
        }
        self.listings.push(MlsysListing {
            title,
            authors: split_authors(&item.authors),
            abstract_url,
        });
    }
}

/// Reads a paper's abstract page (at `page_url`, against which its links are resolved).
pub fn parse_mlsys_abstract(html: &str, page_url: &str) -> MlsysAbstractPage {
    let base = url::Url::parse(page_url).ok();
    let mut page = MlsysAbstractPage::default();
    let mut meta_authors: Vec<String> = Vec::new();
    let mut meta_abstract: Option<String> = None;
    let mut meta_pdf: Option<String> = None;
    let mut link_pdf: Option<String> = None;
    let mut heading: Option<String> = None;
    let mut section: Option<Section> = None;
    let (mut section_authors, mut section_abstract) = (String::new(), String::new());
    // Open <div>s, and how many were open when the section began: it ends with its container.
    let (mut divs, mut section_divs) = (0usize, 0usize);
    for token in tokenize(html) {
        match token {
            Token::Start(tag) => match tag.name.as_str() {
                "meta" => {
                    let content = tag.attr("content").map(collapse).filter(|c| !c.is_empty());
                    match (tag.attr("name"), content) {
                        (Some("citation_title"), Some(c)) => page.title = Some(c),
                        (Some("citation_author"), Some(c)) => meta_authors.push(first_last(&c)),
                        (Some("citation_abstract"), Some(c)) => meta_abstract = Some(c),
                        (Some("citation_pdf_url"), Some(c)) => meta_pdf = Some(c),
                        _ => {}
                    }
                }
                "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                    heading = Some(String::new());
                    section = None;
                }
                "div" => divs += 1,
                "a" => {
                    if link_pdf.is_none()
                        && let Some(href) = tag.attr("href").filter(|h| is_paper_pdf(h))
                    {
                        link_pdf = Some(href.to_owned());
                    }
                }
                // Paragraphs and breaks separate words.
                "p" | "br" if section == Some(Section::Abstract) => section_abstract.push(' '),
                _ => {}
            },
            Token::End(name) => match name.as_str() {
                "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                    let text = heading.take().map(|h| collapse(&h).to_lowercase());
                    section = match text.as_deref() {
                        Some("abstract") => Some(Section::Abstract),
                        Some("authors") => Some(Section::Authors),
                        _ => None,
                    };
                    section_divs = divs;
                }
                "div" => {
                    divs = divs.saturating_sub(1);
                    if divs < section_divs {
                        section = None;
                    }
                }
                "p" if section == Some(Section::Abstract) => section_abstract.push(' '),
                _ => {}
            },
            Token::Text(text) => match (&mut heading, section) {
                (Some(heading), _) => heading.push_str(&text),
                (None, Some(Section::Abstract)) => section_abstract.push_str(&text),
                (None, Some(Section::Authors)) => section_authors.push_str(&text),
                (None, None) => {}
            },
        }
    }
    let in_abstract = collapse(&section_abstract);
    page.abstract_text = if in_abstract.is_empty() {
        meta_abstract.unwrap_or_default()
    } else {
        in_abstract
    };
    page.authors = split_authors(&section_authors);
    if page.authors.is_empty() {
        page.authors = meta_authors;
    }
    page.pdf_url = meta_pdf.or(link_pdf).and_then(|href| match &base {
        Some(base) => join(base, &href),
        None => Some(href),
    });
    page
}

/// `Okafor, Amara` (as `citation_author` often has it) → `Amara Okafor`.
fn first_last(name: &str) -> String {
    match name.split_once(',') {
        Some((last, first)) if !first.contains(',') && !first.trim().is_empty() => {
            format!("{} {}", first.trim(), last.trim())
        }
        _ => name.to_owned(),
    }
}

/// The feed entry of a listed paper: what its abstract page says (when it was read), the year
/// page's title and authors where the page has none, and `problem` when it is unusable.
pub fn mlsys_entry(
    year: u32,
    listing: MlsysListing,
    page: Option<MlsysAbstractPage>,
    problem: Option<String>,
) -> FeedEntry {
    let mut problems: Vec<String> = problem.into_iter().collect();
    let read = page.is_some();
    let page = page.unwrap_or_default();
    let title = page
        .title
        .filter(|t| !t.is_empty())
        .unwrap_or(listing.title);
    if title.is_empty() {
        problems.push("the paper has no title".to_owned());
    }
    if read && page.pdf_url.is_none() {
        problems.push(
            "the abstract page has no link to the paper's PDF (…-Paper….pdf), so the paper \
             cannot be downloaded"
                .to_owned(),
        );
    }
    FeedEntry {
        source: "mlsys".to_owned(),
        source_id: listing
            .abstract_url
            .as_deref()
            .map(mlsys_id)
            .unwrap_or_default(),
        title,
        abstract_text: page.abstract_text,
        authors: if listing.authors.is_empty() {
            page.authors
        } else {
            listing.authors
        },
        categories: Vec::new(),
        published: None,
        pdf_url: page.pdf_url,
        venue: Some(format!("MLSys {year}")),
        problem: (!problems.is_empty()).then(|| problems.join("; ")),
    }
}

/// Reads the papers of an MLSys year, in the year page's order: the year page, then each paper's
/// abstract page, until `max_results` entries (with `search`, entries whose title or abstract has
/// the term: the site is searched here, as its pages are read).
///
/// A paper whose abstract page is not on the configured site, or answers with a permanent error,
/// is kept with its problem; a retryable error (a 5xx, 429, the network) fails the fetch, which
/// is retried.
pub async fn fetch_mlsys(
    http: &reqwest::Client,
    cfg: &SourceConfig,
    year: u32,
    search: Option<&str>,
    max_results: u32,
) -> Result<Vec<FeedEntry>, SourceError> {
    let year_url = mlsys_year_url(&cfg.mlsys_url, year)?;
    let search = SearchTerm::parse(search)?;
    let page = get_page(http, cfg, &year_url, &[]).await?;
    if !page.is_success() {
        return Err(page.into_http_error());
    }
    let listings = parse_mlsys_year(&page.body, &page.url)?;
    tracing::debug!(url = %page.url, papers = listings.len(), "MLSys year page");
    let site = url::Url::parse(&cfg.mlsys_url).ok().map(|u| u.origin());
    let wanted = usize::try_from(max_results).unwrap_or(usize::MAX);
    let mut entries = Vec::new();
    for listing in listings {
        if entries.len() >= wanted {
            break;
        }
        let entry = read_listing(http, cfg, year, listing, site.as_ref()).await?;
        if search.as_ref().is_none_or(|term| term.matches(&entry)) {
            entries.push(entry);
        }
    }
    Ok(entries)
}

/// One listed paper, its abstract page read when it is on the configured site.
async fn read_listing(
    http: &reqwest::Client,
    cfg: &SourceConfig,
    year: u32,
    listing: MlsysListing,
    site: Option<&url::Origin>,
) -> Result<FeedEntry, SourceError> {
    let Some(url) = listing.abstract_url.clone() else {
        let problem = "the year page lists it without a link to its abstract page, so it has no \
                       id, abstract or PDF link";
        return Ok(mlsys_entry(year, listing, None, Some(problem.to_owned())));
    };
    let on_site = url::Url::parse(&url).is_ok_and(|u| Some(&u.origin()) == site);
    if !on_site {
        // The page would be fetched as trusted as the configured site: only the site's own.
        let problem = format!(
            "its abstract page {url} is not on sources.mlsys-url's site, so it was not read"
        );
        return Ok(mlsys_entry(year, listing, None, Some(problem)));
    }
    let failed = match get_page(http, cfg, &url, &[]).await {
        Ok(page) if page.is_success() => {
            let read = parse_mlsys_abstract(&page.body, &page.url);
            return Ok(mlsys_entry(year, listing, Some(read), None));
        }
        Ok(page) => page.into_http_error(),
        Err(e) => e,
    };
    if failed.is_retryable() {
        return Err(failed);
    }
    let problem = format!("its abstract page could not be read: {failed}");
    Ok(mlsys_entry(year, listing, None, Some(problem)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feeds::test_support::*;

    const YEAR_URL: &str = "https://proceedings.mlsys.org/paper_files/paper/2024";

    fn abstract_url(id: &str) -> String {
        format!("{YEAR_URL}/hash/{id}-Abstract-Conference.html")
    }

    /// Where the fixture's paper `id` has its PDF, on the real site.
    fn site_pdf(id: &str) -> Option<String> {
        Some(format!("{YEAR_URL}/file/{id}-Paper-Conference.pdf"))
    }

    fn read_page(id: &str) -> MlsysAbstractPage {
        let html = mlsys_fixture(&format!("hash/{id}-Abstract-Conference.html"));
        parse_mlsys_abstract(&html, &abstract_url(id))
    }

    #[test]
    fn year_urls() {
        assert_eq!(
            mlsys_year_url("https://proceedings.mlsys.org/", 2024).expect("plausible"),
            YEAR_URL
        );
        match mlsys_year_url("https://proceedings.mlsys.org", 24) {
            Err(SourceError::BadQuery(m)) => assert!(m.contains("MLSys year 24"), "{m}"),
            other => panic!("expected BadQuery, got {other:?}"),
        }
    }

    #[test]
    fn parses_the_year_page_fixture() {
        let listings = parse_mlsys_year(&mlsys_fixture("index.html"), YEAR_URL).expect("parses");
        let titles: Vec<&str> = listings.iter().map(|l| l.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "PagedKV: Memory-Efficient Serving of LLMs with Block-Sparse Caches",
                "Learned Cost Models for Tensor Program Autotuning",
                "Compress & Overlap: Gradient Compression Inside Collective Communication",
                "Speculative Decoding for LLM Agents on the Edge",
                "Withdrawn: Scheduling LLM Training Jobs Across Regions",
                "IO-Aware Sorting on Accelerators",
            ]
        );
        // The navigation's links and list are not papers.
        assert_eq!(
            listings[0].abstract_url.as_deref(),
            Some(abstract_url(MLSYS_IDS[0]).as_str())
        );
        assert_eq!(
            listings[0].authors,
            strings(&["Amara Okafor", "Lukas Brenner", "Mei Lin Chua"])
        );
        assert_eq!(listings[4].abstract_url, None);
        assert_eq!(listings[4].authors, strings(&["Olek Zielinski"]));
        assert_eq!(
            listings[5].authors,
            strings(&["Tomás Herrera", "Yara Haddad"])
        );
    }

    #[test]
    fn an_older_layout_without_the_list_gives_its_abstract_links() {
        let html = "<html><body><h2>MLSys 2020</h2><ul>\
            <li><a href=\"/paper/2020/hash/ab12-Abstract.html\">Old &#x27;Layout&#x27;</a> \
            <i>Ada Byron, Alan Turing</i></li>\
            <li><a href=\"/paper/2020/file/ab12-Paper.pdf\">a PDF is not an entry</a></li>\
            </ul></body></html>";
        let listings =
            parse_mlsys_year(html, "https://proceedings.mlsys.org/paper/2020").expect("parses");
        assert_eq!(listings.len(), 1, "{listings:?}");
        assert_eq!(listings[0].title, "Old 'Layout'");
        assert_eq!(listings[0].authors, strings(&["Ada Byron", "Alan Turing"]));
        assert_eq!(
            listings[0].abstract_url.as_deref(),
            Some("https://proceedings.mlsys.org/paper/2020/hash/ab12-Abstract.html")
        );
        let entry = mlsys_entry(2020, listings[0].clone(), None, None);
        assert_eq!(entry.source_id, "ab12");
    }

    #[test]
    fn pages_without_papers() {
        for doc in [
            "",
            r#"{"detail": "Not found."}"#,
            "<html><body><h1>Server Error (500)</h1></body></html>",
        ] {
            match parse_mlsys_year(doc, YEAR_URL) {
                Err(e @ SourceError::BadFeed { .. }) => {
                    assert!(e.to_string().contains("paper-list"), "{e}")
                }
                other => panic!("{doc:?}: expected BadFeed, got {other:?}"),
            }
        }
        // A year whose list is empty has no papers (yet).
        let empty = "<ul class=\"paper-list\">\n</ul>";
        assert_eq!(parse_mlsys_year(empty, YEAR_URL).expect("parses"), vec![]);
    }

    #[test]
    fn parses_abstract_pages() {
        // With citation_* meta tags: they come first (the PDF's absolute URL).
        let paged = read_page(MLSYS_IDS[0]);
        assert_eq!(
            paged.title.as_deref(),
            Some("PagedKV: Memory-Efficient Serving of LLMs with Block-Sparse Caches")
        );
        assert_eq!(paged.pdf_url, site_pdf(MLSYS_IDS[0]));
        assert_eq!(
            paged.authors,
            strings(&["Amara Okafor", "Lukas Brenner", "Mei Lin Chua"])
        );
        assert_eq!(
            paged.abstract_text,
            "Serving large language models is bound by the memory of the key-value cache. We \
             store the cache in fixed-size blocks & skip blocks whose attention weight is below \
             a threshold, which cuts memory by 3× at equal quality. The kernels need no \
             retraining."
        );

        // Without them: the page's own link (relative), not the supplemental PDF.
        let learned = read_page(MLSYS_IDS[1]);
        assert_eq!(learned.title, None);
        assert_eq!(learned.pdf_url, site_pdf(MLSYS_IDS[1]));
        assert_eq!(
            learned.authors,
            strings(&["Rafael Quintero", "Ingrid Solberg"])
        );
        assert!(
            learned
                .abstract_text
                .starts_with("Autotuners spend most of their time"),
            "{}",
            learned.abstract_text
        );
        assert!(learned.abstract_text.ends_with("a tenth of the time."));

        // Only Bibtex and supplemental material: no PDF.
        let speculative = read_page(MLSYS_IDS[3]);
        assert_eq!(speculative.pdf_url, None);
        assert!(speculative.abstract_text.starts_with("Agents on phones"));

        // Meta authors as `Last, First` are turned around when the page lists none.
        let meta_only = parse_mlsys_abstract(
            "<meta name=citation_author content=\"Okafor, Amara\">\
             <meta name=citation_author content=\"Plato\">\
             <meta name=citation_abstract content=\"From the meta tag.\">",
            YEAR_URL,
        );
        assert_eq!(meta_only.authors, strings(&["Amara Okafor", "Plato"]));
        assert_eq!(meta_only.abstract_text, "From the meta tag.");
    }

    #[test]
    fn entries_say_what_is_missing() {
        let listing = MlsysListing {
            title: "From the year page".to_owned(),
            authors: strings(&["Listed Author"]),
            abstract_url: Some(abstract_url("beef")),
        };
        let entry = mlsys_entry(2024, listing.clone(), Some(read_page(MLSYS_IDS[1])), None);
        assert_eq!(entry.source, "mlsys");
        assert_eq!(entry.source_id, "beef");
        assert_eq!(entry.title, "From the year page");
        assert_eq!(entry.authors, strings(&["Listed Author"]));
        assert_eq!(entry.venue.as_deref(), Some("MLSys 2024"));
        assert_eq!(entry.problem, None);

        let no_pdf = mlsys_entry(2024, listing, Some(read_page(MLSYS_IDS[3])), None);
        let problem = no_pdf.problem.as_deref().expect("no PDF is a problem");
        assert!(problem.contains("no link to the paper's PDF"), "{problem}");

        let untitled = mlsys_entry(
            2024,
            MlsysListing::default(),
            None,
            Some("its abstract page could not be read".to_owned()),
        );
        let problem = untitled.problem.as_deref().expect("problems");
        assert!(problem.contains("could not be read"), "{problem}");
        assert!(problem.contains("no title"), "{problem}");
        assert_eq!(untitled.source_id, "");
    }

    fn mlsys_query(year: u32, search: Option<&str>, max_results: u32) -> FeedQuery {
        FeedQuery::Mlsys {
            year,
            search: search.map(str::to_owned),
            max_results,
        }
    }

    #[tokio::test]
    async fn fetch_mlsys_reads_every_page_politely_and_keeps_problems() {
        let _turn = alone().await;
        let (base, log) = mlsys_server().await;
        let cfg = test_config(&base);
        let entries = fetch(&http_client(&cfg), &cfg, &mlsys_query(2024, None, 50))
            .await
            .expect("fetches");
        assert_eq!(entries.len(), 6, "{entries:#?}");
        assert!(entries.iter().all(|e| e.source == "mlsys"));
        let ids: Vec<&str> = entries.iter().map(|e| e.source_id.as_str()).collect();
        assert_eq!(
            ids,
            [
                MLSYS_IDS[0],
                MLSYS_IDS[1],
                MLSYS_IDS[2],
                MLSYS_IDS[3],
                "",
                MLSYS_IDS[4]
            ]
        );
        // The meta tag's absolute link to the site is the configured site here.
        assert_eq!(
            entries[0].pdf_url.as_deref(),
            Some(
                format!(
                    "{base}/paper_files/paper/2024/file/{}-Paper-Conference.pdf",
                    MLSYS_IDS[0]
                )
                .as_str()
            )
        );
        assert!(entries[..3].iter().all(|e| e.problem.is_none()));
        let problem = |i: usize| entries[i].problem.clone().unwrap_or_default();
        assert!(
            problem(3).contains("no link to the paper's PDF"),
            "{}",
            problem(3)
        );
        assert!(
            problem(4).contains("without a link to its abstract page"),
            "{}",
            problem(4)
        );
        assert_eq!(
            entries[4].title,
            "Withdrawn: Scheduling LLM Training Jobs Across Regions"
        );
        // A missing abstract page is that entry's problem (a 404 is not retried).
        assert!(problem(5).contains("HTTP 404"), "{}", problem(5));
        assert_eq!(entries[5].title, "IO-Aware Sorting on Accelerators");

        // The year page, then the five abstract pages, interval-ms apart.
        let requests = log.lock().expect("log lock").clone();
        assert_eq!(requests.len(), 6, "{requests:?}");
        assert_eq!(requests[0].0, "/paper_files/paper/2024");
        assert_paced(requests[0].1, requests[5].1, 5, &cfg);
    }

    #[tokio::test]
    async fn fetch_mlsys_searches_titles_and_abstracts() {
        let _turn = together().await;
        let (base, log) = mlsys_server().await;
        let cfg = test_config(&base);
        let http = http_client(&cfg);
        let entries = fetch(&http, &cfg, &mlsys_query(2024, Some("llm"), 50))
            .await
            .expect("fetches");
        let found: Vec<(&str, &str)> = entries
            .iter()
            .map(|e| (e.source_id.as_str(), e.title.as_str()))
            .collect();
        // By title (PagedKV, the speculative decoding paper without a PDF, the withdrawn one
        // without a link) and by abstract only (the cost models); not the compression paper
        // ("smallmodels") nor the sorting one.
        assert_eq!(
            found,
            [
                (
                    MLSYS_IDS[0],
                    "PagedKV: Memory-Efficient Serving of LLMs with Block-Sparse Caches"
                ),
                (
                    MLSYS_IDS[1],
                    "Learned Cost Models for Tensor Program Autotuning"
                ),
                (
                    MLSYS_IDS[3],
                    "Speculative Decoding for LLM Agents on the Edge"
                ),
                ("", "Withdrawn: Scheduling LLM Training Jobs Across Regions"),
            ]
        );
        assert_eq!(paths(&log).len(), 6);

        // At most max_results matching entries: the pages after them are not read.
        let before = paths(&log).len();
        let two = fetch(&http, &cfg, &mlsys_query(2024, Some("LLM"), 2))
            .await
            .expect("fetches");
        let ids: Vec<&str> = two.iter().map(|e| e.source_id.as_str()).collect();
        assert_eq!(ids, [MLSYS_IDS[0], MLSYS_IDS[1]]);
        let asked = &paths(&log)[before..];
        assert_eq!(asked.len(), 3, "{asked:?}");
    }

    #[tokio::test]
    async fn fetch_mlsys_failures() {
        let _turn = together().await;
        let (base, log) = mlsys_server().await;
        let cfg = test_config(&base);
        let http = http_client(&cfg);
        // A year without a page: the site's 404, not retried.
        match fetch(&http, &cfg, &mlsys_query(2019, None, 5)).await {
            Err(e @ SourceError::Http { status: 404, .. }) => assert!(!e.is_retryable()),
            other => panic!("expected HTTP 404, got {other:?}"),
        }
        // An implausible year or a bad term is refused before any request.
        let before = paths(&log).len();
        assert!(matches!(
            fetch(&http, &cfg, &mlsys_query(24, None, 5)).await,
            Err(SourceError::BadQuery(_))
        ));
        assert!(matches!(
            fetch(
                &http,
                &cfg,
                &mlsys_query(2024, Some("a \"quoted\" term"), 5)
            )
            .await,
            Err(SourceError::BadQuery(_))
        ));
        assert_eq!(paths(&log).len(), before);
        // An abstract page off the configured site is not fetched; the entry says why.
        let elsewhere = fetch(&http, &cfg, &mlsys_query(2025, None, 5))
            .await
            .expect("fetches");
        assert_eq!(elsewhere.len(), 1);
        let problem = elsewhere[0].problem.as_deref().expect("a problem");
        assert!(
            problem.contains("not on sources.mlsys-url's site"),
            "{problem}"
        );
        assert_eq!(
            paths(&log).last().map(String::as_str),
            Some("/paper_files/paper/2025")
        );
        // An abstract page that answers 503 fails the fetch, to be retried.
        match fetch(&http, &cfg, &mlsys_query(2026, None, 5)).await {
            Err(e @ SourceError::Http { status: 503, .. }) => assert!(e.is_retryable()),
            other => panic!("expected HTTP 503, got {other:?}"),
        }
    }
}
