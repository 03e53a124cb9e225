//! PaperToCode end to end: real Temporal dev server, real `annapurna worker` process, the real AWS
//! SDK client against the Bedrock stand-in, a real SQLite file and blob directory.

use annapurna_tests::{
    Stack, files_under, history_events, paper_input, py_compiles, read_json, real_papers,
    source_input, strings_of, wait_failure, wait_result,
};
use prost::Message;
use temporalio_common::protos::temporal::api::history::v1::HistoryEvent;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use workflows::PaperToCode;
use workflows::names::paper_workflow_id;
use workflows::types::{PaperToCodeInput, PaperToCodeOutput};

/// Temporal warns at 256 KB per payload; an event holds its payloads, so bounding every event
/// bounds every payload.
const PAYLOAD_LIMIT: usize = 256 * 1024;

async fn largest_event(stack: &Stack, workflow_id: &str) -> (usize, usize) {
    let handle = stack.client.get_workflow_handle::<PaperToCode>(workflow_id);
    let events = history_events(&handle).await.unwrap();
    assert_fairness_keys(&events, workflow_id);
    let sizes: Vec<usize> = events.iter().map(|e| e.encoded_len()).collect();
    (sizes.iter().copied().max().unwrap_or(0), sizes.iter().sum())
}

/// Each model call carries the paper's fairness key, so the server round-robins the model
/// queue across papers; local work carries none.
fn assert_fairness_keys(events: &[HistoryEvent], workflow_id: &str) {
    let mut model_calls = 0;
    for event in events {
        let Some(Attributes::ActivityTaskScheduledEventAttributes(a)) = &event.attributes else {
            continue;
        };
        let queue = a.task_queue.as_ref().map(|q| q.name.as_str()).unwrap_or("");
        let key = a
            .priority
            .as_ref()
            .map(|p| p.fairness_key.as_str())
            .unwrap_or("");
        if queue == workflows::names::LLM_TASK_QUEUE {
            model_calls += 1;
            assert_eq!(
                key, workflow_id,
                "{workflow_id}: a model call's fairness key"
            );
        } else {
            assert_eq!(key, "", "{workflow_id}: a fairness key on {queue}");
        }
    }
    assert!(
        model_calls > 0,
        "{workflow_id}: no model call in the history"
    );
}

/// Every real paper: added with the CLI (twice: same id, no duplicate), run through PaperToCode
/// in several chunks, its code compiles, its results say they came from the stand-in, and no
/// event of its history comes near Temporal's payload limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_real_paper_end_to_end() {
    let stack = Stack::start(&[]).await;
    let papers = real_papers();
    assert!(
        papers.len() >= 9,
        "expected the nine papers of ../shared/papers"
    );
    let mut ids = Vec::new();
    for p in &papers {
        let id = stack.add_paper(p);
        assert_eq!(
            stack.add_paper(p),
            id,
            "{}: adding twice changed the id",
            p.display()
        );
        ids.push(id);
    }
    let listed = serde_json::Value::from(stack.papers());
    assert_eq!(
        listed.as_array().unwrap().len(),
        papers.len(),
        "duplicates in the paper store"
    );
    // Titles come out readable: from the PDF's text (past its licence notice) and from LaTeX
    // with the paper's own macros expanded.
    let titles = strings_of(&listed, "title");
    for expected in [
        "Attention Is All You Need",
        "TabDiff: a Mixed-type Diffusion Model for Tabular Data Generation",
        "Transformers without Normalization",
    ] {
        assert!(
            titles.contains(&expected),
            "{expected:?} not among {titles:?}"
        );
    }

    // Start them all, then collect: the papers run side by side on the one worker.
    let started = std::time::Instant::now();
    let mut handles = Vec::new();
    for id in &ids {
        let input = PaperToCodeInput {
            max_chunk_tokens: Some(4_000),
            // Execution has its own tests; nine papers of torch at once would only be slow.
            execute: Some(false),
            ..paper_input(id)
        };
        let handle = stack.start_paper(&paper_workflow_id(id), input).await;
        handles.push(handle.unwrap());
    }
    let mut outputs: Vec<PaperToCodeOutput> = Vec::new();
    for handle in &handles {
        outputs.push(wait_result(handle, 300).await);
    }
    for (id, out) in ids.iter().zip(&outputs) {
        assert_eq!(&out.paper_id, id);
        assert_eq!(out.outcome, "succeeded", "{id}");
        assert!(
            out.standin,
            "{id}: the result must say the stand-in answered"
        );
        assert!(
            out.chunks >= 2,
            "{id}: {} chunks at 4000 tokens",
            out.chunks
        );
        let dir = Stack::path_of(&out.results);
        let code = dir.join("code.py");
        assert!(py_compiles(&code), "{id}: generated code does not compile");
        assert!(
            std::fs::read_to_string(&code)
                .unwrap()
                .contains("ANNAPURNA-STANDIN")
        );
        let summaries = std::fs::read_dir(dir.join("summaries")).unwrap().count();
        assert_eq!(summaries as u32, out.chunks, "{id}: one summary per chunk");
        let meta = read_json(&dir.join("metadata.json"));
        assert_eq!(meta["standin"], true);
        assert!(meta["notice"].as_str().unwrap().contains("stand-in"));
        assert_eq!(meta["chunks"], out.chunks);
        assert!(meta["tokens"]["input"].as_u64().unwrap() > 0);
        assert!(
            meta["estimated_cost_usd"].as_f64().unwrap() > 0.0,
            "{id}: no cost estimate"
        );
        assert!(meta["timings"].as_array().unwrap().len() >= 5);
        if id.starts_with("decoupled-knowledge-distillation") {
            assert_eq!(out.dataset, "cifar100", "the KD paper names CIFAR-100 most");
            assert_eq!(meta["dataset"]["source"], "pattern");
        }
        let (largest, total) = largest_event(&stack, &paper_workflow_id(id)).await;
        assert!(largest < PAYLOAD_LIMIT, "{id}: an event of {largest} bytes");
        eprintln!(
            "{id}: {} chunks, largest event {largest} B, history {total} B",
            out.chunks
        );
    }
    eprintln!(
        "{} papers in {:.1} s; worker peak RSS {:?} KiB",
        ids.len(),
        started.elapsed().as_secs_f64(),
        stack.worker.as_ref().and_then(|w| w.peak_rss_kib())
    );
    // The paper store knows each run's outcome.
    let shown = stack.show_paper(&ids[0]);
    assert_eq!(shown["paper"]["status"], "succeeded");
    assert_eq!(shown["runs"].as_array().unwrap().len(), 1);
}

