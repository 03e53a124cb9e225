//! Many workers, one account: three `annapurna worker` processes with the default configuration
//! and the same configured quota share one stand-in quota (Bedrock's accounting, burndown 5,
//! summaries of 600–1,500 tokens, a bucket a minute deep). The workers start together and at
//! once have more to do than the account's minute holds: each paces at 1/n of the quota (n
//! counted from the server), takes 1/n of what the account holds once the count has settled, and
//! adapts to throttling (AIMD); the LLM task queue's server-side rate bounds requests across them.
//! Together they must keep within the quota: at most 2% of the summary requests throttled, as
//! the stand-in counts them, and no paper failed.

use annapurna_tests::{last_line_json, run_ok};

#[test]
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
