//! `annapurna bench quota --json` runs its own stack and prints the report's keys on its last
//! line. (The figures themselves are benchmarks, recorded in BENCHMARKS.md, not asserted here.)

use std::process::Command;

use annapurna_tests::{annapurna_bin, last_line_json, run_ok};

#[test]
fn bench_quota_reports_json_on_its_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut bench = annapurna_tests::bench_command(dir.path());
    bench
        .args(["bench", "quota", "--papers", "1", "--chunks", "3"])
        // Sections larger than a third of the default chunk budget: one chunk each.
        .args(["--chunk-chars", "90000", "--baseline-chunks", "3"])
        .args(["--latency-ms", "50", "--json"]);
    let report = last_line_json(&run_ok(&mut bench, "annapurna bench quota"));
    for key in [
        "makespan_s",
        "bound_s",
        "utilisation",
        "throttled",
        "failed",
        "sequential_makespan_s",
        "speedup",
    ] {
        assert!(!report[key].is_null(), "{key} missing: {report}");
    }
    assert_eq!(report["failed"], 0);
    assert_eq!(report["summary_requests"], 3);
    assert_eq!(report["standin"], true);
    // The worker ran with its defaults: no setting changed but the account's quota.
    assert_eq!(
        report["config_overrides"],
        serde_json::json!([]),
        "{report}"
    );
    // The old method pauses 2 s after each of the 3 chunks.
    assert!(
        report["sequential_makespan_s"].as_f64().unwrap() >= 6.0,
        "{report}"
    );
}

/// `annapurna bench stores --json` against SQLite and an OpenSearch-compatible server.
#[test]
fn bench_stores_reports_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let (_osmem, url) = annapurna_tests::start_osmem(dir.path());
    let mut bench = Command::new(annapurna_bin());
    bench
        .current_dir(dir.path())
        .args(["bench", "stores", "--papers", "60", "--queries", "3"])
        .args(["--opensearch-url", &url, "--json"]);
    let report = last_line_json(&run_ok(&mut bench, "annapurna bench stores"));
    for backend in ["sqlite", "opensearch"] {
        let r = &report[backend];
        assert_eq!(r["papers"], 60, "{report}");
        assert!(r["inserts_per_s"].as_f64().unwrap() > 0.0, "{report}");
        // 60 papers, the first 60 judged, every other one passes: 30 selectable.
        assert_eq!(r["select_recent_days"]["selected"], 30, "{report}");
        assert_eq!(r["select_random"]["selected"], 20, "{report}");
    }
    assert_eq!(report["opensearch"]["select_query_dsl"]["selected"], 30);
    assert!(report["sqlite"]["select_query_dsl"].is_null());
}
