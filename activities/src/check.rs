//! Static checks of generated Python, with stable rule ids. Python's own parser reads the code
//! (`checker.py`, run in a child `python3`): syntax and truncation, modules that do not exist,
//! the target's rules (Trainium/XLA, CUDA, CPU) and the run contract (METRICS lines, bounded
//! training, no downloads, the recommended dataset). ruff finds undefined names; an undefined name
//! that is a well-known module or alias (`np`, `json`, `xm`, …) is reported as a missing import.

use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use workflows::types::{CheckReport, Finding, Severity};

/// The checker run by the interpreter.
const CHECKER: &str = include_str!("checker.py");

/// Undefined names that mean a missing import, and the import that defines them.
const IMPORTS: &[(&str, &str)] = &[
    ("np", "import numpy as np"),
    ("numpy", "import numpy"),
    ("torch", "import torch"),
    ("nn", "from torch import nn"),
    ("F", "import torch.nn.functional as F"),
    ("optim", "from torch import optim"),
    ("xm", "import torch_xla.core.xla_model as xm"),
    ("torch_xla", "import torch_xla"),
    ("json", "import json"),
    ("math", "import math"),
    ("os", "import os"),
    ("sys", "import sys"),
    ("time", "import time"),
    ("random", "import random"),
    ("DataLoader", "from torch.utils.data import DataLoader"),
    (
        "TensorDataset",
        "from torch.utils.data import TensorDataset",
    ),
    ("Dataset", "from torch.utils.data import Dataset"),
    ("torchvision", "import torchvision"),
    ("transforms", "from torchvision import transforms"),
];

/// Why the checker itself could not run.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// A checking tool could not be started or answered nonsense.
    #[error(
        "cannot run {tool} ({program:?}): {reason}; run ./scripts/setup.sh or set models.{tool}"
    )]
    Tool {
        /// `python` or `ruff`.
        tool: &'static str,
        /// The configured program.
        program: String,
        /// Why.
        reason: String,
    },
}

/// How long the parser and ruff may take on one file.
const CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

async fn run_with_stdin(
    program: &str,
    args: &[&str],
    input: &str,
) -> std::io::Result<std::process::Output> {
    run_with_stdin_within(program, args, input, CHECK_TIMEOUT).await
}

async fn run_with_stdin_within(
    program: &str,
    args: &[&str],
    input: &str,
    limit: std::time::Duration,
) -> std::io::Result<std::process::Output> {
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let src = input.to_owned();
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(src.as_bytes()).await;
    });
    // A checker that hangs (a pathological file) must not hold the activity forever: the child
    // is killed on drop when the limit passes.
    let out = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("{program} did not finish within {} s", limit.as_secs()),
            )
        })??;
    let _ = writer.await;
    Ok(out)
}

/// The ruff to run: as configured when it is a path or on PATH, else the one scripts/setup.sh
/// installs in its venv (`$XDG_CACHE_HOME/annapurna/venv/bin/ruff`).
fn resolve_ruff(configured: &str) -> String {
    if configured.contains('/') {
        return configured.to_owned();
    }
    crate::settings::find_tool(configured)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| configured.to_owned())
}

