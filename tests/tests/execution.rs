//! Execution inside PaperToCode: the code runs in the sandbox on the cpu executor
//! (`annapurna worker --exec cpu`); a failing run is diagnosed, fixed and run again; a system
//! issue stops the loop without asking a model.

use std::path::{Path, PathBuf};

use annapurna_tests::{Stack, paper_input, read_json};

/// Runs the example paper as `workflow_id` on a stack whose stand-in writes `defects`; asserts
/// the run's `outcome` and `execution`, and returns the stack and the results directory.
async fn run_example(
    defects: &str,
    workflow_id: &str,
    outcome: &str,
    execution: &str,
) -> (Stack, PathBuf) {
    let stack = Stack::start(&["--defects", defects]).await;
    let input = paper_input(&stack.add_example());
    let out = stack
        .run_paper(workflow_id, input)
        .await
        .expect("the workflow completed");
    assert_eq!(out.outcome, outcome);
    assert_eq!(out.execution, execution);
    let dir = Stack::path_of(&out.results);
    (stack, dir)
}

/// The JSON file `name` under `dir`.
fn json(dir: &Path, name: &str) -> serde_json::Value {
    read_json(&dir.join(name))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_run_is_diagnosed_fixed_and_run_again() {
    let (stack, dir) = run_example("runtime-error", "repair", "succeeded", "ok").await;
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
    let (stack, dir) = run_example(
        "missing-module",
        "system-issue",
        "execution-failed",
        "environment",
    )
    .await;
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
