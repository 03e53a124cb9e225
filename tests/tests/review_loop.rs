//! The review loop on a Trainium target: the stand-in writes the repository's entry point with a
//! missing import and without `xm.mark_step()`; the static checks find both, the fix repairs both,
//! the next round is clean and the loop stops. The model and data files need no torch_xla of
//! their own: the Trainium rules hold for the repository as a whole.

use annapurna_tests::{Stack, paper_input, read_json, strings_of, wait_result};
use temporalio_client::WorkflowQueryOptions;
use workflows::PaperToCode;
use workflows::types::PaperToCodeInput;

/// Asserts that no finding in the JSON array `findings` is an error (`of` is shown otherwise).
fn assert_none_blocking(findings: &serde_json::Value, of: &serde_json::Value) {
    assert!(
        findings
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["severity"] != "error"),
        "{of}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trainium_defects_are_found_fixed_and_the_loop_stops() {
    let stack = Stack::start(&["--defects", "missing-import,missing-mark-step"]).await;
    let input = PaperToCodeInput {
        target: Some("trainium".into()),
        execute: Some(false),
        ..paper_input(&stack.add_example())
    };
    let handle = stack.start_paper("trn-loop", input).await.unwrap();
    let out = wait_result(&handle, 180).await;
    assert_eq!(out.outcome, "succeeded", "no blocking finding may be left");
    let dir = Stack::path_of(&out.results);
    let read_json = |name: &str| read_json(&dir.join(name));

    let round1 = read_json("review/round-1-train.py.json");
    let rules = strings_of(&round1["static_findings"], "rule");
    assert!(rules.contains(&"missing-import"), "{rules:?}");
    assert!(rules.contains(&"xla-mark-step-missing"), "{rules:?}");
    assert!(round1["fixed_code"].is_object(), "round 1 must fix");
    let diff = std::fs::read_to_string(dir.join("review/round-1-train.py.diff")).unwrap();
    assert!(diff.contains("+import json"), "{diff}");
    assert!(diff.contains("+        xm.mark_step()"), "{diff}");

    // The other files were reviewed in round 1 and needed no fix.
    let model = read_json("review/round-1-model.py.json");
    assert!(model["fixed_code"].is_null(), "{model}");
    assert!(!dir.join("review/round-2-model.py.json").exists());
    // Round 2 reviews the fixed code, finds nothing blocking, fixes nothing: the loop stops.
    let round2 = read_json("review/round-2-train.py.json");
    assert_none_blocking(&round2["static_findings"], &round2);
    assert!(round2["fixed_code"].is_null());
    assert!(
        !dir.join("review/round-3-train.py.json").exists(),
        "the loop must stop after a clean round"
    );
    let check = read_json("check.json");
    assert_none_blocking(&check["findings"], &check);
    let code = std::fs::read_to_string(dir.join("code.py")).unwrap();
    assert!(code.contains("import json") && code.contains("xm.mark_step()"));

    let progress = handle
        .query(PaperToCode::progress, (), WorkflowQueryOptions::default())
        .await
        .unwrap();
    assert_eq!(progress.review_round, 2);
    assert_eq!(progress.review_rounds, 3);
    // The dataset: the example names none of the catalogue, so the model chose (the stand-in
    // always answers `synthetic`).
    let meta = read_json("metadata.json");
    assert_eq!(meta["dataset"]["dataset"], "synthetic");
    assert_eq!(meta["dataset"]["source"], "model");
    assert_eq!(out.dataset, "synthetic");
}
