//! Ingestion end to end: `annapurna ingest` starts IngestPapers on a real Temporal server; the
//! feeds are local HTTP servers answering in the arXiv API's Atom, the OpenReview API v2's JSON
//! and the MLSys proceedings' HTML pages (fixtures in `tests/fixtures/feeds/`), with PDFs that are good, not PDFs, unreadable, or too
//! large. Malformed entries and bad PDFs fail alone, with their reasons; the judge (the stand-in's
//! template) indexes some papers and rejects others, which are kept; `--batch` then runs
//! PaperBatch over the indexed ones. A Temporal Schedule created by `annapurna schedule create`
//! starts the same workflow.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use annapurna_tests::{Stack, assert_success, papers_dir};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use lopdf::content::{Content, Operation};
use lopdf::{Document, Object, Stream, dictionary};
use workflows::types::IngestSummary;
use workflows::{IngestPapers, PaperBatch};

/// A one-page PDF with `lines` of text in Helvetica.
fn pdf_with(lines: &[&str]) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
    });
    let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
    let mut operations = vec![
        Operation::new("BT", vec![]),
        Operation::new("Tf", vec!["F1".into(), 11.into()]),
        Operation::new("TL", vec![14.into()]),
        Operation::new("Td", vec![50.into(), 780.into()]),
    ];
    for line in lines {
        operations.push(Operation::new("Tj", vec![Object::string_literal(*line)]));
        operations.push(Operation::new("T*", vec![]));
    }
    operations.push(Operation::new("ET", vec![]));
    let content = Content { operations };
    let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().unwrap()));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1,
            "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

/// A paper-like PDF: title, abstract heading, a few paragraphs' worth of lines.
fn paper_pdf(title: &str, topic: &str) -> Vec<u8> {
    let mut lines = vec![title.to_owned(), String::new(), "Abstract".to_owned()];
    for i in 0..12 {
        lines.push(format!(
            "Line {i} of a short fixture paper about {topic}, written for the ingestion test."
        ));
    }
    lines.push("1 Introduction".into());
    lines.push(format!("We study {topic} and report what we measured."));
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    pdf_with(&refs)
}

/// Papers of the MLSys fixture (`fixtures/feeds/mlsys-2024/`), by the hash in their addresses:
/// "LLMs" in the title; "(LLM)" only in the abstract; no LLM ("smallmodels" is not one); "LLM"
/// in the title but no PDF link.
const MLSYS_PAGED_KV: &str = "3c9f1e0a7b2d4c8e9f0a1b2c3d4e5f60";
const MLSYS_COST_MODELS: &str = "7a1b2c3d4e5f60718293a4b5c6d7e8f9";
const MLSYS_COMPRESSION: &str = "b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5";
const MLSYS_NO_PDF: &str = "c4d5e6f708192a3b4c5d6e7f8091a2b3";

struct Feeds {
    base: String,
    pdfs: BTreeMap<String, Vec<u8>>,
    /// PDF requests so far.
    pdf_requests: std::sync::atomic::AtomicUsize,
    /// Text replaced in the arXiv feed before the base URL is filled in (hostile links).
    rewrites: Vec<(String, String)>,
}

async fn arxiv(State(f): State<Arc<Feeds>>) -> Response {
    let mut xml = std::fs::read_to_string(fixture("arxiv-cs-lg.xml")).unwrap();
    for (from, to) in &f.rewrites {
        xml = xml.replace(from, to);
    }
    let xml = xml.replace("http://127.0.0.1:9", &f.base);
    ([(header::CONTENT_TYPE, "application/atom+xml")], xml).into_response()
}

async fn openreview(State(f): State<Arc<Feeds>>) -> Response {
    let json = std::fs::read_to_string(fixture("openreview-iclr-2024.json"))
        .unwrap()
        .replace("http://127.0.0.1:9", &f.base);
    ([(header::CONTENT_TYPE, "application/json")], json).into_response()
}

