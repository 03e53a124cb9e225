//! `annapurna exec FILE.py --target T [--timeout S] [--json]`: one file through the sandbox,
//! by the same [`activities::exec::execute_code::execute`] that `ExecuteCode` uses.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use crate::config::Config;

/// Runs `file` once in the sandbox for `target`; prints the report; exits 1 unless it ran ok.
pub async fn run(
    config: &Config,
    file: &Path,
    target: String,
    timeout: Option<u64>,
    json: bool,
) -> anyhow::Result<()> {
    let code = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read {}; give a Python file", file.display()))?;
    let secs = timeout.unwrap_or(config.sandbox.timeout_secs);
    // This command is an executor too: what a killed one left in the free slots goes first.
    activities::sandbox::workdir::clean_leftovers(&config.sandbox)?;
    let activities::exec::execute_code::Execution { work, outcome } =
        activities::exec::execute_code::execute(
            &config.sandbox,
            code,
            &target,
            Duration::from_secs(secs),
            None,
        )
        .await?;
    let artifacts: Vec<String> = activities::sandbox::artifacts(work.path(), 50)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let mut report = serde_json::to_value(&outcome)?;
    report["artifacts"] = serde_json::json!(artifacts);
    report["target"] = serde_json::json!(target);
    if json {
        println!("{report}");
    } else {
        println!(
            "{}: {} (exit {:?}, signal {:?}, {} ms wall, {} ms CPU, {} KiB peak, sandbox {})",
            file.display(),
            outcome.classification,
            outcome.exit_code,
            outcome.signal,
            outcome.wall_ms,
            outcome.cpu_ms,
            outcome.peak_rss_kib,
            outcome.sandbox
        );
        println!("limits: {}", outcome.limits);
        for m in &outcome.metrics {
            println!("METRICS {m}");
        }
        for a in &artifacts {
            println!("artifact {a}");
        }
        if !outcome.stderr.is_empty() {
            eprintln!("{}", outcome.stderr);
        }
    }
    // process::exit skips destructors: unmount and remove the work directory (and whatever the
    // code left in it) first.
    drop(work);
    if outcome.classification != workflows::types::Classification::Ok {
        std::process::exit(1);
    }
    Ok(())
}
