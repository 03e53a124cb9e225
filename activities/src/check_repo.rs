//! Static checks of a planned repository: every file through the single-file checks
//! ([`check_python`]: parser, ruff, the target's rules) with each finding naming its file; the
//! run contract (METRICS lines, the dataset) over the repository as a whole; and the cross-file
//! checks of `repo_checker.py` (names imported from a repository file that it does not define,
//! repository modules that do not exist); and the training contract (`check::check_contract`).

use workflows::types::{CheckReport, Finding, RepoBundle, Severity};

use crate::check::{CheckError, check_python, run_python_json};

/// The cross-file checker run by the interpreter.
const REPO_CHECKER: &str = include_str!("repo_checker.py");

/// Rules of the whole repository that a single file may rightly break (a model file prints no
/// METRICS and imports no torch_xla): reported once, on the entry point, only when every file
/// breaks them; with what to say then.
const REPOSITORY_RULES: [(&str, &str); 4] = [
    (
        "no-metrics-output",
        "no file prints `METRICS: {json}` lines: the entry point must print one per epoch (at least epoch and loss)",
    ),
    (
        "dataset-mismatch",
        "no file trains on the recommended dataset (or the synthetic fallback)",
    ),
    (
        "xla-import-missing",
        "no file imports torch_xla: Trainium code must (`import torch_xla.core.xla_model as xm`)",
    ),
    (
        "xla-device-missing",
        "no file takes the device from `xm.xla_device()`",
    ),
];

/// The top-level module names of the repository's Python files (`model`, `layers`).
fn local_modules(bundle: &RepoBundle) -> Vec<String> {
    let mut tops: Vec<String> = bundle
        .files
        .keys()
        .filter_map(|p| p.strip_suffix(".py"))
        .map(|p| p.split('/').next().unwrap_or(p).to_owned())
        .collect();
    tops.sort();
    tops.dedup();
    tops
}

