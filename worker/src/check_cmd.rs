//! `annapurna check FILE.py --target T [--dataset D] [--json]`: the static checks of
//! `CheckCode` from the command line; exits 1 when a finding blocks.

use std::path::Path;

use anyhow::Context;

use crate::config::Config;

/// Checks `file` for `target` (and `dataset`); prints the findings.
pub async fn run(
    config: &Config,
    file: &Path,
    target: String,
    dataset: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let code = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read {}; give a Python file", file.display()))?;
    let m = &config.models;
    let dataset = dataset.unwrap_or_default();
    let report =
        activities::check::check_python(&m.python, &m.ruff, &code, &target, &dataset).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report.findings)?);
    } else {
        for f in &report.findings {
            println!(
                "{}:{}: {} {}: {}",
                file.display(),
                f.line,
                f.severity,
                f.rule,
                f.message
            );
        }
        if report.findings.is_empty() {
            println!("{}: no findings for target {target}", file.display());
        }
    }
    if report.is_blocking() {
        std::process::exit(1);
    }
    Ok(())
}
