//! ExecuteCode: the code in the sandbox; stdout and stderr (capped) and `output/` files to
//! blobs. [`execute`], one run in a fresh work directory, is shared with `annapurna exec`.

use crate::prelude::*;

/// At most this many artifacts, each at most this large, are kept from `output/`.
const MAX_ARTIFACTS: usize = 50;
const MAX_ARTIFACT_BYTES: u64 = 64 << 20;
/// The latest METRICS line goes into the heartbeat (and so the history) cut to this size.
const MAX_HEARTBEAT_CHARS: usize = 2_048;

/// ExecuteCode: the code in the sandbox; stdout and stderr (capped) and `output/` files to
/// blobs; the report with metrics and a classification.
pub async fn execute_code(
    d: Call<'_>,
    input: ExecuteCodeInput,
    sandbox: &SandboxConfig,
) -> Out<ExecutionReport> {
    let bundle = match &input.repository {
        Some(blob) => {
            let mut bundle =
                read_bundle(&d.text(blob).await?).map_err(|e| permanent("InvalidRepository", e))?;
            // `code` is the entry file as it is to run: a repair of the entry (the search's code
            // fix) replaces the bundle's.
            let entry = &bundle.files[&bundle.entry];
            if sha256_hex(entry.as_bytes()) != input.code.sha256 {
                let fixed = d.text(&input.code).await?;
                bundle.files.insert(bundle.entry.clone(), fixed);
                bundle
                    .validate()
                    .map_err(|e| permanent("InvalidRepository", e))?;
            }
            Some(bundle)
        }
        None => None,
    };
    let program = match (&input.trial, bundle) {
        (Some(spec), bundle) => {
            // A single file honours the contract as a one-file repository.
            let bundle = match bundle {
                Some(b) => b,
                None => RepoBundle::single("main.py", d.text(&input.code).await?),
            };
            trial_program(&bundle, spec)
        }
        (None, Some(bundle)) => crate::sandbox::Program::repository(&bundle),
        (None, None) => crate::sandbox::Program::script(&d.text(&input.code).await?),
    };
    let latest: crate::sandbox::LatestMetrics = Default::default();
    // Benchmark tasks run in the evaluation venv when this executor has one (it holds what the
    // tasks import beyond the execution venv); otherwise in the execution venv, where a missing
    // package makes the task `broken`, naming it.
    let mut with_env = sandbox.clone();
    if input.environment.as_deref() == Some("eval") {
        let eval = crate::sandbox::profile::eval_venv_path(sandbox);
        if eval.join("bin/python").exists() {
            with_env.venv = eval.display().to_string();
        }
    }
    let sandbox = &with_env;
    let running = execute_program(
        sandbox,
        program,
        &input.target,
        // The workflow's timeout, never more than this executor allows.
        Duration::from_secs(input.timeout_secs.clamp(1, sandbox.timeout_secs.max(1))),
        Some(latest.clone()),
    );
    tokio::pin!(running);
    // Heartbeats carry the latest METRICS line, so the Web UI shows training progress.
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    let Execution { work, outcome } = loop {
        tokio::select! {
            done = &mut running => break done,
            _ = tick.tick() => {
                let last = latest.lock().unwrap_or_else(|p| p.into_inner()).clone();
                if let Some(m) = last {
                    // The code writes these lines: at most 2 KiB of one goes into history.
                    let detail: String = m.to_string().chars().take(MAX_HEARTBEAT_CHARS).collect();
                    let _ = d.ctx.record_heartbeat(detail).await;
                }
            }
        }
    }
    .map_err(|e| match e {
        crate::sandbox::SandboxError::Unavailable | crate::sandbox::SandboxError::NeedsRoot(_) => {
            permanent("SandboxUnavailable", e.to_string())
        }
        other => transient("SandboxError", other.to_string()),
    })?;
    // A repository's runs are keyed by the repository (its entry file may stay the same).
    let key = input.repository.as_ref().unwrap_or(&input.code);
    let mut prefix = format!(
        "executions/{}/{}-{}",
        input.paper_id,
        short(&key.sha256),
        input.attempt
    );
    if let Some(spec) = &input.trial {
        prefix.push_str(&format!("-trial-{}", spec.number));
    }
    let (trial, classification) = match &input.trial {
        Some(_) => trial_outcome(work.path(), &outcome),
        None => (None, outcome.classification),
    };
    let stdout = d
        .blobs
        .put(&format!("{prefix}/stdout.txt"), outcome.stdout.clone())
        .await?;
    let stderr = d
        .blobs
        .put(&format!("{prefix}/stderr.txt"), outcome.stderr.clone())
        .await?;
    let mut artifacts = Vec::new();
    for (name, path) in crate::sandbox::artifacts(work.path(), MAX_ARTIFACTS) {
        let Ok(meta) = tokio::fs::metadata(&path).await else {
            continue;
        };
        if meta.len() > MAX_ARTIFACT_BYTES {
            continue;
        }
        let bytes = tokio::fs::read(&path).await.unwrap_or_default();
        let blob = d
            .blobs
            .put(&format!("{prefix}/output/{name}"), bytes)
            .await?;
        artifacts.push(ArtifactRef { name, blob });
    }
    let tail: String = {
        let chars: Vec<char> = outcome.stderr.chars().collect();
        chars[chars.len().saturating_sub(2_000)..].iter().collect()
    };
    let metrics_from = outcome.metrics.len().saturating_sub(50);
    Ok(ExecutionReport {
        exit_code: outcome.exit_code,
        signal: outcome.signal,
        killed: outcome.killed,
        wall_ms: outcome.wall_ms,
        cpu_ms: outcome.cpu_ms,
        peak_rss_kib: outcome.peak_rss_kib,
        metrics: outcome.metrics[metrics_from..].to_vec(),
        stdout,
        stderr,
        stderr_tail: tail,
        artifacts,
        classification,
        sandbox: outcome.sandbox,
        trial,
    })
}