async fn pdf(State(f): State<Arc<Feeds>>, Path(name): Path<String>) -> Response {
    f.pdf_requests
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    match f.pdfs.get(&name) {
        Some(bytes) => ([(header::CONTENT_TYPE, "application/pdf")], bytes.clone()).into_response(),
        None if name.starts_with("2611.05177") => (
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body>Please solve this challenge to continue.</body></html>",
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such pdf").into_response(),
    }
}

/// The MLSys site: the 2024 year page and its abstract pages, their absolute links to the real
/// site pointed at this server.
async fn mlsys(State(f): State<Arc<Feeds>>, uri: axum::http::Uri) -> Response {
    let file = match uri.path().strip_prefix("/paper_files/paper/2024") {
        Some("") => "index.html",
        Some(page) => page.trim_start_matches('/'),
        None => "",
    };
    match std::fs::read_to_string(fixture("mlsys-2024").join(file)) {
        Ok(html) if !file.is_empty() => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html.replace("https://proceedings.mlsys.org", &f.base),
        )
            .into_response(),
        _ => (StatusCode::NOT_FOUND, "<h1>Not Found</h1>").into_response(),
    }
}

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/feeds")
        .join(name)
}

/// Serves the feeds and the PDFs; returns its base URL and its state.
async fn start_feeds() -> (String, Arc<Feeds>) {
    start_feeds_with(Vec::new()).await
}

async fn start_feeds_with(rewrites: Vec<(String, String)>) -> (String, Arc<Feeds>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let attention = std::fs::read(papers_dir().join("attention-is-all-you-need.pdf")).unwrap();
    let mut pdfs = BTreeMap::new();
    // arXiv: the mixture-of-experts paper and the adapters paper are good PDFs; 05177 answers
    // with an HTML page; 06002 has no link and 06340 no title (malformed entries).
    pdfs.insert(
        "2611.04821v1".to_owned(),
        paper_pdf(
            "Sparse Mixture-of-Experts Routing",
            "routing tokens to experts in sparse mixture-of-experts layers",
        ),
    );
    pdfs.insert(
        "2611.07115v3".to_owned(),
        paper_pdf(
            "Low-Rank Adapters Forget Less",
            "continual fine-tuning with low-rank adapters",
        ),
    );
    // OpenReview: token merging is the real attention paper's PDF; the diffusion policy's PDF is
    // unreadable; the curriculum paper's is over the size limit (3 MiB against 2.5 MiB).
    pdfs.insert("Tq7LmW4sZe".to_owned(), attention);
    pdfs.insert(
        "3f1c9a07be52d4e8c61a0b9f77e2d5c4a1b8e6f0.pdf".to_owned(),
        b"%PDF-1.5\nthis is not a PDF body at all\n%%EOF\n".to_vec(),
    );
    let mut big = b"%PDF-1.5\n".to_vec();
    big.resize(3 * 1024 * 1024, b' ');
    pdfs.insert(
        "9a4e0c27d1b3f58e6a72c04d1e9b3f8a6c5d2e17.pdf".to_owned(),
        big,
    );
    // MLSys: the two papers with "LLM" in the title or abstract and one without (never fetched
    // when searching for it).
    for (hash, title, topic) in [
        (
            MLSYS_PAGED_KV,
            "PagedKV: Memory-Efficient Serving of LLMs",
            "serving LLMs with block-sparse key-value caches",
        ),
        (
            MLSYS_COST_MODELS,
            "Learned Cost Models for Tensor Program Autotuning",
            "autotuning tensor programs with learned cost models",
        ),
        (
            MLSYS_COMPRESSION,
            "Compress and Overlap",
            "gradient compression inside collective communication",
        ),
    ] {
        pdfs.insert(
            format!("{hash}-Paper-Conference.pdf"),
            paper_pdf(title, topic),
        );
    }
    let state = Arc::new(Feeds {
        base: base.clone(),
        pdfs,
        pdf_requests: Default::default(),
        rewrites,
    });
    let shared = state.clone();
    let app = Router::new()
        .route("/api/query", get(arxiv))
        .route("/notes", get(openreview))
        .route("/pdf/{name}", get(pdf))
        .route("/paper_files/paper/2024/file/{name}", get(pdf))
        .route("/paper_files/paper/2024", get(mlsys))
        .route("/paper_files/paper/2024/{*page}", get(mlsys))
        .with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, shared)
}

