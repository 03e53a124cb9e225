//! PaperBatch: selection from the paper store and child PaperToCode workflows (`paper/<id>`),
//! started with the plain Temporal CLI exactly as the README shows, and with `annapurna batch`.

use std::process::Output;

use annapurna_tests::{Stack, papers_dir};
use temporalio_client::WorkflowGetResultOptions;
use workflows::PaperBatch;
use workflows::types::BatchSummary;

/// The summary `annapurna batch --follow` printed: the JSON from the first `{` of its stdout.
fn printed_summary(out: &Output) -> BatchSummary {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&text[text.find('{').unwrap()..]).unwrap()
}

/// Adds `papers` from `../shared/papers` to `stack`; their ids.
fn add_papers(stack: &Stack, papers: &[&str]) -> Vec<String> {
    papers
        .iter()
        .map(|p| stack.add_paper(&papers_dir().join(p)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_by_ids_query_and_title() {
    let stack = Stack::start(&[]).await;
    let ids = add_papers(&stack, &["dyt.tex", "schedule-free.tex", "minp.tex"]);

    // The README's plain CLI form (code executed on the stack's cpu executor).
    let input = format!(
        "{{\"paper_ids\": [\"{}\", \"{}\"], \"max_concurrent\": 2}}",
        ids[0], ids[1]
    );
    stack.start_with_cli("PaperBatch", "batch/cli", &input);
    let summary: BatchSummary = stack.result::<PaperBatch>("batch/cli", 300).await;
    assert_eq!(summary.selected, 2);
    assert_eq!(summary.completed, 2, "{summary:?}");
    assert!(summary.failed.is_empty());
    assert!(
        summary.items.iter().all(|i| i.outcome == "succeeded"),
        "{summary:?}"
    );
    // The children carry the business ids.
    for id in &ids[..2] {
        let child = stack
            .client
            .get_workflow_handle::<workflows::PaperToCode>(workflows::names::paper_workflow_id(id));
        assert!(
            child
                .get_result(WorkflowGetResultOptions::default())
                .await
                .is_ok()
        );
    }

    // `annapurna batch` with a full-text query and with a title.
    let query = stack.annapurna_ok(&[
        "batch",
        "--query",
        "normalization",
        "--no-execute",
        "--follow",
    ]);
    let summary = printed_summary(&query);
    assert!(
        summary.items.iter().any(|i| i.paper_id == ids[0]),
        "DyT is about normalization: {summary:?}"
    );
    assert_eq!(summary.completed, summary.selected);

    let title = stack.annapurna(&["batch", "--title", "ROAD LESS", "--no-execute", "--follow"]);
    let summary = printed_summary(&title);
    assert_eq!(
        summary
            .items
            .iter()
            .map(|i| i.paper_id.clone())
            .collect::<Vec<_>>(),
        vec![ids[1].clone()]
    );

    let none = stack.annapurna(&["batch", "--paper-id", "no-such-paper", "--follow"]);
    let summary = printed_summary(&none);
    assert_eq!((summary.selected, summary.completed), (0, 0));
}

/// Past `papers_per_run` papers (500 by default; 2 here) the batch continues as new, carrying the
/// rest and the summary: every paper runs once, the summary covers them all, and the workflow id
/// has one run per slice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_batch_continues_as_new_and_keeps_its_summary() {
    let stack = Stack::start(&[]).await;
    let ids = add_papers(
        &stack,
        &[
            "dyt.tex",
            "schedule-free.tex",
            "minp.tex",
            "diff-transformer.tex",
            "tabdiff.tex",
        ],
    );
    let input = serde_json::json!({
        "paper_ids": ids,
        "max_concurrent": 2,
        "papers_per_run": 2,
        "paper": {"execute": false, "review_rounds": 1},
    })
    .to_string();
    stack.start_with_cli("PaperBatch", "batch/long", &input);
    let summary: BatchSummary = stack.result::<PaperBatch>("batch/long", 400).await;
    assert_eq!(summary.selected, 5, "{summary:#?}");
    assert_eq!(summary.completed, 5, "{summary:#?}");
    assert_eq!(summary.runs, 3, "5 papers, 2 per run: {summary:#?}");
    let mut ran: Vec<String> = summary.items.iter().map(|i| i.paper_id.clone()).collect();
    ran.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(ran, expected, "each paper once");
    assert!(
        summary.input_tokens > 0 && summary.cost_microusd > 0,
        "{summary:#?}"
    );
    // Cost per role adds up to the whole, across the runs the batch continued into.
    let by_role: u64 = summary.by_role.values().map(|u| u.cost_microusd).sum();
    assert_eq!(by_role, summary.cost_microusd, "{:#?}", summary.by_role);
    assert!(
        summary.by_role["summary"].calls >= 5,
        "{:#?}",
        summary.by_role
    );
    assert!(summary.by_role["code"].calls >= 5, "{:#?}", summary.by_role);
    assert!(
        summary.standin,
        "the stand-in answered and the summary says so"
    );
    stack.record_history("batch/long", "batch-continued-as-new.json");
    // Three executions under the one workflow id: two of them continued as new.
    assert_eq!(stack.continued_as_new("batch/long"), 2);
}
