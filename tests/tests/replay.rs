//! Replay: recorded histories of real runs replay cleanly against the current workflow code (so a
//! change that would break running workflows fails here), a deliberately reordered workflow fails
//! replay, and `annapurna replay`, `history export` and `rerun` work against a live server.
//!
//! The histories under `tests/histories/` are recorded by the ignored test `record_histories`
//! (`cargo test -p annapurna-tests --test replay -- --ignored`), which runs each scenario on a
//! real stack and exports its history.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use annapurna_tests::{Stack, assert_success, paper_input, run_ok};
use temporalio_client::WorkflowHistory;
use temporalio_common::ActivityError;
use temporalio_macros::{activity_definitions, workflow, workflow_methods};
use temporalio_sdk::workflow_replayer::{
    WorkflowReplayError, WorkflowReplayFailure, WorkflowReplayer, WorkflowReplayerOptions,
};
use temporalio_workflow::{ActivityOptions, WorkflowContext, WorkflowContextView, WorkflowResult};
use workflows::names::paper_workflow_id;
use workflows::types::{LoadPaperInput, PaperToCodeInput, PaperToCodeOutput, PlanChunksInput};

fn histories_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("histories")
}

fn histories() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(histories_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// Runs PaperToCode as `workflow_id` on a fresh stack (the stand-in with `standin`) for `paper`
/// from `../shared/papers` (the example paper when `None`), with `input` around its id; asserts
/// that it `succeeds` (or fails), then exports its history to `tests/histories/`. The output when
/// it succeeded.
async fn record(
    standin: &[&str],
    paper: Option<&str>,
    workflow_id: &str,
    input: PaperToCodeInput,
    succeeds: bool,
) -> Option<PaperToCodeOutput> {
    let (stack, id) = match paper {
        Some(paper) => Stack::start_with_paper(standin, paper).await,
        None => {
            let stack = Stack::start(standin).await;
            let id = stack.add_example();
            (stack, id)
        }
    };
    let input = PaperToCodeInput {
        paper_id: Some(id),
        ..input
    };
    let out = stack.run_paper(workflow_id, input).await;
    assert_eq!(out.is_ok(), succeeds, "{workflow_id}: {out:?}");
    let file = histories_dir().join(format!("{workflow_id}.json"));
    stack.export_history(workflow_id, &file);
    out.ok()
}

/// PaperToCode's input at `tokens`-token chunks (the paper's id is filled in by [`record`]).
fn chunked(tokens: u64) -> PaperToCodeInput {
    PaperToCodeInput {
        max_chunk_tokens: Some(tokens),
        ..Default::default()
    }
}

/// Records the scenario histories (run by hand when the workflow changes on purpose).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "records tests/histories; run by hand after an intended workflow change"]
async fn record_histories() {
    // Happy path, several chunks.
    let dyt = Some("dyt.tex");
    record(&[], dyt, "happy-path", chunked(4_000), true).await;
    // Partial chunk failure: 40% of chunks refused for good.
    let failing = ["--fail-chunks-percent", "40"];
    let paper = Some("schedule-free.tex");
    record(
        &failing,
        paper,
        "partial-chunk-failure",
        chunked(2_000),
        true,
    )
    .await;
    // Several review rounds on Trainium.
    let defects = ["--defects", "missing-import,missing-mark-step"];
    let trainium = PaperToCodeInput {
        target: Some("trainium".into()),
        ..Default::default()
    };
    record(&defects, None, "review-rounds", trainium, true).await;
    // A failed paper (too many chunks refused).
    let failing = ["--fail-chunks-percent", "60"];
    record(&failing, paper, "failed-paper", chunked(2_000), false).await;
}

/// Records the execution-repair history (a run that fails, is diagnosed, fixed and run again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "records tests/histories; run by hand after an intended workflow change"]
async fn record_execution_history() {
    let defects = ["--defects", "runtime-error"];
    let out = record(&defects, None, "execution-repair", Default::default(), true)
        .await
        .unwrap();
    assert_eq!(out.execution, "ok");
}

/// Every recorded history replays cleanly with `annapurna replay --history`.
#[test]
fn recorded_histories_replay_against_the_current_code() {
    let files = histories();
    assert!(
        files.len() >= 4,
        "recorded histories are missing from {}",
        histories_dir().display()
    );
    for file in files {
        let mut replay = Command::new(annapurna_tests::annapurna_bin());
        replay.args(["replay", "--history"]).arg(&file);
        let what = format!("{} no longer replays", file.display());
        let out = run_ok(&mut replay, &what);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("replayed cleanly"), "{stdout}");
    }
}

/// A workflow under the same name that loads the paper after planning, not before.
struct Reordered;

