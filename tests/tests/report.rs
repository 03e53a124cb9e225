//! `annapurna report`: papers run end to end on a real Temporal server with the stand-in, one of
//! them failing; the JSON's figures are checked against what ran and what the runs recorded, and
//! the HTML page is rendered in headless Chromium: one drawn SVG per chart, no script errors.

use std::process::Command;

use annapurna_tests::{Stack, paper_input, read_json, real_papers, wait_failure, wait_result};
use workflows::names::paper_workflow_id;
use workflows::types::PaperToCodeInput;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_counts_what_ran_and_draws_in_chromium() {
    let stack = Stack::start(&[]).await;
    let papers = real_papers();
    let ids: Vec<String> = papers.iter().take(2).map(|p| stack.add_paper(p)).collect();
    let mut outputs = Vec::new();
    for id in &ids {
        let input = PaperToCodeInput {
            max_chunk_tokens: Some(4_000),
            execute: Some(false),
            ..paper_input(id)
        };
        let handle = stack
            .start_paper(&paper_workflow_id(id), input)
            .await
            .unwrap();
        outputs.push(wait_result(&handle, 300).await);
    }
    // A paper that fails: an unknown model from the input is refused before any call.
    let failing = PaperToCodeInput {
        summary_model: Some("no-such-model".into()),
        execute: Some(false),
        ..paper_input(&ids[0])
    };
    let handle = stack
        .start_paper("paper/report-failing", failing)
        .await
        .unwrap();
    let failure = wait_failure(&handle, 120).await;

    let out = stack.annapurna_ok(&["report", "--json"]);
    let f: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let by_outcome = &f["papers"]["by_outcome"];
    let succeeded = outputs.iter().filter(|o| o.outcome == "succeeded").count() as u64;
    let with_findings = outputs.len() as u64 - succeeded;
    assert_eq!(
        by_outcome["succeeded"].as_u64().unwrap_or(0),
        succeeded,
        "{f:#}"
    );
    assert_eq!(
        by_outcome["succeeded-with-findings"].as_u64().unwrap_or(0),
        with_findings,
        "{f:#}"
    );
    assert_eq!(by_outcome["failed"].as_u64(), Some(1), "{f:#}\n{failure}");
    assert_eq!(f["papers"]["runs"].as_u64(), Some(3));
    let failed = &f["papers"]["failures"][0];
    assert_eq!(failed["workflow_id"], "paper/report-failing");
    assert!(!failed["reason"].as_str().unwrap().is_empty(), "{failed}");
    assert!(
        failed["url"]
            .as_str()
            .unwrap()
            .contains("/namespaces/default/workflows/paper%2Freport-failing/"),
        "{failed}"
    );
    // Tokens and cost, summed from each run's metadata.json.
    let (mut input, mut output, mut cost) = (0u64, 0u64, 0.0f64);
    for o in &outputs {
        let m = read_json(&Stack::path_of(&o.results).join("metadata.json"));
        input += m["tokens"]["input"].as_u64().unwrap();
        output += m["tokens"]["output"].as_u64().unwrap();
        cost += m["estimated_cost_usd"].as_f64().unwrap();
        assert_eq!(o.input_tokens, m["tokens"]["input"].as_u64().unwrap());
    }
    assert!(input > 0 && output > 0);
    assert_eq!(f["tokens"]["input"].as_u64(), Some(input));
    assert_eq!(f["tokens"]["output"].as_u64(), Some(output));
    assert!((f["cost_usd"].as_f64().unwrap() - cost).abs() < 1e-9);
    let role_input: u64 = f["per_role"]
        .as_object()
        .unwrap()
        .values()
        .map(|r| r["input_tokens"].as_u64().unwrap())
        .sum();
    assert_eq!(role_input, input, "per role adds up");
    assert!(f["per_role"]["summary"]["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(
        f["standin"], true,
        "the stand-in answered: the report must say so"
    );
    assert_eq!(f["per_paper"].as_array().unwrap().len(), outputs.len());
    assert_eq!(f["eval"].as_array().unwrap().len(), 0, "no eval runs here");
    assert!(
        f["stages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["stage"] == "summarizing")
    );

    // The page, in headless Chromium.
    let html = stack.dir.path().join("report.html");
    stack.annapurna_ok(&["report", "--out", html.to_str().unwrap()]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("stand-in templates, not generation"));
    assert!(
        !page.contains("src=\"http") && !page.contains("href=\"https://cdn"),
        "self-contained"
    );
    let charts = page.matches("class=\"chart\"").count();
    let chromium = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("Chromium is needed (scripts/setup.sh installs Debian's chromium)");
    let profile = stack.dir.path().join("chromium-profile");
    let base = |cmd: &mut Command| {
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()));
    };
    let mut dump = Command::new(chromium);
    base(&mut dump);
    dump.args(["--virtual-time-budget=5000", "--dump-dom"])
        .arg(format!("file://{}", html.display()));
    let out = dump.output().unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("data-ready=\"1\""),
        "the page's script did not finish: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dom.contains("data-script-errors="), "script errors: {dom}");
    assert!(
        dom.contains(&format!("data-charts=\"{charts}\"")),
        "every chart an SVG in the DOM"
    );
    assert!(charts >= 14, "{charts} charts");
    let shot = std::env::var("ANNAPURNA_REPORT_SCREENSHOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| stack.dir.path().join("report.png"));
    let mut cmd = Command::new(chromium);
    base(&mut cmd);
    cmd.arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1400,2400")
        .arg(format!("file://{}", html.display()));
    let out = cmd.output().unwrap();
    assert!(
        shot.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::metadata(&shot).unwrap().len() > 20_000);
}
