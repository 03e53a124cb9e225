//! `annapurna doctor` and the model failures a newcomer meets first: retired models, bare ids of
//! models that only inference profiles serve, a Temporal server without the search attributes,
//! a target with no executor. All against real processes: Temporal dev servers, the stand-in
//! (which answers as Bedrock does for these cases), workers and an executor.

use std::time::Duration;

use activities::catalogue::{HAIKU_3, SONNET_4_6};
use annapurna_tests::{
    Proc, Stack, free_port, paper_input, temporal_dev_command, wait_failure, wait_port,
    wait_progress,
};
use serde_json::Value;
use workflows::types::PaperToCodeInput;

/// `annapurna doctor --json` in `stack`'s environment, with `env` on top: (exit code, report).
fn doctor(stack: &Stack, env: &[(&str, &str)]) -> (i32, Value) {
    let mut cmd = stack.command();
    cmd.args(["doctor", "--json"]).envs(env.iter().copied());
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "doctor --json printed no JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

fn find<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report:#}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_names_retired_models_bare_profile_ids_and_missing_search_attributes() {
    let stack = Stack::start(&[]).await;

    // The defaults: every check is there, none fails; the stand-in is said.
    let (code, report) = doctor(&stack, &[]);
    assert_eq!(report["standin"], true);
    for role in [
        "model.summary+dataset+judge",
        "model.code+review+fix+diagnose",
    ] {
        for part in ["catalogue", "lifecycle", "access", "converse", "quota"] {
            let c = find(&report, &format!("{role}.{part}"));
            assert_ne!(c["status"], "fail", "{c:#}");
        }
    }
    for name in [
        "temporal.reachable",
        "temporal.search-attributes",
        "sandbox.run",
        "store.papers",
        "store.blobs",
        "store.results",
    ] {
        assert_eq!(find(&report, name)["status"], "ok", "{report:#}");
    }
    assert_eq!(code, 0, "{report:#}");
    // The quota check read the account's (stand-in's) quota for the US profile.
    let quota = find(&report, "model.code+review+fix+diagnose.quota");
    assert!(
        quota["detail"].as_str().unwrap().contains("cross-region"),
        "{quota:#}"
    );

    // A retired summary model and a bare id of a profile-only code model.
    let (code, report) = doctor(
        &stack,
        &[
            ("ANNAPURNA_MODELS__SUMMARY_MODEL", HAIKU_3),
            ("ANNAPURNA_MODELS__CODE_MODEL", SONNET_4_6),
        ],
    );
    assert_eq!(code, 1, "{report:#}");
    let retired = find(&report, "model.summary+dataset+judge.catalogue");
    assert_eq!(retired["status"], "fail");
    let detail = retired["detail"].as_str().unwrap();
    assert!(
        detail.contains("ModelRetired")
            && detail.contains(HAIKU_3)
            && detail.contains("us.anthropic.claude-haiku-4-5-20251001-v1:0"),
        "{retired:#}"
    );
    let bare = find(&report, "model.code+review+fix+diagnose.catalogue");
    assert_eq!(bare["status"], "fail");
    let detail = bare["detail"].as_str().unwrap();
    assert!(
        detail.contains("ModelNeedsInferenceProfile")
            && detail.contains("us.anthropic.claude-sonnet-4-6"),
        "{bare:#}"
    );

    // A Temporal server without the custom search attributes.
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cmd = temporal_dev_command(&dir.path().join("bare.db"), port);
    let _bare = Proc::spawn(cmd, dir.path().join("bare.log"));
    wait_port(port, "the bare Temporal server");
    let address = format!("127.0.0.1:{port}");
    // The port answers before the frontend serves: the first calls may be refused.
    let mut report = Value::Null;
    for _ in 0..30 {
        report = doctor(&stack, &[("TEMPORAL_ADDRESS", &address)]).1;
        if find(&report, "temporal.reachable")["status"] == "ok" {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let sa = find(&report, "temporal.search-attributes");
    assert_eq!(sa["status"], "fail", "{report:#}");
    for name in workflows::names::search_attribute::ALL {
        assert!(sa["detail"].as_str().unwrap().contains(name), "{sa:#}");
    }
    assert!(
        sa["fix"]
            .as_str()
            .unwrap()
            .contains("temporal operator search-attribute create"),
        "{sa:#}"
    );
}

/// A paper whose summary model is retired fails at once, non-retryable, with a failure type and
/// message that name the model and its replacement; the model is never called.
#[tokio::test(flavor = "multi_thread")]
async fn a_paper_on_a_retired_model_fails_at_once_without_calling_it() {
    let stack = Stack::start(&[]).await;
    let id = stack.add_example();
    let input = PaperToCodeInput {
        summary_model: Some(HAIKU_3.into()),
        execute: Some(false),
        ..paper_input(&id)
    };
    let err = stack
        .run_paper(&format!("paper/{id}"), input)
        .await
        .expect_err("a retired model must fail the paper");
    assert!(err.contains("ModelRetired"), "{err}");
    assert!(err.contains(HAIKU_3), "{err}");
    assert!(
        err.contains("anthropic.claude-haiku-4-5-20251001-v1:0"),
        "{err}"
    );
    assert_eq!(
        stack.standin_stats()["requests"],
        0,
        "no request may reach the provider"
    );
}

/// The stand-in answers as Bedrock does: the real SDK client gets Bedrock's error for a retired
/// model and for a bare id of a profile-only model, and the quota is settled with the 5×
/// output burndown of Claude 4.5-generation models.
#[tokio::test(flavor = "multi_thread")]
async fn the_standin_refuses_as_bedrock_and_counts_output_with_the_burndown() {
    use activities::clients::llm::{LlmError, LlmRequest};
    let stack = Stack::start(&[]).await;
    // The worker's own Bedrock client, as `annapurna worker` builds it for the stand-in.
    let url = format!("http://127.0.0.1:{}", stack.standin_port);
    let llm = annapurna::wiring::bedrock(&annapurna::config::Config::default(), Some(&url)).await;
    let ask = |model: &str| {
        LlmRequest::single(
            model.to_owned(),
            ("annapurna-task: doctor".into(), "Say ok.".into()),
            100,
            0.0,
        )
    };
    let e = llm.converse(&ask(HAIKU_3)).await.unwrap_err();
    assert!(matches!(e, LlmError::Retired { .. }), "{e:?}");
    assert!(!e.is_retryable());
    let e = llm.converse(&ask(SONNET_4_6)).await.unwrap_err();
    assert!(matches!(e, LlmError::NeedsInferenceProfile { .. }), "{e:?}");
    assert!(!e.is_retryable());

    let profile = "us.anthropic.claude-haiku-4-5-20251001-v1:0";
    let answer = llm.converse(&ask(profile)).await.unwrap();
    let settled = stack.standin_stats()["quota_tokens_by_model"][profile]
        .as_u64()
        .expect("quota tokens counted for the profile");
    assert_eq!(
        settled,
        answer.input_tokens + 5 * answer.output_tokens,
        "input + output × 5"
    );
}

/// A trainium paper where only a cpu executor runs waits in `waiting-for-executor` (progress
/// names the queue), then fails cleanly with `NoExecutor` naming `annapurna-exec-trainium`.
#[tokio::test(flavor = "multi_thread")]
async fn a_target_without_an_executor_fails_naming_its_queue() {
    let stack = Stack::start(&[]).await;
    let id = stack.add_example();
    let workflow_id = format!("paper/{id}");
    let input = PaperToCodeInput {
        target: Some("trainium".into()),
        executor_wait_secs: Some(20),
        ..paper_input(&id)
    };
    let handle = stack.start_paper(&workflow_id, input).await.unwrap();
    let never = "the progress query never said waiting-for-executor";
    let waiting = wait_progress(&handle, 30, never, |p| p.stage == "waiting-for-executor").await;
    assert_eq!(waiting.waiting_on_queue, "annapurna-exec-trainium");
    // The Web UI says the same in words (the workflow's current details).
    let metadata = stack.temporal(&["workflow", "metadata", "--workflow-id", &workflow_id]);
    let metadata = String::from_utf8_lossy(&metadata.stdout);
    assert!(
        metadata.contains("executing: waiting for an executor on annapurna-exec-trainium"),
        "current details: {metadata}"
    );
    // Visibility follows the search attribute a moment later.
    let mut listed = String::new();
    for _ in 0..20 {
        let stage = stack.temporal(&[
            "workflow",
            "list",
            "--query",
            "PaperStage = 'waiting-for-executor'",
        ]);
        listed = String::from_utf8_lossy(&stage.stdout).into_owned();
        if listed.contains(&workflow_id) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(listed.contains(&workflow_id), "PaperStage: {listed}");
    // It must end once executor_wait_secs has passed.
    let err = wait_failure(&handle, 120).await;
    assert!(err.contains("NoExecutor"), "{err}");
    assert!(err.contains("annapurna-exec-trainium"), "{err}");
    assert!(err.contains("annapurna worker --exec trainium"), "{err}");

    // `annapurna run` warns before starting when no executor polls the target's queue.
    let out = stack
        .command()
        .args(["run", &id, "--target", "trainium"])
        .args(["--executor-wait-secs", "1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no executor polls annapurna-exec-trainium"),
        "{stderr}"
    );
    // The run it started carries a one-line summary for the Web UI: paper, target, models.
    let described = stack.temporal(&["workflow", "describe", "--workflow-id", &workflow_id]);
    let described = String::from_utf8_lossy(&described.stdout);
    let title = stack.show_paper(&id)["paper"]["title"]
        .as_str()
        .unwrap()
        .to_owned();
    let summary_line = described
        .lines()
        .find(|l| l.contains("→ trainium"))
        .unwrap_or_else(|| panic!("no static summary in: {described}"));
    let start: String = title.chars().take(40).collect();
    assert!(summary_line.contains(&start), "{summary_line}");
    assert!(summary_line.contains("code "), "{summary_line}");
}