/// Checks every file of `bundle` for `target`, and the repository as a whole.
pub async fn check_repository(
    python: &str,
    ruff: &str,
    bundle: &RepoBundle,
    target: &str,
    dataset: &str,
) -> Result<CheckReport, CheckError> {
    let locals = local_modules(bundle);
    let mut findings: Vec<Finding> = Vec::new();
    // Per rule of the whole repository: whether some file satisfies it.
    let mut satisfied = [false; REPOSITORY_RULES.len()];
    let mut python_files = 0;
    for (path, text) in bundle.files.iter().filter(|(p, _)| p.ends_with(".py")) {
        python_files += 1;
        let report = check_python(python, ruff, text, target, dataset).await?;
        for (i, (rule, _)) in REPOSITORY_RULES.iter().enumerate() {
            if !report.findings.iter().any(|f| f.rule == *rule) {
                satisfied[i] = true;
            }
        }
        for mut f in report.findings {
            if REPOSITORY_RULES.iter().any(|(r, _)| *r == f.rule) {
                continue;
            }
            // The single-file check cannot know the repository's own modules.
            if f.rule == "unknown-module"
                && locals.iter().any(|m| f.message.contains(&format!("`{m}`")))
            {
                continue;
            }
            f.file = path.clone();
            findings.push(f);
        }
    }
    if python_files > 0 {
        for (i, (rule, message)) in REPOSITORY_RULES.iter().enumerate() {
            if !satisfied[i] {
                findings.push(Finding {
                    rule: (*rule).to_owned(),
                    severity: Severity::Error,
                    line: 0,
                    message: (*message).to_owned(),
                    file: bundle.entry.clone(),
                });
            }
        }
    }
    let input = serde_json::json!({"files": bundle.files}).to_string();
    findings.extend(run_python_json(python, REPO_CHECKER, &[], &input).await?);
    // The training contract the executor's harness calls (`train_model`, `load_data` or
    // `make_loaders`, config.yaml's search space), so the review loop fixes what would fail a trial.
    findings.extend(crate::check::check_contract(python, bundle).await?);
    findings.sort_by_key(|f| (!f.is_blocking(), f.file.clone(), f.line));
    Ok(CheckReport { findings })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> crate::settings::Settings {
        crate::settings::Settings::default()
    }

    /// No blocking finding but the training contract's (these small repositories have none).
    fn no_blocking(report: &CheckReport) -> bool {
        !report
            .findings
            .iter()
            .any(|f| f.is_blocking() && !f.rule.starts_with("contract-"))
    }

    fn bundle(files: &[(&str, &str)]) -> RepoBundle {
        RepoBundle {
            entry: "train.py".into(),
            files: files
                .iter()
                .map(|(p, t)| (p.to_string(), t.to_string()))
                .collect(),
        }
    }

    const MODEL: &str = "import torch\nfrom torch import nn\n\n\nclass Net(nn.Module):\n    def __init__(self, hidden):\n        super().__init__()\n        self.f = nn.Linear(4, hidden)\n\n    def forward(self, x):\n        return self.f(x)\n";
    const TRAIN: &str = "import json\n\nimport torch\n\nfrom model import Net\n\n\ndef main():\n    net = Net(8)\n    x = torch.randn(4, 4)\n    for epoch in range(2):\n        loss = net(x).sum()\n        print(\"METRICS: \" + json.dumps({\"epoch\": epoch, \"loss\": loss.item()}))\n\n\nif __name__ == \"__main__\":\n    main()\n";

    #[tokio::test]
    async fn a_consistent_repository_passes_and_a_broken_import_is_found() {
        let s = settings();
        let good = bundle(&[("model.py", MODEL), ("train.py", TRAIN)]);
        let report = check_repository(&s.python, &s.ruff, &good, "cpu", "synthetic")
            .await
            .unwrap();
        assert!(no_blocking(&report), "{:?}", report.findings);
        // It has no training contract (no train_model, no config.yaml): found, on its files.
        assert!(
            report
                .findings
                .iter()
                .any(|f| f.rule.starts_with("contract-") && f.is_blocking()),
            "{:?}",
            report.findings
        );

        let renamed = bundle(&[
            ("model.py", &MODEL.replace("class Net", "class Network")),
            ("train.py", TRAIN),
        ]);
        let report = check_repository(&s.python, &s.ruff, &renamed, "cpu", "synthetic")
            .await
            .unwrap();
        let f = report
            .findings
            .iter()
            .find(|f| f.rule == "unresolved-import")
            .unwrap_or_else(|| panic!("{:?}", report.findings));
        assert_eq!(f.file, "train.py");
        assert_eq!(f.line, 5);

        let missing = bundle(&[("train.py", &TRAIN.replace("from model", "from modl"))]);
        let report = check_repository(&s.python, &s.ruff, &missing, "cpu", "")
            .await
            .unwrap();
        assert!(
            report
                .findings
                .iter()
                .any(|f| f.rule == "unknown-module" && f.file == "train.py"),
            "{:?}",
            report.findings
        );
    }

    #[tokio::test]
    async fn the_run_contract_holds_for_the_repository_not_each_file() {
        let s = settings();
        let no_metrics = bundle(&[
            ("model.py", MODEL),
            ("train.py", &TRAIN.replace("METRICS: ", "loss ")),
        ]);
        let report = check_repository(&s.python, &s.ruff, &no_metrics, "cpu", "")
            .await
            .unwrap();
        let rules: Vec<(&str, &str)> = report
            .findings
            .iter()
            .map(|f| (f.rule.as_str(), f.file.as_str()))
            .collect();
        let rules: Vec<(&str, &str)> = rules
            .into_iter()
            .filter(|(r, _)| !r.starts_with("contract-"))
            .collect();
        assert_eq!(rules, vec![("no-metrics-output", "train.py")]);
        // On Trainium the model file needs no torch_xla of its own; the entry point has it.
        let trn_train = TRAIN
            .replace(
                "import torch\n",
                "import torch\nimport torch_xla.core.xla_model as xm\n",
            )
            .replace(
                "net = Net(8)",
                "device = xm.xla_device()\n    net = Net(8).to(device)",
            )
            .replace(
                "        loss = net(x).sum()\n",
                "        loss = net(x.to(device)).sum()\n        xm.mark_step()\n",
            );
        let trn = bundle(&[("model.py", MODEL), ("train.py", &trn_train)]);
        let report = check_repository(&s.python, &s.ruff, &trn, "trainium", "")
            .await
            .unwrap();
        assert!(no_blocking(&report), "{:?}", report.findings);
        let plain = bundle(&[("model.py", MODEL), ("train.py", TRAIN)]);
        let report = check_repository(&s.python, &s.ruff, &plain, "trainium", "")
            .await
            .unwrap();
        let xla: Vec<&str> = report
            .findings
            .iter()
            .filter(|f| f.rule == "xla-import-missing" || f.rule == "xla-device-missing")
            .map(|f| f.file.as_str())
            .collect();
        assert_eq!(xla, ["train.py", "train.py"], "{:?}", report.findings);
        let cuda = bundle(&[
            (
                "model.py",
                &MODEL.replace("nn.Linear(4, hidden)", "nn.Linear(4, hidden).cuda()"),
            ),
            ("train.py", TRAIN),
        ]);
        let report = check_repository(&s.python, &s.ruff, &cuda, "cpu", "")
            .await
            .unwrap();
        assert!(
            report
                .findings
                .iter()
                .any(|f| f.rule == "cuda-on-cpu" && f.file == "model.py"),
            "{:?}",
            report.findings
        );
    }
}