/// The training harness (see its docstring): written once, run in place of the entry point for
/// a contract run.
pub const HARNESS: &str = include_str!("harness.py");
/// Largest `output/trial.json` read back (the metrics' lists are cut by the harness).
const MAX_TRIAL_REPORT_BYTES: u64 = 256 << 10;

/// The repository with the harness and the trial's specification beside it, the harness run
/// from the work directory.
pub fn trial_program(bundle: &RepoBundle, spec: &TrialSpec) -> crate::sandbox::Program {
    let mut program = crate::sandbox::Program::repository(bundle);
    let trial = serde_json::json!({
        "entry": bundle.entry,
        "number": spec.number,
        "hyperparameters": spec.hyperparameters,
        "budget": spec.budget,
        "seed": spec.number,
    });
    program
        .files
        .push((".annapurna/harness.py".into(), HARNESS.to_owned()));
    program
        .files
        .push((".annapurna/trial.json".into(), trial.to_string()));
    program.args = vec!["-E".into(), "-s".into(), ".annapurna/harness.py".into()];
    program
}

/// What the harness reported, and the run's classification with it: a broken contract is
/// `contract`, a model over the budget `over-budget` — each only when the exit status says the
/// same (the report is a file the code could have written too).
pub fn trial_outcome(
    work: &std::path::Path,
    outcome: &crate::sandbox::RunOutcome,
) -> (Option<TrialReport>, Classification) {
    let path = work.join("output/trial.json");
    let report: Option<TrialReport> = std::fs::metadata(&path)
        .ok()
        .filter(|m| m.is_file() && m.len() <= MAX_TRIAL_REPORT_BYTES)
        .and_then(|_| std::fs::read(&path).ok())
        .and_then(|b| serde_json::from_slice(&b).ok());
    let classification = match (&report, outcome.exit_code) {
        (Some(r), Some(3)) if r.status == "contract" => Classification::Contract,
        (Some(r), Some(4)) if r.status == "over-budget" => Classification::OverBudget,
        (Some(r), Some(0)) if r.status != "ok" => Classification::CodeError,
        (None, Some(0)) => Classification::Contract,
        _ => outcome.classification,
    };
    (report, classification)
}

/// A repository bundle from its JSON, validated; the message names what is wrong.
pub fn read_bundle(json: &str) -> Result<RepoBundle, String> {
    let bundle: RepoBundle = serde_json::from_str(json)
        .map_err(|e| format!("the repository is not a JSON {{entry, files}} bundle: {e}"))?;
    bundle.validate()?;
    Ok(bundle)
}

/// One run and the work directory it ran in (unmounted and removed, and its slot freed, when
/// dropped).
pub struct Execution {
    /// The work directory: `output/` holds the artifacts.
    pub work: crate::sandbox::workdir::WorkDir,
    /// What the run did.
    pub outcome: crate::sandbox::RunOutcome,
}

/// Runs `code` once in the sandbox for `target`, in a free slot's fresh work directory, with
/// the target's profile and `ANNAPURNA_TARGET` set; `metrics` follows the latest `METRICS:` line
/// while it runs. The one way code is run, for `ExecuteCode` and for `annapurna exec`.
pub async fn execute(
    sandbox: &SandboxConfig,
    code: String,
    target: &str,
    timeout: Duration,
    metrics: Option<crate::sandbox::LatestMetrics>,
) -> Result<Execution, crate::sandbox::SandboxError> {
    let program = crate::sandbox::Program::script(&code);
    execute_program(sandbox, program, target, timeout, metrics).await
}

/// Runs `program` (its files written into the fresh work directory) as [`execute`] runs code.
pub async fn execute_program(
    sandbox: &SandboxConfig,
    program: crate::sandbox::Program,
    target: &str,
    timeout: Duration,
    metrics: Option<crate::sandbox::LatestMetrics>,
) -> Result<Execution, crate::sandbox::SandboxError> {
    let mut config = sandbox.clone();
    let env = vec![("ANNAPURNA_TARGET".to_owned(), target.to_owned())];
    let profile = crate::sandbox::host_profile(target, config.neuron_profile);
    // If this future is dropped (the activity was cancelled or timed out), the guard tells the
    // sandbox's watcher to kill the run at once; the blocking task owns the work directory and
    // the slot, so both go only after the process has ended (its disk limit holds to the end).
    let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let _guard = CancelOnDrop(cancel.clone());
    tokio::task::spawn_blocking(move || {
        let slot = crate::sandbox::workdir::acquire(&config, &cancel)?;
        let work = crate::sandbox::workdir::WorkDir::create(&config, slot)?;
        config.uid = work.slot.uid;
        let outcome = crate::sandbox::run(
            &config,
            work.path(),
            work.disk_limit(),
            &program,
            timeout,
            &env,
            &profile,
            metrics,
            cancel,
        )?;
        Ok(Execution { work, outcome })
    })
    .await
    .map_err(|e| crate::sandbox::SandboxError::Start(format!("the run's thread failed: {e}")))?
}

/// Sets the flag when dropped: the run it guards is no longer wanted.
struct CancelOnDrop(Arc<std::sync::atomic::AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
