//! `annapurna eval` end to end on a real Temporal dev server, worker, cpu executor (bubblewrap
//! sandbox) and the Bedrock stand-in: the six ResearchCodeBench folders of `../shared/rcb` with
//! the oracle (1.0 on every task that is not broken) and empty answers (near 0), synthetic task
//! folders for nested tags, several masked files, context files, a failing reference, a missing
//! package and bad tags, a stand-in run, and a worker killed mid-suite.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use annapurna_tests::{Proc, Stack, last_line_json, read_json};
use serde_json::Value;
use temporalio_client::WorkflowQueryOptions;
use workflows::EvaluateSuite;

/// The shared benchmark folders.
fn rcb() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/rcb")
}

/// Writes `files` (relative path, text) under `dir`.
fn write_task(dir: &Path, files: &[(&str, &str)]) {
    for (rel, text) in files {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// A task with two masked files (one with nested snippets) and a context file; its test checks
/// both files' values.
fn good_task(dir: &Path) {
    write_task(
        dir,
        &[
            (
                "paper2code.yaml",
                "mask_file_path:\n  - pkg/ops.py\n  - model.py\ncontext_file_paths: [helpers.py]\ntest_entry_point: paper2code_test.py\npaper_md: paper2code_paper.md\n",
            ),
            ("pkg/__init__.py", ""),
            (
                "pkg/ops.py",
                "def scale(x, k):\n    # <paper2code name=\"scale\">\n    # <paper2code name=\"product\">\n    y = x * k\n    # </paper2code name=\"product\">\n    return y\n    # </paper2code name=\"scale\">\n",
            ),
            (
                "model.py",
                "from pkg.ops import scale\nfrom helpers import offset\n\n\ndef forward(x):\n    # <paper2code name=\"forward\">\n    return scale(x, 2) + offset()\n    # </paper2code name=\"forward\">\n",
            ),
            ("helpers.py", "def offset():\n    return 1\n"),
            (
                "paper2code_test.py",
                "import unittest\nfrom model import forward\nfrom pkg.ops import scale\n\n\nclass T(unittest.TestCase):\n    def test_values(self):\n        self.assertEqual(scale(3, 4), 12)\n        self.assertEqual(forward(5), 11)\n\n\nunittest.main()\n",
            ),
            (
                "paper2code_paper.md",
                "# Scaled offsets\n\n## Method\n\nThe input is scaled by a factor k: the product of x and k. The forward pass scales by two and adds the offset.\n\n## Results\n\nIt works on every input we tried.\n",
            ),
        ],
    );
}

/// Runs `annapurna eval ARGS --json` on `stack`; the output and the object on its last line.
fn eval(stack: &Stack, args: &[&str]) -> (Output, Value) {
    let out = stack
        .command()
        .arg("eval")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "annapurna eval {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let json = last_line_json(&out);
    (out, json)
}

fn task<'a>(json: &'a Value, name: &str) -> &'a Value {
    json["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task"] == name)
        .unwrap_or_else(|| panic!("task {name} in {json}"))
}