/// Undefined names, from ruff (F821).
async fn undefined_names(ruff: &str, code: &str) -> Result<Vec<Finding>, CheckError> {
    let ruff = &resolve_ruff(ruff);
    let err = |reason: String| CheckError::Tool {
        tool: "ruff",
        program: ruff.to_owned(),
        reason,
    };
    let args = [
        "check",
        "--no-cache",
        "--isolated",
        "--select",
        "F821",
        "--output-format",
        "json",
        "--stdin-filename",
        "code.py",
        "-",
    ];
    let out = run_with_stdin(ruff, &args, code)
        .await
        .map_err(|e| err(e.to_string()))?;
    let items: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).map_err(|_| {
        err(format!(
            "unexpected output {:?}",
            String::from_utf8_lossy(&out.stderr)
        ))
    })?;
    Ok(items
        .iter()
        .filter(|i| i["code"] == "F821")
        .map(|i| {
            let message = i["message"].as_str().unwrap_or("undefined name");
            let name = message.split('`').nth(1).unwrap_or("");
            let line = i["location"]["row"].as_u64().unwrap_or(0) as u32;
            match IMPORTS.iter().find(|(n, _)| *n == name) {
                Some((_, import)) => finding(
                    "missing-import",
                    Severity::Error,
                    line,
                    format!("`{name}` is used but never imported: add `{import}`"),
                ),
                None => finding(
                    "undefined-name",
                    Severity::Error,
                    line,
                    format!("{message}: define it or fix the typo"),
                ),
            }
        })
        .collect())
}

fn finding(rule: &str, severity: Severity, line: u32, message: String) -> Finding {
    Finding {
        rule: rule.to_owned(),
        severity,
        line,
        message,
        file: String::new(),
    }
}

