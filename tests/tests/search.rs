//! The hyperparameter search (`SearchHyperparameters`) on a repository that follows the training
//! contract (`tests/fixtures/contract-repo`: an MLP on synthetic data), trained with real torch on
//! CPU in the sandbox by the cpu executor: six trials two at a time and the best of them; the
//! executor killed mid-search with no finished trial run again; a model over its budget shrunk
//! by a hyperparameter fix until it fits; a broken contract classified as such.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use activities::clients::blobs::BlobStore;
use annapurna_tests::{Handle, Proc, Stack, read_json, wait_result};
use temporalio_client::{WorkflowQueryOptions, WorkflowStartOptions};
use workflows::SearchHyperparameters;
use workflows::types::*;

/// The fixture repository's files, `change` applied to (path, text).
fn fixture(change: impl Fn(&str, String) -> String) -> RepoBundle {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/contract-repo");
    let files = ["train.py", "model.py", "config.yaml"]
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(dir.join(f)).unwrap();
            (f.to_string(), change(f, text))
        })
        .collect();
    RepoBundle {
        entry: "train.py".into(),
        files,
    }
}

/// Stores `bundle` in the stack's blob store; the bundle's and the entry file's references.
async fn store(stack: &Stack, bundle: &RepoBundle) -> (BlobRef, BlobRef) {
    let blobs = BlobStore::open(stack.dir.path().join("blobs").to_str().unwrap()).unwrap();
    let repo = blobs
        .put(
            "tests/search/repo.json",
            serde_json::to_vec(bundle).unwrap(),
        )
        .await
        .unwrap();
    let code = blobs
        .put(
            "tests/search/train.py",
            bundle.files[&bundle.entry].clone().into_bytes(),
        )
        .await
        .unwrap();
    (repo, code)
}

/// Starts a search as `id` over `bundle`.
async fn start(
    stack: &Stack,
    id: &str,
    bundle: &RepoBundle,
    search: SearchSpec,
    budget: ModelBudget,
) -> Handle<SearchHyperparameters> {
    let (repository, code) = store(stack, bundle).await;
    let input = SearchHyperparametersInput {
        invalid_input: None,
        paper_id: "contract-fixture".into(),
        results_dir: format!("contract-fixture/{id}"),
        repository: Some(repository),
        code,
        target: "cpu".into(),
        search,
        budget,
        timeout_secs: 300,
        heartbeat_secs: 10,
    };
    let options = WorkflowStartOptions::new(workflows::names::TASK_QUEUE, id).build();
    stack
        .client
        .start_workflow(SearchHyperparameters::run, input, options)
        .await
        .expect("the search starts");
    stack.client.get_workflow_handle(id)
}

/// The search's results directory.
fn search_dir(stack: &Stack, id: &str) -> PathBuf {
    stack
        .dir
        .path()
        .join("results/contract-fixture")
        .join(id)
        .join("search")
}

/// The trial records written under `search/trials/`.
fn trial_files(dir: &Path) -> Vec<serde_json::Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("trials"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.iter().map(|p| read_json(p)).collect()
}

/// ExecuteCode's attempts per activity id, from the history (`temporal workflow show`): the
/// attempt of each started event, by its scheduled event's activity id.
fn attempts_by_activity(stack: &Stack, id: &str) -> std::collections::BTreeMap<String, Vec<u64>> {
    let out = stack.temporal(&["workflow", "show", "--workflow-id", id, "-o", "json"]);
    let history: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let events = history["events"].as_array().expect("events");
    let mut scheduled = std::collections::BTreeMap::new();
    let mut attempts: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
    for e in events {
        let event_id = e["eventId"].as_str().unwrap_or_default().to_owned();
        if let Some(a) = e.get("activityTaskScheduledEventAttributes") {
            let activity = a["activityId"].as_str().unwrap_or_default().to_owned();
            attempts.entry(activity.clone()).or_default();
            scheduled.insert(event_id, activity);
        } else if let Some(a) = e.get("activityTaskStartedEventAttributes") {
            let of = a["scheduledEventId"].as_str().unwrap_or_default();
            let attempt = a["attempt"].as_u64().unwrap_or(1);
            if let Some(activity) = scheduled.get(of) {
                attempts.entry(activity.clone()).or_default().push(attempt);
            }
        }
    }
    attempts
}