/// The plain Temporal CLI starts a paper exactly as the README says, and with the stand-in
/// writing broken code, the review round finds it (truncated code in the repository's entry point)
/// and the fix repairs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporal_cli_start_and_review_fix_round() {
    let stack = Stack::start(&["--broken-code"]).await;
    let id = stack.add_example();
    let workflow_id = paper_workflow_id(&id);
    let input = format!("{{\"paper_id\":\"{id}\"}}");
    stack.start_with_cli("PaperToCode", &workflow_id, &input);
    let result = stack.result::<PaperToCode>(&workflow_id, 180).await;
    assert_eq!(result.outcome, "succeeded");
    let dir = Stack::path_of(&result.results);
    assert!(
        !py_compiles(&dir.join("generated.py")),
        "the stand-in was told to write broken code"
    );
    assert!(py_compiles(&dir.join("code.py")), "the fix must compile");
    // The planned repository's entry point was written broken; its own review round found it.
    let round = read_json(&dir.join("review/round-1-train.py.json"));
    assert_eq!(
        round["static_findings"][0]["rule"], "truncated-code",
        "{round}"
    );
    assert!(round["fixed_code"].is_object());
    let diff = std::fs::read_to_string(dir.join("review/round-1-train.py.diff")).unwrap();
    assert!(
        diff.contains("-") && diff.contains("+") && diff.contains("flush=True)"),
        "{diff}"
    );
    let check = read_json(&dir.join("check.json"));
    assert_eq!(check["findings"].as_array().unwrap().len(), 0, "{check}");
    // The progress query, as the README shows it with the plain CLI.
    let query = stack.temporal(&[
        "workflow",
        "query",
        "--workflow-id",
        &workflow_id,
        "--type",
        "progress",
        "--output",
        "json",
    ]);
    let query = String::from_utf8_lossy(&query.stdout);
    assert!(
        query.contains("\"stage\": \"done\"") || query.contains("\"stage\":\"done\""),
        "progress query: {query}"
    );
    assert!(query.contains("chunks_total"), "progress query: {query}");
    // The search attributes show the outcome in the Web UI's list.
    let query = format!("PaperId = '{id}' AND PaperOutcome = 'succeeded' AND PaperStage = 'done'");
    let listed = stack.temporal(&["workflow", "list", "--query", &query, "--output", "json"]);
    let listed: serde_json::Value =
        serde_json::from_slice(&listed.stdout).unwrap_or(serde_json::Value::Null);
    assert_eq!(
        listed.as_array().map(|a| a.len()),
        Some(1),
        "search attributes: {listed}"
    );
}