/// The results directory of a suite run.
fn results(stack: &Stack, run: &str) -> PathBuf {
    stack.dir.path().join("results/eval").join(run)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oracle_scores_one_on_every_task_that_is_not_broken_and_empty_near_zero() {
    assert!(
        rcb().is_dir(),
        "{} holds the benchmark's folders",
        rcb().display()
    );
    let stack = Stack::start(&[]).await;
    let dir = rcb();
    let rcb = dir.to_str().unwrap();
    // The evaluation venv: what the tasks import beyond the execution venv (DyT's timm), from the
    // suite's environment.yml.
    let env = stack.annapurna_ok(&["eval", "env", rcb, "--json"]);
    let env = annapurna_tests::last_line_json(&env);
    eprintln!("eval env: {env}");
    let timm = &env["modules"]["timm"];
    assert!(
        timm["status"] == "installed" || timm["status"] == "present",
        "{env}"
    );
    assert_eq!(timm["tasks"], serde_json::json!(["DyT"]), "{env}");
    assert!(
        env["modules"]
            .as_object()
            .unwrap()
            .values()
            .all(|m| m["status"] != "failed" && m["status"] != "undeclared"),
        "every import is declared and installable here: {env}"
    );
    let (_, oracle) = eval(&stack, &[rcb, "--oracle", "--name", "oracle"]);
    eprintln!("oracle: {oracle}");
    let tasks = oracle["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 6, "{oracle}");
    let scored: Vec<&Value> = tasks.iter().filter(|t| t["status"] == "scored").collect();
    // With the evaluation venv every task of the six is scorable here.
    assert_eq!(scored.len(), 6, "{oracle}");
    for t in &scored {
        assert_eq!(t["score"], 1.0, "the oracle passes every snippet: {t}");
        assert_eq!(t["passed"], t["snippets"], "{t}");
        assert!(t["snippets"].as_u64().unwrap() > 0);
    }
    for t in tasks.iter().filter(|t| t["status"] == "broken") {
        let reason = t["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("missing package: ") || reason.contains("reference fails"),
            "a broken task says why: {t}"
        );
        assert_eq!(t["passed"], 0, "{t}");
    }
    assert_eq!(oracle["score"], 1.0, "{oracle}");
    assert_eq!(oracle["standin"], false, "the oracle asks no model");
    assert_eq!(oracle["cost_usd"], 0.0);
    let snippets: u64 = scored.iter().map(|t| t["snippets"].as_u64().unwrap()).sum();
    assert_eq!(oracle["snippets"].as_u64().unwrap(), snippets);
    let recorded = read_json(&results(&stack, "oracle").join("score.json"));
    assert_eq!(recorded["score"]["snippets"].as_u64().unwrap(), snippets);
    assert_eq!(
        read_json(&results(&stack, "oracle").join("snippets.json"))
            .as_array()
            .unwrap()
            .len() as u64,
        snippets
    );
    assert!(
        std::fs::read_to_string(results(&stack, "oracle").join("table.txt"))
            .unwrap()
            .contains("all (scored tasks)")
    );

    let (_, empty) = eval(&stack, &[rcb, "--empty", "--name", "empty"]);
    eprintln!("empty: {empty}");
    assert_eq!(
        empty["snippets"].as_u64().unwrap(),
        snippets,
        "the same tasks are scored"
    );
    let score = empty["score"].as_f64().unwrap();
    assert!(
        score <= 0.1,
        "leaving every TODO must score near 0: {empty}"
    );
    assert!(empty["passed"].as_u64().unwrap() < snippets);

    let compare = stack.annapurna_ok(&["eval", "compare", "oracle", "empty", "--json"]);
    let delta = last_line_json(&compare);
    assert!(
        (delta["delta"].as_f64().unwrap() - (score - 1.0)).abs() < 1e-9,
        "{delta}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_references_missing_packages_and_bad_tags_are_broken_not_failures() {
    let stack = Stack::start(&[]).await;
    let suite = stack.dir.path().join("suite");
    good_task(&suite.join("good"));
    let simple = |test: &str| {
        vec![
            ("m.py", "def f():\n    # <paper2code name=\"body\">\n    return 3\n    # </paper2code name=\"body\">\n".to_owned()),
            ("paper2code_test.py", test.to_owned()),
        ]
    };
    for (name, files) in [
        (
            "bad-ref",
            simple("from m import f\nassert f() == 4, 'the reference is wrong'\n"),
        ),
        (
            "missing-dep",
            simple("import annapurna_no_such_package\nfrom m import f\n"),
        ),
        (
            "bad-tags",
            vec![
                (
                    "m.py",
                    "# <paper2code name=\"a\">\nx = 1\n# </paper2code name=\"b\">\n".to_owned(),
                ),
                ("paper2code_test.py", "import m\n".to_owned()),
            ],
        ),
    ] {
        let files: Vec<(&str, &str)> = files.iter().map(|(k, v)| (*k, v.as_str())).collect();
        write_task(&suite.join(name), &files);
    }
    let suite_arg = suite.to_str().unwrap();
    // Two snippets per run: the suite continues as new, and nothing is lost on the way.
    let (_, json) = eval(
        &stack,
        &[
            suite_arg,
            "--oracle",
            "--name",
            "synthetic",
            "--snippets-per-run",
            "2",
        ],
    );
    eprintln!("{json}");
    let good = task(&json, "good");
    assert_eq!(good["status"], "scored", "{good}");
    assert_eq!(
        (good["snippets"].as_u64(), good["passed"].as_u64()),
        (Some(3), Some(3)),
        "{good}"
    );
    assert_eq!(good["score"], 1.0);
    let bad = task(&json, "bad-ref");
    assert_eq!(bad["status"], "broken");
    assert!(
        bad["reason"]
            .as_str()
            .unwrap()
            .contains("the reference is wrong"),
        "{bad}"
    );
    let missing = task(&json, "missing-dep");
    assert_eq!(missing["status"], "broken");
    assert!(
        missing["reason"]
            .as_str()
            .unwrap()
            .starts_with("missing package: annapurna_no_such_package"),
        "{missing}"
    );
    let tags = task(&json, "bad-tags");
    assert_eq!(tags["status"], "broken");
    assert!(
        tags["reason"].as_str().unwrap().contains("m.py:3:"),
        "{tags}"
    );
    assert_eq!(
        (json["snippets"].as_u64(), json["score"].as_f64()),
        (Some(3), Some(1.0)),
        "only the good task counts"
    );
    stack.record_history("eval/synthetic", "eval-suite-continued.json");
    assert!(
        stack.continued_as_new("eval/synthetic") >= 1,
        "3 snippets at 2 per run continue as new"
    );

    // The TODOs left in: nested and enclosing blocks fail, an emptied body is a syntax error.
    let (_, empty) = eval(
        &stack,
        &[
            suite.join("good").to_str().unwrap(),
            "--empty",
            "--name",
            "good-empty",
        ],
    );
    assert_eq!(empty["passed"], 0, "{empty}");
    let per_snippet = read_json(&results(&stack, "good-empty").join("snippets.json"));
    let reasons: Vec<(&str, &str, bool)> = per_snippet
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap(),
                s["reason"].as_str().unwrap(),
                s["executable"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(
        reasons.contains(&("product", "test-failed", true)),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&("scale", "syntax-error", false)),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&("forward", "syntax-error", false)),
        "{reasons:?}"
    );
    // The folders given were never written to: the tests ran on copies.
    assert!(
        std::fs::read_to_string(suite.join("good/pkg/ops.py"))
            .unwrap()
            .contains("y = x * k")
    );
    assert!(
        !suite.join("good/__pycache__").exists() && !suite.join("good/pkg/__pycache__").exists()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standin_run_completes_with_every_output_marked() {
    let stack = Stack::start(&[]).await;
    let dir = stack.dir.path().join("suite/good");
    good_task(&dir);
    let (_, json) = eval(&stack, &[dir.to_str().unwrap(), "--name", "standin"]);
    eprintln!("{json}");
    assert_eq!(json["standin"], true, "{json}");
    stack.record_history("eval/standin", "eval-suite-standin.json");
    assert!(
        json["score_kind"]
            .as_str()
            .unwrap()
            .contains("template score")
    );
    assert_eq!(json["snippets"], 3);
    let stats = stack.standin_stats();
    assert_eq!(
        stats["by_kind"]["answer-snippet"], 3,
        "one model call per snippet: {stats}"
    );
    assert!(
        stats["by_kind"]["summarize-chunk"].as_u64().unwrap() >= 1,
        "the paper is summarised: {stats}"
    );
    let dir = results(&stack, "standin");
    let score = read_json(&dir.join("score.json"));
    assert_eq!(score["standin"], true);
    assert!(score["note"].as_str().unwrap().contains("template score"));
    assert!(
        std::fs::read_to_string(dir.join("table.txt"))
            .unwrap()
            .contains("STAND-IN")
    );
    for s in read_json(&dir.join("snippets.json")).as_array().unwrap() {
        assert_eq!(s["standin"], true, "{s}");
        assert!(s["input_tokens"].as_u64().unwrap() > 0, "{s}");
    }
    // The answers themselves carry the stand-in's marker.
    let answers: Vec<PathBuf> =
        annapurna_tests::files_under(&stack.dir.path().join("blobs/eval/standin"))
            .into_iter()
            .filter(|p| p.to_string_lossy().contains("model-answer-"))
            .collect();
    assert_eq!(answers.len(), 3, "{answers:?}");
    for a in answers {
        assert!(
            std::fs::read_to_string(&a)
                .unwrap()
                .contains("ANNAPURNA-STANDIN: template answer"),
            "{}",
            a.display()
        );
    }
}

/// How many `ExecuteCode` activities the history of `workflow_id` scheduled.
fn executions_scheduled(stack: &Stack, workflow_id: &str) -> usize {
    let out = stack.temporal(&["workflow", "show", "-w", workflow_id, "-o", "json"]);
    let history: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    history["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| {
            e["activityTaskScheduledEventAttributes"]["activityType"]["name"] == "ExecuteCode"
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_suite_finishes_without_rerunning_snippets() {
    const SNIPPETS: usize = 10;
    let mut stack = Stack::start(&[]).await;
    let dir = stack.dir.path().join("suite/slow");
    let mut values = String::new();
    let mut checks = String::new();
    for i in 0..SNIPPETS {
        values.push_str(&format!(
            "# <paper2code name=\"v{i}\">\nv{i} = {i}\n# </paper2code name=\"v{i}\">\n"
        ));
        checks.push_str(&format!("assert values.v{i} == {i}\n"));
    }
    let test = format!("import time\ntime.sleep(1)\nimport values\n{checks}");
    write_task(
        &dir,
        &[("values.py", &values), ("paper2code_test.py", &test)],
    );
    let mut cli = stack.command();
    cli.args([
        "eval",
        dir.to_str().unwrap(),
        "--oracle",
        "--json",
        "--name",
        "crash",
        "--max-concurrent",
        "2",
    ]);
    let log = stack.dir.path().join("eval-cli.log");
    let mut running = Proc::spawn(cli, log);

    let handle = stack
        .client
        .get_workflow_handle::<EvaluateSuite>("eval/crash");
    let deadline = Instant::now() + Duration::from_secs(300);
    let done_at_kill = loop {
        assert!(Instant::now() < deadline, "the suite never got under way");
        if let Ok(p) = handle
            .query(EvaluateSuite::progress, (), WorkflowQueryOptions::default())
            .await
            && p.snippets_done >= 2
        {
            break p.snippets_done;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        (done_at_kill as usize) < SNIPPETS,
        "snippets must be left after the kill"
    );
    stack.kill_worker();
    eprintln!("killed the worker after {done_at_kill} snippets");
    stack.start_worker();
    let status = running
        .wait_timeout(Duration::from_secs(600))
        .expect("the suite completed");
    assert!(status.success(), "{}", running.log_text());
    let json: Value = serde_json::from_str(
        running
            .log_text()
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(json["snippets"], SNIPPETS, "{json}");
    assert_eq!(json["passed"], SNIPPETS, "{json}");
    // One reference run and one run per snippet: none was scheduled again after the kill.
    assert_eq!(executions_scheduled(&stack, "eval/crash"), SNIPPETS + 1);
}

/// The six shared folders answered by the stand-in (the map phase on their papers, one
/// `answer-snippet` call per snippet): the figures in BENCHMARKS.md. Run by hand:
/// `cargo test -p annapurna-tests --test eval -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark (about two minutes on two cores); run by hand for BENCHMARKS.md"]
async fn the_shared_suite_with_the_standin() {
    let stack = Stack::start(&[]).await;
    let (_, json) = eval(&stack, &[rcb().to_str().unwrap(), "--name", "standin-rcb"]);
    eprintln!("stand-in: {json}");
    assert_eq!(json["standin"], true);
    let stats = stack.standin_stats();
    eprintln!("stand-in requests: {}", stats["by_kind"]);
    assert_eq!(
        stats["by_kind"]["answer-snippet"], json["snippets"],
        "{stats}"
    );
    for s in read_json(&results(&stack, "standin-rcb").join("snippets.json"))
        .as_array()
        .unwrap()
    {
        assert_eq!(s["standin"], true, "{s}");
    }
}

/// `carried` is the suite's own state between runs: a caller who passes it (to inject finished
/// "passing" snippets) is refused, and nothing runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_carried_state_from_a_caller_is_refused() {
    use workflows::types::*;
    let stack = Stack::start(&[]).await;
    let forged = SnippetResult {
        task: "t".into(),
        file: "m.py".into(),
        name: "s".into(),
        lines: 100,
        passed: true,
        reason: "ok".into(),
        detail: String::new(),
        executable: true,
        input_tokens: 0,
        output_tokens: 0,
        cost_microusd: 0,
        seconds: 0.0,
        standin: false,
    };
    let input = EvaluateSuiteInput {
        suite_run: "forged".into(),
        carried: Some(EvalCarry {
            tasks: vec![],
            remaining: vec![],
            results: vec![forged],
            progress: EvalProgress::default(),
        }),
        ..Default::default()
    };
    let options =
        temporalio_client::WorkflowStartOptions::new(workflows::names::TASK_QUEUE, "eval/forged")
            .build();
    let handle = stack
        .client
        .start_workflow(EvaluateSuite::run, input, options)
        .await
        .unwrap();
    let failure = annapurna_tests::wait_failure(&handle, 60).await;
    assert!(failure.contains("InvalidInput"), "{failure}");
    assert!(failure.contains("carried"), "{failure}");
    assert!(!results(&stack, "forged").exists(), "nothing was recorded");
}

/// `annapurna complete`: a user's `# TODO` line filled from a stored paper by the snippet path
/// (the paper summarised, one answer-snippet request), at the TODO's indentation; the rest of the
/// file unchanged; the stand-in's answer marked as such.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_fills_todo_lines_from_a_stored_paper() {
    let stack = Stack::start(&[]).await;
    let paper = stack.add_example();
    let file = stack.dir.path().join("gated.py");
    let code = "import torch\n\n\ndef gate(x, w):\n    # TODO: the gated residual of the paper\n    return y\n";
    std::fs::write(&file, code).unwrap();
    let out_file = stack.dir.path().join("gated-done.py");
    let out = stack.annapurna_ok(&[
        "complete",
        file.to_str().unwrap(),
        "--paper",
        &paper,
        "--output",
        out_file.to_str().unwrap(),
    ]);
    let done = std::fs::read_to_string(&out_file).unwrap();
    assert!(
        !done.contains("TODO") && !done.contains("paper2code"),
        "{done}"
    );
    assert!(
        done.contains("    # ANNAPURNA-STANDIN: template answer"),
        "the answer at the TODO's indentation: {done}"
    );
    assert!(
        done.starts_with("import torch\n\n\ndef gate(x, w):\n") && done.ends_with("    return y\n")
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("stand-in"));
    let stats = stack.standin_stats();
    assert_eq!(stats["by_kind"]["answer-snippet"], 1, "{stats}");
    assert!(
        stats["by_kind"]["summarize-chunk"].as_u64().unwrap() >= 1,
        "{stats}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        code,
        "the input file is left as it was"
    );
}
