//! The planned repository (PaperToCode's reduce side): a paper becomes `repo/` with a plan,
//! several files, `config.yaml` and `README.md` that passes the checks across files and runs its
//! entry point on CPU; a worker killed mid-repository does not write the written files again;
//! plan approval by signal (approve with an edit, reject, time out). Real Temporal dev server,
//! worker processes, the stand-in, the sandbox with torch.

use std::time::Instant;

use annapurna_tests::{
    Stack, files_under, paper_input, py_compiles, read_json, wait_failure, wait_progress,
    wait_result,
};
use temporalio_client::WorkflowQueryOptions;
use workflows::PaperToCode;
use workflows::types::PaperToCodeInput;

fn count_events(stack: &Stack, workflow_id: &str, activity: &str) -> usize {
    let out = stack.temporal(&[
        "workflow",
        "show",
        "--workflow-id",
        workflow_id,
        "-o",
        "json",
    ]);
    let history: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["activityTaskScheduledEventAttributes"]["activityType"]["name"] == activity)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paper_becomes_a_planned_repository_that_runs() {
    let stack = Stack::start(&[]).await;
    let id = stack.add_example();
    let workflow_id = "repo-e2e";
    let handle = stack
        .start_paper(workflow_id, paper_input(&id))
        .await
        .unwrap();
    let out = wait_result(&handle, 400).await;
    assert_eq!(out.outcome, "succeeded", "{out:?}");
    assert_eq!(out.execution, "ok", "{out:?}");
    assert!(out.standin);

    // The plan query answers with the plan as planned.
    let plan = handle
        .query(PaperToCode::plan, (), WorkflowQueryOptions::default())
        .await
        .unwrap()
        .expect("a plan");
    let planned: Vec<&str> = plan.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(planned, ["model.py", "data.py", "train.py"]);
    assert_eq!(plan.entry, "train.py");

    let dir = Stack::path_of(&out.results);
    let repo = dir.join("repo");
    for f in [
        "model.py",
        "data.py",
        "train.py",
        "config.yaml",
        "requirements.txt",
        "README.md",
    ] {
        assert!(
            repo.join(f).is_file(),
            "repo/{f} missing: {:?}",
            files_under(&repo)
        );
    }
    for f in ["model.py", "data.py", "train.py"] {
        let path = repo.join(f);
        assert!(py_compiles(&path), "{f} does not compile");
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("ANNAPURNA-STANDIN"),
            "{f} must say it is a template"
        );
    }
    // Written in dependency order: the entry point imports the files written before it.
    let train = std::fs::read_to_string(repo.join("train.py")).unwrap();
    assert!(train.contains("from model import PaperNet"), "{train}");
    assert!(train.contains("def train_model("), "the training contract");
    let config = std::fs::read_to_string(repo.join("config.yaml")).unwrap();
    assert!(
        config.contains("hyperparameters:\n  epochs: 3\n"),
        "{config}"
    );
    assert!(config.contains("search_space:\n  - "), "{config}");
    let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    assert!(readme.contains("Stand-in output"), "{readme}");
    assert!(
        readme.contains("`model.py`") && readme.contains("python train.py"),
        "{readme}"
    );
    let stored_plan = read_json(&dir.join("plan.json"));
    assert_eq!(stored_plan["files"].as_array().unwrap().len(), 3);
    // Each file's passages of the paper, in its own words, were kept.
    let grounding = std::fs::read_to_string(dir.join("grounding/model.py.md")).unwrap();
    assert!(grounding.len() > 200, "model.py's passages: {grounding:?}");
    // The checks ran across files and found nothing blocking; the entry point ran on CPU.
    let check = read_json(&dir.join("check.json"));
    assert!(
        check["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["severity"] != "error"),
        "{check}"
    );
    let stdout = std::fs::read_to_string(dir.join("execution/run-1.stdout.txt")).unwrap();
    assert!(
        stdout.contains("METRICS:") && stdout.contains("val_accuracy"),
        "{stdout}"
    );
    assert!(
        dir.join("execution/run-1/output/final_metrics.json")
            .is_file()
    );
    // Each file reviewed once (the stand-in's review finds nothing), its findings by file.
    assert!(dir.join("review/round-1-model.py.json").is_file());
    // It ran clean: its files are code examples for later papers' repositories.
    let examples = stack.dir.path().join("blobs/examples").join(&id);
    assert!(
        examples.join("model.py").is_file(),
        "{:?}",
        files_under(&stack.dir.path().join("blobs"))
    );
    assert!(
        !examples.join("config.yaml").exists(),
        "only Python files are examples"
    );
    assert_eq!(count_events(&stack, workflow_id, "PlanRepository"), 1);
    assert_eq!(count_events(&stack, workflow_id, "GenerateFile"), 3);
    assert_eq!(count_events(&stack, workflow_id, "GenerateCode"), 0);
    // With each model call's fairness key (planned-repository.json is from before it).
    stack.record_history(workflow_id, "planned-repository-fairness.json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_repository_does_not_write_the_written_files_again() {
    // Every model answer takes 1.5 s: the files of the first wave are written and the entry
    // point is in flight when the worker dies.
    let (mut stack, id) =
        Stack::start_with_paper(&["--latency-ms", "1500"], "schedule-free.tex").await;
    let input = PaperToCodeInput {
        execute: Some(false),
        max_chunk_tokens: Some(8_000),
        ..paper_input(&id)
    };
    let handle = stack.start_paper("repo-crash", input).await.unwrap();
    let progress = wait_progress(&handle, 180, "the files never got written", |p| {
        p.files_done >= 2
    })
    .await;
    assert!(progress.files_done < progress.files_total, "{progress:?}");
    stack.kill_worker();
    let killed = Instant::now();
    stack.start_worker();
    let out = wait_result(&handle, 240).await;
    assert_eq!(out.outcome, "succeeded");
    eprintln!(
        "killed at {progress:?}; completed {:.1} s later",
        killed.elapsed().as_secs_f64()
    );
    let stats = stack.standin_stats();
    let files = &stats["files_by_path"];
    // The two files written before the kill were asked for once; only the one in flight again.
    assert_eq!(files["model.py"], 1, "{stats}");
    assert_eq!(files["data.py"], 1, "{stats}");
    assert!(files["train.py"].as_u64().unwrap() <= 2, "{stats}");
    let repo = Stack::path_of(&out.results).join("repo");
    assert!(repo.join("train.py").is_file() && repo.join("model.py").is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_waits_for_approval_and_takes_edits_rejection_and_timeout() {
    let stack = Stack::start(&[]).await;
    let id = stack.add_example();
    let waiting = PaperToCodeInput {
        approve_plan: Some(true),
        execute: Some(false),
        ..paper_input(&id)
    };
    let workflow_id = workflows::names::paper_workflow_id(&id);

    // Approve with an edit: model.py becomes network.py (the file list replaced, as a merge
    // patch does), after an edit that breaks the plan was refused.
    let handle = stack
        .start_paper(&workflow_id, waiting.clone())
        .await
        .unwrap();
    wait_progress(&handle, 120, "never awaited approval", |p| {
        p.stage == "awaiting-approval"
    })
    .await;
    let shown = stack.annapurna_ok(&["plan", "show", &id]);
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["stage"], "awaiting-approval");
    let mut files = shown["plan"]["files"].clone();
    assert_eq!(files[0]["path"], "model.py");
    stack.annapurna_ok(&[
        "plan",
        "approve",
        &id,
        "--edits",
        r#"{"entry": "../evil.py"}"#,
    ]);
    let refused = wait_progress(&handle, 60, "bad edits were not refused", |p| {
        !p.plan_problem.is_empty()
    })
    .await;
    assert_eq!(refused.stage, "awaiting-approval");
    assert!(refused.plan_problem.contains("entry point"), "{refused:?}");
    files[0]["path"] = "network.py".into();
    files[2]["depends_on"] = serde_json::json!(["network.py", "data.py"]);
    let edits = serde_json::json!({ "files": files }).to_string();
    stack.annapurna_ok(&["plan", "approve", &id, "--edits", &edits]);
    let out = wait_result(&handle, 300).await;
    assert_eq!(out.outcome, "succeeded", "{out:?}");
    let repo = Stack::path_of(&out.results).join("repo");
    assert!(
        repo.join("network.py").is_file(),
        "{:?}",
        files_under(&repo)
    );
    assert!(!repo.join("model.py").exists());
    let train = std::fs::read_to_string(repo.join("train.py")).unwrap();
    assert!(train.contains("from network import PaperNet"), "{train}");
    stack.record_history(&workflow_id, "plan-approval.json");

    // Reject, with the plain Temporal CLI: the paper fails, saying why.
    let handle = stack
        .start_paper(&workflow_id, waiting.clone())
        .await
        .unwrap();
    wait_progress(&handle, 120, "never awaited approval", |p| {
        p.stage == "awaiting-approval"
    })
    .await;
    let out = stack.temporal(&[
        "workflow",
        "signal",
        "--workflow-id",
        &workflow_id,
        "--name",
        "reject_plan",
        "--input",
        r#"{"reason": "it implements the baseline, not the method"}"#,
    ]);
    assert!(out.status.success(), "{out:?}");
    let failure = wait_failure(&handle, 60).await;
    assert!(failure.contains("PlanRejected"), "{failure}");
    assert!(failure.contains("not the method"), "{failure}");

    // Time out.
    let handle = stack
        .start_paper(
            &workflow_id,
            PaperToCodeInput {
                approval_timeout_secs: Some(2),
                ..waiting
            },
        )
        .await
        .unwrap();
    let failure = wait_failure(&handle, 120).await;
    assert!(failure.contains("PlanApprovalTimedOut"), "{failure}");
}

/// `related_work: true`: the stored papers sharing the method's terms are found by full-text
/// search, the summary model says what they suggest, and the plan takes it in; a paper on
/// something else is not among them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn related_work_from_the_store_goes_into_the_plan() {
    let stack = Stack::start(&[]).await;
    let id = stack.add_example();
    let near = stack.dir.path().join("near.md");
    std::fs::write(
        &near,
        "# Gated Residual Blocks on Tabular Problems\n\n## Gating residual connections\n\n\
         We gate each residual connection with a sigmoid of the block's input and train with \
         Adam at a learning rate of 0.003 for 40 epochs; widths of 128 to 512 work best.\n",
    )
    .unwrap();
    let near_id = stack.add_paper(&near);
    let far = stack.dir.path().join("far.md");
    std::fs::write(
        &far,
        "# Phonetic Alignment of Spoken Dialects\n\n## Corpora\n\nWe align phonemes of dialect \
         recordings with a hidden Markov aligner and report word error rates per region.\n",
    )
    .unwrap();
    let far_id = stack.add_paper(&far);
    let input = PaperToCodeInput {
        related_work: Some(true),
        execute: Some(false),
        ..paper_input(&id)
    };
    let handle = stack.start_paper("related", input).await.unwrap();
    let out = wait_result(&handle, 300).await;
    assert_eq!(out.outcome, "succeeded", "{out:?}");
    let related =
        std::fs::read_to_string(Stack::path_of(&out.results).join("related_work.md")).unwrap();
    assert!(related.contains(&near_id), "{related}");
    assert!(!related.contains(&far_id), "{related}");
    assert!(
        !related.contains(&format!("`{id}`")),
        "never its own related work: {related}"
    );
    assert!(
        related.contains("Gated Residual Blocks on Tabular Problems"),
        "{related}"
    );
    assert!(
        related.contains("ANNAPURNA-STANDIN"),
        "the advice says it is a template"
    );
    assert_eq!(stack.standin_stats()["by_kind"]["related-work"], 1);
    assert_eq!(count_events(&stack, "related", "FindRelatedWork"), 1);
    stack.record_history("related", "related-work.json");
}
