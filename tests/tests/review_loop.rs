//! The review loop on a Trainium target: the stand-in writes code with a missing import and
//! without `xm.mark_step()`; the static checks find both, the fix repairs both, the next round is
//! clean and the loop stops.

use std::time::Duration;

use annapurna_tests::Stack;
use temporalio_client::{WorkflowGetResultOptions, WorkflowQueryOptions};
use workflows::PaperToCode;
use workflows::types::PaperToCodeInput;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trainium_defects_are_found_fixed_and_the_loop_stops() {
    let stack = Stack::start(&["--defects", "missing-import,missing-mark-step"]).await;
    let paper = stack.example_paper();
    let id = stack.add_paper(&paper);
    let input = PaperToCodeInput {
        paper_id: Some(id),
        target: Some("trainium".into()),
        execute: Some(false),
        ..Default::default()
    };
    let handle = stack.start_paper("trn-loop", input).await.unwrap();
    let out = tokio::time::timeout(
        Duration::from_secs(180),
        handle.get_result(WorkflowGetResultOptions::default()),
    )
    .await
    .expect("finished")
    .expect("succeeded");
    assert_eq!(out.outcome, "succeeded", "no blocking finding may be left");
    let dir = Stack::path_of(&out.results);
    let read_json = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
    };

    let round1 = read_json("review/round-1.json");
    let rules: Vec<&str> = round1["static_findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"missing-import"), "{rules:?}");
    assert!(rules.contains(&"xla-mark-step-missing"), "{rules:?}");
    assert!(round1["fixed_code"].is_object(), "round 1 must fix");
    let diff = std::fs::read_to_string(dir.join("review/round-1.diff")).unwrap();
    assert!(diff.contains("+import json"), "{diff}");
    assert!(diff.contains("+        xm.mark_step()"), "{diff}");

    // Round 2 reviews the fixed code, finds nothing blocking, fixes nothing: the loop stops.
    let round2 = read_json("review/round-2.json");
    assert!(
        round2["static_findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["severity"] != "error"),
        "{round2}"
    );
    assert!(round2["fixed_code"].is_null());
    assert!(
        !dir.join("review/round-3.json").exists(),
        "the loop must stop after a clean round"
    );
    let check = read_json("check.json");
    assert!(
        check["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["severity"] != "error"),
        "{check}"
    );
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