/// Bad files are refused by `paper add` with a clear error naming the file, and nothing is
/// stored; bad workflow input fails at once with a non-retryable, named failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_are_refused_and_nothing_is_stored() {
    let stack = Stack::start(&[]).await;
    let d = stack.dir.path().join("papers/bad");
    std::fs::create_dir_all(&d).unwrap();
    let write = |name: &str, data: &[u8]| {
        let p = d.join(name);
        std::fs::write(&p, data).unwrap();
        p
    };
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let cases = [
        (write("empty.tex", b""), "empty"),
        (
            write(
                "corrupt.pdf",
                b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\ngarbage",
            ),
            "PDF could not be parsed",
        ),
        (write("garbage.txt", &garbage), "not UTF-8 text"),
        (write("fake.pdf", &garbage), "PDF could not be parsed"),
        (d.join("missing.md"), "does not exist"),
        (
            write("paper.docx", b"some words here"),
            "unsupported format",
        ),
    ];
    for (path, expected) in &cases {
        let out = stack.annapurna(&["paper", "add", path.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{} was accepted", path.display());
        assert!(
            stderr.contains(path.file_name().unwrap().to_str().unwrap()),
            "error must name the file: {stderr}"
        );
        assert!(
            stderr.contains(expected),
            "{}: expected {expected:?} in {stderr}",
            path.display()
        );
    }
    let listed = stack.papers();
    assert!(listed.is_empty(), "something was stored: {listed:?}");
    let blobs = stack.dir.path().join("blobs");
    let stored = files_under(&blobs);
    assert!(stored.is_empty(), "blobs were written: {stored:?}");

    // Workflow input without a paper, and with an unknown paper: failed, not retried forever.
    for (input, failure) in [
        (PaperToCodeInput::default(), "InvalidInput"),
        (paper_input("no-such-paper"), "PaperNotFound"),
        (source_input(&d.join("empty.tex")), "UnparseablePaper"),
    ] {
        let workflow_id = format!("bad-input-{failure}");
        let handle = stack.start_paper(&workflow_id, input).await.unwrap();
        let text = wait_failure(&handle, 60).await;
        assert!(
            text.contains(failure),
            "{workflow_id}: expected {failure} in {text}"
        );
    }
}

/// A paper started by `source` (no `paper add` first) completes although the stand-in throttles
/// a third of all requests: each throttle is a retryable failure that Temporal retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_input_completes_through_throttling() {
    let stack = Stack::start(&["--throttle-percent", "34"]).await;
    let paper = stack.example_paper();
    let input = PaperToCodeInput {
        max_chunk_tokens: Some(200),
        ..source_input(&paper)
    };
    let out = stack
        .paper_succeeds("by-source", input, "succeeded despite throttling")
        .await;
    let paper_id = &out.paper_id;
    assert!(
        paper_id.starts_with("gated-residual-mlps-for-small-tabular"),
        "{paper_id}"
    );
    assert!(out.chunks >= 3, "{} chunks", out.chunks);
    let stats = stack.standin_stats();
    let throttled = stats["by_outcome"]["throttled"].as_u64().unwrap_or(0);
    assert!(
        throttled >= 2,
        "the stand-in should have throttled: {stats}"
    );
    // The paper was added to the store as a side effect, once.
    assert_eq!(stack.add_paper(&paper), out.paper_id);
}

/// Issue 21: a paper in Paper2Code's JSON (the s2orc-doc2json parse) goes through the plain
/// Temporal CLI end to end: its title and sections are kept, and the code is generated from them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paper2code_json_paper_runs_from_the_temporal_cli() {
    let stack = Stack::start(&[]).await;
    let root = stack.dir.path().join("papers");
    std::fs::create_dir_all(&root).unwrap();
    let paper = root.join("gated-residual-mlp.json");
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/paper2code/gated-residual-mlp.json"),
        &paper,
    )
    .unwrap();
    let input = serde_json::json!({"source": paper.display().to_string(), "execute": false});
    stack.start_with_cli("PaperToCode", "paper2code-json", &input.to_string());
    let result = stack.result::<PaperToCode>("paper2code-json", 180).await;
    assert_eq!(result.outcome, "succeeded", "{result:?}");
    let shown = stack.show_paper(&result.paper_id);
    assert_eq!(shown["paper"]["format"], "json", "{shown}");
    assert_eq!(
        shown["paper"]["title"],
        "Gated Residual MLPs for Small Tabular Problems (Paper2Code JSON)"
    );
    let sections: Vec<String> = shown["paper"]["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    for expected in [
        "1 Introduction",
        "2 Method",
        "2.1 Training",
        "3 Experiments",
    ] {
        assert!(
            sections.iter().any(|s| s == expected),
            "{expected} in {sections:?}"
        );
    }
    let dir = Stack::path_of(&result.results);
    assert!(py_compiles(&dir.join("code.py")));
}
