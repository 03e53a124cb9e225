//! `annapurna check FILE.py --target … --json`: findings as a JSON array, exit status 1 when one
//! blocks.

use std::path::Path;
use std::process::Command;

use annapurna_tests::{annapurna_bin, temporal_bin};

fn check(file: &str, target: &str) -> (i32, Vec<serde_json::Value>) {
    let fixtures =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../activities/tests/fixtures/checks");
    let path = format!(
        "{}:{}",
        temporal_bin().parent().unwrap().display(), // ruff lives in the same venv
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(annapurna_bin())
        .env("PATH", path)
        .args(["check"])
        .arg(fixtures.join(file))
        .args(["--target", target, "--json"])
        .output()
        .unwrap();
    let findings = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap(), findings)
}

#[test]
fn blocking_findings_exit_one_and_clean_code_exits_zero() {
    let (code, findings) = check("xla-optimizer-step.bad.py", "trainium");
    assert_eq!(code, 1);
    assert!(
        findings
            .iter()
            .any(|f| f["rule"] == "xla-optimizer-step" && f["severity"] == "error")
    );
    assert!(
        findings
            .iter()
            .all(|f| f["line"].is_u64() && f["message"].is_string())
    );
    let (code, findings) = check("xla-optimizer-step.good.py", "trainium");
    assert_eq!(code, 0, "{findings:?}");
    // The same clean Trainium file is wrong for a CPU target.
    let (code, findings) = check("xla-optimizer-step.good.py", "cpu");
    assert_eq!(code, 1);
    assert!(findings.iter().any(|f| f["rule"] == "xla-on-cpu"));
}
