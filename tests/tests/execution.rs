//! Execution inside PaperToCode: the code runs in the sandbox on the cpu executor
//! (`annapurna worker --exec cpu`); a failing run is diagnosed, fixed and run again; a system
//! issue stops the loop without asking a model.

use std::path::Path;

use annapurna_tests::Stack;
use workflows::types::{PaperToCodeInput, PaperToCodeOutput};

async fn run_example(stack: &Stack, workflow_id: &str) -> PaperToCodeOutput {
    let id = stack.add_paper(&stack.example_paper());
    let input = PaperToCodeInput {
        paper_id: Some(id),
        ..Default::default()
    };
    stack
        .run_paper(workflow_id, input)
        .await
        .expect("the workflow completed")
}

fn json(dir: &Path, name: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_run_is_diagnosed_fixed_and_run_again() {
    let stack = Stack::start(&["--defects", "runtime-error"]).await;
    let out = run_example(&stack, "repair").await;
    assert_eq!(out.outcome, "succeeded");
    assert_eq!(out.execution, "ok");
    let dir = Stack::path_of(&out.results);
    let run1 = json(&dir, "execution/run-1.json");
    assert_eq!(run1["report"]["classification"], "code-error", "{run1}");
    assert!(
        run1["report"]["stderr_tail"]
            .as_str()
            .unwrap()
            .contains("stand-in defect")
    );
    assert_eq!(run1["diagnosis"]["kind"], "code");
    assert!(run1["fixed"].is_object());
    let diff = std::fs::read_to_string(dir.join("execution/run-1.diff")).unwrap();
    assert!(diff.contains("-    raise RuntimeError"), "{diff}");
    let run2 = json(&dir, "execution/run-2.json");
    assert_eq!(run2["report"]["classification"], "ok", "{run2}");
    assert_eq!(run2["report"]["sandbox"], "bubblewrap");
    assert_eq!(run2["report"]["metrics"].as_array().unwrap().len(), 3);
    assert!(
        dir.join("execution/run-2/output/final_metrics.json")
            .is_file()
    );
    assert!(
        std::fs::read_to_string(dir.join("execution/run-2.stdout.txt"))
            .unwrap()
            .contains("METRICS:")
    );
    let meta = json(&dir, "metadata.json");
    assert_eq!(meta["execution"]["runs"], 2);
    assert_eq!(
        meta["execution"]["artifacts"],
        serde_json::json!(["final_metrics.json"])
    );
    assert_eq!(stack.standin_stats()["by_kind"]["diagnose-failure"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_system_issue_stops_without_a_model_call() {
    let stack = Stack::start(&["--defects", "missing-module"]).await;
    let out = run_example(&stack, "system-issue").await;
    assert_eq!(out.outcome, "execution-failed");
    assert_eq!(out.execution, "environment");
    let dir = Stack::path_of(&out.results);
    let run1 = json(&dir, "execution/run-1.json");
    assert!(
        run1["diagnosis"].is_null() && run1["fixed"].is_null(),
        "{run1}"
    );
    assert!(!dir.join("execution/run-2.json").exists());
    assert!(
        stack.standin_stats()["by_kind"]["diagnose-failure"].is_null(),
        "no model was asked"
    );
}
