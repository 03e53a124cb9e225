//! SuggestTrials: the next hyperparameters of a search, from Optuna's TPE sampler in the execution
//! venv (`suggest.py`), rebuilt from the trials so far on every call, so nothing is kept between
//! calls and a retried call answers the same.
//!
//! It runs on the executors (`annapurna-exec-<target>`): they are the hosts sure to have the
//! execution venv (they run the trials in it), while the `annapurna` workers need not carry its
//! 3 GB. The script is the executor's own; the search space it reads is untrusted data, parsed with
//! `yaml.safe_load` and bounded, in a child process with a clean environment and a time limit.

use std::process::Stdio;

use tokio::io::AsyncWriteExt;

use crate::prelude::*;

/// The optimiser's script.
const SUGGEST: &str = include_str!("suggest.py");
/// How long one call of the optimiser may take.
const SUGGEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Most suggestions per call, and most past trials told.
const MAX_COUNT: u32 = 16;
const MAX_PAST: usize = 1_000;

/// SuggestTrials: `count` suggestions over the repository's `config.yaml` search space.
pub async fn suggest_trials(
    d: Call<'_>,
    input: SuggestTrialsInput,
    sandbox: &SandboxConfig,
) -> Out<Suggestions> {
    let config = match &input.repository {
        Some(blob) => crate::exec::execute_code::read_bundle(&d.text(blob).await?)
            .map_err(|e| permanent("InvalidRepository", e))?
            .files
            .remove("config.yaml"),
        None => None,
    };
    if input.count > MAX_COUNT || input.trials.len() > MAX_PAST {
        return Err(permanent(
            "InvalidInput",
            format!("at most {MAX_COUNT} suggestions over {MAX_PAST} past trials"),
        ));
    }
    let request = serde_json::json!({
        "config_yaml": config,
        "direction": input.direction.as_str(),
        "seed": input.seed,
        "first_number": input.first_number,
        "count": input.count,
        "trials": input.trials,
    });
    let python = crate::sandbox::profile::exec_venv_path(sandbox).join("bin/python");
    let started = std::time::Instant::now();
    let out = run_optimiser(&python, &request.to_string())
        .await
        .map_err(|e| transient("OptimiserFailed", format!("{}: {e}", python.display())))?;
    let millis = started.elapsed().as_millis() as u64;
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => {}
        // The search space is wrong: no retry helps.
        Some(2) => return Err(permanent("InvalidSearchSpace", stderr.trim().to_owned())),
        _ => {
            let tail: String = stderr
                .chars()
                .rev()
                .take(1_000)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            // A venv without Optuna is the executor's problem, named with its fix.
            let kind = if tail.contains("No module named 'optuna'") {
                "OptimiserMissing"
            } else {
                "OptimiserFailed"
            };
            return Err(permanent(
                kind,
                format!(
                    "{} failed ({}): {tail}; run scripts/setup.sh on the executor",
                    python.display(),
                    out.status
                ),
            ));
        }
    }
    #[derive(Deserialize)]
    struct Answer {
        space: Vec<SpaceParam>,
        suggestions: Vec<Hyperparameters>,
    }
    let answer: Answer = serde_json::from_slice(&out.stdout)
        .map_err(|e| transient("OptimiserFailed", format!("unreadable answer: {e}")))?;
    Ok(Suggestions {
        space: answer.space,
        suggestions: answer.suggestions,
        millis,
    })
}

async fn run_optimiser(
    python: &std::path::Path,
    request: &str,
) -> std::io::Result<std::process::Output> {
    let mut child = tokio::process::Command::new(python)
        .args(["-I", "-c", SUGGEST])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin.write_all(request.as_bytes()).await?;
    drop(stdin);
    tokio::time::timeout(SUGGEST_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "the optimiser did not answer within {} s",
                    SUGGEST_TIMEOUT.as_secs()
                ),
            )
        })?
}