#[activity_definitions]
impl Reordered {
    #[activity(name = "LoadPaper")]
    pub fn load_paper(input: LoadPaperInput) -> Result<workflows::types::PaperRef, ActivityError> {
        unimplemented!()
    }
    #[activity(name = "PlanChunks")]
    pub fn plan_chunks(
        input: PlanChunksInput,
    ) -> Result<workflows::types::ChunkPlan, ActivityError> {
        unimplemented!()
    }
}

#[workflow]
pub struct ReorderedPaperToCode {
    input: PaperToCodeInput,
}

#[workflow_methods]
impl ReorderedPaperToCode {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: PaperToCodeInput) -> Self {
        Self { input }
    }

    #[run(name = "PaperToCode")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<()> {
        let input = ctx.state(|s| s.input.clone());
        let paper = workflows::types::PaperRef {
            paper_id: input.paper_id.clone().unwrap_or_default(),
            title: String::new(),
            text: workflows::types::BlobRef {
                uri: String::new(),
                sha256: String::new(),
                bytes: 0,
            },
            sections: workflows::types::BlobRef {
                uri: String::new(),
                sha256: String::new(),
                bytes: 0,
            },
            section_count: 0,
            characters: 0,
        };
        let opts = || ActivityOptions::with_start_to_close_timeout(Duration::from_secs(10)).build();
        ctx.execute_activity(
            Reordered::plan_chunks,
            PlanChunksInput {
                paper,
                max_chunk_tokens: None,
                model: None,
            },
            opts(),
        )
        .await?;
        ctx.execute_activity(
            Reordered::load_paper,
            LoadPaperInput {
                paper_id: input.paper_id,
                source: None,
            },
            opts(),
        )
        .await?;
        Ok(())
    }
}

/// The check bites: the reordered workflow does not replay the recorded happy path.
#[tokio::test]
async fn a_reordered_workflow_fails_replay() {
    let json = std::fs::read(histories_dir().join("happy-path.json")).unwrap();
    let history = WorkflowHistory::from_json(&json).unwrap();
    let options = WorkflowReplayerOptions::new()
        .register_workflow::<ReorderedPaperToCode>()
        .unwrap()
        .build();
    let result = WorkflowReplayer::new(options)
        .unwrap()
        .replay_workflow(history)
        .await;
    match result {
        Err(WorkflowReplayError::Replay(WorkflowReplayFailure::Nondeterminism { message })) => {
            assert!(!message.is_empty());
        }
        other => panic!("expected a nondeterminism failure, got {other:?}"),
    }
}

/// Against a live server: replay by id, export, rerun (all from the cache), and rerun --from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_export_and_rerun_on_a_live_server() {
    let stack = Stack::start(&[]).await;
    let id = stack.add_example();
    let workflow_id = paper_workflow_id(&id);
    let input = PaperToCodeInput {
        max_chunk_tokens: Some(200),
        ..paper_input(&id)
    };
    let first = stack.run_paper(&workflow_id, input).await.unwrap();

    stack.annapurna_ok(&["replay", &workflow_id]);
    let file = stack.dir.path().join("h.json");
    stack.export_history(&workflow_id, &file);
    stack.annapurna_ok(&["replay", "--history", file.to_str().unwrap()]);

    // The CLI's own JSON (proto3 JSON), as `temporal workflow show --output json` writes it.
    let cli = stack.temporal(&[
        "workflow",
        "show",
        "--workflow-id",
        &workflow_id,
        "--output",
        "json",
    ]);
    assert_success(&cli, "temporal workflow show");
    let cli_file = stack.dir.path().join("cli.json");
    std::fs::write(&cli_file, &cli.stdout).unwrap();
    stack.annapurna_ok(&["replay", "--history", cli_file.to_str().unwrap()]);
    let garbage = stack.dir.path().join("garbage.json");
    std::fs::write(&garbage, b"{\"not\": \"a history\"}").unwrap();
    let out = stack.annapurna(&["replay", "--history", garbage.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a workflow history"));

    let before = stack.standin_stats();
    let out = stack.annapurna_ok(&["rerun", &id, "--follow"]);
    let rerun_id = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned();
    assert!(!rerun_id.is_empty() && !first.results.ends_with(&rerun_id));
    let after = stack.standin_stats();
    assert_eq!(
        before["requests"], after["requests"],
        "a rerun is served from the answer cache"
    );
    let second_code = std::fs::read(
        Stack::path_of(&first.results)
            .parent()
            .unwrap()
            .join(&rerun_id)
            .join("code.py"),
    )
    .unwrap();
    assert_eq!(
        std::fs::read(Stack::path_of(&first.results).join("code.py")).unwrap(),
        second_code,
        "identical outputs"
    );

    let out = stack.annapurna(&["rerun", &id, "--from", "generating", "--follow"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "rerun --from: {stderr}");
    assert!(stderr.contains("temporal workflow reset"), "{stderr}");
    assert_eq!(stack.standin_stats()["requests"], after["requests"]);
    let out = stack.annapurna(&["rerun", &id, "--from", "bogus"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown stage"));
}
