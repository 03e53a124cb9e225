//! The map phase under failure: chunks failing for good (partial success), a throttling storm,
//! truncated answers (continued), and the answer cache (a rerun makes no new summary calls).

use annapurna_tests::{Stack, papers_dir};
use workflows::types::{PaperToCodeInput, PaperToCodeOutput};

/// schedule-free.tex at 2,000-token chunks is cut into ten or more.
const CHUNK_TOKENS: u64 = 2_000;

async fn run(
    stack: &Stack,
    workflow_id: &str,
    paper_id: &str,
) -> Result<PaperToCodeOutput, String> {
    let input = PaperToCodeInput {
        paper_id: Some(paper_id.to_owned()),
        max_chunk_tokens: Some(CHUNK_TOKENS),
        parallel_chunks: Some(5),
        execute: Some(false),
        ..Default::default()
    };
    stack.run_paper(workflow_id, input).await
}

fn metadata(out: &PaperToCodeOutput) -> serde_json::Value {
    let path = Stack::path_of(&out.results).join("metadata.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_percent_of_chunks_failing_still_completes() {
    let stack = Stack::start(&["--fail-chunks-percent", "40"]).await;
    let id = stack.add_paper(&papers_dir().join("schedule-free.tex"));
    let out = run(&stack, "partial-40", &id)
        .await
        .expect("60% of the chunks is enough");
    let n = out.chunks + out.failed_chunks;
    assert!(n >= 10, "{n} chunks");
    assert_eq!(out.failed_chunks, n * 40 / 100);
    let meta = metadata(&out);
    let results = meta["chunk_results"].as_array().unwrap();
    assert_eq!(results.len() as u32, n);
    let failed: Vec<_> = results.iter().filter(|c| c["ok"] == false).collect();
    assert_eq!(failed.len() as u32, n * 40 / 100);
    assert!(
        failed
            .iter()
            .all(|c| c["reason"].as_str().unwrap().contains("refuses part")),
        "{failed:?}"
    );
    assert!(
        results
            .iter()
            .filter(|c| c["ok"] == true)
            .all(|c| c["attempt"] == 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_percent_of_chunks_failing_fails_clearly() {
    let stack = Stack::start(&["--fail-chunks-percent", "60"]).await;
    let id = stack.add_paper(&papers_dir().join("schedule-free.tex"));
    let err = run(&stack, "partial-60", &id)
        .await
        .expect_err("40% of the chunks is not enough");
    assert!(err.contains("TooFewChunksSummarized"), "{err}");
    // "only X of N chunks were summarised"
    let counts: Vec<u32> = err
        .split("only ")
        .nth(1)
        .and_then(|rest| rest.split(" chunks").next())
        .map(|xn| xn.split(" of ").filter_map(|v| v.parse().ok()).collect())
        .unwrap_or_default();
    let [ok, n] = counts[..] else {
        panic!("no counts in {err}")
    };
    assert!(n >= 10, "{n} chunks");
    assert_eq!(ok, n - n * 60 / 100, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_storm_completes() {
    let stack = Stack::start(&["--throttle-percent", "50"]).await;
    let id = stack.add_paper(&papers_dir().join("schedule-free.tex"));
    let out = run(&stack, "storm", &id)
        .await
        .expect("completes through a 50% throttling storm");
    assert!(out.chunks >= 10, "{} chunks", out.chunks);
    assert_eq!(out.failed_chunks, 0);
    let stats = stack.standin_stats();
    assert!(
        stats["by_outcome"]["throttled"].as_u64().unwrap() >= 10,
        "{stats}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_answers_are_continued_and_a_rerun_pays_nothing() {
    let stack = Stack::start(&["--truncate-percent", "50"]).await;
    let id = stack.add_paper(&papers_dir().join("schedule-free.tex"));
    let first = run(&stack, "cache-1", &id).await.expect("first run");
    let meta = metadata(&first);
    let continued = meta["chunk_results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["continuations"].as_u64().unwrap() > 0)
        .count();
    assert!(
        continued >= 3,
        "half the answers were cut, so several chunks needed a continuation: {meta}"
    );
    let code = Stack::path_of(&first.results).join("code.py");
    let compiles = std::process::Command::new("python3")
        .args(["-m", "py_compile"])
        .arg(&code)
        .status()
        .unwrap();
    assert!(compiles.success(), "the continued code must be whole");
    let before = stack.standin_stats();

    let second = run(&stack, "cache-2", &id).await.expect("second run");
    let after = stack.standin_stats();
    assert_eq!(
        before["by_kind"]["summarize-chunk"], after["by_kind"]["summarize-chunk"],
        "the rerun made new summary calls"
    );
    assert_eq!(
        before["requests"], after["requests"],
        "the rerun made new model calls"
    );
    let meta2 = metadata(&second);
    assert!(
        meta2["chunk_results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["cached"] == true)
    );
    assert_eq!(
        std::fs::read(&code).unwrap(),
        std::fs::read(Stack::path_of(&second.results).join("code.py")).unwrap()
    );
}