async fn progress(handle: &Handle<SearchHyperparameters>) -> Option<SearchProgress> {
    handle
        .query(
            SearchHyperparameters::progress,
            (),
            WorkflowQueryOptions::default(),
        )
        .await
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_trials_two_at_a_time_record_the_best() {
    let stack = Stack::start(&[]).await;
    let search = SearchSpec {
        trials: 6,
        parallel: 2,
        seed: 7,
        ..SearchSpec::default()
    };
    let started = Instant::now();
    let handle = start(
        &stack,
        "search-six",
        &fixture(|_, t| t),
        search,
        Default::default(),
    )
    .await;
    let out = wait_result(&handle, 600).await;
    eprintln!("6 trials in {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(out.trials.len(), 6, "{out:?}");
    let dir = search_dir(&stack, "search-six");
    let records = trial_files(&dir);
    assert_eq!(records.len(), 6);
    // Every trial trained: metrics from train_model, a size, seconds; trial 1 is the defaults.
    for r in &records {
        assert_eq!(r["status"], "ok", "{r}");
        assert_eq!(r["metrics"]["train_loss"].as_array().unwrap().len(), {
            r["hyperparameters"]["epochs"].as_u64().unwrap() as usize
        });
        assert!(r["size"]["params"].as_u64().unwrap() > 0, "{r}");
        assert!(r["train_seconds"].as_f64().unwrap() > 0.0, "{r}");
    }
    assert_eq!(
        records[0]["hyperparameters"]["hidden"], 16,
        "trial 1 runs the defaults"
    );
    let distinct: std::collections::BTreeSet<String> = records
        .iter()
        .map(|r| r["hyperparameters"].to_string())
        .collect();
    assert_eq!(distinct.len(), 6, "six different suggestions: {distinct:?}");
    // best.json names the trial with the highest recorded val_accuracy (the first among equals).
    let mut best: Option<(u64, f64)> = None;
    for r in &records {
        let v = r["metrics"]["val_accuracy"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .as_f64()
            .unwrap();
        if best.is_none_or(|(_, b)| v > b) {
            best = Some((r["number"].as_u64().unwrap(), v));
        }
    }
    let best_json = read_json(&dir.join("best.json"));
    assert_eq!(
        best_json["trial"].as_u64(),
        best.map(|b| b.0),
        "{best_json}"
    );
    assert_eq!(best_json["value"].as_f64(), best.map(|b| b.1));
    let curve = read_json(&dir.join("curve.json"));
    assert_eq!(curve.as_array().unwrap().len(), 6);
    assert_eq!(
        curve[5]["best_so_far"].as_f64(),
        best.map(|b| b.1),
        "{curve}"
    );
    stack.record_history("search-six", "search-six-trials.json");
    let p = progress(&handle).await.expect("the progress query answers");
    assert_eq!((p.done, p.running, p.failed), (6, 0, 0), "{p:?}");
    assert_eq!(p.best_trial.map(u64::from), best.map(|b| b.0));
    // The overhead beyond training, for BENCHMARKS.md.
    let overhead: Vec<f64> = out
        .trials
        .iter()
        .map(|t| t.seconds - t.train_seconds)
        .collect();
    eprintln!(
        "SuggestTrials (trials 2-6): {:?} ms",
        out.trials
            .iter()
            .skip(1)
            .map(|t| t.suggest_ms)
            .collect::<Vec<_>>()
    );
    eprintln!(
        "per trial: wall {:?} s, train {:?} s, overhead beyond train_model {:?} s",
        out.trials
            .iter()
            .map(|t| (t.seconds * 100.0).round() / 100.0)
            .collect::<Vec<_>>(),
        out.trials
            .iter()
            .map(|t| (t.train_seconds * 100.0).round() / 100.0)
            .collect::<Vec<_>>(),
        overhead
            .iter()
            .map(|o| (o * 100.0).round() / 100.0)
            .collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_executor_mid_search_reruns_no_finished_trial() {
    let mut stack = Stack::start(&[]).await;
    // Thirty epochs: each trial trains for seconds, so one is in flight when the executor dies.
    let bundle = fixture(|f, t| {
        if f == "config.yaml" {
            t.replace("epochs: 8", "epochs: 30")
        } else {
            t
        }
    });
    let search = SearchSpec {
        trials: 6,
        parallel: 2,
        seed: 3,
        ..SearchSpec::default()
    };
    let handle = start(&stack, "search-kill", &bundle, search, Default::default()).await;
    let deadline = Instant::now() + Duration::from_secs(300);
    let at_kill = loop {
        assert!(Instant::now() < deadline, "the search never got going");
        if let Some(p) = progress(&handle).await
            && p.done >= 2
            && p.running >= 1
        {
            break p;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let executor = stack.executor.take().expect("the cpu executor");
    executor.signal(nix::sys::signal::Signal::SIGKILL);
    drop(executor);
    eprintln!("killed the executor at {at_kill:?}");
    let mut cmd = stack.command();
    cmd.args(["worker", "--exec", "cpu"]);
    stack.executor = Some(Proc::spawn(cmd, stack.dir.path().join("executor-2.log")));
    let out = wait_result(&handle, 600).await;
    assert_eq!(out.trials.len(), 6);
    assert!(
        out.trials.iter().all(|t| t.status == TrialStatus::Ok),
        "{out:?}"
    );
    let attempts = attempts_by_activity(&stack, "search-kill");
    let trials: Vec<(&String, &Vec<u64>)> = attempts
        .iter()
        .filter(|(a, _)| a.starts_with("trial-"))
        .collect();
    assert_eq!(trials.len(), 6, "one ExecuteCode per trial: {attempts:?}");
    // Each trial was scheduled once; only a trial in flight at the kill ran again (attempt 2),
    // so at most `running` trials have a second attempt and at least one has.
    let rerun: Vec<&String> = trials
        .iter()
        .filter(|(_, a)| a.iter().any(|n| *n > 1))
        .map(|(id, _)| *id)
        .collect();
    assert!(
        !rerun.is_empty(),
        "the kill hit a running trial: {attempts:?}"
    );
    assert!(
        rerun.len() as u32 <= at_kill.running,
        "only trials in flight ran again: {rerun:?} at {at_kill:?}"
    );
    assert_eq!(trial_files(&search_dir(&stack, "search-kill")).len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_over_its_budget_is_shrunk_until_it_fits_and_a_broken_contract_is_named() {
    let stack = Stack::start(&[]).await;
    // hidden 64 → 11 × 64 + 2 = 706 parameters; the budget allows 400 (hidden ≤ 36).
    let wide = fixture(|f, t| {
        if f == "config.yaml" {
            t.replace("hidden: 16", "hidden: 64")
        } else {
            t
        }
    });
    let one = SearchSpec {
        trials: 1,
        parallel: 1,
        ..SearchSpec::default()
    };
    let budget = ModelBudget {
        max_params: Some(400),
        max_model_mb: Some(0.01),
        bits: Some(8),
        quantize: true,
    };
    let handle = start(&stack, "search-budget", &wide, one.clone(), budget).await;
    let out = wait_result(&handle, 300).await;
    let t = &out.trials[0];
    assert_eq!(t.status, TrialStatus::Ok, "{t:?}");
    assert_eq!(t.runs, 2, "one run over the budget, one within: {t:?}");
    assert_eq!(
        t.fixes,
        vec!["hyperparameters (over the budget): hidden 64 → 32".to_owned()]
    );
    assert_eq!(t.hyperparameters["hidden"], 32);
    assert_eq!(t.size.as_ref().unwrap().params, 11 * 32 + 2);
    assert!(t.metrics.contains_key("quantized_state_mb"), "{t:?}");
    let attempts = attempts_by_activity(&stack, "search-budget");
    assert!(attempts.contains_key("trial-1-shrink-1"), "{attempts:?}");

    // A train_model whose metrics lack val_loss breaks the contract: classified, named.
    let broken = fixture(|f, t| {
        if f == "train.py" {
            t.replace("\"val_loss\": [], ", "")
                .replace("metrics[\"val_loss\"].append(val_loss)", "pass")
        } else {
            t
        }
    });
    let handle = start(&stack, "search-contract", &broken, one, Default::default()).await;
    let out = wait_result(&handle, 300).await;
    let t = &out.trials[0];
    // The harness named what broke, and the search's one code fix was made for it; the fixed
    // code (the stand-in's template) is held to the contract again.
    assert_eq!(t.fixes.len(), 1, "{t:?}");
    assert!(t.fixes[0].contains("metrics has no 'val_loss'"), "{t:?}");
    assert!(
        t.status == TrialStatus::Ok || t.classification == Classification::Contract,
        "{t:?}"
    );
    let best = read_json(&search_dir(&stack, "search-contract").join("best.json"));
    if t.status == TrialStatus::Failed {
        assert_eq!(best["trial"], serde_json::Value::Null);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paper_to_code_searches_after_the_code_ran_and_refuses_a_bad_search() {
    let stack = Stack::start(&[]).await;
    let paper = stack.add_example();
    let bad = PaperToCodeInput {
        search: Some(SearchSpec {
            trials: 0,
            ..SearchSpec::default()
        }),
        ..annapurna_tests::paper_input(&paper)
    };
    let err = stack.run_paper("paper-bad-search", bad).await.unwrap_err();
    assert!(err.contains("search.trials"), "{err}");
    let input = PaperToCodeInput {
        search: Some(SearchSpec {
            trials: 6,
            parallel: 2,
            ..SearchSpec::default()
        }),
        ..annapurna_tests::paper_input(&paper)
    };
    let started = Instant::now();
    let out = stack
        .run_paper("paper-search", input)
        .await
        .expect("the paper completes");
    eprintln!(
        "the paper with a 6-trial search: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(out.execution, "ok", "{out:?}");
    stack.record_history("paper-search", "paper-with-search.json");
    stack.record_history("paper-search/search", "paper-with-search-child.json");
    let search: SearchOutput = stack
        .result::<SearchHyperparameters>("paper-search/search", 60)
        .await;
    // The planned repository's train.py (the stand-in's template) follows the training
    // contract: every trial trains, and the best is the best of the records.
    assert_eq!(search.trials.len(), 6, "{search:?}");
    for t in &search.trials {
        assert_eq!(t.status, TrialStatus::Ok, "{t:?}");
    }
    let dir = Stack::path_of(&out.results).join("search");
    let records = trial_files(&dir);
    assert_eq!(records.len(), 6);
    let best = records
        .iter()
        .filter_map(|r| Some((r["number"].as_u64()?, r["value"].as_f64()?)))
        .fold(None::<(u64, f64)>, |b, (n, v)| match b {
            Some((_, bv)) if bv >= v => b,
            _ => Some((n, v)),
        });
    let best_json = read_json(&dir.join("best.json"));
    assert_eq!(
        best_json["trial"].as_u64(),
        best.map(|b| b.0),
        "{best_json}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_trial_gets_the_searchs_one_code_fix() {
    let stack = Stack::start(&[]).await;
    let failing = fixture(|f, t| {
        if f == "train.py" {
            t.replace(
                "    model = MLP(",
                "    raise RuntimeError(\"fixture defect\")\n    model = MLP(",
            )
        } else {
            t
        }
    });
    let two = SearchSpec {
        trials: 2,
        parallel: 1,
        ..SearchSpec::default()
    };
    let handle = start(&stack, "search-fix", &failing, two, Default::default()).await;
    let out = wait_result(&handle, 300).await;
    let (first, second) = (&out.trials[0], &out.trials[1]);
    assert_eq!(
        first.runs, 2,
        "the failed run, then the fixed code: {first:?}"
    );
    assert_eq!(first.fixes.len(), 1, "{first:?}");
    assert!(first.fixes[0].starts_with("code (FixCode"), "{first:?}");
    assert!(first.fixes[0].contains("fixture defect"), "{first:?}");
    // Trial 2 runs the fixed code and gets no second fix, whatever the fixed code does.
    assert!(second.fixes.is_empty(), "{second:?}");
    let attempts = attempts_by_activity(&stack, "search-fix");
    let fixes: Vec<&String> = attempts
        .keys()
        .filter(|k| k.starts_with("fix-trial-"))
        .collect();
    assert_eq!(fixes, vec!["fix-trial-1"], "{attempts:?}");
    assert_eq!(stack.standin_stats()["by_kind"]["fix-code"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn annapurna_run_takes_a_search() {
    let stack = Stack::start(&[]).await;
    let paper = stack.example_paper();
    let paper = paper.to_str().unwrap();
    let bad = stack.annapurna(&["run", paper, "--search", r#"{"parallel": 0}"#]);
    assert!(!bad.status.success());
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(said.contains("search.parallel"), "{said}");
    let out = stack.annapurna_ok(&[
        "run",
        paper,
        "--follow",
        "--search",
        r#"{"trials": 2, "parallel": 2, "seed": 1}"#,
        "--max-params",
        "100000",
    ]);
    let said = String::from_utf8_lossy(&out.stderr);
    let dir = said
        .lines()
        .find_map(|l| l.strip_prefix("search:  "))
        .and_then(|l| l.split(' ').next())
        .unwrap_or_else(|| panic!("no search line: {said}"));
    let dir = Stack::path_of(dir);
    assert_eq!(trial_files(&dir).len(), 2, "{}", dir.display());
    let search = read_json(&dir.join("search.json"));
    assert_eq!(search["budget"]["max_params"], 100000, "{search}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repository_with_a_path_out_of_its_directory_fails_the_search_naming_it() {
    let stack = Stack::start(&[]).await;
    let mut hostile = fixture(|_, t| t);
    hostile
        .files
        .insert("../../escaped.py".into(), "print('out')\n".into());
    let one = SearchSpec {
        trials: 1,
        parallel: 1,
        ..SearchSpec::default()
    };
    let handle = start(&stack, "search-hostile", &hostile, one, Default::default()).await;
    let failure = annapurna_tests::wait_failure(&handle, 120).await;
    assert!(failure.contains("../../escaped.py"), "{failure}");
    let attempts = attempts_by_activity(&stack, "search-hostile");
    assert_eq!(
        attempts["trial-1"],
        vec![1],
        "refused at once, not retried: {attempts:?}"
    );
    assert!(!stack.dir.path().join("escaped.py").exists());
    assert!(!Path::new("/tmp/escaped.py").exists());
}