async fn stack_with_feeds(base: &str) -> Stack {
    Stack::start_with_env(
        &[],
        &[
            ("ANNAPURNA_SOURCES__ARXIV_URL", &format!("{base}/api/query")),
            ("ANNAPURNA_SOURCES__OPENREVIEW_URL", base),
            ("ANNAPURNA_SOURCES__MLSYS_URL", base),
            ("ANNAPURNA_SOURCES__INTERVAL_MS", "10"),
            ("ANNAPURNA_SOURCES__PDF_MAX_BYTES", "2621440"),
            (
                "ANNAPURNA_MODELS__JUDGE__PROFILE",
                "Sparse mixture-of-experts routing; attention in transformers.",
            ),
        ],
    )
    .await
}

fn started_id(out: &std::process::Output) -> String {
    assert_success(out, "annapurna ingest");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .expect("the workflow id on stdout")
        .trim()
        .to_owned()
}

/// Every (activity, task queue) the workflow scheduled, from its history as the Temporal CLI shows it.
fn activity_queues(stack: &Stack, workflow_id: &str) -> BTreeSet<(String, String)> {
    let out = stack.temporal(&[
        "workflow",
        "show",
        "--workflow-id",
        workflow_id,
        "-o",
        "json",
    ]);
    let history: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    history["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e.get("activityTaskScheduledEventAttributes"))
        .map(|a| {
            (
                a["activityType"]["name"].as_str().unwrap_or("").to_owned(),
                a["taskQueue"]["name"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// The activity rate limit the server holds for `queue`, as its pollers set it.
fn poller_rate(stack: &Stack, queue: &str) -> Option<f64> {
    let out = stack.temporal(&[
        "task-queue",
        "describe",
        "--task-queue",
        queue,
        "--task-queue-type",
        "activity",
        "-o",
        "json",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let described: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    find_number(&described, "ratePerSecond")
}

/// The first number under `key` anywhere in `value`.
fn find_number(value: &serde_json::Value, key: &str) -> Option<f64> {
    match value {
        serde_json::Value::Object(map) => map
            .get(key)
            .and_then(|v| v.as_f64())
            .or_else(|| map.values().find_map(|v| find_number(v, key))),
        serde_json::Value::Array(items) => items.iter().find_map(|v| find_number(v, key)),
        _ => None,
    }
}

#[tokio::test]
async fn feeds_to_indexed_papers_to_a_batch() {
    let (base, feeds) = start_feeds().await;
    let stack = stack_with_feeds(&base).await;
    let started = Instant::now();
    let out = stack.annapurna(&[
        "ingest",
        "--arxiv",
        "cs.LG",
        "--days",
        "7",
        "--openreview",
        "ICLR:2024",
        "--max-results",
        "5",
        "--batch",
        "--no-execute",
    ]);
    let id = started_id(&out);
    assert!(id.starts_with("ingest/"), "{id}");
    let summary: IngestSummary = stack.result::<IngestPapers>(&id, 300).await;

    // For BENCHMARKS.md (not asserted).
    eprintln!("ingestion of 9 entries: {:?}", started.elapsed());
    // 5 arXiv entries + 4 OpenReview notes.
    assert_eq!(summary.entries, 9, "{summary:#?}");
    let by_key: BTreeMap<&str, &str> = summary
        .items
        .iter()
        .map(|i| (i.key.as_str(), i.outcome.as_str()))
        .collect();
    assert_eq!(by_key["arxiv:2611.04821v1"], "indexed", "{summary:#?}");
    assert_eq!(by_key["openreview:Tq7LmW4sZe"], "indexed", "{summary:#?}");
    assert_eq!(by_key["arxiv:2611.07115v3"], "rejected", "{summary:#?}");
    let failed_with = |key: &str, what: &str| {
        let outcome = by_key[key];
        assert!(
            outcome.starts_with("failed: ") && outcome.contains(what),
            "{key}: {outcome:?} should be a failure naming {what:?}"
        );
    };
    failed_with("arxiv:2611.06002v1", "no PDF link");
    failed_with("arxiv:2611.06340v1", "title");
    failed_with("openreview:Bn5cYd8fHw", "malformed feed entry");
    failed_with("arxiv:2611.05177v2", "HTML");
    failed_with("openreview:kX3vR9pQ2m", "kept at");
    failed_with("openreview:Vr2eGk6nPa", "2621440");
    assert_eq!(summary.new_papers, 3);
    assert_eq!(summary.indexed, 2);
    assert_eq!(summary.rejected, 1);
    assert_eq!(summary.failed.values().sum::<u32>(), 6, "{summary:#?}");
    assert!(summary.standin, "the judge was the stand-in and says so");
    assert!(summary.input_tokens > 0);

    // The store: indexed and rejected papers are both kept, with the judge's verdict; the
    // unreadable PDF is kept under raw/.
    let papers = stack.papers();
    assert_eq!(papers.len(), 3, "{papers:#?}");
    let rejected = papers
        .iter()
        .find(|p| {
            p["title"]
                == "Low-Rank Adapters Forget Less: A Controlled Study of Continual Fine-Tuning"
        })
        .expect("the rejected paper is kept, with the feed's title");
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["judgement"]["pass"], false);
    assert!(
        rejected["judgement"]["reasons"][0]
            .as_str()
            .unwrap()
            .contains("ANNAPURNA-STANDIN"),
        "{rejected}"
    );
    assert_eq!(rejected["origin"]["source"], "arxiv");
    let raw = stack.dir.path().join("blobs/raw/openreview");
    assert_eq!(
        std::fs::read_dir(&raw).map(|d| d.count()).unwrap_or(0),
        1,
        "the unreadable PDF is kept under {}",
        raw.display()
    );

    // The batch over the indexed papers (started as a child that outlives the ingestion).
    let batch_id = summary
        .batch_workflow_id
        .clone()
        .expect("a batch was started");
    let batch = stack.result::<PaperBatch>(&batch_id, 300).await;
    assert_eq!(batch.selected, 2, "{batch:#?}");
    assert_eq!(batch.completed, 2, "{batch:#?}");
    let ran: Vec<&str> = batch.items.iter().map(|i| i.paper_id.as_str()).collect();
    let indexed: Vec<&str> = summary
        .items
        .iter()
        .filter(|i| i.outcome == "indexed")
        .filter_map(|i| i.paper_id.as_deref())
        .collect();
    let mut indexed_sorted = indexed.clone();
    indexed_sorted.sort();
    assert_eq!(ran, indexed_sorted);

    // Feed requests and downloads ran on their source's own queue, whose pace the server holds
    // for every worker: one request per `sources.interval-ms` (10 ms here, so 100 a second).
    let queues = activity_queues(&stack, &id);
    for (activity, source) in [
        ("FetchFeed", "arxiv"),
        ("FetchFeed", "openreview"),
        ("DownloadPaper", "arxiv"),
        ("DownloadPaper", "openreview"),
    ] {
        let queue = format!("annapurna-fetch-{source}");
        assert!(
            queues.contains(&(activity.to_owned(), queue.clone())),
            "{activity} on {queue}: {queues:?}"
        );
    }
    assert!(
        !queues
            .iter()
            .any(|(a, q)| (a == "FetchFeed" || a == "DownloadPaper") && q == "annapurna"),
        "{queues:?}"
    );
    assert!(queues.contains(&("JudgePaper".to_owned(), "annapurna-llm".to_owned())));
    for source in ["arxiv", "openreview", "mlsys"] {
        let rate = poller_rate(&stack, &format!("annapurna-fetch-{source}"));
        assert_eq!(rate, Some(100.0), "the server's pace for {source}");
    }

    stack.record_history(&id, "ingest-fetch-queues.json");
    // The ingestion's history replays against the current workflow code.
    stack.annapurna_ok(&["replay", &id]);

    // Ingesting the same feeds again stores nothing new, judges nothing again, and downloads
    // only what failed before (the HTML page): entries seen before are known by their id.
    let pdfs_before = feeds.pdf_requests.load(std::sync::atomic::Ordering::SeqCst);
    let again = started_id(&stack.annapurna(&["ingest", "--arxiv", "cs.LG", "--max-results", "5"]));
    let again: IngestSummary = stack.result::<IngestPapers>(&again, 300).await;
    assert_eq!(again.new_papers, 0, "{again:#?}");
    assert_eq!(again.already_stored, 2, "{again:#?}");
    assert_eq!(again.input_tokens, 0, "no judge call the second time");
    assert_eq!(
        feeds.pdf_requests.load(std::sync::atomic::Ordering::SeqCst) - pdfs_before,
        1,
        "only the entry that failed is fetched again"
    );
}

/// MLSys proceedings searched for a term: the year page and each abstract page are read in order;
/// a paper with the term in its title or only in its abstract is indexed, one without it is never
/// downloaded, one without a PDF link fails alone, and `--max-results` counts matching papers
/// (the year page's fourth match is not read).
#[tokio::test]
async fn an_mlsys_year_searched_for_a_term() {
    let (base, feeds) = start_feeds().await;
    let stack = stack_with_feeds(&base).await;
    let id = started_id(&stack.annapurna(&[
        "ingest",
        "--mlsys",
        "2024",
        "--search",
        "LLM",
        "--max-results",
        "3",
        "--no-judge",
    ]));
    let summary: IngestSummary = stack.result::<IngestPapers>(&id, 300).await;
    let by_key: BTreeMap<&str, &str> = summary
        .items
        .iter()
        .map(|i| (i.key.as_str(), i.outcome.as_str()))
        .collect();
    assert_eq!(summary.entries, 3, "{summary:#?}");
    let key = |hash: &str| format!("mlsys:{hash}");
    assert_eq!(
        by_key[key(MLSYS_PAGED_KV).as_str()],
        "indexed",
        "{summary:#?}"
    );
    assert_eq!(
        by_key[key(MLSYS_COST_MODELS).as_str()],
        "indexed",
        "the term only in the abstract: {summary:#?}"
    );
    let no_pdf = by_key[key(MLSYS_NO_PDF).as_str()];
    assert!(
        no_pdf.starts_with("failed: ") && no_pdf.contains("no link to the paper's PDF"),
        "{no_pdf}"
    );
    // Filtered out by the term, or past --max-results: not entries at all.
    assert!(
        !by_key.contains_key(key(MLSYS_COMPRESSION).as_str()),
        "{summary:#?}"
    );
    assert!(
        !by_key.keys().any(|k| k.starts_with("mlsys:entry-")),
        "{summary:#?}"
    );
    assert_eq!(summary.indexed, 2, "{summary:#?}");
    assert_eq!(
        feeds.pdf_requests.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "only the matching papers' PDFs are downloaded"
    );

    // The store: the feed's title, abstract and venue, from the abstract pages.
    let papers = stack.papers();
    assert_eq!(papers.len(), 2, "{papers:#?}");
    assert!(
        papers.iter().all(|p| p["origin"]["source"] == "mlsys"
            && p["origin"]["venue"] == "MLSys 2024"
            && p["status"] == "indexed"),
        "{papers:#?}"
    );
    let cost_models = papers
        .iter()
        .find(|p| p["title"] == "Learned Cost Models for Tensor Program Autotuning")
        .expect("the paper matched by its abstract");
    assert!(
        cost_models["origin"]["abstract_text"]
            .as_str()
            .is_some_and(|a| a.contains("large language model (LLM)")),
        "{cost_models}"
    );
    assert_eq!(
        cost_models["origin"]["authors"],
        serde_json::json!(["Rafael Quintero", "Ingrid Solberg"])
    );
}

#[tokio::test]
async fn bad_feed_arguments_are_refused_before_anything_starts() {
    let stack = Stack::start(&[]).await;
    let none = stack.annapurna(&["ingest"]);
    assert!(!none.status.success());
    assert!(
        String::from_utf8_lossy(&none.stderr).contains("--arxiv"),
        "{}",
        String::from_utf8_lossy(&none.stderr)
    );
    let venue = stack.annapurna(&["ingest", "--openreview", "ICLR2024"]);
    assert!(!venue.status.success());
    assert!(String::from_utf8_lossy(&venue.stderr).contains("VENUE:YEAR"));
    // A venue the source does not know, or a bad date, is named before anything starts.
    let out = stack.annapurna(&["ingest", "--openreview", "CVPR:2024"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ICLR") && err.contains("NeurIPS"), "{err}");
    let out = stack.annapurna(&["ingest", "--arxiv", "cs.LG", "--from", "2026-02-30"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("2026-02-30"));
    // A feed that cannot be read is reported in the summary; the ingestion itself completes.
    let out = stack.annapurna_ok(&[
        "ingest",
        "--arxiv",
        "cs.LG",
        "--max-results",
        "2000",
        "--follow",
    ]);
    let summary: IngestSummary =
        serde_json::from_slice(&out.stdout[out.stdout.iter().position(|b| *b == b'{').unwrap()..])
            .unwrap();
    assert_eq!(summary.entries, 0);
    let reason = summary.failed.keys().next().expect("the feed's failure");
    assert!(reason.contains("max_results 2000"), "{reason}");
}

#[tokio::test]
async fn a_schedule_starts_ingestion() {
    let (base, _feeds) = start_feeds().await;
    let stack = stack_with_feeds(&base).await;
    stack.annapurna_ok(&[
        "schedule",
        "create",
        "daily-cs-lg",
        "--cron",
        "0 6 * * *",
        "--arxiv",
        "cs.LG",
        "--days",
        "1",
        "--max-results",
        "5",
        "--no-judge",
        "--trigger-now",
    ]);
    // The immediate trigger starts IngestPapers as ingest/daily-cs-lg-<time>.
    let deadline = Instant::now() + Duration::from_secs(120);
    let described = loop {
        let d = stack.annapurna_ok(&["schedule", "describe", "daily-cs-lg"]);
        let v: serde_json::Value = serde_json::from_slice(&d.stdout).unwrap();
        if v["recent_workflows"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
        {
            break v;
        }
        assert!(Instant::now() < deadline, "the schedule never started: {v}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(described["next"].as_array().unwrap().len(), 5);
    let wf = described["recent_workflows"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(wf.starts_with("ingest/daily-cs-lg"), "{wf}");
    let summary: IngestSummary = stack.result::<IngestPapers>(&wf, 300).await;
    // Without the judge, both readable arXiv papers are indexed.
    assert_eq!(summary.indexed, 2, "{summary:#?}");
    assert_eq!(summary.input_tokens, 0);
    stack.annapurna_ok(&["schedule", "delete", "daily-cs-lg"]);
    let gone = stack.annapurna(&["schedule", "describe", "daily-cs-lg"]);
    assert!(!gone.status.success());
}

/// The README's plain Temporal CLI form, and continue-as-new: 9 entries at 4 per run make three
/// runs under one workflow id, with one summary over all of them.
#[tokio::test]
async fn plain_cli_ingestion_continues_as_new() {
    let (base, _feeds) = start_feeds().await;
    let stack = stack_with_feeds(&base).await;
    let input = serde_json::json!({
        "feeds": [
            {"kind": "arxiv", "categories": ["cs.LG"], "days": 7, "max_results": 5},
            {"kind": "openreview", "venue": "ICLR", "year": 2024, "max_results": 4},
        ],
        "judge": false,
        "entries_per_run": 4,
    })
    .to_string();
    stack.start_with_cli("IngestPapers", "ingest/cli", &input);
    let summary: IngestSummary = stack.result::<IngestPapers>("ingest/cli", 300).await;
    assert_eq!(summary.entries, 9, "{summary:#?}");
    assert_eq!(summary.items.len(), 9, "{summary:#?}");
    // Without the judge every readable paper is indexed: the two arXiv PDFs and the attention PDF.
    assert_eq!(summary.indexed, 3, "{summary:#?}");
    assert_eq!(summary.failed.values().sum::<u32>(), 6, "{summary:#?}");
    assert_eq!(summary.input_tokens, 0);
    assert_eq!(stack.continued_as_new("ingest/cli"), 2);
}

/// Issue 14, item 2: PDF links inside a feed are not trusted. Links to another local port, to the
/// cloud metadata address and to a non-https host are refused before anything is sent (the
/// attacker's server counts zero requests), the good entry is still indexed, and a caller cannot
/// inject entries through `carried`.
#[tokio::test]
async fn hostile_feed_links_and_injected_state_are_refused() {
    // The attacker's server: counts every request.
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let attacker = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new().fallback(move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async { "secret-token-from-the-inside" }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let (base, feeds) = start_feeds_with(vec![
        (
            "http://127.0.0.1:9/pdf/2611.07115v3".into(),
            format!("{attacker}/latest/meta-data/"),
        ),
        (
            "http://127.0.0.1:9/pdf/2611.05177v2".into(),
            "http://169.254.169.254/latest/meta-data/iam/security-credentials/".into(),
        ),
    ])
    .await;
    let stack = stack_with_feeds(&base).await;
    let id = started_id(&stack.annapurna(&["ingest", "--arxiv", "cs.LG", "--max-results", "5"]));
    let summary: IngestSummary = stack.result::<IngestPapers>(&id, 300).await;
    let outcome = |key: &str| {
        summary
            .items
            .iter()
            .find(|i| i.key == key)
            .unwrap_or_else(|| panic!("{key} in {summary:#?}"))
            .outcome
            .clone()
    };
    assert_eq!(outcome("arxiv:2611.04821v1"), "indexed", "{summary:#?}");
    for key in ["arxiv:2611.07115v3", "arxiv:2611.05177v2"] {
        let o = outcome(key);
        assert!(o.contains("was not fetched"), "{key}: {o}");
        assert!(!o.contains("secret-token"), "{key}: {o}");
    }
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "no request may reach the attacker's server"
    );
    assert!(feeds.pdf_requests.load(std::sync::atomic::Ordering::SeqCst) >= 1);

    // `carried` is the workflow's own state between runs: a caller's is refused before any
    // activity runs (here it names a blob of the store as a feed entry).
    let injected = serde_json::json!({
        "feeds": [],
        "carried": {
            "remaining": [{
                "key": "arxiv:injected",
                "title": "injected",
                "entry": {"uri": "file:///etc/passwd", "sha256": "00", "bytes": 1},
                "problem": null
            }],
            "summary": IngestSummary::default(),
            "indexed": ["some-paper"]
        }
    });
    stack.start_with_cli("IngestPapers", "ingest/injected", &injected.to_string());
    let failed = stack.failure::<IngestPapers>("ingest/injected", 120).await;
    assert!(
        failed.contains("InvalidInput") && failed.contains("carried"),
        "{failed}"
    );
    let history = stack.temporal(&[
        "workflow",
        "show",
        "--workflow-id",
        "ingest/injected",
        "--output",
        "json",
    ]);
    let history = String::from_utf8_lossy(&history.stdout).to_lowercase();
    assert!(
        history.contains("workflowexecutionfailed")
            || history.contains("workflow_execution_failed"),
        "{history}"
    );
    assert!(
        !history.contains("activitytaskscheduled") && !history.contains("activity_task_scheduled"),
        "no activity may run for an injected carry"
    );
}

/// `annapurna judge check`: the current judge over the stored papers agrees with the decisions
/// it stored; with the profile changed (as a prompt change would be tried), it lists the papers it
/// now decides otherwise; against a labels file it reports that file's disagreements. It never
/// changes the store.
#[tokio::test]
async fn judge_check_measures_a_changed_profile_without_changing_the_store() {
    let (base, _feeds) = start_feeds().await;
    let stack = stack_with_feeds(&base).await;
    let id = started_id(&stack.annapurna(&["ingest", "--arxiv", "cs.LG", "--max-results", "5"]));
    let summary: IngestSummary = stack.result::<IngestPapers>(&id, 300).await;
    assert_eq!((summary.indexed, summary.rejected), (1, 1), "{summary:#?}");
    let before = stack.papers();

    let check = |extra_env: &[(&str, &str)], args: &[&str]| -> serde_json::Value {
        let mut cmd = stack.command();
        cmd.args(["judge", "check", "--json"]).args(args);
        cmd.envs(extra_env.iter().copied());
        let out = annapurna_tests::run_ok(&mut cmd, "annapurna judge check");
        annapurna_tests::last_line_json(&out)
    };
    // The same judge: every stored decision is made again.
    let same = check(&[], &["--sample", "10"]);
    assert_eq!(same["checked"], 2, "{same}");
    assert_eq!(same["agree"], 2, "{same}");
    assert_eq!(same["agreement"], 1.0, "{same}");
    assert_eq!(same["standin"], true, "stand-in answers say so: {same}");
    assert!(same["disagreements"].as_array().unwrap().is_empty());

    // A profile about the rejected paper's subject: both decisions flip, each listed.
    let changed = check(
        &[(
            "ANNAPURNA_MODELS__JUDGE__PROFILE",
            "Adapters that forget less under continual fine-tuning.",
        )],
        &["--sample", "10"],
    );
    assert_eq!(changed["checked"], 2, "{changed}");
    assert_eq!(changed["agree"], 0, "{changed}");
    let flips: BTreeMap<String, (String, String)> = changed["disagreements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["title"].as_str().unwrap().to_owned(),
                (
                    d["expected"].as_str().unwrap().to_owned(),
                    d["now"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect();
    let rejected = "Low-Rank Adapters Forget Less: A Controlled Study of Continual Fine-Tuning";
    assert_eq!(
        flips[rejected],
        ("fail".to_owned(), "pass".to_owned()),
        "{changed}"
    );
    assert_eq!(flips.len(), 2, "{changed}");

    // Against labels: the file's decisions, not the stored ones.
    let ids: BTreeMap<String, String> = before
        .iter()
        .map(|p| {
            (
                p["title"].as_str().unwrap().to_owned(),
                p["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let labels = stack.dir.path().join("labels.csv");
    std::fs::write(
        &labels,
        ids.values()
            .map(|id| format!("{id},pass\n"))
            .collect::<String>(),
    )
    .unwrap();
    let labelled = check(&[], &["--labels", labels.to_str().unwrap()]);
    assert_eq!(labelled["checked"], 2, "{labelled}");
    assert_eq!(labelled["agree"], 1, "{labelled}");
    assert_eq!(
        labelled["disagreements"][0]["paper_id"],
        ids[rejected].as_str()
    );

    // A label for a paper that is not stored is named.
    std::fs::write(&labels, "no-such-paper,pass\n").unwrap();
    let out = stack.annapurna(&["judge", "check", "--labels", labels.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no-such-paper"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Nothing stored changed.
    assert_eq!(stack.papers(), before);
}
