//! The map phase under failure: chunks failing for good (partial success), a throttling storm,
//! truncated answers (continued), and the answer cache (a rerun makes no new summary calls).

use annapurna_tests::{Stack, paper_input, py_compiles, read_json};
use workflows::types::{PaperToCodeInput, PaperToCodeOutput};

/// schedule-free.tex at 2,000-token chunks is cut into ten or more.
const CHUNK_TOKENS: u64 = 2_000;

/// schedule-free.tex added to a stack of its own.
struct Paper {
    stack: Stack,
    id: String,
}

impl Paper {
    /// Starts a stack whose stand-in runs with `flag` at `percent` and adds schedule-free.tex.
    async fn start(flag: &str, percent: &str) -> Paper {
        let (stack, id) = Stack::start_with_paper(&[flag, percent], "schedule-free.tex").await;
        Paper { stack, id }
    }

    /// Runs the paper as `workflow_id` at `CHUNK_TOKENS`, five chunks at a time, not executed.
    async fn run(&self, workflow_id: &str) -> Result<PaperToCodeOutput, String> {
        let input = PaperToCodeInput {
            max_chunk_tokens: Some(CHUNK_TOKENS),
            parallel_chunks: Some(5),
            execute: Some(false),
            ..paper_input(&self.id)
        };
        self.stack.run_paper(workflow_id, input).await
    }

    /// [`Paper::run`]'s output; panics, saying `why` it must complete, when it fails.
    async fn completes(&self, workflow_id: &str, why: &str) -> PaperToCodeOutput {
        self.run(workflow_id).await.expect(why)
    }

    /// [`Paper::run`]'s failure; panics, saying `why` it must fail, when it completes.
    async fn fails(&self, workflow_id: &str, why: &str) -> String {
        self.run(workflow_id).await.expect_err(why)
    }
}

fn metadata(out: &PaperToCodeOutput) -> serde_json::Value {
    read_json(&Stack::path_of(&out.results).join("metadata.json"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_percent_of_chunks_failing_still_completes() {
    let paper = Paper::start("--fail-chunks-percent", "40").await;
    let why = "60% of the chunks is enough";
    let out = paper.completes("partial-40", why).await;
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
    let paper = Paper::start("--fail-chunks-percent", "60").await;
    let why = "40% of the chunks is not enough";
    let err = paper.fails("partial-60", why).await;
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
    let paper = Paper::start("--throttle-percent", "50").await;
    let why = "completes through a 50% throttling storm";
    let out = paper.completes("storm", why).await;
    assert!(out.chunks >= 10, "{} chunks", out.chunks);
    assert_eq!(out.failed_chunks, 0);
    let stats = paper.stack.standin_stats();
    assert!(
        stats["by_outcome"]["throttled"].as_u64().unwrap() >= 10,
        "{stats}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_answers_are_continued_and_a_rerun_pays_nothing() {
    let paper = Paper::start("--truncate-percent", "50").await;
    let first = paper.completes("cache-1", "first run").await;
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
    assert!(py_compiles(&code), "the continued code must be whole");
    let before = paper.stack.standin_stats();

    let second = paper.completes("cache-2", "second run").await;
    let after = paper.stack.standin_stats();
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
