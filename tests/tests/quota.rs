//! Many workers, one account: three `annapurna worker` processes with the default configuration
//! and the same configured quota share one stand-in quota (Bedrock's accounting, burndown 5,
//! summaries of 600–1,500 tokens). Each worker's limiter adapts its pace to throttling (AIMD) and
//! the LLM task queue's server-side rate bounds requests across them; together they must settle
//! below the quota: at most 2% of the summary requests throttled, as the stand-in counts them,
//! and no paper failed.

use annapurna_tests::{last_line_json, run_ok};

// Issue 16 is open: on 2026-12-05 this ran 94 summary requests with 38 throttled (40%) and 0
// failed, in 222 s — each worker's limiter starts from the whole configured quota and AIMD does
// not yet bring three of them under it. Run it by hand (`-- --ignored`) while working on it.
#[test]
#[ignore = "issue 16 (open): three workers do not yet converge under one quota (40% throttled)"]
fn three_workers_share_one_quota_with_few_throttles() {
    let dir = tempfile::tempdir().unwrap();
    let mut bench = annapurna_tests::bench_command(dir.path());
    bench
        .args(["bench", "quota", "--scenario", "workers", "--workers", "3"])
        .args(["--papers", "4", "--chunks", "15", "--chunk-chars", "88000"])
        // A quota the workload must wait for: ~60 summaries of ~27,000 settled tokens each (one chunk per 88,000-character section).
        .args(["--rpm", "250", "--tpm", "1200000", "--latency-ms", "300"])
        .args(["--baseline-chunks", "0", "--json"]);
    let report = last_line_json(&run_ok(
        &mut bench,
        "annapurna bench quota --scenario workers",
    ));
    assert_eq!(report["workers"], 3, "{report}");
    assert_eq!(report["failed"], 0, "{report}");
    assert_eq!(
        report["config_overrides"],
        serde_json::json!([]),
        "{report}"
    );
    let requests = report["summary_requests"].as_u64().unwrap();
    assert!(requests >= 60, "{report}");
    // The quota was the bound: the settled tokens exceed what the quota gives in the first
    // minute … and the workers still kept within it.
    assert!(
        report["quota_tokens"].as_u64().unwrap() > 1_200_000,
        "{report}"
    );
    let share = report["throttled_share"].as_f64().unwrap();
    assert!(share <= 0.02, "throttled share {share}: {report}");
}
