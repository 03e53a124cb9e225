//! `annapurna eval env DIR... [--json]`: builds the evaluation venv on an executor host — what the
//! benchmark tasks import beyond the execution venv, installed from what the suite declares —
//! with the builder in `activities/src/eval/eval_env.py`, run by the execution venv's Python.
//! Modules that are not declared, or whose install fails, are listed: their tasks stay `broken`,
//! naming the package, when the suite runs.

use anyhow::{Context, bail};

use crate::config::Config;

/// Builds (or tops up) the evaluation venv; prints what each imported module needed.
pub fn run(config: &Config, dirs: &[std::path::PathBuf], json: bool) -> anyhow::Result<()> {
    if dirs.is_empty() {
        bail!(
            "give the suite's task folders (or a folder of them): annapurna eval env ../shared/rcb"
        );
    }
    for dir in dirs {
        if !dir.is_dir() {
            bail!("{} is not a folder of benchmark tasks", dir.display());
        }
    }
    let base = activities::sandbox::profile::exec_venv_path(&config.sandbox);
    let python = base.join("bin/python");
    if !python.exists() {
        bail!(
            "no execution venv at {}: run scripts/setup.sh first (the evaluation venv is layered \
             over it)",
            base.display()
        );
    }
    let eval = activities::sandbox::profile::eval_venv_path(&config.sandbox);
    let script = tempfile::Builder::new()
        .prefix("eval_env")
        .suffix(".py")
        .tempfile()
        .context("writing the builder script")?;
    std::fs::write(script.path(), activities::eval::EVAL_ENV_PY)?;
    let out = std::process::Command::new(&python)
        .arg(script.path())
        .arg(&eval)
        .arg(&base)
        .args(dirs)
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    if !out.status.success() {
        bail!(
            "building the evaluation venv at {} failed: {}",
            eval.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(stdout.trim())
        .with_context(|| format!("the builder's report is not JSON: {stdout}"))?;
    if json {
        println!("{report}");
        return Ok(());
    }
    println!(
        "evaluation venv {} (over {}), {} tasks:",
        eval.display(),
        base.display(),
        report["tasks"]
    );
    for (module, entry) in report["modules"].as_object().into_iter().flatten() {
        let status = entry["status"].as_str().unwrap_or("?");
        let requirement = entry["requirement"].as_str().unwrap_or("");
        let tasks: Vec<&str> = entry["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str())
            .collect();
        println!(
            "  {module:<20} {status:<10} {requirement:<24} ({})",
            tasks.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_folder_or_no_execution_venv_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        let err = run(&config, &[], false).unwrap_err().to_string();
        assert!(err.contains("annapurna eval env"), "{err}");
        let err = run(&config, &[dir.path().join("nowhere")], false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("nowhere") && err.contains("not a folder"),
            "{err}"
        );
        config.sandbox.venv = dir.path().join("no-venv").display().to_string();
        let err = run(&config, &[dir.path().to_owned()], false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no execution venv") && err.contains("scripts/setup.sh"),
            "{err}"
        );
    }
}