/// Runs `script` with `python -I -c` and `args`, `input` on stdin, and reads the findings (a JSON
/// array) it prints.
pub(crate) async fn run_python_json(
    python: &str,
    script: &str,
    args: &[&str],
    input: &str,
) -> Result<Vec<Finding>, CheckError> {
    let err = |reason: String| CheckError::Tool {
        tool: "python",
        program: python.to_owned(),
        reason,
    };
    let mut all = vec!["-I", "-c", script];
    all.extend_from_slice(args);
    let out = run_with_stdin(python, &all, input)
        .await
        .map_err(|e| err(e.to_string()))?;
    serde_json::from_slice(&out.stdout).map_err(|_| {
        err(format!(
            "unexpected output {:?} {:?}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    })
}

/// Checks `code` for `target`; `dataset` (when not empty) is the dataset the code must train on.
/// Blocking findings first, then by line.
pub async fn check_python(
    python: &str,
    ruff: &str,
    code: &str,
    target: &str,
    dataset: &str,
) -> Result<CheckReport, CheckError> {
    let mut findings = run_python_json(python, CHECKER, &[target, dataset], code).await?;
    // Names are only meaningful in code that parses.
    if !findings
        .iter()
        .any(|f| f.rule == "syntax-error" || f.rule == "truncated-code")
    {
        findings.extend(undefined_names(ruff, code).await?);
    }
    findings.sort_by_key(|f| (!f.is_blocking(), f.line));
    Ok(CheckReport { findings })
}

/// The training contract's static check, run by the interpreter.
const CONTRACT_CHECKER: &str = include_str!("contract_check.py");

/// Checks that `bundle` honours the training contract: its entry defines `train_model` with a
/// compatible signature (the data form's positional parameters, every declared hyperparameter by
/// name, `(model, metrics)` returned), `load_data` or `make_loaders`, a main guard; its
/// `config.yaml` parses and its `search_space` is well formed. Findings name their file (rules
/// `contract-…`).
pub async fn check_contract(
    python: &str,
    bundle: &workflows::types::RepoBundle,
) -> Result<Vec<Finding>, CheckError> {
    let request = serde_json::json!({
        "entry_name": bundle.entry,
        "entry": bundle.files.get(&bundle.entry),
        "config": bundle.files.get("config.yaml"),
    });
    run_python_json(python, CONTRACT_CHECKER, &[], &request.to_string()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn check(code: &str) -> CheckReport {
        // `# target: …` on the first line, `# dataset: …` on the second when there is one.
        let header = |key: &str| {
            code.lines()
                .take(2)
                .find_map(|l| l.strip_prefix(key))
                .unwrap_or("")
                .trim()
                .to_owned()
        };
        let target = header("# target: ");
        check_python("python3", "ruff", code, &target, &header("# dataset: "))
            .await
            .unwrap()
    }

    /// Every fixture pair under `tests/fixtures/checks/`: `<rule>.bad.py` must raise `<rule>` as
    /// a blocking finding (or a warning, for the warning rules), and `<rule>.good.py`, its clean
    /// twin, must raise no blocking finding. The first line names the target: `# target: …`.
    #[tokio::test]
    async fn rule_fixtures() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/checks");
        let mut rules = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let Some(rule) = name.strip_suffix(".bad.py") else {
                continue;
            };
            let bad = std::fs::read_to_string(&path).unwrap();
            let good = std::fs::read_to_string(dir.join(format!("{rule}.good.py")))
                .unwrap_or_else(|_| panic!("{rule} has no clean twin"));
            let report = check(&bad).await;
            assert!(
                report.findings.iter().any(|f| f.rule == rule),
                "{rule}.bad.py did not raise {rule}: {:?}",
                report.findings
            );
            let report = check(&good).await;
            assert!(
                !report.is_blocking(),
                "{rule}.good.py raised blocking findings: {:?}",
                report.findings
            );
            assert!(
                !report.findings.iter().any(|f| f.rule == rule),
                "{rule}.good.py still raises {rule}"
            );
            rules += 1;
        }
        assert!(rules >= 15, "only {rules} rule fixtures");
    }

    /// Issue 14, item 9: a checker that hangs is killed at the limit, not waited for.
    #[tokio::test]
    async fn a_hanging_checker_is_killed_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let script = format!("echo $$ > {}; exec sleep 30", pid_file.display());
        let started = std::time::Instant::now();
        let err = run_with_stdin_within(
            "sh",
            &["-c", &script],
            "",
            std::time::Duration::from_secs(1),
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        let pid = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .to_owned();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            // Gone, or a zombie waiting to be reaped: not sleeping on.
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
            let alive = state.as_deref().is_some_and(|s| {
                s.rsplit_once(')')
                    .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
            });
            if !alive {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the checker {pid} still runs"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    #[tokio::test]
    async fn missing_tools_are_reported() {
        assert!(
            check_python("/nonexistent/python", "ruff", "x=1", "cpu", "")
                .await
                .is_err()
        );
        let err = check_python(
            "python3",
            "/nonexistent/ruff",
            "x = 1\nprint('METRICS: {}')\n",
            "cpu",
            "",
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("ruff"), "{err}");
    }

    #[tokio::test]
    async fn the_training_contract_is_checked() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/contract-repo"
        );
        let read = |f: &str| std::fs::read_to_string(format!("{dir}/{f}")).unwrap();
        let mut bundle = workflows::types::RepoBundle {
            entry: "train.py".into(),
            files: ["train.py", "model.py", "config.yaml"]
                .iter()
                .map(|f| (f.to_string(), read(f)))
                .collect(),
        };
        let findings = check_contract("python3", &bundle).await.unwrap();
        assert!(findings.is_empty(), "{findings:?}");
        // A hyperparameter train_model cannot take, a bad range, no data function.
        let train = read("train.py")
            .replace("epochs=8, activation=\"relu\"", "epochs=8")
            .replace("def load_data", "def read_data");
        bundle.files.insert("train.py".into(), train);
        let config = read("config.yaml").replace("low: 4, high: 64", "low: 64, high: 4");
        bundle.files.insert("config.yaml".into(), config);
        let findings = check_contract("python3", &bundle).await.unwrap();
        let rules: Vec<(&str, &str)> = findings
            .iter()
            .map(|f| (f.rule.as_str(), f.message.as_str()))
            .collect();
        for (rule, says) in [
            ("contract-signature", "`activation`"),
            ("contract-search-space", "search_space[1] (hidden)"),
            ("contract-data-missing", "load_data"),
        ] {
            assert!(
                rules.iter().any(|(r, m)| *r == rule && m.contains(says)),
                "{rule} {says}: {rules:?}"
            );
        }
    }
}
